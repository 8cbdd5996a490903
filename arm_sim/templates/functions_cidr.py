"""CIDR functions: parseCidr, cidrSubnet, cidrHost (IPv4 and IPv6), as the Bicep docs define them.

cidrHost(net, 0) is the address after the network address (the first usable one), for IPv4 and IPv6.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from arm_sim.templates.calls import Call, spec

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(call: Call, args: list[Any]) -> Network:
    text = call.str_arg(args, 0)
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise call.fail(f"the value '{text}' is not a valid IP address range in CIDR notation.") from exc


def _usable(network: Network) -> tuple[Any, Any]:
    """IPv4 reserves the network and broadcast addresses (except /31 and /32); IPv6 has no broadcast."""
    if network.version == 4 and network.prefixlen < 31:
        return network.network_address + 1, network.broadcast_address - 1
    return network.network_address, network.broadcast_address


def _parse_cidr(call: Call, args: list[Any]) -> dict[str, Any]:
    network = _network(call, args)
    first, last = _usable(network)
    result: dict[str, Any] = {"network": str(network.network_address), "netmask": str(network.netmask)}
    if network.version == 4:
        result["broadcast"] = str(network.broadcast_address)
    result.update(firstUsable=str(first), lastUsable=str(last), cidr=network.prefixlen)
    return result


def _cidr_subnet(call: Call, args: list[Any]) -> str:
    network = _network(call, args)
    new_prefix, index = call.int_arg(args, 1), call.int_arg(args, 2)
    if not network.prefixlen <= new_prefix <= network.max_prefixlen:
        raise call.fail(f"the new CIDR '{new_prefix}' must be between {network.prefixlen} and {network.max_prefixlen}.")
    count = 2 ** (new_prefix - network.prefixlen)
    if not 0 <= index < count:
        raise call.fail(f"the subnet index '{index}' is out of range: the network has {count} /{new_prefix} subnets.")
    size = 2 ** (network.max_prefixlen - new_prefix)
    start = network.network_address + index * size
    return f"{start}/{new_prefix}"


def _cidr_host(call: Call, args: list[Any]) -> str:
    network = _network(call, args)
    index = call.int_arg(args, 1)
    # Index 0 is the address after the network address, for IPv6 too (the docs' 'fdad:…:3000::1').
    first, last = network.network_address + 1, _usable(network)[1]
    if index < 0 or int(first) + index > int(last):
        raise call.fail(f"the host index '{index}' is out of range for the network '{network}'.")
    return str(first + index)


FUNCTIONS = (
    spec("parseCidr", _parse_cidr, 1),
    spec("cidrSubnet", _cidr_subnet, 3),
    spec("cidrHost", _cidr_host, 2),
)
