"""Template validation before anything is created (issue 13): undefined parameters and variables, unknown
functions, wrong arities, parameter constraints, dependsOn targets and ARM's preflight are refused by the PUT,
`validate` and whatIf alike — 400 with ARM's wording and place — and the group stays empty. Only what reads runtime
state (reference(), list*()) waits for its resource, and a resource that fails then leaves what deployed before it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from arm_sim.core import jsonc
from arm_sim.testing.vm import properties as vm_properties
from tests.simserver import Sim
from tests.test_deployments_api import API, body, deployment_path, group, resource, rid

UAI = "Microsoft.ManagedIdentity/userAssignedIdentities"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
PARAMETERS_HELP = "Please see https://aka.ms/arm-syntax-parameters for usage details."
VARIABLES_HELP = "Please see https://aka.ms/arm-syntax-variables for usage details."
FUNCTIONS_HELP = "Please see https://aka.ms/arm-functions for usage details."
EXPRESSIONS_HELP = "Please see https://aka.ms/arm-template-expressions for usage details."


def uai(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": UAI, "apiVersion": "2023-01-31", "name": name, "location": "eastus", **extra}


def tmpl(resources: list[dict[str, Any]], **sections: Any) -> dict[str, Any]:
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0", **sections, "resources": resources}


def place(t: dict[str, Any], *path: str | int) -> tuple[int, int]:
    """Where ARM says a value is: in the template as the SDK sends it (json.dumps), found by its path."""
    found = jsonc.locate(json.dumps(t), path)
    assert found is not None, path
    return found


def _untracked(message: str) -> str:
    return re.sub(r"tracking id is '[0-9a-f-]+'", "tracking id is '…'", message)


def refused(sim: Sim, rg: str, t: dict[str, Any], **params: Any) -> dict[str, Any]:
    """The PUT, validate and whatIf all answer the same 400; no deployment and no resource exist after."""
    path = deployment_path(sim, rg, "bad")
    payload = body(t, **params)
    with sim.http() as c:
        answers = [c.put(path, params=API, json=payload), c.post(f"{path}/validate", params=API, json=payload),
                   c.post(f"{path}/whatIf", params=API, json=payload)]
        for r in answers:
            assert r.status_code == 400, r.text
        errors = [r.json()["error"] for r in answers]
        assert len({(e["code"], _untracked(e["message"])) for e in errors}) == 1, errors
        assert c.head(path, params=API).status_code == 404
        listed = c.get(f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/resources", params=API)
        assert listed.status_code == 200 and listed.json()["value"] == []
    return errors[0]


def violation(error: dict[str, Any]) -> dict[str, Any]:
    [info] = error["additionalInfo"]
    assert info["type"] == "TemplateViolation"
    return dict(info["info"])


def test_an_undefined_parameter_in_the_sixth_of_ten_resources_creates_none(sim: Sim, rg_name: str) -> None:
    group(sim, rg_name)
    resources = [uai(f"v{i}", tags={"owner": "[parameters('prefix')]"}) for i in range(10)]
    resources[5]["tags"] = {"owner": "[parameters('prefixx')]"}
    t = tmpl(resources, parameters={"prefix": {"type": "string"}})
    error = refused(sim, rg_name, t, prefix="abc")
    line, col = place(t, "resources", 5)
    v5 = rid(sim, rg_name, UAI, "v5")
    assert error["code"] == "InvalidTemplate"
    assert error["message"] == (f"Unable to process template language expressions for resource '{v5}' at line "
                                f"'{line}' and column '{col}'. 'The template parameter 'prefixx' is not found. "
                                f"{PARAMETERS_HELP}'")
    where = violation(error)
    assert where["path"] == "properties.template.resources[5].tags.owner"
    assert (where["lineNumber"], where["linePosition"]) == place(t, "resources", 5, "tags", "owner")


@pytest.mark.parametrize("case", ["copy-name", "condition", "location", "apiVersion", "type", "copy-count"])
def test_undefined_names_in_a_resources_own_fields(sim: Sim, rg_name: str, case: str) -> None:
    group(sim, rg_name)
    r = uai("[concat('id-', copyIndex())]", copy={"name": "ids", "count": 2})
    field, expected = {
        "copy-name": ("name", "The template variable 'nope' is not found. " + VARIABLES_HELP),
        "condition": ("condition", "The template parameter 'nope' is not found. " + PARAMETERS_HELP),
        "location": ("location", "The template variable 'nope' is not found. " + VARIABLES_HELP),
        "apiVersion": ("apiVersion", "The template parameter 'nope' is not found. " + PARAMETERS_HELP),
        "type": ("type", "The template variable 'nope' is not found. " + VARIABLES_HELP),
        "copy-count": ("copy", "The template parameter 'nope' is not found. " + PARAMETERS_HELP),
    }[case]
    wrong = "[variables('nope')]" if "variable" in expected else "[equals(parameters('nope'), 'x')]"
    if field == "name":
        r["name"] = "[concat(variables('nope'), copyIndex())]"
    elif field == "copy":
        r["copy"] = {"name": "ids", "count": "[parameters('nope')]"}
    elif field == "apiVersion":
        r["apiVersion"] = "[parameters('nope')]"
    else:
        r[field] = wrong
    t = tmpl([uai("first"), r])
    error = refused(sim, rg_name, t)
    path: tuple[str | int, ...] = ("resources", 1, field) if field != "copy" else ("resources", 1, "copy", "count")
    line, col = place(t, *path)
    assert error["message"] == (f"Deployment template validation failed: 'The template resource '{r['name']}' at "
                                f"line '{line}' and column '{col}' is not valid: {expected}. {EXPRESSIONS_HELP}'.")
    assert violation(error)["path"] == "properties.template." + jsonc.format_path(path)


def test_dependson_names_and_targets(sim: Sim, rg_name: str) -> None:
    group(sim, rg_name)
    t = tmpl([uai("aaa"), uai("bbb", dependsOn=["aaa", f"[resourceId('{UAI}', variables('webAppName'))]"])])
    error = refused(sim, rg_name, t)
    assert error["message"] == ("Deployment template validation failed: 'The template variable 'webAppName' is not "
                                f"found. {VARIABLES_HELP}'.")
    where = violation(error)
    assert where["path"] == "properties.template.resources[1].dependsOn[1]"
    assert (where["lineNumber"], where["linePosition"]) == place(t, "resources", 1, "dependsOn", 1)

    for entry, shown in ((f"[resourceId('{UAI}', 'nowhere')]", f"{UAI}/nowhere"), ("nowhere", "nowhere")):
        error = refused(sim, rg_name, tmpl([uai("aaa"), uai("bbb", dependsOn=["aaa", entry])]))
        assert error["message"] == (f"Deployment template validation failed: 'The resource '{shown}' is not defined "
                                    "in the template. Please see https://aka.ms/arm-syntax for usage details.'.")
        assert violation(error) == {"lineNumber": 0, "linePosition": 0, "path": ""}  # ARM gives no place


def test_variables_are_all_evaluated_and_checked(sim: Sim, rg_name: str) -> None:
    group(sim, rg_name)
    chained = tmpl([uai("[variables('a')]")], variables={"a": "[variables('b')]", "b": "[variables('c')]"})
    error = refused(sim, rg_name, chained)
    assert error["message"] == ("Deployment template validation failed: 'The template variable 'b' is not valid: The "
                                f"template variable 'c' is not found. {VARIABLES_HELP}. {EXPRESSIONS_HELP}'.")
    assert violation(error)["path"] == "properties.template.variables.b"
    unused = tmpl([uai("okay")], variables={"spare": "[parameters('nope')]"})  # not used anywhere: still refused
    assert "The template variable 'spare' is not valid: The template parameter 'nope'" in \
        refused(sim, rg_name, unused)["message"]
    looped = tmpl([uai("okay")], variables={"copy": [{"name": "disks", "count": 2,
                                                     "input": "[concat(variables('nope'), copyIndex('disks'))]"}]})
    assert "The template variable 'disks' is not valid: The template variable 'nope' is not found" in \
        refused(sim, rg_name, looped)["message"]
    failing = tmpl([uai("okay")], variables={"n": "[int('twelve')]"})  # evaluated, not only checked
    assert refused(sim, rg_name, failing)["message"].startswith(
        "Deployment template validation failed: 'The template variable 'n' is not valid: ")


def test_outputs_nested_properties_and_property_copies(sim: Sim, rg_name: str) -> None:
    group(sim, rg_name)
    out = tmpl([uai("okay")], outputs={"o": {"type": "string", "value": "[reference('okay').principalId]"},
                                     "p": {"type": "string", "value": "[variables('nope')]"}})
    error = refused(sim, rg_name, out)
    assert error["message"] == ("Deployment template validation failed: 'The template output 'p' is not valid: The "
                                f"template variable 'nope' is not found. {VARIABLES_HELP}. {EXPRESSIONS_HELP}'.")
    assert violation(error)["path"] == "properties.template.outputs.p.value"
    deep = tmpl([uai("okay", properties={"a": {"b": [{"c": "[parameters('deep')]"}]}})])
    assert violation(refused(sim, rg_name, deep))["path"] == "properties.template.resources[0].properties.a.b[0].c"
    copied = tmpl([uai("okay", properties={"copy": [{"name": "items", "count": 2,
                                                   "input": "[concat(variables('x'), copyIndex('items'))]"}]})])
    assert "The template variable 'x' is not found" in refused(sim, rg_name, copied)["message"]


@pytest.mark.parametrize(("expression", "message"), [
    ("[concatt('a', 'b')]", f"The template function 'concatt' is not valid. {FUNCTIONS_HELP}"),
    ("[toLower('a', 'b')]", "Unable to evaluate template language function 'toLower': function requires 1 "
                            f"argument(s) while 2 were provided. {FUNCTIONS_HELP}"),
    ("[substring()]", "Unable to evaluate template language function 'substring': function requires 1 to 3 "
                      f"argument(s) while 0 were provided. {FUNCTIONS_HELP}"),
    ("[ns.nope('a')]", f"The template function 'ns.nope' is not valid. {FUNCTIONS_HELP}"),
    ("[ns.pre('a', 'b')]", "Unable to evaluate template language function 'ns.pre': function requires 1 "
                           f"argument(s) while 2 were provided. {FUNCTIONS_HELP}"),
])
def test_unknown_functions_and_wrong_arities(sim: Sim, rg_name: str, expression: str, message: str) -> None:
    group(sim, rg_name)
    functions = [{"namespace": "ns", "members": {"pre": {
        "parameters": [{"name": "p", "type": "string"}],
        "output": {"type": "string", "value": "[concat('id-', parameters('p'))]"}}}}]
    # behind a reference(): refused all the same, before anything deploys
    t = tmpl([uai("first"), uai("second", tags={"t": f"[if(empty(reference('first')), 'x', {expression[1:-1]})]"})],
             functions=functions)
    error = refused(sim, rg_name, t)
    assert error["message"].endswith(f"'{message}'")
    assert error["message"].startswith("Unable to process template language expressions for resource '"
                                       f"{rid(sim, rg_name, UAI, 'second')}'")


def test_a_templates_own_functions_and_runtime_expressions_deploy(sim: Sim, rm: Any, rg_name: str) -> None:
    group(sim, rg_name)
    functions = [{"namespace": "ns", "members": {"pre": {
        "parameters": [{"name": "p", "type": "string"}],
        "output": {"type": "string", "value": "[concat('id-', parameters('p'))]"}}}}]
    t = tmpl([uai("[ns.pre('aaa')]"),
              uai("bbb", tags={"principal": "[reference(ns.pre('aaa')).principalId]",
                             "keys": "[if(false(), listKeys(ns.pre('aaa'), '2023-01-31').keys[0].value, 'none')]"})],
             functions=functions, outputs={"p": {"type": "string", "value": "[reference('bbb').principalId]"}})
    result = rm.deployments.begin_create_or_update(rg_name, "udf", body(t)).result()
    assert result.properties.provisioning_state == "Succeeded"
    a = resource(sim, rid(sim, rg_name, UAI, "id-aaa"), "2023-01-31")
    b = resource(sim, rid(sim, rg_name, UAI, "bbb"), "2023-01-31")
    assert a and b and b["tags"] == {"principal": a["properties"]["principalId"], "keys": "none"}


def test_parameter_types_and_constraints(sim: Sim, rg_name: str) -> None:
    group(sim, rg_name)
    t = tmpl([uai("okay")], parameters={
        "s": {"type": "string", "defaultValue": "a", "allowedValues": ["a", "b"]},
        "n": {"type": "int", "defaultValue": 1, "minValue": 1, "maxValue": 3},
        "l": {"type": "string", "defaultValue": "abc", "minLength": 2, "maxLength": 5},
    })
    failed = "Deployment template validation failed: "
    line, col = place(t, "parameters", "s")
    assert refused(sim, rg_name, t, s="c")["message"] == (
        f"{failed}'The provided value 'c' for the template parameter 's' at line '{line}' and column '{col}' is not "
        "valid. The parameter value is not part of the allowed value(s): 'a,b'.'.")
    assert refused(sim, rg_name, t, n="2")["message"] == (
        f"{failed}'The provided value for the template parameter 'n' is not valid. Expected a value of type "
        "'Integer', but received a value of type 'String'. Please see https://aka.ms/arm-create-parameter-file for "
        "usage details.'.")
    assert refused(sim, rg_name, t, n=0)["message"] == (
        f"{failed}'The provided value '0' for the template parameter 'n' is not valid. Expected a value greater than "
        f"or equal to '1'. {PARAMETERS_HELP}'.")
    assert refused(sim, rg_name, t, n=4)["message"].endswith("Expected a value less than or equal to '3'. "
                                                             f"{PARAMETERS_HELP}'.")
    assert refused(sim, rg_name, t, l="abcdef")["message"] == (
        f"{failed}'The provided value for the template parameter 'l' is not valid. Length of the value should be "
        f"less than or equal to '5'. {PARAMETERS_HELP}'.")
    error = refused(sim, rg_name, t, l="a")
    assert "greater than or equal to '2'" in error["message"]
    assert violation(error)["path"] == "properties.template.parameters.l"
    default = tmpl([uai("okay")], parameters={"p": {"type": "string", "defaultValue": "[parameters('q')]"}})
    assert "The template parameter 'q' is not found" in refused(sim, rg_name, default)["message"]


def test_a_null_parameter_value_takes_the_default(sim: Sim, rg_name: str) -> None:
    """Issue 17: az's generated templates pass `{"value": null}` (enablePurgeProtection, networkRuleAction, tags)
    and Azure deploys with the defaults; a nullable parameter stays null; a required one is "not provided"."""
    group(sim, rg_name)
    required = tmpl([uai("okay")], parameters={"need": {"type": "bool"}})
    line, col = place(required, "parameters", "need")
    assert refused(sim, rg_name, required, need=None)["message"] == (
        f"Deployment template validation failed: 'The value for the template parameter 'need' at line '{line}' and "
        f"column '{col}' is not provided. Please see https://aka.ms/arm-create-parameter-file for usage details.'.")
    null_default = tmpl([uai("okay")], parameters={"n": {"type": "string", "defaultValue": "[null()]"}})
    assert "parameter 'n' at line" in refused(sim, rg_name, null_default)["message"]
    parameters = {
        "purge": {"type": "bool", "defaultValue": True},
        "action": {"type": "string", "defaultValue": "[toUpper('allow')]"},
        "tags": {"type": "object", "defaultValue": {"a": "b"}},
        "maybe": {"type": "string", "nullable": True},
    }
    outputs = {k: {"type": "string", "value": f"[string(coalesce(parameters('{k}'), 'null'))]"} for k in parameters}
    t = tmpl([uai("okay")], parameters=parameters, outputs=outputs)
    path = deployment_path(sim, rg_name, "nulls")
    with sim.http() as c:
        r = c.put(path, params=API, json=body(t, purge=None, action=None, tags=None, maybe=None))
        assert r.status_code in (200, 201), r.text
        got = c.get(path, params=API).json()["properties"]
    assert got["provisioningState"] == "Succeeded", got
    assert {k: v["value"] for k, v in got["outputs"].items()} == {
        "purge": "True", "action": "ALLOW", "tags": '{"a":"b"}', "maybe": "null"}
    assert got["parameters"]["purge"] == {"type": "Bool", "value": True}


def test_a_nested_template_is_checked_before_its_parent_deploys(sim: Sim, rg_name: str) -> None:
    group(sim, rg_name)
    inner = tmpl([uai("[parameters('nestedName')]", tags={"x": "[parameters('typo')]"})],
                 parameters={"nestedName": {"type": "string"}})
    nested = {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "inner",
              "dependsOn": ["first"],
              "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"},
                             "parameters": {"nestedName": {"value": "n1"}}, "template": inner}}
    t = tmpl([uai("first"), nested])
    error = refused(sim, rg_name, t)
    assert error["message"] == ("Deployment template validation failed: 'The template parameter 'typo' is not found. "
                                f"{PARAMETERS_HELP}'.")
    assert violation(error)["path"] == "properties.template.resources[1].properties.template.resources[0].tags.x"
    outer = dict(nested, properties={"mode": "Incremental", "template": tmpl([uai("[variables('undeclared')]")])})
    assert "The template variable 'undeclared' is not found" in refused(sim, rg_name, tmpl([uai("first"), outer]))[
        "message"]


def test_a_resource_that_fails_at_run_time_leaves_what_deployed_before_it(sim: Sim, rm: Any, rg_name: str) -> None:
    group(sim, rg_name)
    t = tmpl([uai("aaa"), uai("bbb", dependsOn=["aaa"], tags={"x": "[reference('aaa').noSuchProperty]"}), uai("ccc")])
    path = deployment_path(sim, rg_name, "late")
    with sim.http() as c:
        r = c.put(path, params=API, json=body(t))  # valid as a template: only the deployed state is wrong
        assert r.status_code == 201, r.text
        assert c.get(path, params=API).json()["properties"]["provisioningState"] == "Failed"
    assert resource(sim, rid(sim, rg_name, UAI, "aaa"), "2023-01-31") is not None
    assert resource(sim, rid(sim, rg_name, UAI, "ccc"), "2023-01-31") is not None
    assert resource(sim, rid(sim, rg_name, UAI, "bbb"), "2023-01-31") is None
    ops = {o.properties.target_resource.resource_name: o.properties for o in
           rm.deployment_operations.list(rg_name, "late")}
    assert ops["aaa"].provisioning_state == "Succeeded" and ops["ccc"].provisioning_state == "Succeeded"
    failed = ops["bbb"].status_message.error
    assert ops["bbb"].provisioning_state == "Failed" and failed.code == "InvalidTemplate"
    assert failed.message.startswith("Unable to process template language expressions for resource "
                                     f"'{rid(sim, rg_name, UAI, 'bbb')}' at line ")


def test_the_sdk_sees_the_refusal(sim: Sim, rm: Any, rg_name: str) -> None:
    from azure.core.exceptions import HttpResponseError

    group(sim, rg_name)
    t = tmpl([uai("aaa"), uai("bbb", tags={"x": "[parameters('prefixx')]"})])
    for call in (rm.deployments.begin_validate, rm.deployments.begin_create_or_update):
        with pytest.raises(HttpResponseError) as err:
            call(rg_name, "sdk", body(t)).result()
        assert err.value.status_code == 400 and err.value.error.code == "InvalidTemplate"
        assert "The template parameter 'prefixx' is not found" in err.value.error.message
    assert list(rm.resources.list_by_resource_group(rg_name)) == []


@pytest.fixture(scope="module")
def rm(sim: Sim) -> Any:
    with sim.resource_client() as client:
        yield client


def test_a_providers_preflight_refusal_comes_wrapped(sim: Sim, rg_name: str) -> None:
    """What Compute refuses of a template's VM (a size not offered) is found before anything is created, wrapped
    in InvalidTemplateDeployment as ARM wraps a resource provider's preflight; the template's own NIC, not yet
    created, counts as existing. ARM's own catalogue refusals come unwrapped (the tests above)."""
    group(sim, rg_name)
    vnet = {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2024-05-01", "name": "net",
            "location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                                                 "subnets": [{"name": "default",
                                                              "properties": {"addressPrefix": "10.0.0.0/24"}}]}}
    nic_id = rid(sim, rg_name, "Microsoft.Network/networkInterfaces", "nic")
    nic = {"type": "Microsoft.Network/networkInterfaces", "apiVersion": "2024-05-01", "name": "nic",
           "location": "eastus", "dependsOn": ["net"],
           "properties": {"ipConfigurations": [{"name": "ip1", "properties": {"subnet": {
               "id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'net', 'default')]"}}}]}}
    props = vm_properties(nic_id, "vm1")
    props["hardwareProfile"] = {"vmSize": "Standard_Nope"}
    vm = {"type": "Microsoft.Compute/virtualMachines", "apiVersion": "2024-07-01", "name": "vm1",
          "location": "eastus", "dependsOn": ["nic"], "properties": props}
    error = refused(sim, rg_name, tmpl([vnet, nic, vm]))
    assert error["code"] == "InvalidTemplateDeployment"
    assert re.fullmatch(r"The template deployment 'bad' is not valid according to the validation procedure\. The "
                        r"tracking id is '[0-9a-f-]{36}'\. See inner errors for details\.", error["message"])
    [inner] = error["details"]
    assert inner["code"] == "InvalidParameter" and inner["target"] == "vmSize"
    assert inner["message"].startswith("The value Standard_Nope provided for the VM size is not valid.")
    props["hardwareProfile"] = {"vmSize": "Standard_B1s"}  # then the same template deploys
    with sim.http() as c:
        r = c.put(deployment_path(sim, rg_name, "good"), params=API, json=body(tmpl([vnet, nic, vm])))
        assert r.status_code in (200, 201), r.text


def test_preflight_runs_for_every_resource_before_any_is_created(sim: Sim, rg_name: str) -> None:
    group(sim, rg_name)
    t = tmpl([uai("first"), dict(uai("second"), location="nowhere-region"),
              {"type": "Microsoft.Storage/storageAccountz", "apiVersion": "2023-05-01", "name": "x",
               "location": "eastus"}])
    with sim.http() as c:
        probe = c.post(f"{deployment_path(sim, rg_name, 'probe')}/validate", params=API, json=body(t))
    if probe.status_code == 200:
        pytest.skip("resources.preflight refuses nothing yet (its catalogue is being filled)")
    error = refused(sim, rg_name, t)
    assert error["code"] == "LocationNotAvailableForResourceType"  # ARM's own answer, not wrapped
    assert "'nowhere-region'" in error["message"]
    # a false condition does not spare a resource ARM's preflight (Azure/azure-resource-manager-schemas#1790)
    skipped = tmpl([uai("first"), dict(uai("second"), location="nowhere-region", condition=False)])
    assert refused(sim, rg_name, skipped)["code"] == "LocationNotAvailableForResourceType"


@pytest.mark.azcli
def test_the_azure_cli_is_refused_before_anything_is_created(sim: Sim, rg_name: str,
                                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.azcli import az_executable, logged_in

    executable = az_executable()
    if executable is None:
        pytest.skip("Azure CLI not found: set ARM_SIM_AZ or install it in /work/main/.venv-az")
    az = logged_in(sim, tmp_path_factory.mktemp("azcfg"), executable)
    group(sim, rg_name)
    path = tmp_path_factory.mktemp("tpl") / "typo.json"
    path.write_text(json.dumps(tmpl([uai("first"), uai("second", tags={"owner": "[parameters('prefixx')]"})],
                                    parameters={"prefix": {"type": "string"}}), indent=2))
    for verb in ("validate", "create", "what-if"):
        failed = az.fails("deployment", "group", verb, "-g", rg_name, "-n", "typo", "--template-file", str(path),
                          "--parameters", "prefix=abc")
        assert "InvalidTemplate" in failed.stderr, failed.stderr
        assert "The template parameter 'prefixx' is not found" in failed.stderr
    assert az.json("resource", "list", "-g", rg_name) == []
