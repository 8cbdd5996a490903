"""Every built-in template function, data-driven: expected values (many from the ARM/Bicep docs) and errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from arm_sim.templates import InvalidTemplateError, StaticContext, evaluate, function_names, parse
from arm_sim.templates.nodes import FunctionCall, IndexAccess, MemberAccess, Node

SUB = "00000000-0000-0000-0000-0000000000aa"
RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg1"
DOGS = [
    {"name": "Evie", "age": 5, "interests": ["Ball", "Frisbee"]},
    {"name": "Casper", "age": 3, "interests": ["Other dogs"]},
    {"name": "Indy", "age": 2, "interests": ["Butter"]},
    {"name": "Kira", "age": 8, "interests": ["Rubs"]},
]


UDF_OUTPUT = "[concat(toLower(parameters('p')), '-x')]"
CIDR_V4 = {
    "network": "10.144.0.0",
    "netmask": "255.255.240.0",
    "broadcast": "10.144.15.255",
    "firstUsable": "10.144.0.1",
    "lastUsable": "10.144.15.254",
    "cidr": 20,
}
CIDR_V6 = {
    "network": "fdad:3236:5555::",
    "netmask": "ffff:ffff:ffff::",
    "firstUsable": "fdad:3236:5555::",
    "lastUsable": "fdad:3236:5555:ffff:ffff:ffff:ffff:ffff",
    "cidr": 48,
}


def make_ctx() -> StaticContext:
    return StaticContext(
        parameters={
            "str": "One Two Three",
            "arr": ["one", "two", "three"],
            "obj": {"one": "a", "two": "b", "three": "c"},
            "nested": {"a": {"b": [10, 20, {"c": "deep"}]}},
            "dogs": DOGS,
        },
        variables={"greeting": "[concat('Hello, ', parameters('arr')[0])]"},
        copy_indexes={None: 2, "disks": 1},
        subscription={"id": f"/subscriptions/{SUB}", "subscriptionId": SUB, "tenantId": "t1", "displayName": "sim"},
        resource_group={"id": RG_ID, "name": "rg1", "location": "eastus", "type": "Microsoft.Resources/resourceGroups"},
        tenant={"id": "/tenants/t1", "tenantId": "t1", "countryCode": "US", "displayName": "Sim"},
        management_group={"id": "/providers/Microsoft.Management/managementGroups/mg1", "name": "mg1"},
        deployment={"name": "dep1", "properties": {"mode": "Incremental"}},
        deployer={"objectId": "o1", "tenantId": "t1", "userPrincipalName": "me@sim"},
        resources={
            "vm1": {"properties": {"vmId": "v-1"}, "identity": {"principalId": "p-1"}},
            "loop": [{"properties": {"n": 0}}, {"properties": {"n": 1}}],
        },
        list_results={("listKeys", "sa1"): {"keys": [{"keyName": "key1", "value": "k"}]}},
        functions={"contoso.uniqueName": ([{"name": "p", "type": "string"}], UDF_OUTPUT)},
        fixed_utc_now=datetime(2019, 3, 5, 17, 53, 18, 250000, tzinfo=UTC),
        fixed_new_guid="b76a51fc-bd72-4a77-b9a2-3c29e7d2e551",
        allow_nondeterministic=True,
    )


OK: list[tuple[str, Any]] = [
    # -- array ----------------------------------------------------------------------------------------------------
    ("array(1)", [1]),
    ("array('efgh')", ["efgh"]),
    ("array(parameters('obj'))", [{"one": "a", "two": "b", "three": "c"}]),
    ("concat(createArray('1-1'), createArray('2-1', '2-2'))", ["1-1", "2-1", "2-2"]),
    ("concat('prefix-', 5, '-', true())", "prefix-5-True"),
    ("concat('a', null(), 'b')", "ab"),
    ("contains(parameters('str'), 'e')", True),
    ("contains(parameters('str'), 'two')", False),  # strings: case-sensitive
    ("contains(parameters('obj'), 'ONE')", True),  # object keys: case-insensitive
    ("contains(parameters('arr'), 'four')", False),
    ("createArray(1, 'a', createObject('k', 1))", [1, "a", {"k": 1}]),
    ("createArray()", []),
    ("empty(createArray())", True),
    ("empty('')", True),
    ("empty(createObject('a', 1))", False),
    ("empty(null())", True),
    ("first(parameters('arr'))", "one"),
    ("first('One Two Three')", "O"),
    ("first(createArray())", None),
    ("last(parameters('arr'))", "three"),
    ("last('One Two three')", "e"),
    ("flatten(createArray(createArray('one', 'two'), createArray('three')))", ["one", "two", "three"]),
    ("intersection(createArray(1, 2, 3, 4), createArray(3, 2, 1), createArray(4, 1, 3, 2))", [1, 2, 3]),
    ("intersection(createArray(3, 2, 1), createArray(4, 1, 3, 2), createArray(1, 2, 3, 4))", [3, 2, 1]),
    ("intersection(parameters('obj'), createObject('one', 'a', 'two', 'z'))", {"one": "a"}),
    ("length(parameters('arr'))", 3),
    ("length('One Two Three')", 13),
    ("length(parameters('obj'))", 3),
    ("range(1, 3)", [1, 2, 3]),
    ("range(5, 0)", []),
    ("skip(parameters('arr'), 2)", ["three"]),
    ("skip('one two three', 4)", "two three"),
    ("skip('abc', -1)", "abc"),
    ("take(parameters('arr'), 2)", ["one", "two"]),
    ("take('one two three', 2)", "on"),
    ("take('abc', 10)", "abc"),
    ("union(createArray(1, 2), createArray(2, 3))", [1, 2, 3]),
    ("union(createObject('a', 1, 'b', 2), createObject('b', 3))", {"a": 1, "b": 3}),
    ("union(createObject('a', createObject('x', 1)), createObject('a', createObject('y', 2)))",
     {"a": {"x": 1, "y": 2}}),
    ("tryGet(parameters('nested'), 'a', 'b', 2, 'c')", "deep"),
    ("tryGet(parameters('nested'), 'A', 'missing')", None),
    ("tryGet(parameters('arr'), 5)", None),
    ("tryGet(parameters('arr'), createObject('value', 1, 'fromEnd', true()))", "three"),
    ("indexFromEnd(parameters('arr'), 1)", "three"),
    ("indexFromEnd(parameters('arr'), 3)", "one"),
    ("tryIndexFromEnd(parameters('arr'), 2)", "two"),
    ("tryIndexFromEnd(parameters('arr'), 4)", None),
    ("tryIndexFromEnd(parameters('dogs'), 1, 'name')", "Kira"),
    # -- comparison and logical ------------------------------------------------------------------------------------
    ("coalesce(null(), null(), 'default')", "default"),
    ("coalesce(null(), '')", ""),
    ("coalesce(null())", None),
    ("equals(1, 1)", True),
    ("equals('a', 'A')", False),
    ("equals(createArray('a', 'b'), createArray('a', 'b'))", True),
    ("equals(createObject('a', 'b'), json('{\"a\": \"b\"}'))", True),
    ("equals(1, '1')", False),
    ("greater(1, 2)", False),
    ("greater('A', 'a')", True),  # culture order: a < A < b
    ("greaterOrEquals('A', 'a')", True),
    ("greaterOrEquals(2, 2)", True),
    ("less(1, 2)", True),
    ("less('A', 'a')", False),
    ("less('a', 'B')", True),
    ("lessOrEquals('A', 'a')", False),
    ("lessOrEquals(2, 2)", True),
    ("and(true(), true(), true())", True),
    ("and(true(), false())", False),
    ("or(false(), true())", True),
    ("or(false(), false())", False),
    ("not(equals(1, 2))", True),
    ("bool('true')", True),
    ("bool('False')", False),
    ("bool(0)", False),
    ("bool(1)", True),
    ("if(equals(1, 1), 'yes', 'no')", "yes"),
    ("if(false(), 'yes', createArray(1))", [1]),
    ("true()", True),
    ("false()", False),
    # -- numeric ----------------------------------------------------------------------------------------------------
    ("add(5, 3)", 8),
    ("add(9223372036854775807, 1)", -9223372036854775808),  # .NET long wraps
    ("sub(7, 10)", -3),
    ("mul(5, -3)", -15),
    ("mul(4611686018427387904, 2)", -9223372036854775808),
    ("div(8, 3)", 2),
    ("div(-7, 2)", -3),  # truncates toward zero
    ("mod(7, 3)", 1),
    ("mod(-7, 3)", -1),  # sign of the dividend
    ("mod(7, -3)", 1),
    ("int('4')", 4),
    ("int(' -42 ')", -42),
    ("int(json('2.5'))", 2),  # Convert.ToInt64 rounds half to even
    ("float('2.5')", 2.5),
    ("float(3)", 3.0),
    ("min(createArray(0, 3, 2, 5, 4))", 0),
    ("min(0, 3, 2, 5, 4)", 0),
    ("max(createArray(0, 3, 2, 5, 4))", 5),
    ("max(0, 3, 2, 5, 4)", 5),
    ("copyIndex()", 2),
    ("copyIndex(1)", 3),
    ("copyIndex('disks')", 1),
    ("copyIndex('disks', 10)", 11),
    # -- object -----------------------------------------------------------------------------------------------------
    ("createObject('intProp', 1, 'stringProp', 'abc', 'boolProp', true())",
     {"intProp": 1, "stringProp": "abc", "boolProp": True}),
    ("createObject()", {}),
    ("items(createObject('item002', 'b', 'item001', 'a'))",
     [{"key": "item001", "value": "a"}, {"key": "item002", "value": "b"}]),
    ("objectKeys(createObject('b', 1, 'A', 2))", ["A", "b"]),
    ("json('{\"a\": [1, 2.5, \"x\"], \"b\": null}')", {"a": [1, 2.5, "x"], "b": None}),
    ("json('null')", None),
    ("json('true')", True),
    # the json() examples of learn.microsoft.com (template-functions-object#json)
    ("empty(json('null'))", True),
    ("json('\"test\"')", "test"),
    ("json('3')", 3),
    ("json('[1,2,3 ]')", [1, 2, 3]),
    ("json(concat('{\"a\": \"', 'demo value', '\"}'))", {"a": "demo value"}),
    # ARM reads the text with Newtonsoft's lenient reader: leading-dot numbers, single quotes, bare property names,
    # trailing commas and comments
    ("json('.25')", 0.25),
    ("json('[-.5, 1., 2e2]')", [-0.5, 1.0, 200.0]),
    ("json('{''a'': ''b''}')", {"a": "b"}),
    ("json('{a: 1, b: [1, 2,],}')", {"a": 1, "b": [1, 2]}),
    ("json('{\"a\": 1 /* one */} // done')", {"a": 1}),
    ("null()", None),
    ("shallowMerge(createArray(createObject('a', createObject('x', 1)), createObject('a', createObject('y', 2), "
     "'b', 3)))",
     {"a": {"y": 2}, "b": 3}),
    # -- string -----------------------------------------------------------------------------------------------------
    ("base64('one, two, three')", "b25lLCB0d28sIHRocmVl"),
    ("base64ToString('b25lLCB0d28sIHRocmVl')", "one, two, three"),
    ("base64ToJson(base64('{\"one\": \"a\", \"two\": \"b\"}'))", {"one": "a", "two": "b"}),
    ("dataUri('Hello')", "data:text/plain;charset=utf8;base64,SGVsbG8="),
    ("dataUriToString('data:;base64,SGVsbG8sIFdvcmxkIQ==')", "Hello, World!"),
    ("dataUriToString('data:text/plain,a%20b')", "a b"),
    ("endsWith('abcdef', 'EF')", True),
    ("endsWith('abcdef', 'e')", False),
    ("startsWith('abcdef', 'AB')", True),
    ("startsWith('abcdef', 'e')", False),
    ("format('{0}, {1}. Formatted number: {2:N0}', 'Hello', 'User', 8175133)",
     "Hello, User. Formatted number: 8,175,133"),
    ("format('{0:D3}|{1:X}|{2:x}|{3:N2}|{4:F1}|{5:P0}', 7, 255, -1, json('1234.5'), 3, 1)",
     "007|FF|ffffffffffffffff|1,234.50|3.0|100 %"),
    ("format('{0:E}|{1:C}|{2:G}|{3:0.00}|{4:#,##0}', 1052, -1234, 42, json('2.345'), 1234567)",
     "1.052000E+003|(¤1,234.00)|42|2.35|1,234,567"),
    ("format('[{0,6}][{0,-6}] {{x}} {1} {2}', 'ab', true(), createArray(1, 'a'))",
     "[    ab][ab    ] {x} True [1,\"a\"]"),
    ("format('{0:(###) ###-####}|{1:0.00;(0.00)}|{2:0.0%}|{3:x4}|{4:N}', 1234567890, -3, json('0.256'), 10, 5)",
     "(123) 456-7890|(3.00)|25.6%|000a|5.00"),
    ("guid('a', 'b', 'c')", "a98fa280-e03f-5afa-8d8e-92d0a9c201e8"),
    ("indexOf('test', 't')", 0),
    ("indexOf('abcdef', 'CD')", 2),
    ("indexOf('abcdef', 'z')", -1),
    ("indexOf(createArray('one', 'two', 'three'), 'two')", 1),
    ("indexOf(createArray('one'), 'ONE')", -1),  # arrays compare exactly
    ("lastIndexOf('test', 't')", 3),
    ("lastIndexOf('abcdef', 'AB')", 0),
    ("lastIndexOf(createArray(1, 2, 3, 1), 1)", 3),
    ("join(createArray('a', 'b', 'c'), ',')", "a,b,c"),
    ("join(createArray(), '-')", ""),
    ("newGuid()", "b76a51fc-bd72-4a77-b9a2-3c29e7d2e551"),
    ("padLeft('123', 10, '0')", "0000000123"),
    ("padLeft(7, 3)", "  7"),
    ("padLeft('toolong', 3, 'x')", "toolong"),
    ("replace('123-123-1234', '-', '')", "1231231234"),
    ("replace('123-123-1234', '1234', 'xxxx')", "123-123-xxxx"),
    ("split('one,two,three', ',')", ["one", "two", "three"]),
    ("split('one;two,three', createArray(',', ';'))", ["one", "two", "three"]),
    ("split('a,,b', ',')", ["a", "", "b"]),
    ("string(createObject('valueA', 10, 'valueB', 'Example Text'))", '{"valueA":10,"valueB":"Example Text"}'),
    ("string(createArray('a', 'b', 'c'))", '["a","b","c"]'),
    ("string(5)", "5"),
    ("string(true())", "True"),
    ("string(null())", ""),
    ("substring('one two three', 4, 3)", "two"),
    ("substring('one two three', 4)", "two three"),
    ("toLower('One Two Three')", "one two three"),
    ("toUpper('One Two Three')", "ONE TWO THREE"),
    ("trim('    one two three   ')", "one two three"),
    ("uniqueString('aaa')", "zavj67f3en4hc"),
    ("uniqueString('xxx', 'yyy', 'zzz')", "lghi7k5js7itq"),
    ("uri('http://contoso.org/firstpath', 'myscript.sh')", "http://contoso.org/myscript.sh"),
    ("uri('http://contoso.org/firstpath/', 'myscript.sh')", "http://contoso.org/firstpath/myscript.sh"),
    ("uri('http://contoso.org/firstpath/azuredeploy.json', 'myscript.sh')", "http://contoso.org/firstpath/myscript.sh"),
    ("uri('http://contoso.org', 'myscript.sh')", "http://contoso.org/myscript.sh"),
    ("uriComponent('http://contoso.com/resources/nested/azuredeploy.json')",
     "http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json"),
    ("uriComponentToString('http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json')",
     "http://contoso.com/resources/nested/azuredeploy.json"),
    ("parseUri('https://www.contoso.com/path/to?a=1')",
     {"scheme": "https", "host": "www.contoso.com", "port": 443, "path": "/path/to", "query": "?a=1"}),
    ("parseUri('http://contoso.com:8080')",
     {"scheme": "http", "host": "contoso.com", "port": 8080, "path": "/", "query": ""}),
    ("buildUri(createObject('scheme', 'https', 'host', 'mystorage.blob.core.windows.net', 'port', 8080, 'path', "
     "'/templates/nestedTemplate.json', 'query', '?st=2025-05-09'))",
     "https://mystorage.blob.core.windows.net:8080/templates/nestedTemplate.json?st=2025-05-09"),
    ("buildUri(parseUri('https://contoso.com/a?b=c'))", "https://contoso.com/a?b=c"),
    # -- date ---------------------------------------------------------------------------------------------------------
    ("dateTimeAdd('2020-04-07 14:53:14Z', 'P3Y')", "2023-04-07T14:53:14Z"),
    ("dateTimeAdd('2020-04-07 14:53:14Z', '-P9D')", "2020-03-29T14:53:14Z"),
    ("dateTimeAdd('2020-04-07T14:53:14Z', 'PT1H', 'u')", "2020-04-07 15:53:14Z"),
    ("dateTimeAdd('2020-01-31', 'P1M', 'yyyy-MM-dd')", "2020-02-29"),
    ("dateTimeFromEpoch(1683040573)", "2023-05-02T15:16:13Z"),
    ("dateTimeToEpoch('2023-05-02T15:16:13Z')", 1683040573),
    ("dateTimeToEpoch(dateTimeAdd('2023-05-02T15:16:13Z', 'PT1M'))", 1683040633),
    ("utcNow()", "20190305T175318Z"),
    ("utcNow('d')", "03/05/2019"),
    ("utcNow('M d')", "3 5"),
    ("utcNow('u')", "2019-03-05 17:53:18Z"),
    ("utcNow('o')", "2019-03-05T17:53:18.2500000Z"),
    ("utcNow('yyyyMMdd-HHmm ddd MMM tt h')", "20190305-1753 Tue Mar PM 5"),
    ("utcNow('s.FFF|%d|\\Q')", "18.25|5|Q"),
    # -- deployment and scope ----------------------------------------------------------------------
    ("parameters('STR')", "One Two Three"),
    ("variables('greeting')", "Hello, one"),
    ("deployment().name", "dep1"),
    ("environment().name", "AzureCloud"),
    ("environment().suffixes.keyVaultDns", ".vault.azure.net"),  # members are case-insensitive
    ("deployer().objectId", "o1"),
    ("resourceGroup().location", "eastus"),
    ("subscription().subscriptionId", SUB),
    ("tenant().tenantId", "t1"),
    ("managementGroup().name", "mg1"),
    # -- resource ----------------------------------------------------------------------------------
    ("resourceId('Microsoft.Storage/storageAccounts', 'sa1')",
     f"{RG_ID}/providers/Microsoft.Storage/storageAccounts/sa1"),
    ("resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'default')",
     f"{RG_ID}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default"),
    ("resourceId('otherRg', 'Microsoft.Storage/storageAccounts', 'sa1')",
     f"/subscriptions/{SUB}/resourceGroups/otherRg/providers/Microsoft.Storage/storageAccounts/sa1"),
    ("resourceId('s2', 'otherRg', 'Microsoft.Storage/storageAccounts', 'sa1')",
     "/subscriptions/s2/resourceGroups/otherRg/providers/Microsoft.Storage/storageAccounts/sa1"),
    ("subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7')",
     f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7"),
    ("subscriptionResourceId('s2', 'Microsoft.Resources/resourceGroups', 'rg9')",
     "/subscriptions/s2/providers/Microsoft.Resources/resourceGroups/rg9"),
    ("tenantResourceId('Microsoft.Management/managementGroups', 'mg9')",
     "/providers/Microsoft.Management/managementGroups/mg9"),
    ("managementGroupResourceId('mg9', 'Microsoft.Authorization/policyDefinitions', 'p1')",
     "/providers/Microsoft.Management/managementGroups/mg9/providers/Microsoft.Authorization/policyDefinitions/p1"),
    ("extensionResourceId(resourceGroup().id, 'Microsoft.Authorization/locks', 'lock1')",
     f"{RG_ID}/providers/Microsoft.Authorization/locks/lock1"),
    ("reference('vm1').vmId", "v-1"),
    ("reference('vm1', '2023-03-01', 'Full').identity.principalId", "p-1"),
    ("references('loop')", [{"n": 0}, {"n": 1}]),
    ("references('loop', 'Full')[1].properties.n", 1),
    ("listKeys('sa1', '2023-01-01').keys[0].value", "k"),
    ("pickZones('Microsoft.Compute', 'virtualMachines', 'westus2')", ["1"]),
    ("pickZones('Microsoft.Compute', 'virtualMachines', 'northcentralus')", []),
    ("pickZones('Microsoft.Compute', 'virtualMachines', 'West US 2', 3)", ["1", "2", "3"]),
    ("toPhysicalZone(subscription().subscriptionId, 'westus2', '2')", "westus2-az2"),
    ("toPhysicalZones(subscription().subscriptionId, 'westus2', createArray('1', '3'))",
     ["westus2-az1", "westus2-az3"]),
    ("toLogicalZone(subscription().subscriptionId, 'westus2', 'westus2-az3')", "3"),
    ("toLogicalZones(subscription().subscriptionId, 'westus2', createArray('westus2-az2'))", ["2"]),
    # -- CIDR --------------------------------------------------------------------------------------
    ("parseCidr('10.144.0.0/20')",
     CIDR_V4),
    ("parseCidr('fdad:3236:5555::/48')",
     CIDR_V6),
    ("cidrSubnet('10.144.0.0/20', 24, 4)", "10.144.4.0/24"),
    ("cidrSubnet('fdad:3236:5555::/48', 52, 2)", "fdad:3236:5555:2000::/52"),
    ("cidrHost('10.144.3.0/24', 0)", "10.144.3.1"),
    ("cidrHost('fdad:3236:5555:3000::/52', 4)", "fdad:3236:5555:3000::5"),
    # -- lambda ------------------------------------------------------------------------------------
    ("filter(parameters('dogs'), lambda('dog', greaterOrEquals(lambdaVariables('dog').age, 5)))", [DOGS[0], DOGS[3]]),
    ("filter(range(0, 10), lambda('i', equals(0, mod(lambdaVariables('i'), 2))))", [0, 2, 4, 6, 8]),
    ("filter(parameters('arr'), lambda('v', 'i', less(lambdaVariables('i'), 2)))", ["one", "two"]),
    ("map(parameters('dogs'), lambda('dog', lambdaVariables('dog').name))", ["Evie", "Casper", "Indy", "Kira"]),
    ("map(parameters('arr'), lambda('v', 'i', format('{0}:{1}', lambdaVariables('i'), lambdaVariables('v'))))",
     ["0:one", "1:two", "2:three"]),
    ("reduce(map(parameters('dogs'), lambda('dog', lambdaVariables('dog').age)), 0, lambda('cur', 'next', "
     "add(lambdaVariables('cur'), lambdaVariables('next'))))",
     18),
    ("reduce(createArray(createObject('foo', 123), createObject('bar', 456)), createObject(), lambda('cur', "
     "'next', union(lambdaVariables('cur'), lambdaVariables('next'))))",
     {"foo": 123, "bar": 456}),
    ("map(sort(parameters('dogs'), lambda('a', 'b', less(lambdaVariables('a').age, lambdaVariables('b').age))), "
     "lambda('d', lambdaVariables('d').name))",
     ["Indy", "Casper", "Evie", "Kira"]),
    ("toObject(parameters('dogs'), lambda('entry', lambdaVariables('entry').name), lambda('entry', "
     "lambdaVariables('entry').age))",
     {"Evie": 5, "Casper": 3, "Indy": 2, "Kira": 8}),
    ("toObject(createArray('a'), lambda('x', lambdaVariables('x')))", {"a": "a"}),
    ("groupBy(createArray('foo', 'bar', 'baz'), lambda('x', substring(lambdaVariables('x'), 0, 1)))",
     {"f": ["foo"], "b": ["bar", "baz"]}),
    ("mapValues(createObject('foo', 'foo'), lambda('val', toUpper(lambdaVariables('val'))))", {"foo": "FOO"}),
    ("map(createArray(1, 2), lambda('x', map(createArray(10), lambda('y', add(lambdaVariables('x'), "
     "lambdaVariables('y'))))))",
     [[11], [12]]),
    # -- user-defined functions --------------------------------------------------------------------
    ("contoso.uniqueName('ABC')", "abc-x"),
]

ERRORS: list[tuple[str, str]] = [
    ("length(1)", "The template language function 'length' expects its parameter to be of type"),
    ("length()", "function requires 1 argument(s) while 0 were provided"),
    ("equals(1)", "function 'equals': function requires 2 argument(s) while 1 were provided"),
    ("concat(createArray(1), 'a')", "expects its second parameter to be of type 'Array'"),
    ("substring('1234567890', 0, 11)",
     "The index parameter: '0', the length parameter: '11', the length of the string parameter: '10'."),
    ("first(1)", "'first' expects its parameter to be of type"),
    ("range(0, 10001)", "'range'"),
    ("indexFromEnd(parameters('arr'), 4)", "array index '^4' is out of bounds"),
    ("flatten(createArray(1))", "every element must be an array"),
    ("union(createArray(1), createObject())", "'union' expects its second parameter to be of type 'Array'"),
    ("not('true')", "'not' expects its parameter to be of type 'Boolean'"),
    ("and(true(), 'x')", "'and' expects its second parameter to be of type 'Boolean'"),
    ("if('yes', 1, 2)", "'if' expects its first parameter to be of type 'Boolean'"),
    ("bool('yes')", "can't be converted to a boolean"),
    ("greater(1, 'a')", "'greater' expects two parameters of matching types"),
    ("div(1, 0)", "Attempted to divide by zero."),
    ("mod(1, 0)", "Attempted to divide by zero."),
    ("div(-9223372036854775808, -1)", "overflow"),
    ("add('1', 2)", "'add' expects its first parameter to be of type 'Integer'"),
    ("int('abc')", "can't be converted to an integer"),
    ("float('x')", "can't be converted to a float"),
    ("min(createArray())", "at least one integer"),
    ("max('a')", "'max' expects its first parameter to be of type 'Integer'"),
    ("createObject('a')", "even number of arguments"),
    ("createObject(1, 2)", "'createObject' expects its first parameter to be of type 'String'"),
    ("items(createArray())", "'items' expects its parameter to be of type 'Object'"),
    ("json('{bad')", "not valid JSON"),
    ("json('{\"a\": 1} x')", "not valid JSON"),
    ("json('{a 1}')", "not valid JSON"),
    ("base64ToString('@@@')", "cannot be decoded from base64"),
    ("format('{1}', 'a')", "Index (zero based) must be greater than or equal to zero"),
    ("format('{0', 'a')", "Input string was not in a correct format."),
    ("format('{0:D2}', json('1.5'))", "Format specifier was invalid."),
    ("padLeft('a', 3, 'xy')", "single character"),
    ("replace('abc', '', 'x')", "must not be empty"),
    ("guid('a', 1)", "'guid' expects its second parameter to be of type 'String'"),
    ("uniqueString(createArray())", "'uniqueString' expects its first parameter to be of type 'String'"),
    ("uri('relative/path', 'x')", "Invalid URI"),
    ("buildUri(createObject('host', 'h'))", "'scheme'"),
    ("dateTimeAdd('not a date', 'P1D')", "was not recognized as a valid DateTime"),
    ("dateTimeAdd('2020-01-01T00:00:00Z', '1 day')", "not a valid ISO 8601 duration"),
    ("utcNow('Q')", "not a valid standard date and time format"),
    ("resourceId('sa1', 'x')", "function requires exactly one multi-segmented argument"),
    ("resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet/default')",
     "requires '2' resource name argument(s)"),
    ("resourceId('a', 'b', 'c', 'Microsoft.Storage/storageAccounts', 'x')",
     "function requires exactly one multi-segmented"),
    ("reference('vm1', '2020-01-01', 'Partial')", "must be 'Full'"),
    ("references('loop', 'Some')", "'Full' or 'Properties'"),
    ("pickZones('Microsoft.Compute', 'virtualMachines', 'westus2', 3, 1)", "can't be picked"),
    ("toPhysicalZone('s', 'westus2', '4')", "is not one of '1', '2', '3'"),
    ("cidrSubnet('10.0.0.0/16', 8, 0)", "must be between 16 and 32"),
    ("cidrHost('10.0.0.0/30', 2)", "out of range"),
    ("parseCidr('10.0.0.300/24')", "not a valid IP address range"),
    ("map(createArray(1), 'x')", "'map' expects its second parameter to be of type 'Lambda'"),
    ("map(createArray(1), lambda('a', 'b', 'c', 1))", "the lambda must take 1 to 2 parameter(s)"),
    ("filter(createArray(1), lambda('x', 1))", "the lambda must return a boolean"),
    ("toObject(createArray(1), lambda('x', lambdaVariables('x')))", "the key lambda must return a string"),
    ("lambdaVariables('nope')", "The lambda variable 'nope' is not defined"),
    ("lambda('x', 1)", "A lambda expression can only be used as an argument"),
    ("parameters('missing')", "The template parameter 'missing' is not found."),
    ("variables('missing')", "The template variable 'missing' is not found."),
    ("copyIndex('nope')", "The template function 'copyIndex' is not expected at this location."),
    ("listSecrets('sa1', '2023-01-01')", "The template function 'listSecrets' is not expected at this location."),
    ("providers('Microsoft.Compute')", "arm-sim does not implement the template function 'providers'"),
    ("resourceInfo('sa').id", "arm-sim does not implement the template function 'resourceInfo'"),
    ("contoso.uniqueName(1)", "expects its parameter 'p' to be of type 'string'"),
    ("contoso.uniqueName()", "function requires 1 argument(s) while 0 were provided"),
    ("contoso.other('x')", "The template function 'contoso.other' is not defined."),
    ("fail('Custom failure message')", "Custom failure message"),
    ("noSuchFunction()", "The template function 'noSuchFunction' is not valid."),
]


def _strict_equal(actual: Any, expected: Any) -> bool:
    """Equality that does not let True pass for 1 (ARM's Boolean and Integer are different types)."""
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(_strict_equal, actual, expected))
    if isinstance(expected, dict):
        return isinstance(actual, dict) and actual.keys() == expected.keys() and all(
            _strict_equal(actual[k], expected[k]) for k in expected
        )
    return type(actual) is type(expected) and actual == expected


@pytest.mark.parametrize("expression, expected", OK, ids=[e for e, _ in OK])
def test_function_values(expression: str, expected: Any) -> None:
    actual = evaluate(expression, make_ctx())
    assert _strict_equal(actual, expected), f"{expression} -> {actual!r}, expected {expected!r}"


@pytest.mark.parametrize("expression, fragment", ERRORS, ids=[e for e, _ in ERRORS])
def test_function_errors(expression: str, fragment: str) -> None:
    with pytest.raises(InvalidTemplateError) as caught:
        evaluate(expression, make_ctx())
    assert (caught.value.status, caught.value.code) == (400, "InvalidTemplate")
    assert fragment in caught.value.message


def _called(node: Node) -> set[str]:
    if isinstance(node, FunctionCall):
        names = {node.name.lower()} if node.namespace is None else set()
        return names.union(*(_called(arg) for arg in node.args))
    if isinstance(node, MemberAccess):
        return _called(node.target)
    if isinstance(node, IndexAccess):
        return _called(node.target) | _called(node.index)
    return set()


# Functions that never return a value here: fail() always fails; providers() needs the deployment's catalogue
# (arm_sim/deployments/context.py, tested in test_deployments_templates.py); resourceInfo() is not implemented.
ERROR_ONLY = {"fail", "providers", "resourceinfo"}

# Every function the ARM template docs list (learn.microsoft.com/azure/azure-resource-manager/templates/
# template-functions*, the overview at MicrosoftDocs/azure-docs@0054094 (2024-05) plus the later additions on the
# category pages: indexFromEnd, tryGet, tryIndexFromEnd, objectKeys, shallowMerge, groupBy, mapValues, deployer).
# Status: all implemented. list* is dispatched by prefix (listKeys, listSecrets, listAccountSas, …); providers()
# answers from the provider catalogue in a deployment. Beyond the docs, Bicep also emits flatten, fail, lambda,
# lambdaVariables, buildUri, parseUri and the zone mappings (implemented) and resourceInfo (clear "arm-sim does not
# implement").
DOCUMENTED = {
    "array": "array concat contains createArray empty first indexFromEnd indexOf intersection last lastIndexOf "
             "length max min range skip take tryGet tryIndexFromEnd union",
    "cidr": "parseCidr cidrSubnet cidrHost",
    "comparison": "coalesce equals greater greaterOrEquals less lessOrEquals",
    "date": "dateTimeAdd dateTimeFromEpoch dateTimeToEpoch utcNow",
    "deployment": "deployer deployment environment parameters variables",
    "lambda": "filter groupBy map mapValues reduce sort toObject",
    "logical": "and bool false if not or true",
    "numeric": "add copyIndex div float int min max mod mul sub",
    "object": "contains createObject empty intersection items json length null objectKeys shallowMerge tryGet union",
    "resource": "extensionResourceId listAccountSas listKeys listSecrets pickZones providers reference references "
                "resourceId subscriptionResourceId managementGroupResourceId tenantResourceId",
    "scope": "managementGroup resourceGroup subscription tenant",
    "string": "base64 base64ToJson base64ToString concat contains dataUri dataUriToString empty endsWith first format "
              "guid indexOf join json last lastIndexOf length newGuid padLeft replace skip split startsWith string "
              "substring take toLower toUpper trim uniqueString uri uriComponent uriComponentToString",
}


@pytest.mark.parametrize("category", sorted(DOCUMENTED))
def test_every_documented_function_is_built_in(category: str) -> None:
    names = {name.lower() for name in function_names()}
    missing = [f for f in DOCUMENTED[category].split() if f.lower() not in names and not f.startswith("list")]
    assert not missing, f"documented {category} functions missing: {missing}"


def test_every_built_in_function_has_a_data_driven_case() -> None:
    with_value = set().union(*(_called(parse(expression)) for expression, _ in OK))
    with_error = set().union(*(_called(parse(expression)) for expression, _ in ERRORS))
    names = {name.lower() for name in function_names()}
    assert not names - with_value - ERROR_ONLY, f"without a value case: {sorted(names - with_value - ERROR_ONLY)}"
    assert with_error >= ERROR_ONLY


def test_function_names_are_case_insensitive() -> None:
    assert evaluate("TOLOWER(uniquestring('aaa'))", make_ctx()) == "zavj67f3en4hc"
