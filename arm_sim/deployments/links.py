"""`templateLink` / `parametersLink`: arm-sim never downloads. A JSON file named by ARM_SIM_TEMPLATE_LINKS maps
each URI to a local file (relative paths are taken from the map file's folder); an unmapped URI is a clear error.

    {"https://example.com/nested.json": "templates/nested.json"}

A link's query string (a SAS token) is ignored when matching; `relativePath` is resolved against the parent
deployment's link and keeps its query string, as ARM does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from arm_sim.core import jsonc
from arm_sim.core.errors import DomainError
from arm_sim.core.settings import Settings

ENV = "ARM_SIM_TEMPLATE_LINKS"


def links_file(settings: Settings) -> str | None:
    """Where the URI map lives. Read here until Settings has a field of its own for it."""
    return settings.extra.get("template_links") or os.environ.get(ENV) or None


def _bare(uri: str) -> str:
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))


def _content_link_error(uri: str, why: str) -> DomainError:
    return DomainError(400, "InvalidContentLink", f"Unable to download deployment content from '{uri}'. {why}")


def resolve_uri(link: dict[str, Any], parent_uri: str | None) -> str:
    uri = link.get("uri")
    relative = link.get("relativePath")
    if isinstance(relative, str) and relative and not uri:
        if not parent_uri:
            raise DomainError(400, "InvalidTemplateLink", "A 'relativePath' template link needs a parent deployment "
                              "that was itself deployed from a templateLink URI.")
        parent = urlsplit(parent_uri)
        joined = urljoin(urlunsplit((parent.scheme, parent.netloc, parent.path, "", "")), relative)
        return f"{joined}?{parent.query}" if parent.query and "?" not in relative else joined  # the parent's SAS
    if not isinstance(uri, str) or not uri:
        if link.get("id"):
            raise DomainError(501, "NotImplementedInSimulator", "arm-sim does not implement template specs "
                              "(templateLink.id) yet.")
        raise DomainError(400, "InvalidTemplateLink", "The template link must have a 'uri'.")
    return uri


def fetch(settings: Settings, uri: str) -> tuple[Any, str]:
    """(parsed JSON, text) of the local file mapped to `uri`."""
    where = links_file(settings)
    if not where:
        raise _content_link_error(uri, f"arm-sim does not download templates: map the URI to a local file in the "
                                  f"JSON file named by {ENV}.")
    map_path = Path(where)
    try:
        mapping = json.loads(map_path.read_text())
    except (OSError, ValueError) as e:
        raise _content_link_error(uri, f"The {ENV} map '{where}' could not be read: {e}.") from None
    if not isinstance(mapping, dict):
        raise _content_link_error(uri, f"The {ENV} map '{where}' must be a JSON object of URI -> file.")
    wanted = _bare(uri)
    local = next((v for k, v in mapping.items() if isinstance(k, str) and _bare(k) == wanted), None)
    if not isinstance(local, str):
        raise _content_link_error(uri, f"The URI is not in the {ENV} map '{where}'.")
    path = Path(local) if Path(local).is_absolute() else map_path.parent / local
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise _content_link_error(uri, f"The mapped file '{path}' could not be read: {e}.") from None
    try:
        return jsonc.loads(text), text
    except jsonc.JsoncError as e:
        raise DomainError(400, "InvalidContentLink", f"The content of '{uri}' ({path}) is not valid JSON: {e}") \
            from None
