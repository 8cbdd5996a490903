"""False greens: templates a lenient simulator would deploy, and Azure refuses up front, with its error. Each is
`DeploymentRefused` (never `DeploymentFailed`: nothing ran), `validate()` gives the same answer, and nothing is
created. A test suite that passes here but would fail in Azure is worse than none."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from arm_sim.testing import ArmSim, DeploymentFailed, DeploymentRefused
from tests.examples.infra import PARAMETERS, resources_in

Template = dict[str, Any]


def resource(t: Template, kind: str) -> dict[str, Any]:
    return next(r for r in t["resources"] if r["type"] == kind)


def misspelled_type(t: Template) -> Template:
    # the same typo everywhere (a shared variable or symbol), so that the template itself stays consistent
    return dict(json.loads(json.dumps(t).replace("userAssignedIdentities", "userAssignedIdentitys")))


def identity(change: Callable[[dict[str, Any]], None]) -> Callable[[Template], Template]:
    def apply(t: Template) -> Template:
        change(resource(t, "Microsoft.ManagedIdentity/userAssignedIdentities"))
        return t
    return apply


def vm(change: Callable[[dict[str, Any]], None]) -> Callable[[Template], Template]:
    def apply(t: Template) -> Template:
        change(resource(t, "Microsoft.Compute/virtualMachines")["properties"])
        return t
    return apply


def no_profiles(p: dict[str, Any]) -> None:
    del p["storageProfile"], p["networkProfile"]


def missing_nic(p: dict[str, Any]) -> None:
    p["networkProfile"]["networkInterfaces"][0]["id"] = "[resourceId('Microsoft.Network/networkInterfaces', 'ghost')]"


def typo_in_parameter(t: Template) -> Template:
    resource(t, "Microsoft.ManagedIdentity/userAssignedIdentities")["name"] = "[concat(parameters('prefixx'), '-id')]"
    return t


CASES: dict[str, tuple[Callable[[Template], Template], dict[str, Any], str]] = {
    "location": (identity(lambda r: r.update(location="marsnorth")), {}, "LocationNotAvailableForResourceType"),
    "type": (misspelled_type, {}, "InvalidResourceType"),
    "api-version": (identity(lambda r: r.update(apiVersion="1999-01-01")), {}, "NoRegisteredProviderFound"),
    "vm-without-profiles": (vm(no_profiles), {}, "InvalidParameter"),
    "vm-nic-missing": (vm(missing_nic), {}, "InvalidResourceReference"),
    "vm-size": (lambda t: t, {"vmSize": "Standard_Nope"}, "InvalidParameter"),
    "parameter-typo": (typo_in_parameter, {}, "InvalidTemplate"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_azure_refuses_it_up_front(arm_sim: ArmSim, arm_sim_rg: str, template: Template, case: str) -> None:
    change, parameters, code = CASES[case]
    broken = change(template)
    with pytest.raises(DeploymentRefused) as refused:
        arm_sim.deploy(broken, {**PARAMETERS, **parameters}, resource_group=arm_sim_rg)
    assert refused.value.status == 400 and code in refused.value.codes, refused.value
    assert not isinstance(refused.value, DeploymentFailed)
    assert resources_in(arm_sim, arm_sim_rg) == []  # refused before anything was created

    validation = arm_sim.validate(broken, {**PARAMETERS, **parameters}, resource_group=arm_sim_rg)
    assert not validation.ok and validation.error is not None and code in validation.error.codes


def test_what_only_running_finds_is_a_failure_not_a_refusal(arm_sim: ArmSim, arm_sim_rg: str,
                                                            template: Template) -> None:
    # a role assignment to a principal that does not exist: only the run finds out
    grants = resource(template, "Microsoft.Authorization/roleAssignments")
    grants["properties"] = {**grants["properties"], "principalId": "00000000-0000-0000-0000-00000000dead"}
    del grants["properties"]["principalType"]  # (with it, ARM would not ask the directory)
    with pytest.raises(DeploymentFailed) as failed:
        arm_sim.deploy(template, PARAMETERS, resource_group=arm_sim_rg)
    assert failed.value.status is None and "PrincipalNotFound" in failed.value.codes
    assert not isinstance(failed.value, DeploymentRefused)
    assert resources_in(arm_sim, arm_sim_rg)  # what deployed before the failure stays, as in Azure
