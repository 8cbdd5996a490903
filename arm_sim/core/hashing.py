"""The deterministic hashes behind ARM's `uniqueString()` and `guid()` template functions.

Both must be bit-exact with Azure: templates name storage accounts and role assignments with them, and a
simulator that produced other names would make "deploy to Azure, then to arm-sim" (or the reverse) see
different resources. The algorithms and their test vectors are in reference/arm-templates.md §2.10.
"""

from __future__ import annotations

import uuid

_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF

# Murmur3 x86-128 constants, as Microsoft's ResourceStack MurmurHash64 uses them (not MurmurHash64A's).
_C1 = 0x239B961B
_C2 = 0xAB0E9789

_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"

# The namespace ARM's guid() hashes its name into (RFC 4122 version 5, SHA-1).
GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK32


def _fmix32(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK32
    h ^= h >> 16
    return h


def _mix_k1(k1: int) -> int:
    k1 = (k1 * _C1) & _MASK32
    k1 = _rotl32(k1, 15)
    return (k1 * _C2) & _MASK32


def _mix_k2(k2: int) -> int:
    k2 = (k2 * _C2) & _MASK32
    k2 = _rotl32(k2, 17)
    return (k2 * _C1) & _MASK32


def murmur_hash64(data: bytes, seed: int = 0) -> int:
    """Microsoft's two-lane 32-bit MurmurHash64 (ResourceStack), returned as an unsigned 64-bit int."""
    length = len(data)
    h1 = seed & _MASK32
    h2 = seed & _MASK32
    index = 0
    while index + 7 < length:
        k1 = int.from_bytes(data[index : index + 4], "little")
        k2 = int.from_bytes(data[index + 4 : index + 8], "little")
        h1 ^= _mix_k1(k1)
        h1 = _rotl32(h1, 19)
        h1 = (h1 + h2) & _MASK32
        h1 = (h1 * 5 + 0x561CCD1B) & _MASK32
        h2 ^= _mix_k2(k2)
        h2 = _rotl32(h2, 13)
        h2 = (h2 + h1) & _MASK32
        h2 = (h2 * 5 + 0x0BCAA747) & _MASK32
        index += 8

    tail = length - index
    if tail > 0:
        # The tail is mixed into the lanes without the per-block rotate/add steps.
        h1 ^= _mix_k1(int.from_bytes(data[index : index + min(tail, 4)], "little"))
        if tail > 4:
            h2 ^= _mix_k2(int.from_bytes(data[index + 4 : index + tail], "little"))

    h1 ^= length & _MASK32
    h2 ^= length & _MASK32
    h1 = (h1 + h2) & _MASK32
    h2 = (h2 + h1) & _MASK32
    h1 = _fmix32(h1)
    h2 = _fmix32(h2)
    h1 = (h1 + h2) & _MASK32
    h2 = (h2 + h1) & _MASK32
    return (h2 << 32) | h1


def unique_string(*args: str) -> str:
    """ARM `uniqueString(a, b, …)`: 13 base32 characters of MurmurHash64 over the args joined with '-'."""
    if not args:
        raise ValueError("unique_string needs at least one argument")
    h = murmur_hash64("-".join(args).encode("utf-8"))
    out = []
    for _ in range(13):
        out.append(_BASE32[h >> 59])
        h = (h << 5) & _MASK64
    return "".join(out)


def guid(*args: str) -> str:
    """ARM `guid(a, b, …)`: a version-5 UUID of the args joined with '-' in ARM's namespace."""
    if not args:
        raise ValueError("guid needs at least one argument")
    return str(uuid.uuid5(GUID_NAMESPACE, "-".join(args)))
