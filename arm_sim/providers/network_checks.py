"""What the Network resource provider refuses before it stores a virtual network, subnet, network interface or
public IP address, with its own codes and wordings (as real Azure answers quote them): prefixes in CIDR form, subnets
inside their network's address space and apart from each other, a network interface with IP configurations in an
existing subnet of its region, a Standard public IP with a static address."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import Resource
from arm_sim.domain.context import Ctx

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _not_found(reference: str, by: str) -> DomainError:
    return bad_request("InvalidResourceReference",
                       f"Resource {reference} referenced by resource {by} was not found. Please make sure that the "
                       "referenced resource exists, and that both resources are in the same region.")


def prefix(text: Any, resource_id: str) -> Network:
    """One address prefix of `resource_id`, in CIDR form with no host bits set."""
    if not isinstance(text, str) or not text.strip():
        raise bad_request("AddressPrefixStringCannotBeNullOrEmpty",
                          f"Address prefix string for resource {resource_id} cannot be null or empty.")
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        loose = None
    if loose is None or "/" not in text:
        raise bad_request("InvalidAddressPrefixFormat",
                          f"Address prefix {text} of resource {resource_id} is not formatted correctly. It should "
                          "follow CIDR notation, for example 10.0.0.0/24.")
    if str(loose) != text.strip():
        raise bad_request("InvalidCIDRNotation",
                          f"The address prefix {text} in resource {resource_id} has an invalid CIDR notation. For the "
                          f"given prefix length, the address prefix should be {loose}.")
    return loose


def subnet_prefixes(props: dict[str, Any], subnet_id: str) -> list[Network]:
    texts = props.get("addressPrefixes") or ([props["addressPrefix"]] if "addressPrefix" in props else [None])
    return [prefix(t, subnet_id) for t in (texts if isinstance(texts, list) else [texts])]


def check_subnets(vnet_id: str, space: Iterable[Network], subnets: Iterable[tuple[str, list[Network]]]) -> None:
    """Each subnet inside the network's address space (when it has one) and overlapping no other subnet."""
    vnet_name, allowed = vnet_id.rstrip("/").rsplit("/", 1)[-1], list(space)
    seen: list[tuple[str, Network]] = []
    for name, networks in subnets:
        for net in networks:
            if allowed and not any(net.version == a.version and net.subnet_of(a) for a in allowed):  # type: ignore[arg-type]
                raise bad_request("NetcfgSubnetRangeOutsideVnet",
                                  f"Subnet '{name}' is not valid because its IP address range is outside the IP "
                                  f"address range of virtual network '{vnet_name}'.")
            if any(net.overlaps(other) for _, other in seen if other.version == net.version):
                raise bad_request("NetcfgSubnetRangesOverlap",
                                  f"Subnet '{name}' is not valid because its IP address range overlaps with that of an "
                                  f"existing subnet in virtual network '{vnet_name}'.")
        seen += [(name, net) for net in networks]


def address_space(props: dict[str, Any], vnet_id: str) -> list[Network]:
    space = props.get("addressSpace")
    texts = space.get("addressPrefixes") if isinstance(space, dict) else None
    return [prefix(t, vnet_id) for t in texts] if isinstance(texts, list) else []


def check_nic(ctx: Ctx, nic_id: str, location: str | None, props: dict[str, Any],
              find_subnet: Any) -> None:
    """IP configurations, each in a subnet that exists in the interface's region."""
    configs = props.get("ipConfigurations")
    if not isinstance(configs, list) or not configs:
        raise bad_request("InvalidIPConfigCount", f"Network interface {nic_id.rstrip('/').rsplit('/', 1)[-1]} must "
                                                  "have one or more IP configurations.")
    for cfg in configs:
        cfg = cfg if isinstance(cfg, dict) else {}
        subnet = (cfg.get("properties") or {}).get("subnet") if isinstance(cfg.get("properties"), dict) else None
        subnet_id = subnet.get("id") if isinstance(subnet, dict) else None
        if not isinstance(subnet_id, str) or not subnet_id:
            raise bad_request("SubnetIsRequired", f"Subnet reference is required for ipconfiguration "
                                                  f"{nic_id}/ipConfigurations/{cfg.get('name', '')}.")
        if find_subnet(ctx, subnet_id) is None:
            raise _not_found(subnet_id, nic_id)
        vnet = ctx.session.get(Resource, ids.key(subnet_id.rstrip("/").rsplit("/subnets/", 1)[0]))
        if vnet is not None and location and vnet.location and vnet.location != location:
            raise _not_found(subnet_id, nic_id)


def check_public_ip(ip_id: str, doc: dict[str, Any]) -> None:
    sku = doc.get("sku") if isinstance(doc.get("sku"), dict) else {}
    method = str((doc.get("properties") or {}).get("publicIPAllocationMethod") or "")
    if str((sku or {}).get("name", "")).lower() == "standard" and method.lower() == "dynamic":
        raise bad_request("StandardSkuPublicIPAddressesMustBeStatic",
                          f"Standard sku publicIp {ip_id} must have AllocationMethod set to Static.")
