"""Template parameters: supplied value, Key Vault reference or `defaultValue` (also for a supplied null), then type
and constraint checks (reference/arm-templates.md §2.2). Any problem is `InvalidTemplate` before anything deploys.

Defaults are evaluated lazily (a default may read another parameter) with cycles detected; `utcNow()` and
`newGuid()` are legal only there.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from arm_sim.core.errors import DomainError
from arm_sim.deployments import errors
from arm_sim.deployments.errors import Source, TemplateError
from arm_sim.templates import EvalContext, expand
from arm_sim.templates.checks import parameter_not_found
from arm_sim.templates.values import deep_equals, is_int, type_name

PARAMETER_HELP = "Please see https://aka.ms/arm-create-parameter-file for usage details."
SYNTAX_HELP = "Please see https://aka.ms/arm-syntax-parameters for usage details."
# lower-case declared type -> the capitalised name GET echoes, and the JSON types that satisfy it
TYPES: dict[str, tuple[str, tuple[type, ...]]] = {
    "string": ("String", (str,)), "securestring": ("SecureString", (str,)), "int": ("Int", (int,)),
    "bool": ("Bool", (bool,)), "object": ("Object", (dict,)), "secureobject": ("SecureObject", (dict,)),
    "array": ("Array", (list,)),
}
SECURE = frozenset({"securestring", "secureobject"})
_EXPECTED = {"string": "String, Uri", "securestring": "String, Uri", "int": "Integer", "bool": "Boolean",
             "object": "Object", "secureobject": "Object", "array": "Array"}

KeyVaultResolver = Callable[[str, dict[str, Any]], str]  # (parameter name, reference) -> secret value


class Parameters:
    """The template's parameters for one deployment: declarations, supplied values and resolved values."""

    def __init__(self, template: dict[str, Any], supplied: dict[str, Any], source: Source,
                 key_vault: KeyVaultResolver) -> None:
        declared = template.get("parameters") or {}
        if not isinstance(declared, dict):
            raise errors.at(source, ("parameters",), "The 'parameters' section must be an object",
                            what="parameters")
        self.declared = {k.lower(): (k, d if isinstance(d, dict) else {}) for k, d in declared.items()}
        self.definitions = template.get("definitions") or {}
        self.source = source
        self.key_vault = key_vault
        self.supplied = {k.lower(): (k, v) for k, v in (supplied or {}).items()}
        unknown = [k for k, _ in self.supplied.values() if k.lower() not in self.declared]
        if unknown:
            raise errors.invalid(
                f"The template parameters '{', '.join(unknown)}' in the parameters file are not valid; they are not "
                "present in the original template and can therefore not be provided at deployment time. The only "
                f"supported parameters for this template are '{', '.join(n for n, _ in self.declared.values())}'")
        self.values: dict[str, Any] = {}
        self._resolving: list[str] = []

    def type_of(self, key: str) -> str:
        decl = self.declared[key][1]
        kind = decl.get("type")
        ref = decl.get("$ref")
        depth = 0
        while kind is None and isinstance(ref, str) and ref.startswith("#/definitions/") and depth < 16:
            target = self.definitions.get(ref.rsplit("/", 1)[-1]) or {}
            kind, ref, depth = target.get("type"), target.get("$ref"), depth + 1
        return str(kind).lower() if isinstance(kind, str) else ""

    def get(self, name: str, ctx: EvalContext) -> Any:
        key = name.lower()
        if key not in self.declared:
            raise parameter_not_found(name)
        if key not in self.values:
            self.values[key] = self._resolve(key, ctx)
        return self.values[key]

    def resolve_all(self, ctx: EvalContext) -> None:
        for key in self.declared:
            self.get(key, ctx)

    def _resolve(self, key: str, ctx: EvalContext) -> Any:
        name, decl = self.declared[key]
        path = ("parameters", name)
        if key in self._resolving:
            cycle = " -> ".join([*self._resolving, key])
            raise errors.at(self.source, path, f"The template parameter '{name}' is defined in a cycle: {cycle}",
                            what=f"parameter '{name}'")
        supplied = self.supplied.get(key)
        given = supplied[1] if supplied is not None and isinstance(supplied[1], dict) else {}
        value = None
        # ARM treats a supplied `{"value": null}` as no value: the default applies, else null if the parameter is
        # nullable, else "not provided" (issue 17: az's templates pass null and Azure uses the default; Bicep
        # relies on it for optional module parameters, Azure/bicep#11887 and the comment on #11301). Guess: a
        # nullable parameter with a default also takes the default.
        if "reference" in given:
            value = self.key_vault(name, given["reference"])
        elif given.get("value") is not None:
            value = given["value"]
        elif "defaultValue" in decl:
            value = self._default(key, name, decl["defaultValue"], ctx)
        if value is None and decl.get("nullable") is not True:
            # a null default is no value either (Azure/bicep#2920: `= any(null)` fails as "not provided")
            line, col = self.source.locate(path)
            raise TemplateError(
                f"Deployment template validation failed: 'The value for the template parameter '{name}' at line "
                f"'{line}' and column '{col}' is not provided. {PARAMETER_HELP}'.", line=line, column=col,
                path=self.source.path(path))
        self._check(key, name, decl, value)
        return value

    def _default(self, key: str, name: str, default: Any, ctx: EvalContext) -> Any:
        self._resolving.append(key)
        saved = ctx.allow_nondeterministic
        ctx.allow_nondeterministic = True
        try:
            return expand(default, ctx)
        except DomainError as e:
            raise errors.wrap(e, self.source, ("parameters", name, "defaultValue"),
                              what=f"parameter '{name}'") from None
        finally:
            ctx.allow_nondeterministic = saved
            self._resolving.pop()

    def _fail(self, name: str, message: str, help_text: str | None = SYNTAX_HELP) -> TemplateError:
        path = ("parameters", name)
        line, col = self.source.locate(path)
        text = message.replace("{at}", f" at line '{line}' and column '{col}'", 1)
        if help_text:
            text = f"{text} {help_text}"
        return TemplateError(f"Deployment template validation failed: '{text}'.", line=line, column=col,
                             path=self.source.path(path))

    def _check(self, key: str, name: str, decl: dict[str, Any], value: Any) -> None:
        kind = self.type_of(key)
        if value is None and (decl.get("nullable") is True or kind == ""):
            return
        if kind in TYPES:
            wanted = TYPES[kind][1]
            ok = isinstance(value, wanted) and not (kind == "int" and not is_int(value))
            if not ok:
                raise self._fail(name, f"The provided value for the template parameter '{name}' is not valid. Expected "
                                       f"a value of type '{_EXPECTED[kind]}', but received a value of type "
                                       f"'{type_name(value)}'.", PARAMETER_HELP)
        elif kind:
            raise self._fail(name, f"The template parameter '{name}' has an invalid type '{decl.get('type')}'.")
        allowed = decl.get("allowedValues")
        if isinstance(allowed, list):
            items = value if kind == "array" else [value]
            bad = [v for v in items if not any(deep_equals(v, a) for a in allowed)]
            if bad:
                shown = ",".join(str(a) for a in allowed)
                raise self._fail(name, f"The provided value '{bad[0]}' for the template parameter '{name}'{{at}} is "
                                       f"not valid. The parameter value is not part of the allowed value(s): "
                                       f"'{shown}'.", None)
        for bound, test, words in (("minValue", operator.ge, "greater than or equal to"),
                                   ("maxValue", operator.le, "less than or equal to")):
            if is_int(decl.get(bound)) and is_int(value) and not test(value, decl[bound]):
                raise self._fail(name, f"The provided value '{value}' for the template parameter '{name}' is not "
                                       f"valid. Expected a value {words} '{decl[bound]}'.")
        for bound, test, words in (("minLength", operator.ge, "greater than or equal to"),
                                   ("maxLength", operator.le, "less than or equal to")):
            if is_int(decl.get(bound)) and isinstance(value, str | list) and not test(len(value), decl[bound]):
                raise self._fail(name, f"The provided value for the template parameter '{name}' is not valid. Length "
                                       f"of the value should be {words} '{decl[bound]}'.")

    def echo(self) -> dict[str, Any]:
        """`properties.parameters` as GET shows it: capitalised types, secure values left out."""
        out: dict[str, Any] = {}
        for key, (name, _) in self.declared.items():
            kind = self.type_of(key)
            shown = TYPES.get(kind, (kind.capitalize() or "Object",))[0]
            entry: dict[str, Any] = {"type": shown}
            if kind not in SECURE and key in self.values:
                entry["value"] = self.values[key]
            supplied = self.supplied.get(key)
            if supplied is not None and isinstance(supplied[1], dict) and "reference" in supplied[1]:
                entry["reference"] = supplied[1]["reference"]
            out[name] = entry
        return out

    def as_values(self) -> dict[str, Any]:
        """`deployment().properties.parameters`: the values as supplied to the deployment."""
        return {name: {"value": self.values.get(key)} for key, (name, _) in self.declared.items()}
