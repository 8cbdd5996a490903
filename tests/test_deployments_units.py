"""The deployment engine's pure parts: the lenient JSON reader, resource ids, whatIf deltas, template hashes."""

from __future__ import annotations

import pytest

from arm_sim.core import jsonc
from arm_sim.deployments.engine import template_hash
from arm_sim.deployments.expand import canonical_key, resource_id
from arm_sim.deployments.store import Target, duration, status_code
from arm_sim.deployments.whatif import delta
from arm_sim.templates import InvalidTemplateError

RG = Target("sub", "rg")
SUB = Target("sub")


def test_jsonc_reads_what_arm_reads() -> None:
    text = """{
      // a comment
      "a": 'single', /* block */ bare: [1, 2.5, true, null,],
      "multi": "line one
line two",
    }"""
    assert jsonc.loads(text) == {"a": "single", "bare": [1, 2.5, True, None], "multi": "line one\nline two"}
    assert jsonc.loads(b'\xef\xbb\xbf{"x": 1}') == {"x": 1}
    az = '{"properties": {"mode": "Incremental", template:{"$schema": "s", // c\n "resources": []}}}'
    assert jsonc.loads(az)["properties"]["template"] == {"$schema": "s", "resources": []}
    with pytest.raises(jsonc.JsoncError) as err:
        jsonc.loads('{\n  "a": [1, 2 x]\n}')
    assert err.value.line == 2 and "unexpected character" in str(err.value)
    assert jsonc.locate('{"resources": [\n {"name": "x"}]}', ("resources", 0, "name")) == (2, 11)
    assert jsonc.format_path(("resources", 3, "properties", "a")) == "resources[3].properties.a"


@pytest.mark.parametrize(("target", "rtype", "name", "scope", "expected"), [
    (RG, "Microsoft.Storage/storageAccounts", "st", None,
     "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st"),
    (RG, "Microsoft.KeyVault/vaults/secrets", "kv/s1", None,
     "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/secrets/s1"),
    (RG, "Microsoft.Storage/storageAccounts/providers/roleAssignments", "st/Microsoft.Authorization/g1", None,
     "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st/providers/"
     "Microsoft.Authorization/roleAssignments/g1"),
    (RG, "Microsoft.Authorization/roleAssignments", "g1", "Microsoft.KeyVault/vaults/kv",
     "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/providers/"
     "Microsoft.Authorization/roleAssignments/g1"),
    (RG, "Microsoft.Authorization/locks", "l", "/subscriptions/sub/resourceGroups/other",
     "/subscriptions/sub/resourceGroups/other/providers/Microsoft.Authorization/locks/l"),
    (SUB, "Microsoft.Resources/resourceGroups", "made", None, "/subscriptions/sub/resourceGroups/made"),
    (SUB, "Microsoft.Authorization/roleAssignments", "g", None,
     "/subscriptions/sub/providers/Microsoft.Authorization/roleAssignments/g"),
])
def test_resource_ids(target: Target, rtype: str, name: str, scope: str | None, expected: str) -> None:
    assert resource_id(target, rtype, name, scope) == expected


def test_resource_id_segment_errors_and_group_aliases() -> None:
    with pytest.raises(InvalidTemplateError, match="incorrect segment lengths"):
        resource_id(RG, "Microsoft.KeyVault/vaults/secrets", "kv", None)
    assert canonical_key("/subscriptions/S/providers/Microsoft.Resources/resourceGroups/RG") == \
        "/subscriptions/s/resourcegroups/rg"


def test_what_if_deltas() -> None:
    before = {"sku": {"name": "Standard_LRS"}, "tags": {"a": "1"}, "properties": {"list": [1, 2], "x": 1}}
    after = {"sku": {"name": "Standard_GRS"}, "tags": {}, "properties": {"list": [1, 3, 4], "x": 1, "y": 2}}
    changes = {d["path"]: d for d in delta(before, after)}
    assert changes["sku.name"] == {"path": "sku.name", "propertyChangeType": "Modify", "before": "Standard_LRS",
                                   "after": "Standard_GRS"}
    assert changes["tags.a"]["propertyChangeType"] == "Delete"
    assert changes["properties.y"]["propertyChangeType"] == "Create"
    array = changes["properties.list"]
    assert array["propertyChangeType"] == "Array"
    assert [(c["path"], c["propertyChangeType"]) for c in array["children"]] == [("1", "Modify"), ("2", "Create")]
    assert delta(before, before) == []


def test_small_formats() -> None:
    assert template_hash({"a": 1, "b": [1]}) == template_hash({"b": [1], "a": 1})
    assert template_hash({"a": 1}).isdigit() and int(template_hash({"a": 1})) < 2**64
    assert (status_code(200), status_code(201), status_code(400), status_code(404)) == \
        ("OK", "Created", "BadRequest", "NotFound")
    assert duration(1.5) == "PT1.5S" and duration(0) == "PT0S"
