"""The expression language itself: parsing, positions and errors, member/index access, expand(), laziness,
lambdas, user-defined functions and the context's defaults."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from arm_sim.templates import (
    EvalContext,
    InvalidTemplateError,
    StaticContext,
    calls_any,
    evaluate,
    expand,
    is_expression,
    parse,
    runtime_calls,
    unescape,
)
from arm_sim.templates.nodes import FunctionCall, IndexAccess, IntLiteral, MemberAccess, StringLiteral

S, N = StringLiteral, IntLiteral


def call(name: str, *args: Any, offset: int = 0, namespace: str | None = None) -> FunctionCall:
    return FunctionCall(name, tuple(args), offset, namespace)


@pytest.mark.parametrize(
    "text, tree",
    [
        ("'abc'", S("abc", 0)),
        ("'it''s'", S("it's", 0)),
        ("''''", S("'", 0)),
        ("''", S("", 0)),
        ("42", N(42, 0)),
        ("-7", N(-7, 0)),
        ("9223372036854775807", N(2**63 - 1, 0)),
        ("-9223372036854775808", N(-(2**63), 0)),
        ("true()", call("true")),
        ("  concat( 'a' ,\n\t'b' )  ", call("concat", S("a", 10), S("b", 17), offset=2)),
        ("f(g(1), 'x')", call("f", call("g", N(1, 4), offset=2), S("x", 8))),
        ("resourceGroup().location", MemberAccess(call("resourceGroup"), "location", 15)),
        ("a().b.c", MemberAccess(MemberAccess(call("a"), "b", 3), "c", 5)),
        ("a()[0]", IndexAccess(call("a"), N(0, 4), 3)),
        ("a()['k'].x[1]", IndexAccess(MemberAccess(IndexAccess(call("a"), S("k", 4), 3), "x", 8), N(1, 11), 10)),
        ("a()[b()[0]]", IndexAccess(call("a"), IndexAccess(call("b", offset=4), N(0, 8), 7), 3)),
        ("ns.fn('x')", call("fn", S("x", 6), namespace="ns")),
        ("__bicep.getName()", call("getName", namespace="__bicep")),
        ("'[not an expression]'", S("[not an expression]", 0)),
    ],
)
def test_parse(text: str, tree: Any) -> None:
    assert parse(text) == tree


@pytest.mark.parametrize(
    "text, fragment, position",
    [
        ("concat('a'", "expected token 'RightParenthesis' and actual 'EndOfData'", 10),
        ("concat('a' 'b')", "expected token 'RightParenthesis' and actual 'Literal'", 11),
        ("concat('a',)", "expected token 'Identifier' and actual 'RightParenthesis'", 11),
        ("concat('a'))", "expected token 'EndOfData' and actual 'RightParenthesis'", 11),
        ("'unterminated", "the string literal starting at position 0 is not terminated", 0),
        ("foo", "expected token 'LeftParenthesis' and actual 'EndOfData'", 3),
        ("a().", "expected token 'Identifier' and actual 'EndOfData'", 4),
        ("a()[0", "expected token 'RightSquareBracket' and actual 'EndOfData'", 5),
        ("1.5", "expected token 'Integer' and actual '1.'", 0),
        ("9223372036854775808", "outside the range of a 64-bit integer", 0),
        ("-", "expected token 'Integer'", 1),
        ("f(#)", "expected token 'Identifier' and actual '#'", 2),
        ("   ", "the expression is empty", 0),
    ],
)
def test_parse_errors_name_the_token_and_position(text: str, fragment: str, position: int) -> None:
    with pytest.raises(InvalidTemplateError) as caught:
        parse(text)
    assert fragment in caught.value.message
    assert caught.value.position == position
    assert (caught.value.status, caught.value.code) == (400, "InvalidTemplate")


@pytest.mark.parametrize(
    "value, expected",
    [("[a()]", True), ("[[a()]", False), ("[]x", False), ("plain", False), ("[", False), ("[x]]", True), ("", False)],
)
def test_is_expression(value: str, expected: bool) -> None:
    assert is_expression(value) is expected


@pytest.mark.parametrize(
    "value, expected", [("[[a()]", "[a()]"), ("[[literal", "[[literal"), ("plain", "plain"), ("[[[x]", "[[x]")]
)
def test_unescape(value: str, expected: str) -> None:
    assert unescape(value) == expected


def ctx(**kwargs: Any) -> StaticContext:
    base: dict[str, Any] = {
        "parameters": {"name": "web", "obj": {"Key": {"Inner": [1, 2]}}, "ids": ["/a", "/b"], "flag": False},
        "subscription": {"subscriptionId": "s1"},
        "resource_group": {"name": "rg1", "id": "/subscriptions/s1/resourceGroups/rg1"},
    }
    base.update(kwargs)
    return StaticContext(**base)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("parameters('obj').key.inner[1]", 2),  # members are case-insensitive
        ("parameters('obj')['KEY']['inner'][0]", 1),
        ("createArray(createArray('x'))[0][0]", "x"),
        ("json('{\"a\":{\"b\":5}}').a.b", 5),
        ("if(parameters('flag'), fail('never'), 'safe')", "safe"),
        ("if(true(), 1, fail('x'))", 1),
        ("if(false(), parameters('missing'), 2)", 2),
        ("and(false(), fail('never'))", False),
        ("or(true(), parameters('missing'))", True),
        ("coalesce('first', fail('never'))", "first"),
        ("if(empty(createArray()), 'none', createArray()[0])", "none"),
        ("and(contains(parameters('obj'), 'nope'), parameters('obj').nope)", False),
    ],
)
def test_access_and_short_circuit(text: str, expected: Any) -> None:
    assert evaluate(text, ctx()) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("parameters('obj').missing", "property 'missing' doesn't exist, available properties are 'Key'."),
        ("parameters('ids')[2]", "The language expression property array index '2' is out of bounds."),
        ("parameters('ids')[-1]", "array index '-1' is out of bounds"),
        ("parameters('ids')['x']", "an array index must be an integer"),
        ("parameters('obj')[0]", "property name must be a string"),
        ("parameters('name').length", "can't be evaluated: the value is of type 'String'"),
        ("null().x", "the value is of type 'Null'"),
        ("if(true(), fail('boom'), 1)", "boom"),
    ],
)
def test_access_errors(text: str, fragment: str) -> None:
    with pytest.raises(InvalidTemplateError) as caught:
        evaluate(text, ctx())
    assert fragment in caught.value.message
    assert caught.value.expression == text


def test_errors_carry_the_offset_of_the_failing_call() -> None:
    with pytest.raises(InvalidTemplateError) as caught:
        evaluate("concat('a', substring('abc', 5))", ctx())
    assert caught.value.position == 12


def test_expand_walks_values_keys_and_escapes() -> None:
    template = {
        "name": "[concat(parameters('name'), '-app')]",
        "literal": "[[not evaluated]",
        "text": "plain [x] text",
        "[concat('hidden-link:', parameters('ids')[0])]": "Resource",
        "identity": {"userAssignedIdentities": {"[parameters('ids')[1]]": {}}},
        "list": ["[add(1, 2)]", 4, None, True, {"[toUpper('k')]": "[[v]"}],
        "number": 1.5,
    }
    assert expand(template, ctx()) == {
        "name": "web-app",
        "literal": "[not evaluated]",
        "text": "plain [x] text",
        "hidden-link:/a": "Resource",
        "identity": {"userAssignedIdentities": {"/b": {}}},
        "list": [3, 4, None, True, {"K": "[v]"}],
        "number": 1.5,
    }


def test_expand_rejects_a_key_that_is_not_a_string() -> None:
    with pytest.raises(InvalidTemplateError, match="must evaluate to a string"):
        expand({"[add(1, 2)]": "x"}, ctx())


def test_expand_does_not_modify_its_input() -> None:
    template = {"a": ["[add(1, 1)]"]}
    expand(template, ctx())
    assert template == {"a": ["[add(1, 1)]"]}


def test_lambdas_close_over_outer_variables_and_bind_case_insensitively() -> None:
    text = (
        "map(createArray(1, 2), lambda('X', "
        "map(createArray(10), lambda('y', add(lambdaVariables('x'), lambdaVariables('Y'))))))"
    )
    assert evaluate(text, ctx()) == [[11], [12]]


def test_lambda_variables_do_not_leak_out_of_the_lambda() -> None:
    with pytest.raises(InvalidTemplateError, match="lambda variable 'x' is not defined"):
        evaluate("concat(string(map(createArray(1), lambda('x', 1))), lambdaVariables('x'))", ctx())


def test_sort_is_stable_for_equal_keys() -> None:
    text = (
        "sort(createArray(createObject('k', 1, 'n', 'a'), createObject('k', 0, 'n', 'b'), "
        "createObject('k', 1, 'n', 'c')), lambda('p', 'q', less(lambdaVariables('p').k, lambdaVariables('q').k)))"
    )
    assert [item["n"] for item in evaluate(text, ctx())] == ["b", "a", "c"]


UDFS = {
    "ns.greet": ([{"name": "who", "type": "string"}], "[format('Hi {0}', parameters('who'))]"),
    "ns.twice": ([{"name": "x", "type": "int"}], {"value": "[mul(parameters('x'), 2)]", "label": "[[x]"}),
    "ns.nested": ([{"name": "who", "type": "string"}], "[ns.greet(toUpper(parameters('who')))]"),
    "ns.usesVariable": ([], "[variables('v')]"),
    "ns.usesReference": ([], "[reference('r')]"),
    "ns.usesOuterParam": ([], "[parameters('name')]"),
    "ns.loop": ([], "[ns.loop()]"),
    "ns.maybe": ([{"name": "v", "type": "string", "nullable": True}], "[coalesce(parameters('v'), 'none')]"),
}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ns.greet('you')", "Hi you"),
        ("NS.GREET('you')", "Hi you"),
        ("ns.twice(21)", {"value": 42, "label": "[x]"}),
        ("ns.nested('bob')", "Hi BOB"),
        ("ns.maybe(null())", "none"),
        ("map(createArray('a'), lambda('x', ns.greet(lambdaVariables('x'))))", ["Hi a"]),
    ],
)
def test_user_defined_functions(text: str, expected: Any) -> None:
    assert evaluate(text, ctx(functions=UDFS, variables={"v": 1})) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("ns.usesVariable()", "The template function 'variables' is not expected at this location."),
        ("ns.usesReference()", "The template function 'reference' is not expected at this location."),
        ("ns.usesOuterParam()", "The template parameter 'name' is not found."),
        ("ns.twice(true())", "expects its parameter 'x' to be of type 'int'"),
        ("ns.loop()", "recurses too deeply"),
    ],
)
def test_user_defined_function_limits(text: str, fragment: str) -> None:
    with pytest.raises(InvalidTemplateError) as caught:
        evaluate(text, ctx(functions=UDFS, variables={"v": 1}))
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    "text, message",
    [
        ("parameters('x')", "The template function 'parameters' is not expected at this location."),
        ("variables('x')", "The template function 'variables' is not expected at this location."),
        ("reference('x')", "The template function 'reference' is not expected at this location."),
        ("references('x')", "The template function 'references' is not expected at this location."),
        ("listKeys('x', '2020-01-01')", "The template function 'listKeys' is not expected at this location."),
        ("resourceGroup()", "The template function 'resourceGroup' is not expected at this location."),
        ("subscription()", "The template function 'subscription' is not expected at this location."),
        ("tenant()", "The template function 'tenant' is not expected at this location."),
        ("managementGroup()", "The template function 'managementGroup' is not expected at this location."),
        ("deployment()", "The template function 'deployment' is not expected at this location."),
        ("deployer()", "The template function 'deployer' is not expected at this location."),
        ("copyIndex()", "The function can only be used in a resource with copy specified."),
        ("utcNow()", "The function can only be used with parameter default value."),
        ("newGuid()", "The function can only be used with parameter default value."),
        ("ns.f()", "The template function 'ns.f' is not expected at this location."),
    ],
)
def test_base_context_hooks_refuse_by_default(text: str, message: str) -> None:
    with pytest.raises(InvalidTemplateError) as caught:
        evaluate(text, EvalContext())
    assert message in caught.value.message


def test_base_context_environment_is_azure_public_cloud() -> None:
    env = evaluate("environment()", EvalContext())
    assert env["name"] == "AzureCloud"
    assert env["suffixes"]["keyvaultDns"] == ".vault.azure.net"
    assert env["suffixes"]["storage"] == "core.windows.net"
    assert env["authentication"]["loginEndpoint"] == "https://login.microsoftonline.com/"


def test_nondeterministic_functions_are_pinnable() -> None:
    pinned = EvalContext(
        fixed_utc_now=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), fixed_new_guid="g-1", allow_nondeterministic=True
    )
    assert evaluate("utcNow()", pinned) == "20240102T030405Z"
    assert evaluate("newGuid()", pinned) == "g-1"


def test_unpinned_nondeterministic_functions_use_the_context_clock_and_random_guids() -> None:
    class Clocked(EvalContext):
        def now(self) -> datetime:
            return datetime(2030, 6, 1, tzinfo=UTC)

    context = Clocked(allow_nondeterministic=True)
    assert evaluate("utcNow('yyyy-MM-dd')", context) == "2030-06-01"
    assert evaluate("newGuid()", context) != evaluate("newGuid()", context)


RP = "/providers/A.B/c/n"


@pytest.mark.parametrize(
    "scope, kwargs, expected",
    [
        ("resourceGroup", {"subscription_id": "s", "resource_group": "g"}, "/subscriptions/s/resourceGroups/g" + RP),
        ("subscription", {"subscription_id": "s"}, "/subscriptions/s" + RP),
        ("managementGroup", {"management_group": "mg"}, RP),
        ("tenant", {}, RP),
    ],
)
def test_resource_id_follows_the_deployment_scope(scope: str, kwargs: dict[str, Any], expected: str) -> None:
    assert evaluate("resourceId('A.B/c', 'n')", EvalContext(deployment_scope=scope, **kwargs)) == expected


def test_resource_id_with_a_group_needs_a_subscription_at_tenant_scope() -> None:
    with pytest.raises(InvalidTemplateError, match="subscription is not known"):
        evaluate("resourceId('rg', 'A.B/c', 'n')", EvalContext(deployment_scope="tenant"))


def test_unknown_deployment_scope_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        EvalContext(deployment_scope="galaxy")


def test_static_context_detects_variable_cycles() -> None:
    context = ctx(variables={"a": "[variables('b')]", "b": "[variables('A')]"})
    with pytest.raises(InvalidTemplateError, match="defined in a cycle: a -> b -> a"):
        evaluate("variables('a')", context)


def test_parse_results_are_cached_and_shared() -> None:
    assert parse("concat('x', 'y')") is parse("concat('x', 'y')")


def test_evaluate_accepts_a_parsed_node() -> None:
    assert evaluate(parse("add(1, 2)"), ctx()) == 3


RESOURCE = {
    "name": "[concat('vm', copyIndex())]",
    "properties": {
        "principal": "[reference(resourceId('Microsoft.Compute/virtualMachines', 'vm1'), '2023-03-01', 'Full')]",
        "keys": ["[listKeys('sa1', '2023-01-01').keys[0].value]", "[[listKeys('escaped')]"],
        "[format('tag-{0}', references('loop')[0].n)]": "x",
    },
}


@pytest.mark.parametrize(
    "value, names, expected",
    [
        (RESOURCE["name"], ["reference", "listKeys"], False),
        (RESOURCE["name"], ["COPYINDEX"], True),
        (RESOURCE["properties"], ["resourceId"], True),
        ({"[ns.f(1)]": "plain"}, ["f"], False),  # user-defined functions are not built-ins
    ],
)
def test_calls_any_finds_calls_in_values_and_keys(value: Any, names: list[str], expected: bool) -> None:
    assert calls_any(value, names) is expected


def test_runtime_calls_lists_reference_references_and_list_star_but_not_escaped_text() -> None:
    assert [call.name for call in runtime_calls(RESOURCE)] == ["reference", "listKeys", "references"]
