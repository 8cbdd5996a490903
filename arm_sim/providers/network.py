"""Microsoft.Network: public IP addresses (address, DNS name), virtual networks (subnet ids) and network
interfaces (private addresses allocated from their subnet). Every other Network type is stored as written.

A virtual network's subnets may be given inline (`properties.subnets`) or as `virtualNetworks/subnets` child
resources, as in Azure: both answer GET at `{vnet id}/subnets/{name}`, both are listed under the network, and the
network shows both in `properties.subnets`.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from typing import Any

from sqlalchemy import select

from arm_sim.core import ids
from arm_sim.core.errors import bad_request
from arm_sim.db.models import Resource
from arm_sim.domain.context import Ctx
from arm_sim.providers import network_checks, network_refs
from arm_sim.providers.base import Doc
from arm_sim.providers.computed import (
    TypedProvider,
    kind_of,
    member,
    new_guid,
    props,
    public_ip,
    public_ipv6,
    sim_state,
)

PUBLIC_IP = "microsoft.network/publicipaddresses"
VNET = "microsoft.network/virtualnetworks"
SUBNET = VNET + "/subnets"
NIC = "microsoft.network/networkinterfaces"
_LABEL = re.compile(r"^[a-z][a-z0-9-]{1,61}[a-z0-9]$")
_RESERVED = 4  # Azure keeps the first four addresses of every subnet (network, gateway, two for DNS)


def _subnet_defaults(p: dict[str, Any]) -> None:
    p["provisioningState"] = "Succeeded"
    p.setdefault("privateEndpointNetworkPolicies", "Disabled")
    p.setdefault("privateLinkServiceNetworkPolicies", "Enabled")
    p.setdefault("delegations", [])


def _subnet_doc(vnet_id: str, subnet: dict[str, Any]) -> Doc:
    return {"id": f"{vnet_id}/subnets/{subnet['name']}", "name": subnet["name"],
            "type": "Microsoft.Network/virtualNetworks/subnets", "properties": dict(subnet.get("properties") or {})}


def _child_subnets(ctx: Ctx, vnet_id: str) -> list[Resource]:
    return list(ctx.session.scalars(select(Resource).where(
        Resource.parent_key == ids.key(vnet_id), Resource.type_key == SUBNET).order_by(Resource.key)))


def _all_subnets(ctx: Ctx, vnet: Doc) -> list[Doc]:
    """Inline subnets, then child-resource subnets (a child with an inline subnet's name replaces it)."""
    out = {s["name"].lower(): _subnet_doc(vnet["id"], s)
           for s in (vnet.get("properties") or {}).get("subnets") or [] if isinstance(s, dict) and s.get("name")}
    for row in _child_subnets(ctx, vnet["id"]):
        out[row.name.lower()] = {"id": row.id, "name": row.name, "type": row.type, "properties": row.properties}
    return list(out.values())


def _inline_prefixes(vnet_id: str, p: dict[str, Any]) -> list[tuple[str, list[network_checks.Network]]]:
    return [(str(s["name"]), network_checks.subnet_prefixes(s.get("properties") or {},
                                                            f"{vnet_id}/subnets/{s['name']}"))
            for s in p.get("subnets") or [] if isinstance(s, dict) and s.get("name")]


def find_subnet(ctx: Ctx, subnet_id: str) -> dict[str, Any] | None:
    """The properties of the subnet `subnet_id` (a child row or an inline subnet of its network)."""
    row = ctx.session.get(Resource, ids.key(subnet_id))
    if row is not None:
        return row.properties
    path = ids.parse(subnet_id)
    if not path.parts or path.resource_type.lower() != SUBNET:
        return None
    vnet = ctx.session.get(Resource, ids.key(path.parent_id))
    for s in ((vnet.properties if vnet else {}) or {}).get("subnets") or []:
        if isinstance(s, dict) and str(s.get("name", "")).lower() == path.name.lower():
            return s.get("properties") or {}
    return None


def _used_addresses(ctx: Ctx, subscription: str, subnet_key: str, nic_key: str) -> set[str]:
    used: set[str] = set()
    rows = ctx.session.scalars(select(Resource).where(Resource.type_key == NIC,
                                                      Resource.subscription_id == subscription.lower(),
                                                      Resource.key != nic_key))
    for row in rows:
        for cfg in (row.properties or {}).get("ipConfigurations") or []:
            p = (cfg or {}).get("properties") or {}
            if ids.key(str((p.get("subnet") or {}).get("id", ""))) == subnet_key and p.get("privateIPAddress"):
                used.add(p["privateIPAddress"])
    return used


def allocate(prefix: str, used: set[str]) -> str | None:
    try:
        net = ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return None
    if net.version != 4 or net.num_addresses <= _RESERVED + 1:
        return None
    for offset in range(_RESERVED, net.num_addresses - 1):  # the last address is the broadcast address
        candidate = str(net.network_address + offset)
        if candidate not in used:
            return candidate
    return None


class NetworkProvider(TypedProvider):
    namespace = "Microsoft.Network"
    types = frozenset({PUBLIC_IP, VNET, NIC})

    def validate(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
        kind = path.resource_type.lower()
        p: dict[str, Any] = doc["properties"] if isinstance(doc.get("properties"), dict) else {}
        if kind == VNET:
            inline = _inline_prefixes(path.id, p)
            named = {name.lower() for name, _ in inline}
            children = [(row.name, network_checks.subnet_prefixes(row.properties or {}, row.id))
                        for row in _child_subnets(ctx, path.id) if row.name.lower() not in named]
            network_checks.check_subnets(path.id, network_checks.address_space(p, path.id), inline + children)
        elif kind == SUBNET:
            vnet = ctx.session.get(Resource, ids.key(path.parent_id))
            vnet_props = (vnet.properties if vnet is not None else None) or {}
            others = [(name, nets) for name, nets in _inline_prefixes(path.parent_id, vnet_props)
                      if name.lower() != path.name.lower()]
            others += [(row.name, network_checks.subnet_prefixes(row.properties or {}, row.id))
                       for row in _child_subnets(ctx, path.parent_id) if row.name.lower() != path.name.lower()]
            mine = (path.name, network_checks.subnet_prefixes(p, path.id))
            network_checks.check_subnets(path.parent_id, network_checks.address_space(vnet_props, path.parent_id),
                                         [*others, mine])
        elif kind == NIC:
            network_checks.check_nic(ctx, path.id, doc.get("location"), p, find_subnet)
        if kind != PUBLIC_IP:
            return
        network_checks.check_public_ip(path.id, doc)
        label = ((doc.get("properties") or {}).get("dnsSettings") or {}).get("domainNameLabel")
        if label is not None and (not isinstance(label, str) or not _LABEL.match(label)):
            raise bad_request("InvalidDomainNameLabel",
                              f"The domain name label {label} is invalid. It must conform to the following regular "
                              f"expression: {_LABEL.pattern}.")

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> None:
        kind = kind_of(after)
        if kind == PUBLIC_IP:
            self._public_ip(after)
        elif kind == VNET:
            self._vnet(after)
        elif kind == SUBNET:
            _subnet_defaults(props(after))
        elif kind == NIC:
            self._nic(ctx, before, after)
        if kind in (PUBLIC_IP, VNET, NIC):
            props(after)["resourceGuid"] = sim_state(after).setdefault("resourceGuid", new_guid())

    @staticmethod
    def _public_ip(doc: Doc) -> None:
        p, state = props(doc), sim_state(doc)
        sku = str((doc.get("sku") or {}).get("name") or "Basic") if isinstance(doc.get("sku"), dict) else "Basic"
        p.setdefault("publicIPAllocationMethod", "Static" if sku.lower() == "standard" else "Dynamic")
        p.setdefault("publicIPAddressVersion", "IPv4")
        p.setdefault("idleTimeoutInMinutes", 4)
        p.setdefault("ipTags", [])
        # random once per resource (a re-created address gets a new one), then stable for the resource's life
        seed = state.setdefault("addressSeed", secrets.token_hex(8))
        p["ipAddress"] = (public_ipv6(doc["id"].lower() + seed) if str(p["publicIPAddressVersion"]).lower() == "ipv6"
                          else public_ip(doc["id"].lower() + seed))
        dns = p.get("dnsSettings")
        if isinstance(dns, dict) and dns.get("domainNameLabel"):
            dns["fqdn"] = f"{dns['domainNameLabel']}.{doc.get('location', '')}.cloudapp.azure.com"

    @staticmethod
    def _vnet(doc: Doc) -> None:
        p = props(doc)
        for subnet in p.get("subnets") or []:
            if isinstance(subnet, dict) and subnet.get("name"):
                subnet["id"] = f"{doc['id']}/subnets/{subnet['name']}"
                subnet["type"] = "Microsoft.Network/virtualNetworks/subnets"
                subnet_props = subnet.get("properties")
                subnet["properties"] = subnet_props if isinstance(subnet_props, dict) else {}
                _subnet_defaults(subnet["properties"])
        p.setdefault("virtualNetworkPeerings", [])
        p.setdefault("enableDdosProtection", False)

    @staticmethod
    def _nic(ctx: Ctx, before: Doc | None, doc: Doc) -> None:
        p = props(doc)
        configs = [c for c in p.get("ipConfigurations") or [] if isinstance(c, dict) and c.get("name")]
        old = {str(c.get("name", "")).lower(): (c.get("properties") or {})
               for c in ((before or {}).get("properties") or {}).get("ipConfigurations") or [] if isinstance(c, dict)}
        path = ids.parse(doc["id"])
        taken: set[str] = set()
        for i, cfg in enumerate(configs):
            cp = member(cfg, "properties")
            cfg.update(id=f"{doc['id']}/ipConfigurations/{cfg['name']}", properties=cp,
                       type="Microsoft.Network/networkInterfaces/ipConfigurations")
            cp["provisioningState"] = "Succeeded"
            cp.setdefault("privateIPAddressVersion", "IPv4")
            cp.setdefault("primary", i == 0)
            method = cp.setdefault("privateIPAllocationMethod", "Static" if cp.get("privateIPAddress") else "Dynamic")
            subnet_id = (cp.get("subnet") or {}).get("id") if isinstance(cp.get("subnet"), dict) else None
            if not subnet_id or str(method).lower() != "dynamic" or cp["privateIPAddressVersion"] != "IPv4":
                continue
            subnet = find_subnet(ctx, str(subnet_id))
            if subnet is None:
                raise bad_request("InvalidResourceReference",
                                  f"Resource {subnet_id} referenced by resource {doc['id']} was not found. Please "
                                  "make sure that the referenced resource exists, and that both resources are in the "
                                  "same region.")
            previous = old.get(cfg["name"].lower(), {})
            same_subnet = ids.key(str((previous.get("subnet") or {}).get("id", ""))) == ids.key(str(subnet_id))
            if same_subnet and previous.get("privateIPAddress"):
                cp["privateIPAddress"] = previous["privateIPAddress"]  # a dynamic address stays while attached
            else:
                prefix = subnet.get("addressPrefix") or next(iter(subnet.get("addressPrefixes") or []), None)
                used = _used_addresses(ctx, path.subscription or "", ids.key(str(subnet_id)), ids.key(doc["id"]))
                address = allocate(str(prefix), used | taken) if prefix else None
                if address is None and prefix:
                    raise bad_request("SubnetIsFull", f"Subnet {subnet_id} has no free address left for "
                                                      f"{doc['id']}.")
                if address:
                    cp["privateIPAddress"] = address
            if cp.get("privateIPAddress"):
                taken.add(cp["privateIPAddress"])
        p.setdefault("enableAcceleratedNetworking", False)
        p.setdefault("enableIPForwarding", False)
        p.setdefault("nicType", "Standard")
        p.setdefault("dnsSettings", {"dnsServers": [], "appliedDnsServers": []})

    # --- subnets given inline answer like child resources ------------------------------------------------------
    def render(self, ctx: Ctx, doc: Doc, api_version: str) -> Doc:
        kind = kind_of(doc)
        if kind not in (VNET, SUBNET):
            return doc
        users = network_refs.subnet_users(ctx, ids.parse(doc["id"]).subscription or "")
        if kind == SUBNET:
            return network_refs.with_users(doc, users)
        subnets = _all_subnets(ctx, doc)  # each shown as its child document shows it, with what uses it
        if not users and not _child_subnets(ctx, doc["id"]):
            return doc
        shown = [network_refs.with_users(s, users) for s in subnets]
        return dict(doc, properties=dict(doc.get("properties") or {}, subnets=shown))

    def virtual_get(self, ctx: Ctx, path: ids.ArmPath) -> Doc | None:
        if path.resource_type.lower() != SUBNET or path.is_collection:
            return None
        vnet = ctx.session.get(Resource, ids.key(path.parent_id))
        if vnet is None:
            return None
        for s in (vnet.properties or {}).get("subnets") or []:
            if isinstance(s, dict) and str(s.get("name", "")).lower() == path.name.lower():
                return _subnet_doc(vnet.id, s)
        return None

    def virtual_list(self, ctx: Ctx, path: ids.ArmPath, query: dict[str, str]) -> list[Doc] | None:
        if path.resource_type.lower() != SUBNET or not path.is_collection:
            return None
        vnet = ctx.session.get(Resource, ids.key(path.parent_id))
        if vnet is None:
            return None
        return _all_subnets(ctx, {"id": vnet.id, "properties": vnet.properties})
