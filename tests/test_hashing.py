"""uniqueString() and guid() must be bit-exact with Azure (reference/arm-templates.md §2.10 test vectors)."""

from __future__ import annotations

import uuid

import pytest

from arm_sim.core.hashing import guid, murmur_hash64, unique_string

LONG_ID = (
    "/subscriptions/31e9f9a0-9fd2-4294-a0a3-0101246d9700/resourceGroups/rg-modm201-20230913120256/providers/"
    "Microsoft.Compute/virtualMachines/bobjacmodm201"
)


@pytest.mark.parametrize(
    "args, expected",
    [
        (("aaa",), "zavj67f3en4hc"),
        (("bbb",), "w5eragfxe33cy"),
        (("zzz",), "cryksdzzzawae"),
        (("xxx", "yyy", "zzz"), "lghi7k5js7itq"),
        ((LONG_ID,), "yvjxno3je5on2"),
    ],
    ids=["aaa", "bbb", "zzz", "xxx-yyy-zzz", "long-resource-id"],
)
def test_unique_string_vectors(args: tuple[str, ...], expected: str) -> None:
    assert unique_string(*args) == expected


@pytest.mark.parametrize(
    "args, expected",
    [
        (("a", "b", "c"), "a98fa280-e03f-5afa-8d8e-92d0a9c201e8"),
    ],
)
def test_guid_vectors(args: tuple[str, ...], expected: str) -> None:
    assert guid(*args) == expected


@pytest.mark.parametrize("args", [("a",), ("x", "y"), ("/subscriptions/s/resourceGroups/rg", "role", "principal")])
def test_guid_is_uuid5_of_dash_joined_args_in_arm_namespace(args: tuple[str, ...]) -> None:
    value = uuid.UUID(guid(*args))
    assert value.version == 5
    assert str(value) == str(uuid.uuid5(uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830"), "-".join(args)))


@pytest.mark.parametrize("args", [("a", "b-c"), ("a-b", "c")])
def test_arguments_are_joined_with_a_dash_so_these_collide_like_in_azure(args: tuple[str, ...]) -> None:
    assert unique_string(*args) == unique_string("a-b-c")
    assert guid(*args) == guid("a-b-c")


@pytest.mark.parametrize("length", range(0, 18))
def test_unique_string_shape_for_every_tail_length(length: int) -> None:
    # Lengths 0..17 exercise every tail size (0-7 bytes) of the 8-byte blocks.
    value = unique_string("q" * length)
    assert len(value) == 13
    assert set(value) <= set("abcdefghijklmnopqrstuvwxyz234567")


@pytest.mark.parametrize("data", [b"", b"a", b"abcdefgh", "é€".encode()])
def test_murmur_hash64_is_an_unsigned_64_bit_value(data: bytes) -> None:
    assert 0 <= murmur_hash64(data) < 2**64


def test_unicode_arguments_hash_their_utf8_bytes() -> None:
    assert unique_string("é") != unique_string("e")
    assert unique_string("é") == unique_string("é")


@pytest.mark.parametrize("fn", [unique_string, guid])
def test_at_least_one_argument_is_required(fn) -> None:
    with pytest.raises(ValueError):
        fn()
