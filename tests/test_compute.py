"""Microsoft.Compute through azure-mgmt-compute: VMs with managed identities, power, extensions, scale sets."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import (
    Sku,
    UserAssignedIdentitiesValue,
    VirtualMachine,
    VirtualMachineExtension,
    VirtualMachineExtensionProperties,
    VirtualMachineIdentity,
    VirtualMachineScaleSet,
    VirtualMachineScaleSetIdentity,
    VirtualMachineUpdate,
)
from azure.mgmt.msi import ManagedServiceIdentityClient
from sqlalchemy import select

from arm_sim.db.engine import make_engine
from arm_sim.db.models import IdentityEndpoint
from tests.simserver import Sim
from tests.vmspec import nic, properties, vm_body

GRAPH = "https://graph.microsoft.com/.default"
API = "2024-07-01"
BOTH = "SystemAssigned, UserAssigned"
# `$expand` and GET `{vm}/instanceView` need the ARM host to hand them to the provider (see the report)


@pytest.fixture(scope="module")
def compute(sim: Sim) -> ComputeManagementClient:
    return ComputeManagementClient(sim.credential(), sim.subscription, **sim.mgmt_kwargs())


@pytest.fixture(scope="module")
def msi(sim: Sim) -> ManagedServiceIdentityClient:
    return ManagedServiceIdentityClient(sim.credential(), sim.subscription, **sim.mgmt_kwargs())


@pytest.fixture
def rg(sim: Sim, rg_name: str) -> str:
    sim.resource_client().resource_groups.create_or_update(rg_name, {"location": "eastus"})
    return rg_name


def _vm(nic_id: str, identity: VirtualMachineIdentity | None = None, name: str = "vm1") -> VirtualMachine:
    return vm_body(identity, name, nic_id)


def _extension(publisher: str | None, kind: str, **properties: Any) -> VirtualMachineExtension:
    return VirtualMachineExtension(location="eastus", properties=VirtualMachineExtensionProperties(
        publisher=publisher, type=kind, **properties))


def _both(*uai_ids: str) -> VirtualMachineIdentity:
    return VirtualMachineIdentity(type=BOTH, user_assigned_identities={i: UserAssignedIdentitiesValue()
                                                                       for i in uai_ids})


def _endpoint(sim: Sim, resource_id: str) -> dict[str, Any] | None:
    """The VM's row in the identity-endpoint table (the contract with the IMDS host)."""
    engine = make_engine(sim.database_url or f"sqlite:///{sim.home / 'arm-sim.db'}")
    try:
        with engine.connect() as conn:
            row = conn.execute(select(IdentityEndpoint).where(
                IdentityEndpoint.resource_key == resource_id.lower())).first()
            return dict(row._mapping) if row else None
    finally:
        engine.dispose()


def _directory_id(resource_id: str) -> str:
    return resource_id.replace("/resourceGroups/", "/resourcegroups/")


def _power_state(compute: ComputeManagementClient, rg: str, name: str) -> str:
    view = compute.virtual_machines.get(rg, name, expand="instanceView").instance_view
    assert view is not None
    codes = [s.code for s in view.statuses]
    assert codes[0] == "ProvisioningState/succeeded"
    return next(c.split("/", 1)[1] for c in codes if c.startswith("PowerState/"))


def test_vm_identity_lifecycle(sim: Sim, compute: ComputeManagementClient, msi: ManagedServiceIdentityClient,
                               graph: httpx.Client, rg: str, nic_id: str) -> None:
    uai1 = msi.user_assigned_identities.create_or_update(rg, "uai1", {"location": "eastus"})
    uai2 = msi.user_assigned_identities.create_or_update(rg, "uai2", {"location": "eastus"})
    vm = compute.virtual_machines.begin_create_or_update(rg, "vm1", _vm(nic_id, _both(uai1.id, uai2.id))).result()
    assert vm.provisioning_state == "Succeeded" and vm.time_created is not None
    assert uuid.UUID(vm.vm_id) and vm.os_profile.admin_password is None
    ident = vm.identity
    assert ident.type == BOTH and ident.tenant_id == sim.tenant and uuid.UUID(ident.principal_id)
    assert {k: (v.principal_id, v.client_id) for k, v in ident.user_assigned_identities.items()} == {
        uai1.id: (uai1.principal_id, uai1.client_id), uai2.id: (uai2.principal_id, uai2.client_id)}
    sp = graph.get(f"/v1.0/servicePrincipals/{ident.principal_id}")
    assert sp.status_code == 200, sp.text
    assert sp.json()["servicePrincipalType"] == "ManagedIdentity" and sp.json()["displayName"] == "vm1"
    assert sp.json()["alternativeNames"] == ["isExplicit=False", _directory_id(vm.id)]
    row = _endpoint(sim, vm.id)
    # keyed by a secret of its own: the public vmId does not open the VM's IMDS
    assert row is not None and row["kind"] == "vm" and row["key"] != vm.vm_id and len(row["key"]) >= 32

    got = compute.virtual_machines.get(rg, "VM1")  # names compare case-insensitively
    assert got.vm_id == vm.vm_id and got.identity.principal_id == ident.principal_id
    assert [v.name for v in compute.virtual_machines.list(rg)] == ["vm1"]
    assert vm.id in [v.id for v in compute.virtual_machines.list_all()]

    # PATCH: null removes one user-assigned identity; the rest of the dictionary stays
    update = VirtualMachineUpdate(identity=VirtualMachineIdentity(type=BOTH, user_assigned_identities={
        uai2.id: None}), tags={"k": "v"})
    patched = compute.virtual_machines.begin_update(rg, "vm1", update).result()
    assert patched.identity.type == BOTH and list(patched.identity.user_assigned_identities) == [uai1.id]
    assert patched.identity.principal_id == ident.principal_id and patched.vm_id == vm.vm_id
    assert patched.tags == {"k": "v"} and patched.hardware_profile.vm_size == "Standard_B1s"
    assert _endpoint(sim, vm.id)["key"] == row["key"]  # an update keeps the VM's IMDS key

    compute.virtual_machines.begin_delete(rg, "vm1").result()
    with pytest.raises(ResourceNotFoundError):
        compute.virtual_machines.get(rg, "vm1")
    assert graph.get(f"/v1.0/servicePrincipals/{ident.principal_id}").status_code == 404
    assert _endpoint(sim, vm.id) is None  # IMDS for the deleted VM: "Identity not found"
    for uai in (uai1, uai2):  # user-assigned identities and their principals outlive the VM
        assert msi.user_assigned_identities.get(rg, uai.name).principal_id == uai.principal_id
        assert graph.get(f"/v1.0/servicePrincipals/{uai.principal_id}").status_code == 200

    again = compute.virtual_machines.begin_create_or_update(rg, "vm1", _vm(nic_id, _both(uai1.id))).result()
    assert again.identity.principal_id != ident.principal_id and again.vm_id != vm.vm_id
    assert graph.get(f"/v1.0/servicePrincipals/{again.identity.principal_id}").status_code == 200
    assert _endpoint(sim, again.id)["key"] not in (row["key"], again.vm_id)  # a new VM, a new IMDS key


def test_arm_protocol_and_read_only_properties(sim: Sim, rg: str, nic_id: str) -> None:
    vm_id = f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/v2"
    with sim.http() as c:
        r = c.put(f"{vm_id}?api-version={API}", json={"location": "eastus", "identity": {"type": "SystemAssigned"},
                                                      "properties": {**properties(nic_id, "v2"), "vmId": "not-mine",
                                                                     "userData": "dGVzdA=="}})
        assert r.status_code == 201, r.text
        assert r.json()["properties"]["provisioningState"] == "Creating" and "azure-asyncoperation" in r.headers
        assert c.get(r.headers["azure-asyncoperation"]).json()["status"] == "Succeeded"
        created = c.get(f"{vm_id}?api-version={API}").json()
        props = created["properties"]
        assert props["provisioningState"] == "Succeeded" and props["vmId"] != "not-mine" and uuid.UUID(props["vmId"])
        assert "userData" not in props and "_sim" not in created
        # a client echoing the whole VM back cannot change read-only properties
        r = c.put(f"{vm_id}?api-version={API}", json=dict(created, properties=dict(props, vmId=str(uuid.uuid4()))))
        assert r.status_code == 200
        assert r.json()["properties"]["vmId"] == props["vmId"]
        assert r.json()["identity"]["principalId"] == created["identity"]["principalId"]
        r = c.patch(f"{vm_id}?api-version={API}", json={"properties": {"vmId": "x", "timeCreated": "y"}})
        assert r.status_code == 200
        assert (r.json()["properties"]["vmId"], r.json()["properties"]["timeCreated"]) == (
            props["vmId"], props["timeCreated"])
        assert "timeCreated" not in c.get(f"{vm_id}?api-version=2021-07-01").json()["properties"]
        r = c.delete(f"{vm_id}?api-version={API}")
        assert r.status_code == 202 and "azure-asyncoperation" in r.headers
        assert c.delete(f"{vm_id}?api-version={API}").status_code == 204


def test_instance_view(compute: ComputeManagementClient, sim: Sim, rg: str, nic_id: str) -> None:
    vm = compute.virtual_machines.begin_create_or_update(rg, "vm1", _vm(nic_id)).result()
    compute.virtual_machine_extensions.begin_create_or_update(rg, "vm1", "ext", _extension(
        "Microsoft.Azure.Extensions", "CustomScript", type_handler_version="2.1")).result()
    got = compute.virtual_machines.get(rg, "vm1", expand="instanceView")
    assert got.instance_view is not None
    view = got.instance_view
    assert view.computer_name == "vm1"
    assert [(s.code, s.level, s.display_status) for s in view.statuses] == [
        ("ProvisioningState/succeeded", "Info", "Provisioning succeeded"), ("PowerState/running", "Info", "VM running")]
    assert [(e.name, e.type, e.type_handler_version) for e in view.extensions] == [
        ("ext", "Microsoft.Azure.Extensions.CustomScript", "2.1")]
    assert compute.virtual_machines.get(rg, "vm1").instance_view is None  # only when asked for
    direct = compute.virtual_machines.instance_view(rg, "vm1")
    assert [s.code for s in direct.statuses] == [s.code for s in view.statuses]
    with sim.http() as c:
        r = c.get(f"{vm.id}?api-version={API}&$expand=everything")
        assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidParameter"


def test_power_actions(sim: Sim, compute: ComputeManagementClient, rg: str, nic_id: str) -> None:
    vm = compute.virtual_machines.begin_create_or_update(rg, "vm1", _vm(nic_id)).result()
    vms = compute.virtual_machines
    vms.begin_power_off(rg, "vm1").result()
    vms.begin_deallocate(rg, "vm1").result()
    with pytest.raises(HttpResponseError) as e:
        vms.begin_restart(rg, "vm1").result()
    assert e.value.status_code == 409 and e.value.error.code == "OperationNotAllowed"
    vms.begin_start(rg, "vm1").result()
    vms.begin_restart(rg, "vm1").result()
    with sim.http() as c:
        r = c.post(f"{vm.id}/powerOff?api-version={API}")
        assert r.status_code == 202 and "azure-asyncoperation" in r.headers
        r = c.post(f"{vm.id}/generalize?api-version={API}")  # not simulated: says so
        assert r.status_code == 501 and r.json()["error"]["code"] == "NotImplementedInSimulator"
        changes = c.get("/_sim/events", params={"kind": "virtualMachine.powerStateChanged",
                                                "resource": vm.id}).json()["value"]
    assert [(e["details"]["action"], e["details"]["toState"]) for e in changes] == [
        ("powerOff", "stopped"), ("deallocate", "deallocated"), ("start", "running"), ("restart", "running"),
        ("powerOff", "stopped")]
    # the power state is simulator state: it survives an update of the VM
    vms.begin_update(rg, "vm1", VirtualMachineUpdate(tags={"a": "b"})).result()
    assert _power_state(compute, rg, "vm1") == "stopped"
    vms.begin_start(rg, "vm1").result()
    assert _power_state(compute, rg, "vm1") == "running"


def test_managed_identity_extension(sim: Sim, compute: ComputeManagementClient, rg: str, nic_id: str) -> None:
    vm = compute.virtual_machines.begin_create_or_update(rg, "vm1", _vm(nic_id, VirtualMachineIdentity(
        type="SystemAssigned"))).result()
    exts = compute.virtual_machine_extensions
    ext = exts.begin_create_or_update(rg, "vm1", "ManagedIdentityExtensionForLinux", _extension(
        "Microsoft.ManagedIdentity", "ManagedIdentityExtensionForLinux", type_handler_version="1.0",
        auto_upgrade_minor_version=True, settings={"port": 50343}, protected_settings={"secret": "x"})).result()
    p = ext.properties
    assert p.provisioning_state == "Succeeded" and ext.type == "Microsoft.Compute/virtualMachines/extensions"
    assert (p.publisher, p.type, p.type_handler_version, p.settings) == (
        "Microsoft.ManagedIdentity", "ManagedIdentityExtensionForLinux", "1.0", {"port": 50343})
    assert p.protected_settings is None  # secret: never shown
    assert _endpoint(sim, vm.id)["extension_port"] == 50343
    got = exts.get(rg, "vm1", "managedidentityextensionforlinux")
    assert got.id == ext.id and got.location == "eastus"
    assert [e.name for e in exts.list(rg, "vm1").value] == ["ManagedIdentityExtensionForLinux"]
    exts.begin_delete(rg, "vm1", "ManagedIdentityExtensionForLinux").result()
    assert _endpoint(sim, vm.id)["extension_port"] is None
    assert exts.list(rg, "vm1").value == []

    # without a port setting the extension listens on its default; deleting the VM takes the extension along
    exts.begin_create_or_update(rg, "vm1", "mi", _extension(
        "Microsoft.ManagedIdentity", "ManagedIdentityExtensionForWindows", type_handler_version="1.0")).result()
    assert _endpoint(sim, vm.id)["extension_port"] == 50342
    compute.virtual_machines.begin_delete(rg, "vm1").result()
    assert _endpoint(sim, vm.id) is None
    with pytest.raises(ResourceNotFoundError):
        exts.get(rg, "vm1", "mi")


def test_scale_set_with_identity(compute: ComputeManagementClient, msi: ManagedServiceIdentityClient,
                                 graph: httpx.Client, rg: str) -> None:
    uai = msi.user_assigned_identities.create_or_update(rg, "uai1", {"location": "eastus"})
    body = VirtualMachineScaleSet(location="eastus", sku=Sku(name="Standard_B1s", capacity=2),
                                  identity=VirtualMachineScaleSetIdentity(
                                      type="SystemAssigned,UserAssigned",
                                      user_assigned_identities={uai.id: UserAssignedIdentitiesValue()}))
    ss = compute.virtual_machine_scale_sets.begin_create_or_update(rg, "ss1", body).result()
    assert ss.identity.type == BOTH and uuid.UUID(ss.unique_id) and ss.sku.capacity == 2
    assert ss.identity.user_assigned_identities[uai.id].client_id == uai.client_id
    principal = ss.identity.principal_id
    assert graph.get(f"/v1.0/servicePrincipals/{principal}").json()["alternativeNames"] == [
        "isExplicit=False", _directory_id(ss.id)]
    got = compute.virtual_machine_scale_sets.get(rg, "ss1")
    assert got.unique_id == ss.unique_id and got.identity.principal_id == principal
    compute.virtual_machine_scale_sets.begin_delete(rg, "ss1").result()
    assert graph.get(f"/v1.0/servicePrincipals/{principal}").status_code == 404
    with pytest.raises(ResourceNotFoundError):
        compute.virtual_machine_scale_sets.get(rg, "ss1")


def test_bad_input(sim: Sim, compute: ComputeManagementClient, msi: ManagedServiceIdentityClient,
                   graph: httpx.Client, rg: str, nic_id: str) -> None:
    uai = msi.user_assigned_identities.create_or_update(rg, "uai1", {"location": "eastus"})
    missing = uai.id[:-1] + "9"
    with pytest.raises(HttpResponseError) as e:
        compute.virtual_machines.begin_create_or_update(rg, "vm1", _vm(nic_id, _both(uai.id, missing))).result()
    assert e.value.status_code == 400 and e.value.error.code == "FailedIdentityOperation"
    with pytest.raises(ResourceNotFoundError):
        compute.virtual_machines.get(rg, "vm1")  # nothing was created, not even a principal
    prefix = f"/subscriptions/{sim.subscription}/resourcegroups/{rg}/providers/Microsoft.Compute/"
    flt = {"$filter": f"alternativeNames/any(x:startsWith(x,'{prefix}'))"}
    assert graph.get("/v1.0/servicePrincipals", params=flt).json()["value"] == []
    with pytest.raises(HttpResponseError) as e:
        compute.virtual_machines.begin_create_or_update(rg, "vm1", _vm(nic_id, VirtualMachineIdentity(
            type="SystemAssigned, Bogus"))).result()
    assert e.value.status_code == 400
    assert graph.get("/v1.0/servicePrincipals", params=flt).json()["value"] == []
    with pytest.raises(ResourceNotFoundError):
        compute.virtual_machines.begin_update(rg, "nope", VirtualMachineUpdate(tags={})).result()
    with pytest.raises(HttpResponseError) as e:
        compute.virtual_machines.begin_create_or_update(rg, "v" * 65, _vm(nic_id)).result()
    assert e.value.status_code == 400 and e.value.error.code == "InvalidResourceName"
    compute.virtual_machines.begin_create_or_update(rg, "vm1", _vm(nic_id, VirtualMachineIdentity(
        type="SystemAssigned"))).result()
    assert len(graph.get("/v1.0/servicePrincipals", params=flt).json()["value"]) == 1  # the filter finds them
    with pytest.raises(HttpResponseError) as e:
        compute.virtual_machine_extensions.begin_create_or_update(rg, "vm1", "ext",
                                                                  _extension(None, "CustomScript")).result()
    assert e.value.status_code == 400 and e.value.error.code == "InvalidParameter"
    with pytest.raises(HttpResponseError) as e:
        compute.virtual_machine_extensions.begin_create_or_update(rg, "vm1", "mi", _extension(
            "Microsoft.ManagedIdentity", "ManagedIdentityExtensionForLinux", settings={"port": "http"})).result()
    assert e.value.status_code == 400 and e.value.error.target == "settings.port"
    assert compute.virtual_machine_extensions.list(rg, "vm1").value == []


def test_compute_refuses_a_vm_it_could_not_run(sim: Sim, rg: str, nic_id: str) -> None:
    """CRP's own checks (InvalidParameter with a target): a VM needs a size, a disk to boot from (an image), an OS
    profile to set up from that image, and a network interface that exists in its region. Nothing is stored."""
    vm_id = f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/bad"
    good = properties(nic_id, "bad")
    missing_nic = f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/Microsoft.Network/" \
                  "networkInterfaces/nope"
    with sim.http() as c:
        elsewhere = nic(c, f"/subscriptions/{sim.subscription}/resourceGroups/{rg}", "nic-west", "westus")
        cases: list[tuple[dict[str, Any], str, str]] = [
            ({k: v for k, v in good.items() if k != "hardwareProfile"}, "InvalidParameter",
             "Required parameter 'vmSize' is missing (null)."),
            (dict(good, hardwareProfile={"vmSize": "Standard_Nope"}), "InvalidParameter",
             "The value Standard_Nope provided for the VM size is not valid. The valid sizes in the current region "
             "are: Basic_A0,"),
            ({k: v for k, v in good.items() if k != "storageProfile"}, "InvalidParameter",
             "Required parameter 'storageProfile' is missing (null)."),
            (dict(good, storageProfile={}), "InvalidParameter",
             "Required parameter 'imageReference' is missing (null)."),
            ({k: v for k, v in good.items() if k != "osProfile"}, "InvalidParameter",
             "Required parameter 'osProfile' is missing (null)."),
            ({k: v for k, v in good.items() if k != "networkProfile"}, "InvalidParameter",
             "Required parameter 'networkProfile' is missing (null)."),
            (dict(good, networkProfile={"networkInterfaces": []}), "InvalidParameter",
             "Required parameter 'networkInterfaces' is missing (null)."),
            (dict(good, networkProfile={"networkInterfaces": [{"id": missing_nic}]}), "InvalidResourceReference",
             f"Resource {missing_nic} referenced by resource {vm_id} was not found. Please make sure that the "
             "referenced resource exists, and that both resources are in the same region."),
            (dict(good, networkProfile={"networkInterfaces": [{"id": elsewhere}]}), "InvalidResourceReference",
             f"Resource {elsewhere} referenced by resource {vm_id} was not found."),
        ]
        for props, code, message in cases:
            r = c.put(f"{vm_id}?api-version={API}", json={"location": "eastus", "properties": props})
            assert r.status_code == 400, (props, r.text)
            assert r.json()["error"]["code"] == code and r.json()["error"]["message"].startswith(message), r.text
        assert c.get(f"{vm_id}?api-version={API}").status_code == 404
        # Azure's size list is a snapshot: a newer version of a family it knows is not refused for lack of data
        r = c.put(f"{vm_id}?api-version={API}", json={"location": "eastus", "properties": dict(
            good, hardwareProfile={"vmSize": "Standard_D2s_v6"})})
        assert r.status_code == 201, r.text
        assert c.delete(f"{vm_id}?api-version={API}").status_code == 202
        # a disk attached as the OS disk needs neither an image nor an OS profile
        attached = {k: v for k, v in good.items() if k not in ("storageProfile", "osProfile")}
        attached["storageProfile"] = {"osDisk": {"createOption": "Attach", "osType": "Linux", "managedDisk": {
            "id": f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/Microsoft.Compute/disks/d"}}}
        r = c.put(f"{vm_id}?api-version={API}", json={"location": "eastus", "properties": attached})
        assert r.status_code == 201, r.text
        assert c.delete(f"{vm_id}?api-version={API}").status_code == 202


def _deploy(sim: Sim, rg: str, template: dict[str, Any]) -> dict[str, Any]:
    rm = sim.resource_client()
    result = rm.deployments.begin_create_or_update(rg, f"d{uuid.uuid4().hex[:8]}", {"properties": {
        "mode": "Incremental", "template": {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/"
                                            "deploymentTemplate.json#", "contentVersion": "1.0.0.0", **template}}}
                                                ).result()
    assert result.properties.provisioning_state == "Succeeded"
    outputs: dict[str, Any] = result.properties.outputs or {}
    return {k: v["value"] for k, v in outputs.items()}


def test_image_catalogue(sim: Sim, compute: ComputeManagementClient) -> None:
    """VirtualMachineImages_*: the images of az's aliases (Ubuntu2204 = Canonical:0001-com-ubuntu-server-jammy:
    22_04-lts-gen2:latest), read-only, as bare arrays; what is not there answers CRP's NotFound."""
    images = compute.virtual_machine_images
    assert "Canonical" in [p.name for p in images.list_publishers("eastus")]
    assert "0001-com-ubuntu-server-jammy" in [o.name for o in images.list_offers("eastus", "Canonical")]
    assert "22_04-lts-gen2" in [s.name for s in images.list_skus("eastus", "canonical", "0001-com-ubuntu-server-jammy")]
    versions = images.list("eastus", "Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2", expand="properties",
                           orderby="name desc", top=1)
    assert len(versions) == 1
    got = images.get("eastus", "Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2", versions[0].name)
    assert got.name == versions[0].name and got.location == "eastus"
    assert (got.hyper_v_generation, got.architecture, got.os_disk_image.operating_system) == ("V2", "x64", "Linux")
    assert got.id.endswith(f"/Skus/22_04-lts-gen2/Versions/{got.name}")
    arm64 = images.list("eastus", "microsoftazurelinux", "azurelinux-4", "4-arm64")
    assert images.get("eastus", "microsoftazurelinux", "azurelinux-4", "4-arm64", arm64[0].name).architecture == "Arm64"
    with pytest.raises(ResourceNotFoundError) as e:
        images.get("eastus", "Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2", "0.0.1")
    assert e.value.error.code == "NotFound" and e.value.error.message == "Artifact: VMImage was not found."
    with pytest.raises(ResourceNotFoundError):
        images.list("eastus", "Canonical", "no-such-offer", "22_04-lts-gen2")
    base = (f"/subscriptions/{sim.subscription}/providers/Microsoft.Compute/locations/eastus/publishers/Canonical/"
            "artifacttypes/vmimage/offers/0001-com-ubuntu-server-jammy")
    with sim.http() as c:
        r = c.put(f"{base}?api-version={API}", json={})
        assert r.status_code == 405 and r.json()["error"]["code"] == "MethodNotAllowed"
        assert c.get(f"{base}?api-version={API}").status_code == 404  # an offer is listed, not read


def test_extension_shows_its_run(sim: Sim, compute: ComputeManagementClient, rg: str, nic_id: str) -> None:
    """Point 5: once provisioned, an extension's GET and `reference()` carry its instance view (the simulated run's
    status), as templates read `reference(ext).instanceView.statuses[0]`."""
    compute.virtual_machines.begin_create_or_update(rg, "vm1", _vm(nic_id)).result()
    ext = compute.virtual_machine_extensions.begin_create_or_update(rg, "vm1", "script", _extension(
        "Microsoft.Azure.Extensions", "CustomScript", type_handler_version="2.1",
        settings={"commandToExecute": "echo hi"})).result()
    view = compute.virtual_machine_extensions.get(rg, "vm1", "script").instance_view
    assert view is not None and (view.name, view.type, view.type_handler_version) == (
        "script", "Microsoft.Azure.Extensions.CustomScript", "2.1")
    status = view.statuses[0]
    assert (status.code, status.level, status.display_status) == (
        "ProvisioningState/succeeded", "Info", "Provisioning succeeded")
    assert "simulated" in status.message  # nothing ran: no script output is invented
    out = _deploy(sim, rg, {"resources": [], "outputs": {
        "code": {"type": "string", "value": f"[reference('{ext.id}', '{API}').instanceView.statuses[0].code]"},
        "message": {"type": "string", "value": f"[reference('{ext.id}', '{API}').instanceView.statuses[0].message]"}}})
    assert out == {"code": "ProvisioningState/succeeded", "message": status.message}


def test_azure_stack_hci_cluster_state(sim: Sim, rg: str) -> None:
    """Point 5: a cluster shows `cloudId` (kept for life) and the other read-only state Azure shows before any
    node registers; templates read it with `reference()`."""
    cluster = {"type": "Microsoft.AzureStackHCI/clusters", "apiVersion": "2024-04-01", "name": "hci1",
               "location": "eastus", "properties": {"aadClientId": str(uuid.uuid4()), "aadTenantId": sim.tenant}}
    out = _deploy(sim, rg, {"resources": [cluster], "outputs": {"cloudId": {
        "type": "string", "value": "[reference(resourceId('Microsoft.AzureStackHCI/clusters', 'hci1')).cloudId]"}}})
    cloud_id = out["cloudId"]
    assert uuid.UUID(cloud_id)
    path = f"/subscriptions/{sim.subscription}/resourceGroups/{rg}/providers/Microsoft.AzureStackHCI/clusters/hci1"
    with sim.http() as c:
        props = c.get(f"{path}?api-version=2024-04-01").json()["properties"]
        assert (props["cloudId"], props["status"], props["connectivityStatus"], props["billingModel"]) == (
            cloud_id, "NotYetRegistered", "NotYetRegistered", "Trial")
        assert props["serviceEndpoint"] == "https://azurestackhci.azurefd.net/eastus"
        assert props["desiredProperties"] == {"windowsServerSubscription": "Disabled", "diagnosticLevel": "Basic"}
        # a client echoing read-only state back cannot change it
        r = c.put(f"{path}?api-version=2024-04-01", json={"location": "eastus", "properties": dict(
            cluster["properties"], cloudId=str(uuid.uuid4()), status="ConnectedRecently")})
        assert r.status_code == 200 and r.json()["properties"]["cloudId"] == cloud_id
        assert r.json()["properties"]["status"] == "NotYetRegistered"
        # the same name created again is a new cluster
        assert c.delete(f"{path}?api-version=2024-04-01").status_code in (200, 202, 204)
        r = c.put(f"{path}?api-version=2024-04-01", json={"location": "eastus", "properties": cluster["properties"]})
        assert r.status_code in (200, 201) and r.json()["properties"]["cloudId"] != cloud_id
