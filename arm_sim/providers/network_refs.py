"""What Azure's network answers show of the resources that use it: a subnet's `ipConfigurations`, the ids of
the IP configurations placed in it — network interfaces' and, for a scale set, each instance's (Uniform instances
are "0" … "capacity-1", as compute_scale_sets numbers them). Computed when read, from the interfaces and scale
sets of the subscription (both listed by the subscription-and-type index), so they follow every write without
being stored twice.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from arm_sim.core import ids
from arm_sim.db.models import Resource
from arm_sim.domain.context import Ctx

NIC = "microsoft.network/networkinterfaces"
VMSS = "microsoft.compute/virtualmachinescalesets"


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _subnet_key(config: dict[str, Any]) -> str | None:
    subnet = (config.get("properties") or {}).get("subnet") if isinstance(config.get("properties"), dict) else None
    sid = subnet.get("id") if isinstance(subnet, dict) else None
    return ids.key(sid) if isinstance(sid, str) and sid else None


def subnet_users(ctx: Ctx, subscription_id: str) -> dict[str, list[dict[str, str]]]:
    """Subnet key -> the IP configurations in it (`[{"id": …}]`), for every subnet of the subscription."""
    found: dict[str, list[dict[str, str]]] = defaultdict(list)
    rows = ctx.session.execute(select(Resource.id, Resource.type_key, Resource.properties, Resource.sku).where(
        Resource.subscription_id == subscription_id.lower(), Resource.type_key.in_((NIC, VMSS))))
    for rid, kind, props, sku in rows:
        props = props or {}
        if kind == NIC:
            for cfg in _dicts(props.get("ipConfigurations")):
                if (key := _subnet_key(cfg)) and cfg.get("name"):
                    found[key].append({"id": f"{rid}/ipConfigurations/{cfg['name']}"})
            continue
        network = ((props.get("virtualMachineProfile") or {}).get("networkProfile") or {}) \
            if isinstance(props.get("virtualMachineProfile"), dict) else {}
        capacity = sku.get("capacity") if isinstance(sku, dict) else None
        instances = range(capacity) if isinstance(capacity, int) and capacity > 0 else range(0)
        for nic in _dicts(network.get("networkInterfaceConfigurations") if isinstance(network, dict) else None):
            for cfg in _dicts((nic.get("properties") or {}).get("ipConfigurations")
                              if isinstance(nic.get("properties"), dict) else None):
                if (key := _subnet_key(cfg)) and nic.get("name") and cfg.get("name"):
                    found[key].extend({"id": f"{rid}/virtualMachines/{i}/networkInterfaces/{nic['name']}/"
                                             f"ipConfigurations/{cfg['name']}"} for i in instances)
    return found


def with_users(subnet: dict[str, Any], users: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    """The subnet document with its `ipConfigurations` (none shown when nothing uses it, as Azure answers)."""
    placed = users.get(ids.key(str(subnet.get("id", ""))))
    if not placed:
        return subnet
    return dict(subnet, properties=dict(subnet.get("properties") or {}, ipConfigurations=placed))
