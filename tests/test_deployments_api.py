"""The deployments REST surface through azure-mgmt-resource 24 (ResourceManagementClient.deployments) and raw
REST: create, get, list, HEAD, delete, exportTemplate, operations, cancel, calculateTemplateHash, validate,
whatIf, the LRO protocol, and idempotency (a second deployment PUTs again and changes nothing else; whatIf says
NoChange)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from arm_sim.core import jsonc
from tests.simserver import Sim

# --- shared with the other tests/test_deployments_*.py modules ---------------------------------------------------

TEMPLATES = Path(__file__).parent / "templates"
API = {"api-version": "2025-04-01"}
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def template(name: str) -> dict[str, Any]:
    """A template fixture (JSON with comments, as ARM accepts)."""
    return jsonc.loads((TEMPLATES / f"{name}.json").read_text())


def body(t: dict[str, Any], mode: str = "Incremental", **params: Any) -> dict[str, Any]:
    return {"properties": {"mode": mode, "template": t, "parameters": {k: {"value": v} for k, v in params.items()}}}


def group(sim: Sim, name: str) -> str:
    with sim.http() as c:
        r = c.put(f"/subscriptions/{sim.subscription}/resourcegroups/{name}", params=API, json={"location": "eastus"})
    assert r.status_code in (200, 201), r.text
    return f"/subscriptions/{sim.subscription}/resourceGroups/{name}"


def deployment_path(sim: Sim, rg: str, name: str) -> str:
    return f"/subscriptions/{sim.subscription}/resourcegroups/{rg}/providers/Microsoft.Resources/deployments/{name}"


def etag_of(sim: Sim, rid: str, api_version: str = "2023-05-01") -> str:
    """The resource's ETag header (a storage account's body has no `etag`, as in Azure; ARM's header does)."""
    with sim.http() as c:
        r = c.get(rid, params={"api-version": api_version})
    assert r.status_code == 200, r.text
    return r.headers["etag"]


def resource(sim: Sim, rid: str, api_version: str = "2023-05-01") -> dict[str, Any] | None:
    with sim.http() as c:
        r = c.get(rid, params={"api-version": api_version})
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return r.json()


def rid(sim: Sim, rg: str, rtype: str, name: str) -> str:
    return f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/{rtype}/{name}"

# --- tests -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rm(sim: Sim) -> Any:
    with sim.resource_client() as client:
        yield client


def _accounts(sim: Sim, rg: str, names: list[str]) -> dict[str, dict[str, Any] | None]:
    return {n: resource(sim, rid(sim, rg, "Microsoft.Storage/storageAccounts", n)) for n in names}


def _unwritten(docs: dict[str, dict[str, Any] | None]) -> dict[str, dict[str, Any] | None]:
    """The documents without what every write changes."""
    return {n: d and {k: v for k, v in d.items() if k not in ("etag", "systemData")} for n, d in docs.items()}


def test_deploy_get_list_export_operations_with_the_sdk(sim: Sim, rm: Any, rg_name: str) -> None:
    group(sim, rg_name)
    t = template("storage")
    result = rm.deployments.begin_create_or_update(rg_name, "first", body(t, prefix="abc")).result()
    props = result.properties
    assert props.provisioning_state == "Succeeded" and props.mode == "Incremental"
    names = props.outputs["names"]["value"]
    assert props.outputs["names"]["type"] == "Array" and len(names) == 2 and names[0].startswith("abc")
    assert props.outputs["tls"] == {"type": "String", "value": "TLS1_2"}
    full = props.outputs["first"]["value"]
    assert full["name"] == names[0] and full["tags"] == {"purpose": "arm-sim test", "owner": "abc"}
    assert full["properties"]["index"] == 0 and full["isTemplateResource"] is True
    # the parameter echo: capitalised types, the secure default (newGuid()) not shown
    assert props.parameters["count"] == {"type": "Int", "value": 2}
    assert props.parameters["secret"] == {"type": "SecureString"}
    assert {o.id for o in props.output_resources} == {rid(sim, rg_name, "Microsoft.Storage/storageAccounts", n)
                                                      for n in names}
    assert props.template_hash and props.correlation_id and props.timestamp and props.duration
    accounts = _accounts(sim, rg_name, names)
    assert all(a and a["tags"]["owner"] == "abc" and a["sku"]["name"] == "Standard_LRS" for a in accounts.values())

    assert rm.deployments.check_existence(rg_name, "first") is True
    assert rm.deployments.check_existence(rg_name, "never") is False
    assert [d.name for d in rm.deployments.list_by_resource_group(rg_name)] == ["first"]
    assert rm.deployments.export_template(rg_name, "first").template == t
    ops = list(rm.deployment_operations.list(rg_name, "first"))
    assert [o.properties.status_code for o in ops] == ["Created", "Created"]
    assert {o.properties.target_resource.resource_name for o in ops} == set(names)
    one = rm.deployment_operations.get(rg_name, "first", ops[0].operation_id)
    assert one.properties.provisioning_state == "Succeeded"

    with pytest.raises(HttpResponseError) as err:
        rm.deployments.cancel(rg_name, "first")
    assert err.value.status_code == 409 and err.value.error.code == "DeploymentCannotBeCancelled"
    hashed = rm.deployments.calculate_template_hash(t)
    assert hashed.template_hash == props.template_hash and hashed.minified_template.startswith("{")

    # deleting the record leaves the resources
    rm.deployments.begin_delete(rg_name, "first").result()
    assert rm.deployments.check_existence(rg_name, "first") is False
    assert all(_accounts(sim, rg_name, names).values())
    with pytest.raises(HttpResponseError) as err:
        rm.deployments.get(rg_name, "first")
    assert err.value.status_code == 404 and err.value.error.code == "DeploymentNotFound"


def test_lro_protocol_and_both_path_forms(sim: Sim, rg_name: str) -> None:
    group(sim, rg_name)
    path = deployment_path(sim, rg_name, "raw")
    with sim.http() as c:
        r = c.put(path, params=API, json=body(template("storage"), prefix="raw", count=1))
        assert r.status_code == 201, r.text
        assert r.json()["properties"]["provisioningState"] == "Accepted"
        status_url = r.headers["azure-asyncoperation"]
        assert f"{path}/operationStatuses/".lower() in status_url.lower()
        status = c.get(status_url)
        assert status.status_code == 200 and status.json()["status"] == "Succeeded"
        final = c.get(r.headers["location"])
        assert final.status_code == 200 and final.json()["properties"]["provisioningState"] == "Succeeded"
        # the same name again: 200, and the record is replaced
        again = c.put(path, params=API, json=body(template("storage"), prefix="raw", count=1))
        assert again.status_code == 200
        assert c.head(path, params=API).status_code == 204
        # azure-mgmt-resource 24 (and the CLI) list operations without /providers/Microsoft.Resources
        legacy = c.get(f"/subscriptions/{sim.subscription}/resourcegroups/{rg_name}/deployments/raw/operations",
                       params=API)
        assert legacy.status_code == 200 and len(legacy.json()["value"]) == 1
        assert legacy.json()["value"][0]["properties"]["statusCode"] == "OK"  # unchanged on the second run
        listed = c.get(deployment_path(sim, rg_name, "").rstrip("/"), params={
            **API, "$filter": "provisioningState eq 'Succeeded'"})
        assert [d["name"] for d in listed.json()["value"]] == ["raw"]
        missing = c.get(deployment_path(sim, "no-such-group", "x"), params=API)
        assert missing.status_code == 404
        nogroup = c.put(deployment_path(sim, f"missing-{uuid.uuid4().hex[:6]}", "x"), params=API,
                        json=body(template("storage"), prefix="abc"))
        assert nogroup.status_code == 404 and nogroup.json()["error"]["code"] == "ResourceGroupNotFound"
        # a group's deployment history goes with the group
        assert c.delete(f"/subscriptions/{sim.subscription}/resourcegroups/{rg_name}", params=API).status_code \
            in (200, 202)
        group(sim, rg_name)
        assert c.get(path, params=API).status_code == 404
        assert c.get(deployment_path(sim, rg_name, "").rstrip("/"), params=API).json()["value"] == []


def test_second_deployment_changes_nothing_and_what_if_agrees(sim: Sim, rm: Any, rg_name: str) -> None:
    group(sim, rg_name)
    t = template("storage")
    first = rm.deployments.begin_create_or_update(rg_name, "one", body(t, prefix="idem")).result()
    names = first.properties.outputs["names"]["value"]
    before = _accounts(sim, rg_name, names)
    tags_before = {n: etag_of(sim, rid(sim, rg_name, "Microsoft.Storage/storageAccounts", n)) for n in names}
    second = rm.deployments.begin_create_or_update(rg_name, "two", body(t, prefix="idem")).result()
    assert second.properties.outputs["names"]["value"] == names
    after = _accounts(sim, rg_name, names)
    # ARM PUTs every resource again (a new etag and lastModifiedAt), and the PUT changes nothing else
    tags_after = {n: etag_of(sim, rid(sim, rg_name, "Microsoft.Storage/storageAccounts", n)) for n in names}
    assert all(tags_after[n] != tags_before[n] for n in names)
    assert _unwritten(after) == _unwritten(before)
    assert [o.properties.status_code for o in rm.deployment_operations.list(rg_name, "two")] == ["OK", "OK"]

    # a resource of the group that the template does not mention: Ignore (Incremental mode)
    stray = rid(sim, rg_name, "Microsoft.ManagedIdentity/userAssignedIdentities", "stray")
    with sim.http() as c:
        assert c.put(stray, params={"api-version": "2023-01-31"}, json={"location": "eastus"}).status_code == 201
    result = rm.deployments.begin_what_if(rg_name, "check", body(t, prefix="idem")).result()
    kinds = {c.resource_id.lower(): c.change_type for c in result.changes}
    assert set(kinds.values()) <= {"NoChange", "Ignore"}
    assert kinds[stray.lower()] == "Ignore"
    assert all(kinds[rid(sim, rg_name, "Microsoft.Storage/storageAccounts", n).lower()] == "NoChange" for n in names)
    assert _accounts(sim, rg_name, names) == after  # whatIf wrote nothing

    # a changed parameter: Modify, with the property delta; one more instance: Create
    changed = rm.deployments.begin_what_if(rg_name, "check", body(t, prefix="idem", sku="Standard_GRS",
                                                                  count=3)).result()
    by_id = {c.resource_id.lower(): c for c in changed.changes}
    first_change = by_id[rid(sim, rg_name, "Microsoft.Storage/storageAccounts", names[0]).lower()]
    assert first_change.change_type == "Modify"
    assert any(d.path == "sku.name" and d.before == "Standard_LRS" and d.after == "Standard_GRS"
               for d in first_change.delta)
    created = [c for c in changed.changes if c.change_type == "Create"]
    assert len(created) == 1 and created[0].resource_id.endswith("2")
    assert _accounts(sim, rg_name, names) == after
    assert resource(sim, created[0].resource_id) is None


def test_validate_and_template_errors(sim: Sim, rm: Any, rg_name: str) -> None:
    group(sim, rg_name)
    t = template("storage")
    ok = rm.deployments.begin_validate(rg_name, "v", body(t, prefix="val")).result()
    assert ok.error is None and ok.properties.provisioning_state == "Succeeded"
    assert len(ok.properties.validated_resources) == 2
    assert rm.deployments.check_existence(rg_name, "v") is False  # validate deploys nothing

    path = deployment_path(sim, rg_name, "bad")
    with sim.http() as c:
        def fails(payload: dict[str, Any], verb: str = "validate") -> dict[str, Any]:
            r = c.post(f"{path}/{verb}", params=API, json=payload) if verb else c.put(path, params=API, json=payload)
            assert r.status_code == 400, r.text
            return r.json()["error"]

        missing = fails(body(t))
        assert missing["code"] == "InvalidTemplate" and "'prefix'" in missing["message"]
        assert "is not provided" in missing["message"]
        info = missing["additionalInfo"][0]
        assert info["type"] == "TemplateViolation" and info["info"]["lineNumber"] >= 1
        assert info["info"]["path"].endswith("parameters.prefix")
        assert "Expected a value of type 'Integer'" in fails(body(t, prefix="abc", count="two"))["message"]
        assert "allowed value" in fails(body(t, prefix="abc", sku="Premium_ZRS"))["message"]
        assert "Length of the value" in fails(body(t, prefix="ab"))["message"]
        assert "not present in the original template" in fails(body(t, prefix="abc", extra=1))["message"]

        broken = dict(t, resources=[dict(t["resources"][0], name="[concat(parameters('prefix'), copyIndex()]")])
        err = fails(body(broken, prefix="abc"), verb="")  # a PUT fails the same way, before anything deploys
        assert err["code"] == "InvalidTemplate" and "Unable to parse language expression" in err["message"]
        loc = err["additionalInfo"][0]["info"]
        assert loc["path"] == "properties.template.resources[0].name" and loc["lineNumber"] == 1
        assert loc["linePosition"] > 1
        assert c.head(path, params=API).status_code == 404

        cyclic = {"$schema": t["$schema"], "contentVersion": "1.0.0.0", "resources": [
            {"type": "Microsoft.ManagedIdentity/userAssignedIdentities", "apiVersion": "2023-01-31", "name": "a",
             "location": "eastus", "dependsOn": ["b"]},
            {"type": "Microsoft.ManagedIdentity/userAssignedIdentities", "apiVersion": "2023-01-31", "name": "b",
             "location": "eastus", "dependsOn": ["a"]}]}
        assert "Circular dependency" in fails(body(cyclic))["message"]
        unknown = dict(cyclic, resources=[dict(cyclic["resources"][0], dependsOn=["nowhere"])])
        assert "'nowhere' is not defined" in fails(body(unknown))["message"]
        looped = dict(t, variables={**t["variables"], "a": "[variables('b')]", "b": "[concat(variables('a'), 'x')]"},
                      outputs={"o": {"type": "string", "value": "[variables('a')]"}})
        cycle = fails(body(looped, prefix="abc"), verb="")  # every variable is evaluated before anything deploys
        assert "The template variable 'a' is not valid" in cycle["message"] and "cycle" in cycle["message"]
        assert cycle["additionalInfo"][0]["info"]["path"] == "properties.template.variables.a"
        no_schema = {k: v for k, v in t.items() if k != "$schema"}
        assert "'$schema'" in fails(body(no_schema, prefix="abc"))["message"]
        runtime_only = dict(cyclic, resources=[dict(cyclic["resources"][0], dependsOn=[],
                                                     name="[reference('x').name]")])
        assert "'reference' is not expected" in fails(body(runtime_only))["message"]
