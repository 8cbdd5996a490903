"""Azure Container Apps (`Microsoft.App`): managed environments (their default domain and static IP) and
container apps (ingress FQDN, revisions, outbound addresses, secrets that GET never shows).

An app's host names live under its environment's default domain, `{word}-{8 hex}.{location}.azurecontainerapps.io`,
picked at random once per environment as Azure does.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from arm_sim.core import ids
from arm_sim.db.models import Resource
from arm_sim.domain.context import Ctx
from arm_sim.providers.base import ActionResult, Doc
from arm_sim.providers.computed import member, props, public_ip, short_hash, sim_state

ENVIRONMENT = "microsoft.app/managedenvironments"
APP = "microsoft.app/containerapps"
_WORDS = ("happy", "gentle", "witty", "brave", "calm", "jolly", "proud", "lively", "kind", "bright")
_NOUNS = ("river", "hill", "ocean", "meadow", "forest", "stone", "island", "bay", "field", "sky")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _verification_id(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest().upper()


def environment_on_put(after: Doc) -> None:
    p, state, location = props(after), sim_state(after), after.get("location", "")
    if "defaultDomain" not in state:
        word = secrets.choice(_WORDS) + secrets.choice(_NOUNS)
        state["defaultDomain"] = f"{word}-{secrets.token_hex(4)}.{location}.azurecontainerapps.io"
        state["seed"] = secrets.token_hex(8)
    vnet = member(p, "vnetConfiguration")
    internal = bool(vnet.get("internal"))
    p.update(defaultDomain=state["defaultDomain"],
             staticIp=f"10.0.0.{4 + int(state['seed'][:2], 16) % 200}" if internal else public_ip(state["seed"]))
    p["customDomainConfiguration"] = dict(p.get("customDomainConfiguration") or {},
                                          customDomainVerificationId=_verification_id(state["seed"]))
    p["eventStreamEndpoint"] = (f"https://{location}.azurecontainerapps.dev/subscriptions/"
                                f"{ids.parse(after['id']).subscription}/resourceGroups/"
                                f"{ids.parse(after['id']).resource_group}/managedEnvironments/{after['name']}/"
                                "eventstream")
    p.setdefault("zoneRedundant", False)


def _environment(ctx: Ctx, env_id: Any) -> tuple[str, str]:
    """(default domain, seed) of the app's environment; a stable stand-in when it is not a simulated one."""
    row = ctx.session.get(Resource, ids.key(env_id)) if isinstance(env_id, str) and env_id else None
    state = ((row.extra or {}).get("_sim") or {}) if row is not None else {}
    if state.get("defaultDomain"):
        return str(state["defaultDomain"]), str(state.get("seed", ""))
    seed = short_hash(str(env_id).lower())
    location = row.location if row is not None and row.location else "eastus"
    return f"{_WORDS[int(seed[0], 16) % 10]}{_NOUNS[int(seed[1], 16) % 10]}-{seed}.{location}.azurecontainerapps.io", \
        seed


def _strip_secrets(doc: Doc, state: dict[str, Any]) -> None:
    """Secret values are write-only (GET shows names only); keep them for listSecrets."""
    config = props(doc).get("configuration")
    kept: dict[str, Any] = dict(state.get("secrets") or {})
    given = [s for s in (config or {}).get("secrets") or [] if isinstance(s, dict) and s.get("name")] \
        if isinstance(config, dict) else []
    if isinstance(config, dict) and "secrets" in config:
        kept = {s["name"]: kept[s["name"]] for s in given if s["name"] in kept}
    for s in given:
        if "value" in s:
            kept[s["name"]] = s.pop("value")
    state["secrets"] = kept


def app_validate(doc: Doc) -> None:
    _strip_secrets(doc, sim_state(doc))


def app_on_put(ctx: Ctx, before: Doc | None, after: Doc) -> None:
    p, state, name = props(after), sim_state(after), after["name"]
    path = ids.parse(after["id"])
    env_id = p.get("managedEnvironmentId") or p.get("environmentId")
    domain, seed = _environment(ctx, env_id)
    template = member(p, "template")
    fingerprint = json.dumps(template, sort_keys=True)
    if state.get("template") != fingerprint or "revisionSuffix" not in state:  # a revision-scope change
        state["revisionSuffix"] = template.get("revisionSuffix") or "".join(
            secrets.choice(_ALPHABET) for _ in range(7))
        state["template"] = fingerprint
    revision = f"{name}--{state['revisionSuffix']}"
    p.update(latestRevisionName=revision, latestReadyRevisionName=revision, runningStatus="Running",
             outboundIpAddresses=[public_ip(f"{seed}|outbound|{i}") for i in range(3)],
             customDomainVerificationId=_verification_id(seed or domain),
             eventStreamEndpoint=(f"https://{after.get('location', '')}.azurecontainerapps.dev/subscriptions/"
                                  f"{path.subscription}/resourceGroups/{path.resource_group}/containerApps/{name}/"
                                  "eventstream"))
    if env_id:
        p.setdefault("managedEnvironmentId", env_id)
        p.setdefault("environmentId", env_id)
    p.pop("latestRevisionFqdn", None)
    ingress = (p.get("configuration") or {}).get("ingress") if isinstance(p.get("configuration"), dict) else None
    if isinstance(ingress, dict):
        internal = "" if ingress.get("external") else ".internal"
        ingress["fqdn"] = f"{name}{internal}.{domain}"
        p["latestRevisionFqdn"] = f"{revision}{internal}.{domain}"


def app_action(doc: Doc, action: str) -> ActionResult | None:
    if action.lower() != "listsecrets":
        return None
    values = sim_state(doc).get("secrets") or {}
    listed = []
    for s in ((props(doc).get("configuration") or {}).get("secrets") or []):
        if isinstance(s, dict) and s.get("name"):
            entry = {k: v for k, v in s.items() if k in ("name", "keyVaultUrl", "identity")}
            if s["name"] in values:
                entry["value"] = values[s["name"]]
            listed.append(entry)
    return ActionResult(200, {"value": listed})
