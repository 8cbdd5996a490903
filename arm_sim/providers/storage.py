"""Microsoft.Storage: storage accounts with their endpoints, access keys and SAS tokens.

Account names are global DNS labels (`{name}.blob.core.windows.net`), so they are unique across the whole
simulator. The two access keys are random, kept in the account's simulator state (never rendered) and live as
long as the account: deleting and re-creating it gives new keys, as in Azure. SAS tokens are signed for real
(HMAC-SHA256 with the account key, the 2015-04-05 string-to-sign the Storage RP uses).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import Resource
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.providers.base import ActionResult, Doc, Effect, PutResource
from arm_sim.providers.computed import TypedProvider, account_key, kind_of, member, props, require_object, sim_state

ACCOUNT = "microsoft.storage/storageaccounts"
SUFFIX = "core.windows.net"
SERVICES_API = "2023-01-01"  # the api-version the account's default service resources are written with
SAS_VERSION = "2015-04-05"  # what the Storage RP's listAccountSas/listServiceSas sign with
_NAME = re.compile(r"^[a-z0-9]{3,24}$")
# endpoint services per account kind (StorageV2 when no kind is given)
_SERVICES = {
    "storage": ("blob", "queue", "table", "file"),
    "blobstorage": ("blob", "dfs"),
    "blockblobstorage": ("blob", "dfs", "web"),
    "filestorage": ("file",),
}
_ALL_SERVICES = ("blob", "queue", "table", "file", "dfs", "web")
# Azure region pairs, for geo-redundant SKUs' secondary location
_PAIRS = {"eastus": "westus", "westus": "eastus", "eastus2": "centralus", "centralus": "eastus2",
          "westus2": "westcentralus", "westcentralus": "westus2", "westus3": "eastus",
          "northcentralus": "southcentralus", "southcentralus": "northcentralus",
          "northeurope": "westeurope", "westeurope": "northeurope", "uksouth": "ukwest", "ukwest": "uksouth",
          "francecentral": "francesouth", "germanywestcentral": "germanynorth", "swedencentral": "swedensouth",
          "japaneast": "japanwest", "japanwest": "japaneast", "australiaeast": "australiasoutheast",
          "australiasoutheast": "australiaeast", "eastasia": "southeastasia", "southeastasia": "eastasia",
          "canadacentral": "canadaeast", "centralindia": "southindia", "southindia": "centralindia",
          "koreacentral": "koreasouth", "brazilsouth": "southcentralus"}
_KEY_NAMES = ("key1", "key2")
_INVALID_NAME = ("{name} is not a valid storage account name. Storage account name must be between 3 and 24 "
                 "characters in length and use numbers and lower-case letters only.")


# the enums of the Storage REST spec (specification/storage/resource-manager, SkuName and Kind)
_SKUS = frozenset(s.lower() for s in (
    "Standard_LRS", "Standard_GRS", "Standard_RAGRS", "Standard_ZRS", "Premium_LRS", "Premium_ZRS", "Standard_GZRS",
    "Standard_RAGZRS", "StandardV2_LRS", "StandardV2_GRS", "StandardV2_ZRS", "StandardV2_GZRS", "PremiumV2_LRS",
    "PremiumV2_ZRS"))
_KINDS = frozenset(k.lower() for k in ("Storage", "StorageV2", "BlobStorage", "FileStorage", "BlockBlobStorage"))


def _named(doc: Doc, field: str) -> str:
    """`kind`, or `sku.name`, as a string ('' when it is not one)."""
    value = doc.get(field)
    value = value.get("name") if field == "sku" and isinstance(value, dict) else value
    return value if isinstance(value, str) else ""


def _invalid_values(what: str) -> DomainError:
    return bad_request("InvalidValuesForRequestParameters", f"Values for request parameters are invalid: {what}.")


def _taken_by(ctx: Ctx, name: str, resource_id: str) -> Resource | None:
    return ctx.session.scalars(select(Resource).where(
        Resource.type_key == ACCOUNT, func.lower(Resource.name) == name.lower(),
        Resource.key != ids.key(resource_id)).limit(1)).first()


def _endpoints(name: str, services: tuple[str, ...], suffix: str = "") -> dict[str, str]:
    # the static-website host carries a zone number (`z13`), as Azure's does
    return {s: f"https://{name}{suffix}.{'z13.web' if s == 'web' else s}.{SUFFIX}/" for s in services}


def _ensure_keys(ctx: Ctx, doc: Doc) -> dict[str, Any]:
    state = sim_state(doc)
    if not state.get("keys"):
        state["keys"] = {k: account_key() for k in _KEY_NAMES}
        state["keyCreationTime"] = {k: iso(ctx.now) for k in _KEY_NAMES}
    state.setdefault("creationTime", iso(ctx.now))
    return state


def _sas_time(value: Any, field: str) -> str:
    """Accepts ISO 8601 (what templates pass, e.g. dateTimeAdd(utcNow(), 'PT1H')); answers `YYYY-MM-DDThh:mm:ssZ`."""
    if not isinstance(value, str) or not value:
        raise _invalid_values(field)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise _invalid_values(field) from e
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sign(key: str, string_to_sign: str) -> str:
    return base64.b64encode(hmac.new(base64.b64decode(key), string_to_sign.encode(), hashlib.sha256).digest()).decode()


def _token(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in pairs if v)


class StorageProvider(TypedProvider):
    namespace = "Microsoft.Storage"
    types = frozenset({ACCOUNT})
    provider_namespaces = frozenset({"microsoft.storage"})
    # A storage account's create answers 200 (done) or 202 (accepted), never 201: the SDKs and the Azure CLI refuse
    # a 201 ("Operation returned an invalid status 'Created'"). The children handled here allow 200 as well.
    created_status = 200

    def validate(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
        if path.resource_type.lower() != ACCOUNT:
            return
        bad = [field for field, allowed in (("kind", _KINDS), ("sku", _SKUS))
               if doc.get(field) is not None and _named(doc, field).lower() not in allowed]
        if bad:
            raise _invalid_values(", ".join(bad))
        sku = doc.get("sku")
        if isinstance(sku, dict) and isinstance(sku.get("name"), str) and "tier" not in sku:
            doc["sku"] = dict(sku, tier="Premium" if sku["name"].lower().startswith("premium") else "Standard")
        if before is not None:
            return
        if not _NAME.match(path.name):
            raise bad_request("AccountNameInvalid", _INVALID_NAME.format(name=path.name), target=path.name)
        other = _taken_by(ctx, path.name, path.id)
        if other is not None:
            if other.subscription_id == (path.subscription or "").lower():
                raise DomainError(409, "StorageAccountInAnotherResourceGroup",
                                  f"The account {path.name} is already in another resource group in this "
                                  "subscription.", target=path.name)
            raise DomainError(409, "StorageAccountAlreadyTaken",
                              f"The storage account named {path.name} is already taken.", target=path.name)

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> list[Effect] | None:
        if kind_of(after) != ACCOUNT:
            return None
        self._account(ctx, after)
        if before is not None:
            return None
        # every account has its services' `default` resources from the start, as in Azure (containers, shares,
        # queues and tables are created under them)
        services = _SERVICES.get(str(after.get("kind") or "StorageV2").lower(), _ALL_SERVICES)
        return [PutResource(f"{after['id']}/{service}Services/default", {"properties": {}}, SERVICES_API)
                for service in ("blob", "file", "queue", "table") if service in services]

    @staticmethod
    def _account(ctx: Ctx, after: Doc) -> None:
        state, p, name = _ensure_keys(ctx, after), props(after), after["name"]
        services = _SERVICES.get(str(after.get("kind") or "StorageV2").lower(), _ALL_SERVICES)
        location = after.get("location") or ""
        p.update(primaryEndpoints=_endpoints(name, services), primaryLocation=location, statusOfPrimary="available",
                 creationTime=state["creationTime"], keyCreationTime=dict(state["keyCreationTime"]))
        sku = member(after, "sku")
        sku_name = str(sku.get("name") or "")
        for stale in ("secondaryEndpoints", "secondaryLocation", "statusOfSecondary"):
            p.pop(stale, None)
        if "GRS" in sku_name.upper() and location in _PAIRS:  # GRS, RAGRS, GZRS, RAGZRS
            p.update(secondaryLocation=_PAIRS[location], statusOfSecondary="available")
            if sku_name.upper().startswith("STANDARD_RA"):
                p["secondaryEndpoints"] = _endpoints(name, tuple(s for s in services if s != "file"), "-secondary")
        p.setdefault("supportsHttpsTrafficOnly", True)
        p.setdefault("encryption", {
            "keySource": "Microsoft.Storage",
            "services": {s: {"enabled": True, "keyType": "Account", "lastEnabledTime": state["creationTime"]}
                         for s in ("blob", "file")}})
        if str(after.get("kind") or "StorageV2").lower() in ("storagev2", "blobstorage"):
            p.setdefault("accessTier", "Hot")
        p.setdefault("networkAcls", {"bypass": "AzureServices", "virtualNetworkRules": [], "ipRules": [],
                                     "defaultAction": "Allow"})

    # --- actions: keys and SAS tokens -------------------------------------------------------------------------
    def action(self, ctx: Ctx, doc: Doc, action: str, body: Any, api_version: str,
               query: dict[str, str] | None = None) -> ActionResult:
        if kind_of(doc) != ACCOUNT:
            return super().action(ctx, doc, action, body, api_version)
        verb = action.lower()
        _ensure_keys(ctx, doc)  # accounts stored before keys were simulated get theirs now
        if verb == "listkeys":
            return ActionResult(200, self._keys(doc))
        if verb == "regeneratekey":
            name = str(require_object(body, "regenerateKey").get("keyName") or "").lower()
            if name not in _KEY_NAMES:
                raise _invalid_values("keyName")
            state = sim_state(doc)
            state["keys"][name] = account_key()
            state["keyCreationTime"][name] = iso(ctx.now)
            props(doc)["keyCreationTime"] = dict(state["keyCreationTime"])
            return ActionResult(200, self._keys(doc))
        if verb == "listaccountsas":
            return ActionResult(200, {"accountSasToken": self._account_sas(doc, require_object(body, action))})
        if verb == "listservicesas":
            return ActionResult(200, {"serviceSasToken": self._service_sas(doc, require_object(body, action))})
        return super().action(ctx, doc, action, body, api_version)

    @staticmethod
    def _keys(doc: Doc) -> dict[str, Any]:
        state = sim_state(doc)
        return {"keys": [{"keyName": k, "value": state["keys"][k], "permissions": "FULL",
                          "creationTime": state["keyCreationTime"][k]} for k in _KEY_NAMES]}

    @staticmethod
    def _signing_key(doc: Doc, body: dict[str, Any]) -> str:
        key_name = str(body.get("keyToSign") or "key1").lower()
        if key_name not in _KEY_NAMES:
            raise _invalid_values("keyToSign")
        return str(sim_state(doc)["keys"][key_name])

    def _account_sas(self, doc: Doc, body: dict[str, Any]) -> str:
        for required in ("signedServices", "signedResourceTypes", "signedPermission", "signedExpiry"):
            if not isinstance(body.get(required), str) or not body[required]:
                raise _invalid_values(required)
        ss, srt, sp = body["signedServices"], body["signedResourceTypes"], body["signedPermission"]
        if set(ss) - set("bqtf") or set(srt) - set("sco") or set(sp) - set("rwdlacupxti"):
            raise _invalid_values("signedServices, signedResourceTypes or signedPermission")
        st = _sas_time(body["signedStart"], "signedStart") if body.get("signedStart") else ""
        se = _sas_time(body["signedExpiry"], "signedExpiry")
        sip, spr = str(body.get("signedIp") or ""), str(body.get("signedProtocol") or "")
        to_sign = "\n".join((doc["name"], sp, ss, srt, st, se, sip, spr, SAS_VERSION)) + "\n"
        sig = _sign(self._signing_key(doc, body), to_sign)
        return _token([("sv", SAS_VERSION), ("ss", ss), ("srt", srt), ("sp", sp), ("st", st), ("se", se),
                       ("sip", sip), ("spr", spr), ("sig", sig)])

    def _service_sas(self, doc: Doc, body: dict[str, Any]) -> str:
        resource = body.get("canonicalizedResource")
        parts = resource.split("/") if isinstance(resource, str) else []
        if not isinstance(resource, str) or len(parts) < 3 or parts[0] != "" \
                or parts[1] not in ("blob", "file", "queue", "table") or parts[2] != doc["name"]:
            raise _invalid_values("canonicalizedResource")
        if not isinstance(body.get("signedExpiry"), str) and not body.get("signedIdentifier"):
            raise _invalid_values("signedExpiry")
        sr = str(body.get("signedResource") or "")
        sp = str(body.get("signedPermission") or "")
        st = _sas_time(body["signedStart"], "signedStart") if body.get("signedStart") else ""
        se = _sas_time(body["signedExpiry"], "signedExpiry") if body.get("signedExpiry") else ""
        si, sip, spr = (str(body.get(k) or "") for k in ("signedIdentifier", "signedIp", "signedProtocol"))
        headers = [str(body.get(k) or "") for k in ("cacheControl", "contentDisposition", "contentEncoding",
                                                    "contentLanguage", "contentType")]
        to_sign = "\n".join((sp, st, se, resource, si, sip, spr, SAS_VERSION, *headers))
        sig = _sign(self._signing_key(doc, body), to_sign)
        return _token([("sv", SAS_VERSION), ("sr", sr), ("si", si), ("sp", sp), ("st", st), ("se", se),
                       ("sip", sip), ("spr", spr), ("rscc", headers[0]), ("rscd", headers[1]),
                       ("rsce", headers[2]), ("rscl", headers[3]), ("rsct", headers[4]), ("sig", sig)])

    # --- /subscriptions/{s}/providers/Microsoft.Storage/checkNameAvailability ------------------------------------
    def provider_call(self, ctx: Ctx, method: str, subscription_id: str, segments: tuple[str, ...], body: Any,
                      api_version: str) -> tuple[int, Any] | None:
        if method != "POST" or [s.lower() for s in segments] != ["checknameavailability"]:
            return None
        request = require_object(body, "checkNameAvailability")
        name = request.get("name")
        if not isinstance(name, str):
            raise _invalid_values("name")
        if not _NAME.match(name):
            return 200, {"nameAvailable": False, "reason": "AccountNameInvalid",
                         "message": _INVALID_NAME.format(name=name)}
        if _taken_by(ctx, name, "") is not None:
            return 200, {"nameAvailable": False, "reason": "AlreadyExists",
                         "message": f"The storage account named {name} is already taken."}
        return 200, {"nameAvailable": True}
