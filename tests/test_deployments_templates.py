"""Template processing end to end, through azure-mgmt-resource 24: conditions, copies (resource, property,
variable, output), user-defined functions, a deployment that fails half way, Complete mode, nested deployments
(inner and outer scope, another resource group, subscription scope), symbolic names and `existing`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from tests.simserver import Sim, fresh_database_url
from tests.test_deployments_api import API, TEMPLATES, body, deployment_path, group, resource, rid, template

UAI = "Microsoft.ManagedIdentity/userAssignedIdentities"
STORAGE = "Microsoft.Storage/storageAccounts"


@pytest.fixture(scope="module")
def rm(sim: Sim) -> Any:
    with sim.resource_client() as client:
        yield client


def test_conditions_functions_and_copies(sim: Sim, rm: Any, rg_name: str) -> None:
    group(sim, rg_name)
    t = template("conditions")
    out = rm.deployments.begin_create_or_update(rg_name, "c1", body(t, prefix="Cond")).result().properties.outputs
    assert out["account"]["value"] == "condstd" and out["zones"]["value"] == ["zone-0", "zone-1", "zone-2"]
    identity = resource(sim, rid(sim, rg_name, UAI, "Cond-id"), "2023-01-31")
    assert identity and out["identityPrincipal"]["value"] == identity["properties"]["principalId"]
    std = resource(sim, rid(sim, rg_name, STORAGE, "condstd"))
    assert std and std["properties"]["labels"] == [{"zone": "zone-0", "n": 1}, {"zone": "zone-1", "n": 2},
                                                   {"zone": "zone-2", "n": 3}]
    assert resource(sim, rid(sim, rg_name, STORAGE, "condprm")) is None  # condition false: not deployed

    out = rm.deployments.begin_create_or_update(rg_name, "c2", body(t, prefix="Cond", premium=True,
                                                                    withIdentity=False)).result().properties.outputs
    assert "identityPrincipal" not in out and out["account"]["value"] == "condprm"
    assert resource(sim, rid(sim, rg_name, STORAGE, "condprm"))["sku"]["name"] == "Premium_LRS"
    ops = list(rm.deployment_operations.list(rg_name, "c2"))
    assert [o.properties.target_resource.resource_name for o in ops] == ["condprm"]


def test_a_deployment_that_fails_half_way_keeps_what_deployed(sim: Sim, rm: Any, rg_name: str) -> None:
    group(sim, rg_name)
    with pytest.raises(HttpResponseError) as err:
        rm.deployments.begin_create_or_update(rg_name, "half", body(template("failing"), prefix="half")).result()
    assert "DeploymentFailed" in str(err.value) or "PrincipalNotFound" in str(err.value)
    dep = rm.deployments.get(rg_name, "half")
    assert dep.properties.provisioning_state == "Failed"
    error = dep.properties.error
    assert error.code == "DeploymentFailed" and error.target == dep.id
    assert [d.code for d in error.details] == ["PrincipalNotFound"]
    assert dep.properties.outputs in (None, {})
    # ARM deployments are not atomic: 'a' (before the failure) and 'c' (independent) stay; 'b' waited on the failure
    assert resource(sim, rid(sim, rg_name, STORAGE, "halfa")) is not None
    assert resource(sim, rid(sim, rg_name, STORAGE, "halfc")) is not None
    assert resource(sim, rid(sim, rg_name, STORAGE, "halfb")) is None
    ops = {o.properties.target_resource.resource_type: o.properties for o in
           rm.deployment_operations.list(rg_name, "half")}
    failed = ops["Microsoft.Authorization/roleAssignments"]
    assert failed.provisioning_state == "Failed" and failed.status_code == "BadRequest"
    assert failed.status_message.error.code == "PrincipalNotFound"
    assert len(ops) == 2 and ops[STORAGE].provisioning_state == "Succeeded"


def test_complete_mode_deletes_what_the_template_does_not_declare(sim: Sim, rm: Any, rg_name: str) -> None:
    scope = group(sim, rg_name)
    t = template("storage")
    names = rm.deployments.begin_create_or_update(rg_name, "all", body(t, prefix="cmp")).result() \
        .properties.outputs["names"]["value"]
    stray = rid(sim, rg_name, UAI, "stray")
    grant = f"{scope}/providers/Microsoft.Authorization/roleAssignments/5f3c1a46-56b1-4c7c-9c1e-3c1d3d9b0a11"
    with sim.http() as c:
        uai = c.put(stray, params={"api-version": "2023-01-31"}, json={"location": "eastus"}).json()
        r = c.put(grant, params={"api-version": "2022-04-01"}, json={"properties": {
            "roleDefinitionId": f"/subscriptions/{sim.subscription}/providers/Microsoft.Authorization/roleDefinitions/"
                                "acdd72a7-3385-48ef-bd42-f606fba81ae7",
            "principalId": uai["properties"]["principalId"], "principalType": "ServicePrincipal"}})
        assert r.status_code == 201, r.text
    plan = rm.deployments.begin_what_if(rg_name, "fewer", body(t, "Complete", prefix="cmp", count=1)).result()
    kinds = {c.resource_id.lower(): c.change_type for c in plan.changes}
    assert kinds[stray.lower()] == "Delete"
    assert kinds[rid(sim, rg_name, STORAGE, names[1]).lower()] == "Delete"
    assert kinds[rid(sim, rg_name, STORAGE, names[0]).lower()] == "NoChange"
    assert kinds[grant.lower()] == "Ignore"

    rm.deployments.begin_create_or_update(rg_name, "fewer", body(t, "Complete", prefix="cmp", count=1)).result()
    assert resource(sim, rid(sim, rg_name, STORAGE, names[0])) is not None
    assert resource(sim, rid(sim, rg_name, STORAGE, names[1])) is None
    assert resource(sim, stray, "2023-01-31") is None
    assert resource(sim, grant, "2022-04-01") is not None  # extension resources of the group stay
    deletes = [o.properties for o in rm.deployment_operations.list(rg_name, "fewer")
               if o.properties.provisioning_operation == "Delete"]
    assert {d.target_resource.id.lower() for d in deletes} == {stray.lower(),
                                                              rid(sim, rg_name, STORAGE, names[1]).lower()}
    with pytest.raises(HttpResponseError) as err:  # Complete is for resource group deployments only
        rm.deployments.begin_create_or_update_at_subscription_scope(
            "complete-sub", {"location": "eastus", **body(t, "Complete", prefix="x")}).result()
    assert err.value.status_code == 400


def test_nested_deployments_pass_outputs_across_scopes(sim: Sim, rm: Any, rg_name: str) -> None:
    group(sim, rg_name)
    other = f"{rg_name}-other"
    group(sim, other)
    result = rm.deployments.begin_create_or_update(rg_name, "parent", body(template("nested"), prefix="nst",
                                                                           otherGroup=other)).result()
    out = result.properties.outputs
    uai = resource(sim, rid(sim, rg_name, UAI, "nst-uai"), "2023-01-31")
    assert uai and out["principalId"]["value"] == uai["properties"]["principalId"]
    assert out["outerSaw"]["value"] == "nst-uai"  # an outer-scope template sees its parent's variables
    assert out["otherGroup"]["value"] == other  # an inner-scope template sees its own resource group
    st = resource(sim, rid(sim, rg_name, STORAGE, "nstst"))
    assert st["tags"]["identity-principal"] == uai["properties"]["principalId"]
    assert list(st["identity"]["userAssignedIdentities"].values())[0]["principalId"] == \
        uai["properties"]["principalId"]
    assert resource(sim, rid(sim, rg_name, UAI, "nst-outer"), "2023-01-31") is not None
    moved = resource(sim, rid(sim, other, UAI, "elsewhere-uai"), "2023-01-31")
    assert moved and moved["tags"]["copied-principal"] == uai["properties"]["principalId"]
    # each nested deployment is a deployment record of its own, in the scope it deployed to
    inner = rm.deployments.get(rg_name, "identity")
    assert inner.properties.outputs["principalId"]["value"] == uai["properties"]["principalId"]
    assert rm.deployments.get(other, "elsewhere").properties.provisioning_state == "Succeeded"
    assert {d.name for d in rm.deployments.list_by_resource_group(rg_name)} == {"parent", "identity", "outer"}
    ops = [o.properties.target_resource.resource_name for o in rm.deployment_operations.list(rg_name, "parent")]
    assert ops.index("identity") < ops.index("nstst")  # the storage account waited for the nested outputs


def test_subscription_scope_creates_a_group_and_deploys_into_it(sim: Sim, rm: Any, rg_name: str) -> None:
    result = rm.deployments.begin_create_or_update_at_subscription_scope(
        f"sub-{rg_name}", {"location": "westus", **body(template("subscription"), groupName=rg_name)}).result()
    out = result.properties.outputs
    assert out["group"]["value"] == rg_name
    made = rm.resource_groups.get(rg_name)
    assert made.location == "westus" and made.tags == {"made-by": "subscription deployment"}
    uai = resource(sim, rid(sim, rg_name, UAI, f"{rg_name}-id"), "2023-01-31")
    assert uai and out["principalId"]["value"] == uai["properties"]["principalId"]
    assert rm.deployments.get(rg_name, "into-group").properties.provisioning_state == "Succeeded"
    assert rm.deployments.get_at_subscription_scope(f"sub-{rg_name}").location == "westus"
    for bad in ({**body(template("subscription"), groupName=rg_name)},
                {"location": "eastus", **body(template("subscription"), groupName=rg_name)}):
        with pytest.raises(HttpResponseError) as err:  # no location; then another location for the same name
            rm.deployments.begin_create_or_update_at_subscription_scope(f"sub-{rg_name}", bad).result()
        assert err.value.status_code == 400
        assert err.value.error.code in ("InvalidDeployment", "InvalidDeploymentLocation")


def test_symbolic_names_and_existing_resources(sim: Sim, rm: Any, rg_name: str) -> None:
    group(sim, rg_name)
    with sim.http() as c:
        prior = c.put(rid(sim, rg_name, UAI, "prior"), params={"api-version": "2023-01-31"},
                      json={"location": "eastus"}).json()
    out = rm.deployments.begin_create_or_update(rg_name, "lv2", body(template("symbolic"), prefix="sym",
                                                                     existingIdentity="prior")).result() \
        .properties.outputs
    assert out["priorPrincipal"]["value"] == prior["properties"]["principalId"]
    ids = [resource(sim, rid(sim, rg_name, UAI, f"sym-id{i}"), "2023-01-31") for i in range(2)]
    assert out["secondClient"]["value"] == ids[1]["properties"]["clientId"]
    assert out["allPrincipals"]["value"] == [i["properties"]["principalId"] for i in ids]
    assert out["storeIdentities"]["value"] == 2
    ops = [o.properties.target_resource for o in rm.deployment_operations.list(rg_name, "lv2")]
    assert [o.symbolic_name for o in ops if o.resource_type == STORAGE] == ["store"]
    assert "prior" not in {o.resource_name for o in ops}  # `existing` is read, never deployed
    with sim.http() as c:
        r = c.put(f"/subscriptions/{sim.subscription}/resourcegroups/{rg_name}/providers/Microsoft.Resources/"
                  "deployments/lv2-missing", params=API,
                  json=body(template("symbolic"), prefix="sym2", existingIdentity="not-there"))
        assert r.status_code == 201
        dep = c.get(r.headers["location"]).json() if "location" in r.headers else r.json()
    assert dep["properties"]["provisioningState"] == "Failed"


def test_template_links_nested_children_and_sync_mode(tmp_path: Path) -> None:
    base = "https://templates.example.com/app/"
    links = tmp_path / "links.json"
    links.write_text(json.dumps({f"{base}main.json": str(TEMPLATES / "linked_main.json"),
                                 f"{base}nested/child.json": str(TEMPLATES / "linked_child.json")}))
    server = Sim(home=tmp_path / "sim", database_url=fresh_database_url(),
                 extra_env={"ARM_SIM_LRO": "sync", "ARM_SIM_TEMPLATE_LINKS": str(links)}).start()
    try:
        group(server, "linked")
        path = deployment_path(server, "linked", "main")
        link_body = {"properties": {"mode": "Incremental", "templateLink": {"uri": f"{base}main.json?sv=sas-token"},
                                    "parameters": {"prefix": {"value": "lnk"}}}}
        with server.http() as c:
            r = c.put(path, params=API, json=link_body)
            assert r.status_code == 201 and "azure-asyncoperation" not in r.headers  # ARM_SIM_LRO=sync
            dep = r.json()
            assert dep["properties"]["provisioningState"] == "Succeeded", dep
            out = dep["properties"]["outputs"]
            assert out["link"]["value"] == f"{base}main.json?sv=sas-token"
            # relativePath: against the parent's link, with its SAS token
            assert out["childLink"]["value"] == f"{base}nested/child.json?sv=sas-token"
            assert dep["properties"]["templateLink"]["uri"] == f"{base}main.json?sv=sas-token"
            exported = c.post(f"{path}/exportTemplate", params=API).json()["template"]
            assert exported == template("linked_main")
            missing = c.put(path, params=API, json={"properties": {"mode": "Incremental", "templateLink": {
                "uri": "https://templates.example.com/unknown.json"}}})
            assert missing.status_code == 400 and missing.json()["error"]["code"] == "InvalidContentLink"
            assert "ARM_SIM_TEMPLATE_LINKS" in missing.json()["error"]["message"]
        uai = rid(server, "linked", UAI, "lnk-id")
        fic = resource(server, f"{uai}/federatedIdentityCredentials/github", "2023-01-31")
        assert fic and fic["properties"]["subject"] == "repo:org/app:ref:refs/heads/main"
        lock = resource(server, f"{uai}/providers/Microsoft.Authorization/locks/keep", "2020-05-01")
        assert lock and lock["properties"]["level"] == "CanNotDelete"
        child = resource(server, rid(server, "linked", UAI, "lnk-child"), "2023-01-31")
        assert child["properties"]["principalId"] == out["childPrincipal"]["value"]
        with server.resource_client() as rm:  # the SDK takes a terminal 201 as done
            again = rm.deployments.begin_create_or_update("linked", "main", link_body).result()
            assert again.properties.outputs == out
    finally:
        server.stop()


def test_aks_kubelet_identity_feeds_a_role_assignment(sim: Sim, rm: Any, rg_name: str) -> None:
    """The kubelet identity AKS makes in its node resource group is a real identity resource: a template grants
    it a role through reference(), and the grant names that identity's principal."""
    group(sim, rg_name)
    cluster = "[resourceId('Microsoft.ContainerService/managedClusters', 'k1')]"
    kubelet = f"[reference({cluster[1:-1]}, '2024-09-01').identityProfile.kubeletidentity"
    t = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
         "contentVersion": "1.0.0.0", "resources": [
             {"type": "Microsoft.ContainerService/managedClusters", "apiVersion": "2024-09-01", "name": "k1",
              "location": "eastus", "identity": {"type": "SystemAssigned"},
              "properties": {"dnsPrefix": "k1", "agentPoolProfiles": [{"name": "system", "count": 1}]}},
             {"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01",
              "name": "[guid(resourceGroup().id, 'k1', 'acrpull')]", "dependsOn": [cluster],
              "properties": {"principalId": f"{kubelet}.objectId]", "principalType": "ServicePrincipal",
                             "roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions',"
                                                 " '7f951dda-4ed3-4680-a7ca-43fe172d538d')]"}}],
         "outputs": {"kubelet": {"type": "string", "value": f"{kubelet}.resourceId]"}}}
    out = rm.deployments.begin_create_or_update(rg_name, "aks", body(t)).result().properties.outputs
    identity = resource(sim, out["kubelet"]["value"], "2023-01-31")
    assert identity is not None and f"/resourceGroups/MC_{rg_name}_k1_eastus/" in identity["id"]
    grants = [a for a in rm.deployment_operations.list(rg_name, "aks")
              if a.properties.target_resource.resource_type == "Microsoft.Authorization/roleAssignments"]
    assignment = resource(sim, grants[0].properties.target_resource.id, "2022-04-01")
    assert assignment is not None
    assert assignment["properties"]["principalId"] == identity["properties"]["principalId"]


def test_providers_and_output_names_as_arm_writes_them(sim: Sim, rm: Any, rg_name: str) -> None:
    """`providers()` answers from Azure's provider catalogue (API versions newest first, locations by display name),
    and outputs come back under camel-cased names, as ARM's serializer writes them (the Azure CLI reads its
    `VMSS` output as `outputs['vmss']`); expressions still find them case-insensitively."""
    group(sim, rg_name)
    t = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
         "contentVersion": "1.0.0.0", "resources": [], "outputs": {
             "VMSS": {"type": "string",
                      "value": "[providers('Microsoft.Compute', 'virtualMachineScaleSets').apiVersions[0]]"},
             "URLValue": {"type": "array", "value": "[providers('microsoft.compute', 'virtualMachines').locations]"},
             "MyTypes": {"type": "int", "value": "[length(providers('Microsoft.ManagedIdentity').resourceTypes)]"},
             "plain": {"type": "string", "value": "kept"}}}
    out = rm.deployments.begin_create_or_update(rg_name, "providers", {"properties": {
        "mode": "Incremental", "template": t}}).result().properties.outputs
    assert set(out) == {"vmss", "urlValue", "myTypes", "plain"}
    assert out["vmss"]["value"] >= "2024-07-01"  # the newest version the catalogue has
    assert "East US" in out["urlValue"]["value"] and out["myTypes"]["value"] >= 2
    t["outputs"] = {"x": {"type": "string", "value": "[providers('Microsoft.Compute', 'noSuchType').apiVersions[0]]"}}
    with pytest.raises(HttpResponseError) as err:
        rm.deployments.begin_create_or_update(rg_name, "unknown-type", {"properties": {
            "mode": "Incremental", "template": t}}).result()
    assert "could not be found in the namespace 'Microsoft.Compute'" in str(err.value)
