"""The Graph `$filter` subset: parsing, evaluation, SQL push-down hints and 400s on bad syntax."""

from __future__ import annotations

from typing import Any

import pytest

from arm_sim.core.errors import DomainError
from arm_sim.core.odata import parse_filter

APP_ID = "0b5a1c8e-7d2f-4e3a-9c61-2f8e4d7a1b90"
MI_RESOURCE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg1"
    "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
)

SP: dict[str, Any] = {
    "id": "5f0c9a44-1e27-4b8d-a3f6-7c2e9b1d0a55",
    "appId": APP_ID,
    "displayName": "My App",
    "servicePrincipalType": "ManagedIdentity",
    "servicePrincipalNames": [APP_ID, "https://identity.azure.net/AbC="],
    "alternativeNames": ["isExplicit=True", MI_RESOURCE_ID],
    "accountEnabled": True,
    "description": None,
    "tags": [],
    "info": {"logoUrl": "https://example.test/logo.png"},
    "keyCredentials": [{"type": "AsymmetricX509Cert", "usage": "Verify"}],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # eq / ne, values compared ignoring case
        (f"appId eq '{APP_ID}'", True),
        (f"appId eq '{APP_ID.upper()}'", True),
        ("appId eq '00000000-0000-0000-0000-000000000000'", False),
        ("displayName eq 'my app'", True),
        ("displayName eq 'My'", False),
        ("displayName ne 'Other'", True),
        ("displayName ne 'MY APP'", False),
        # keywords, functions and property names are case-insensitive
        (f"APPID EQ '{APP_ID}'", True),
        ("DisplayName Ne 'x'", True),
        ("servicePrincipalType eq 'managedidentity'", True),
        # null and booleans
        ("description eq null", True),
        ("noSuchProperty eq null", True),
        ("description ne null", False),
        ("displayName eq null", False),
        ("displayName ne null", True),
        ("accountEnabled eq true", True),
        ("accountEnabled eq false", False),
        ("accountEnabled ne false", True),
        ("accountEnabled eq 'true'", False),
        ("displayName eq true", False),
        # nested property paths
        ("info/logoUrl eq 'https://EXAMPLE.test/logo.png'", True),
        ("info/missing eq null", True),
        ("displayName/length eq null", True),
        # startsWith / endsWith
        ("startsWith(displayName, 'my')", True),
        ("startswith(displayName,'MY A')", True),
        ("STARTSWITH(displayName, 'app')", False),
        ("startsWith(displayName, '')", True),
        ("startsWith(description, 'x')", False),
        ("startsWith(accountEnabled, 't')", False),
        ("endsWith(displayName, 'APP')", True),
        ("endswith(displayName, 'My')", False),
        # in
        ("servicePrincipalType in ('Application', 'ManagedIdentity')", True),
        ("servicePrincipalType in ('application', 'managedidentity')", True),
        ("servicePrincipalType in ('Application')", False),
        ("servicePrincipalType IN ('Legacy','SocialIdp')", False),
        ("description in (null, 'x')", True),
        ("accountEnabled in (true)", True),
        # not
        ("not (displayName eq 'My App')", False),
        ("not(displayName eq 'Other')", True),
        ("not startsWith(displayName, 'x')", True),
        ("NOT endsWith(displayName, 'app')", False),
        ("not not displayName eq 'my app'", True),
        # and / or
        ("displayName eq 'My App' and accountEnabled eq true", True),
        ("displayName eq 'My App' and accountEnabled eq false", False),
        ("displayName eq 'x' or accountEnabled eq true", True),
        ("displayName eq 'x' OR accountEnabled eq false", False),
        ("displayName eq 'x' or displayName eq 'y' or displayName eq 'my app'", True),
    ],
)
def test_operators(text: str, expected: bool) -> None:
    assert parse_filter(text).matches(SP) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"servicePrincipalNames/any(c:c eq '{APP_ID}')", True),
        ("servicePrincipalNames/any(c:c eq 'HTTPS://IDENTITY.AZURE.NET/abc=')", True),
        ("servicePrincipalNames/any(c:c eq 'nope')", False),
        ("servicePrincipalNames/any(c: c ne 'nope')", True),
        ("servicePrincipalNames/ANY(C:c eq 'https://identity.azure.net/abc=')", True),
        ("alternativeNames/any(x:startsWith(x, '/subscriptions/'))", True),
        (
            "alternativeNames/any(x:startswith(x, '/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000001/'))",
            True,
        ),
        ("alternativeNames/any(x:startsWith(x, '/providers/'))", False),
        ("alternativeNames/any(x:endsWith(x, '/userAssignedIdentities/ID1'))", True),
        ("alternativeNames/any(x:x in ('isExplicit=True', 'isExplicit=False'))", True),
        ("alternativeNames/any(x:not startsWith(x, 'isExplicit='))", True),
        ("alternativeNames/all(x:startsWith(x, '/subscriptions/'))", False),
        ("alternativeNames/all(x:startsWith(x, '/') or startsWith(x, 'isExplicit='))", True),
        ("servicePrincipalNames/all(c:c ne 'nope')", True),
        # empty and missing collections: nothing matches any, everything matches all
        ("tags/any(t:t eq 'x')", False),
        ("tags/all(t:t eq 'x')", True),
        ("noSuchCollection/any(t:t eq 'x')", False),
        ("noSuchCollection/all(t:t eq 'x')", True),
        # a non-collection is not iterated (a string is not a list of characters)
        ("displayName/any(c:c eq 'M')", False),
        # items that are objects, reached through the range variable
        ("keyCredentials/any(k:k/type eq 'asymmetricx509cert')", True),
        ("keyCredentials/any(k:k/type eq 'AsymmetricX509Cert' and k/usage eq 'Sign')", False),
        # the body may also refer to the outer object
        ("servicePrincipalNames/any(c:c eq 'nope' or displayName eq 'my app')", True),
        # combined with other terms
        (f"appId eq '{APP_ID}' and servicePrincipalNames/any(c:c eq '{APP_ID}')", True),
        ("not(servicePrincipalNames/any(c:c eq 'nope'))", True),
        # `any` without a call is just a property name
        ("info/any eq null", True),
    ],
)
def test_lambdas(text: str, expected: bool) -> None:
    assert parse_filter(text).matches(SP) is expected


def test_nested_lambdas_bind_their_own_variables() -> None:
    obj = {"groups": [{"members": ["a", "b"]}, {"members": ["c"]}]}
    assert parse_filter("groups/any(g:g/members/any(m:m eq 'C'))").matches(obj)
    assert not parse_filter("groups/any(g:g/members/any(m:m eq 'd'))").matches(obj)
    assert parse_filter("groups/all(g:g/members/any(m:m in ('a', 'c')))").matches(obj)
    assert not parse_filter("groups/all(g:g/members/any(m:m eq 'a'))").matches(obj)


# T, F: a true and a false term, so each grouping gives a different answer.
T = "displayName eq 'My App'"
F = "displayName eq 'Other'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{T} or {F} and {F}", True),  # T or (F and F); (T or F) and F would be false
        (f"{F} and {F} or {T}", True),  # (F and F) or T
        (f"({T} or {F}) and {F}", False),  # parentheses override
        (f"{T} or ({F} and {F})", True),
        (f"not {F} and {F}", False),  # (not F) and F; not (F and F) would be true
        (f"not ({F} and {F})", True),
        (f"not {T} or {T}", True),  # (not T) or T; not (T or T) would be false
        (f"{T} and ({F} or ({T} and not {F}))", True),
        (f"(({T}))", True),
    ],
)
def test_precedence(text: str, expected: bool) -> None:
    assert parse_filter(text).matches(SP) is expected


@pytest.mark.parametrize(
    ("value", "text", "expected"),
    [
        ("O'Brien's app", "displayName eq 'O''Brien''s app'", True),
        ("O'Brien's app", "displayName eq 'OBriens app'", False),
        ("O'Brien's app", "startsWith(displayName, 'o''b')", True),
        ("O'Brien's app", "endsWith(displayName, '''s APP')", True),
        ("O'Brien's app", "displayName in ('x', 'o''brien''s app')", True),
        ("'", "displayName eq ''''", True),
        ("''", "displayName eq ''''''", True),
        ("", "displayName eq ''", True),
        ("a and b or not c", "displayName eq 'a and b or not c'", True),
        ("f(x, y)/z:w", "displayName eq 'f(x, y)/z:w'", True),
    ],
)
def test_string_literals(value: str, text: str, expected: bool) -> None:
    assert parse_filter(text).matches({"displayName": value}) is expected


def test_property_names_match_dict_keys_ignoring_case() -> None:
    obj = {"AppID": "abc", "DisplayName": "Thing", "ServicePrincipalNames": ["x"]}
    assert parse_filter("appId eq 'ABC' and displayname eq 'thing'").matches(obj)
    assert parse_filter("servicePrincipalNames/any(n:n eq 'X')").matches(obj)
    assert not parse_filter("appId eq 'abd'").matches(obj)


def test_a_parsed_filter_is_reusable_across_objects() -> None:
    f = parse_filter("servicePrincipalType eq 'ManagedIdentity' and startsWith(displayName, 'id-')")
    objs = [
        {"servicePrincipalType": "ManagedIdentity", "displayName": "id-one"},
        {"servicePrincipalType": "Application", "displayName": "id-two"},
        {"servicePrincipalType": "ManagedIdentity", "displayName": "other"},
        {},
    ]
    assert [f.matches(o) for o in objs] == [True, False, False, False]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("appId eq 'a'", {"appId": "a"}),
        ("appId eq 'it''s'", {"appId": "it's"}),
        ("appId eq 'a' and displayName eq 'B'", {"appId": "a", "displayName": "B"}),
        (
            "(appId eq 'a' and displayName eq 'b') and servicePrincipalType eq 'c'",
            {"appId": "a", "displayName": "b", "servicePrincipalType": "c"},
        ),
        ("appId eq 'a' and servicePrincipalNames/any(c:c eq 'x')", {"appId": "a"}),
        ("alternativeNames/any(x:startsWith(x, '/s')) and APPID EQ 'a'", {"APPID": "a"}),
        ("appId eq 'a' and appid eq 'b'", {"appId": "a"}),  # first spelling wins
        ("servicePrincipalNames/any(c:c eq 'x')", {}),
        # anything else anywhere in the filter: nothing to push down
        ("appId eq 'a' or displayName eq 'b'", {}),
        ("appId eq 'a' and (displayName eq 'b' or displayName eq 'c')", {}),
        ("appId ne 'a'", {}),
        ("appId eq 'a' and displayName ne 'b'", {}),
        ("appId eq 'a' and startsWith(displayName, 'x')", {}),
        ("appId eq 'a' and not (displayName eq 'b')", {}),
        ("appId in ('a')", {}),
        ("accountEnabled eq true", {}),
        ("appId eq null", {}),
        ("info/logoUrl eq 'x'", {}),
    ],
)
def test_equalities(text: str, expected: dict[str, str]) -> None:
    assert parse_filter(text).equalities() == expected


MALFORMED = [
    "",
    "   ",
    "appId",
    "appId eq",
    "eq 'a'",
    f"appId eq {APP_ID}",  # GUIDs must be quoted
    "appId eq abc",
    "appId eq 42",
    'appId eq "a"',
    "appId = 'a'",
    "appId eq 'unterminated",
    "appId eq 'a''",
    "appId gt 'a'",
    "appId eq 'a' and",
    "and appId eq 'a'",
    "appId eq 'a' or or displayName eq 'b'",
    "appId eq 'a' appId eq 'b'",
    "appId eq 'a' eq 'b'",
    "'a' eq appId",
    "appId eq displayName",
    "(appId eq 'a'",
    "appId eq 'a')",
    "()",
    "appId eq 'a' and (",
    "not",
    "not appId",
    "appId/ eq 'a'",
    "/appId eq 'a'",
    "microsoft.graph.user/id eq 'a'",
    "contains(displayName, 'a')",
    "startsWith(displayName)",
    "startsWith(displayName, 'a'",
    "startsWith(displayName 'a')",
    "startsWith('a', displayName)",
    "startsWith(displayName, null)",
    "startsWith(displayName, 'a') eq true",
    "appId in ()",
    "appId in ('a',)",
    "appId in 'a'",
    "appId in ('a' 'b')",
    "servicePrincipalNames/any()",
    "servicePrincipalNames/any(c c eq 'x')",
    "servicePrincipalNames/any(c:)",
    "servicePrincipalNames/any(c:c eq 'x'",
    "servicePrincipalNames/any(c:c eq 'x') eq true",
    "servicePrincipalNames/any(1c:1c eq 'x')",
    "startsWith(tags/any(t:t eq 'x'), 'a')",
    "appId eq 'a' & displayName eq 'b'",
    "(" * 200 + "appId eq 'a'" + ")" * 200,
    "not " * 200 + "appId eq 'a'",
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_filters_are_bad_requests(text: str) -> None:
    with pytest.raises(DomainError) as excinfo:
        parse_filter(text)
    err = excinfo.value
    assert err.status == 400
    assert err.code == "BadRequest"
    assert err.message.startswith("Invalid filter clause")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (f"appId eq {APP_ID}", f"unquoted literal '{APP_ID}' at position 9"),
        ("appId eq 'abc", "unterminated string literal at position 9"),
        ("appId gt 'a'", "unsupported operator 'gt'"),
        ("contains(displayName, 'a')", "unsupported function 'contains'"),
        ("appId eq 'a' and", "expected a condition but found the end of the filter"),
        ("appId eq 'a' or or displayName eq 'b'", "expected a property name but found 'or' at position 16"),
        ("appId/ eq 'a'", "expected a property name but found 'eq' at position 7"),
        ("servicePrincipalNames/any(c c eq 'x')", "expected ':' but found 'c' at position 28"),
    ],
)
def test_error_messages_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(DomainError) as excinfo:
        parse_filter(text)
    assert fragment in excinfo.value.message


def test_moderate_nesting_is_fine() -> None:
    assert parse_filter("(" * 20 + "appId eq 'a'" + ")" * 20).matches({"appId": "A"})
