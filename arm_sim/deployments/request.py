"""The `Deployment` request body (reference/arm-templates.md §1.3): mode, template or templateLink, parameters
or parametersLink. Templates and parameters may arrive as JSON objects or as JSON text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arm_sim.core import jsonc
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.core.settings import Settings
from arm_sim.deployments import errors, links
from arm_sim.deployments.errors import Source

MODES = {"incremental": "Incremental", "complete": "Complete"}


def _invalid_content(message: str) -> DomainError:
    return bad_request("InvalidRequestContent", f"The request content was invalid and could not be deserialized: "
                       f"'{message}'.")


@dataclass
class DeploymentRequest:
    mode: str
    template: dict[str, Any]
    source: Source
    parameters: dict[str, Any]
    location: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    template_link: dict[str, Any] | None = None  # as echoed: {uri, contentVersion}
    parameters_link: dict[str, Any] | None = None
    inner_scope: bool = True
    echo: dict[str, Any] = field(default_factory=dict)  # other properties echoed back (debugSetting …)


def _json_text(value: Any, what: str) -> tuple[Any, str | None]:
    if isinstance(value, str):
        try:
            return jsonc.loads(value), value
        except jsonc.JsoncError as e:
            if what == "template":
                raise errors.parse_failed(e) from None
            raise _invalid_content(f"The {what} is not valid JSON: {e}") from None
    return value, None


def parse(settings: Settings, body: Any, *, parent_uri: str | None = None, nested: bool = False) -> DeploymentRequest:
    if not isinstance(body, dict):
        raise _invalid_content("A JSON object is required")
    props = body.get("properties")
    if not isinstance(props, dict):
        raise _invalid_content("Required property 'properties' not found in JSON")
    mode_raw = props.get("mode")
    if not isinstance(mode_raw, str):
        raise _invalid_content("Required property 'mode' not found in JSON")
    mode = MODES.get(mode_raw.lower())
    if mode is None:
        raise _invalid_content(f"Error converting value \"{mode_raw}\" to type 'DeploymentMode'. Path "
                               "'properties.mode'")
    has_template, has_link = props.get("template") is not None, props.get("templateLink") is not None
    if has_template and has_link:
        raise bad_request("InvalidDeployment", "The deployment has both 'template' and 'templateLink'; give one.")
    if not has_template and not has_link:
        raise bad_request("InvalidDeployment", "The deployment must have a 'template' or a 'templateLink'.")
    template_link = None
    text: str | None  # the template's text when it arrived as text (None: Source serializes it when needed)
    if has_link:
        link = props["templateLink"]
        if not isinstance(link, dict):
            raise _invalid_content("'templateLink' must be an object")
        uri = links.resolve_uri(link, parent_uri)
        template, text = links.fetch(settings, uri)
        template_link = {"uri": uri, **({"contentVersion": link["contentVersion"]} if link.get("contentVersion")
                                        else {})}
        if link.get("contentVersion") and isinstance(template, dict) and \
                template.get("contentVersion") != link["contentVersion"]:
            raise errors.invalid(f"The content version '{template.get('contentVersion')}' of the linked template "
                                 f"does not match the expected content version '{link['contentVersion']}'")
    else:
        template, text = _json_text(props["template"], "template")
    if not isinstance(template, dict):
        raise errors.invalid("The template must be a JSON object")
    has_params, has_params_link = props.get("parameters") is not None, props.get("parametersLink") is not None
    if has_params and has_params_link:
        raise bad_request("InvalidDeployment", "The deployment has both 'parameters' and 'parametersLink'; give one.")
    parameters_link = None
    if has_params_link:
        plink = props["parametersLink"]
        uri = links.resolve_uri(plink if isinstance(plink, dict) else {}, parent_uri)
        parameters, _ = links.fetch(settings, uri)
        if isinstance(parameters, dict) and isinstance(parameters.get("parameters"), dict) and \
                ("$schema" in parameters or "contentVersion" in parameters):
            parameters = parameters["parameters"]  # a parameters file: its values sit under 'parameters'
        parameters_link = {"uri": uri}
    else:
        parameters, _ = _json_text(props.get("parameters") or {}, "parameters")
    if not isinstance(parameters, dict):
        raise _invalid_content("'parameters' must be an object")
    scope = ((props.get("expressionEvaluationOptions") or {}).get("scope") or "").lower()
    location = body.get("location")
    tags = body.get("tags") or {}
    echo = {k: props[k] for k in ("debugSetting", "onErrorDeployment", "validationLevel") if props.get(k)}
    return DeploymentRequest(
        mode=mode, template=template, source=Source(template, text, "" if has_link else "properties.template."),
        parameters=parameters,
        location=location if isinstance(location, str) else None, tags=tags if isinstance(tags, dict) else {},
        template_link=template_link, parameters_link=parameters_link,
        inner_scope=(scope == "inner") if nested and not has_link else True, echo=echo)
