"""Applications and service principals written through Microsoft Graph: create, change, delete, secrets.

Graph's rules, in one place: an application is registered alone (its service principal is a second object,
created from its appId); deleting an application deletes its service principal in its own tenant and its
credentials; a managed identity's service principal belongs to its Azure resource and is never changed or
deleted through Graph. Secrets are made by Graph (`addPassword`) and shown once; only their hash is kept.
Every row goes through `domain.directory`'s constructors, as the managed identities' and bootstrap's do.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from sqlalchemy import delete, func, select

from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import (
    Application,
    ApplicationFederatedCredential,
    Bootstrap,
    Credential,
    ServicePrincipal,
    Tenant,
)
from arm_sim.domain import directory, events, graph, graph_permissions, principal_deletion
from arm_sim.domain.context import Caller, Ctx

Doc = dict[str, Any]

SIGN_IN_AUDIENCES = ("AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount",
                     "PersonalMicrosoftAccount")
GRAPH_DEFAULT_AUDIENCE = "AzureADandPersonalMicrosoftAccount"  # what POST /applications gives without one
SECRET_LIFETIME = 2 * 365 * 86400.0  # Graph's default for addPassword without an endDateTime

# Writable properties and their JSON kinds: "str" (or null), "bool" (or null), "strs" (array of strings),
# "obj" (complex: merged over the current value), "objs" (array of objects).
APP_PROPS = {
    "displayName": "str", "description": "str", "notes": "str", "identifierUris": "strs", "signInAudience": "str",
    "tags": "strs", "serviceManagementReference": "str", "groupMembershipClaims": "str",
    "isFallbackPublicClient": "bool", "isDeviceOnlyAuthSupported": "bool", "tokenEncryptionKeyId": "str",
    "web": "obj", "api": "obj", "spa": "obj", "publicClient": "obj", "info": "obj", "optionalClaims": "obj",
    "parentalControlSettings": "obj", "appRoles": "objs", "requiredResourceAccess": "objs", "addIns": "objs",
    "keyCredentials": "objs", "passwordCredentials": "objs",
}
SP_PROPS = {
    "appId": "str", "accountEnabled": "bool", "displayName": "str", "description": "str", "notes": "str",
    "tags": "strs", "appRoleAssignmentRequired": "bool", "homepage": "str", "loginUrl": "str", "logoutUrl": "str",
    "notificationEmailAddresses": "strs", "replyUrls": "strs", "preferredSingleSignOnMode": "str",
    "appDescription": "str", "info": "obj",
}
# Read-only properties a client may send back unchanged (az PATCHes what it read); they are ignored.
READ_ONLY = {"@odata.type", "@odata.context", "id", "deletedDateTime", "createdDateTime", "publisherDomain",
             "applicationTemplateId", "disabledByMicrosoftStatus", "verifiedPublisher", "certification",
             "defaultRedirectUri", "appOwnerOrganizationId", "servicePrincipalType", "alternativeNames",
             "appDisplayName", "servicePrincipalNames", "resourceSpecificApplicationPermissions",
             "samlSingleSignOnSettings"}


def _invalid(prop: str, entity: str) -> DomainError:
    return bad_request("Request_BadRequest", f"Invalid value specified for property '{prop}' of resource "
                                             f"'{entity}'.")


def _kind_ok(kind: str, value: Any) -> bool:
    if kind == "str":
        return value is None or isinstance(value, str)
    if kind == "bool":
        return value is None or isinstance(value, bool)
    if kind == "strs":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "obj":
        return value is None or isinstance(value, dict)
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)


def parse_body(body: Any, props: dict[str, str], entity: str) -> Doc:
    """The body's writable properties under Graph's spelling (names are case-insensitive), each of its kind."""
    if not isinstance(body, dict):
        raise bad_request("Request_BadRequest", "A request body with a JSON object is required.")
    names = {k.casefold(): k for k in props}
    ignored = {k.casefold() for k in READ_ONLY}
    out: Doc = {}
    for key, value in body.items():
        name = names.get(key.casefold())
        if name is None:
            if key.casefold() in ignored or key.startswith("@"):
                continue
            raise bad_request("Request_BadRequest",
                              f"Property '{key}' does not exist as a declared property or extension property.")
        if not _kind_ok(props[name], value):
            raise _invalid(name, entity)
        out[name] = value
    return out


def _merged(current: Doc, changes: Doc, props: dict[str, str]) -> Doc:
    """Complex values merge over what the object shows now (Graph keeps the members a PATCH leaves out)."""
    out: Doc = {}
    for name, value in changes.items():
        if props.get(name) == "obj" and isinstance(value, dict) and isinstance(current.get(name), dict):
            out[name] = {**current[name], **value}
        else:
            out[name] = value
    return out


def _tenant(ctx: Ctx, tenant_id: str) -> Tenant:
    t = ctx.session.get(Tenant, tenant_id)
    if t is None:  # a verified token always names a tenant arm-sim has
        raise bad_request("Request_BadRequest", f"Tenant '{tenant_id}' not found.")
    return t


def _display_name(value: Any, entity: str, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 256:
        raise _invalid("displayName", entity)
    return value


def _check_identifier_uris(ctx: Ctx, tenant: Tenant, uris: list[str], app: Application | None) -> None:
    for uri in uris:
        try:
            parts = urlsplit(uri)
        except ValueError:  # no URL at all (`https://[::1`: an unclosed IPv6 bracket)
            raise _invalid("identifierUris", "Application") from None
        if not parts.scheme or (parts.scheme in ("http", "https", "api") and not parts.netloc):
            raise _invalid("identifierUris", "Application")
        host = (parts.hostname or "").lower()
        domain = tenant.default_domain.lower()
        if parts.scheme in ("http", "https") and host != domain and not host.endswith("." + domain):
            raise bad_request("Request_BadRequest", "Values of identifierUris property must use a verified domain "
                                                    f"of the organization or its subdomain: '{uri}'")
    if len({u.casefold() for u in uris}) != len(uris):
        raise _invalid("identifierUris", "Application")
    wanted = {u.casefold() for u in uris}
    for other in ctx.session.scalars(select(Application).where(Application.tenant_id == tenant.id)):
        if app is not None and other.object_id == app.object_id:
            continue
        if wanted & {u.casefold() for u in (other.properties or {}).get("identifierUris") or []}:
            raise bad_request("Request_BadRequest",
                              "Another object with the same value for property identifierUris already exists.")


def _date(value: Any, prop: str, entity: str) -> float:
    if not isinstance(value, str):
        raise _invalid(prop, entity)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as e:
        raise _invalid(prop, entity) from e
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


# --- applications ---------------------------------------------------------------------------------------


def application(ctx: Ctx, tenant_id: str, *, object_id: str | None = None, app_id: str | None = None) -> Application:
    """An application of the caller's tenant by object id or appId; else Graph's 404 (400 for a malformed id)."""
    if object_id is not None:
        try:
            key = str(uuid.UUID(object_id))
        except ValueError as e:
            raise bad_request("Request_BadRequest", f"Invalid object identifier '{object_id}'.") from e
        row = ctx.session.get(Application, key)
    else:
        row = ctx.session.scalars(select(Application).where(
            Application.tenant_id == tenant_id, func.lower(Application.app_id) == (app_id or "").lower())).first()
    if row is None or row.tenant_id != tenant_id:
        raise graph.not_found(object_id if object_id is not None else app_id or "")
    return row


def _key_credentials(ctx: Ctx, app: Application, items: list[Doc]) -> None:
    """Set the application's certificates to `items`: new ones carry their `key` (base64 DER), kept ones their
    keyId; certificates left out are removed (Graph replaces the whole collection)."""
    held = {c.key_id: c for c in directory.credentials(ctx, app.app_id, "certificate")}
    kept: set[str] = set()
    added: list[tuple[str | None, bytes]] = []
    for item in items:
        key, key_id = item.get("key"), item.get("keyId")
        if key is None and isinstance(key_id, str) and key_id.lower() in held:
            kept.add(key_id.lower())
            continue
        if not isinstance(key, str) or item.get("type", "AsymmetricX509Cert") != "AsymmetricX509Cert":
            raise _invalid("keyCredentials", "Application")
        try:
            der = base64.b64decode(key, validate=True)
            x509.load_der_x509_certificate(der)
        except (binascii.Error, ValueError) as e:
            raise bad_request("Request_BadRequest", "Key credential is not a valid X.509 certificate.") from e
        added.append((key_id if isinstance(key_id, str) else None, der))
    for key_id, cred in held.items():
        if key_id not in kept:
            ctx.session.delete(cred)
            events.record(ctx, "credential.removed", app.app_id, kind="certificate", keyId=key_id)
    for key_id, der in added:
        chosen = None
        if key_id:
            try:
                chosen = str(uuid.UUID(key_id))
            except ValueError as e:
                raise _invalid("keyCredentials", "Application") from e
            if ctx.session.get(Credential, chosen) is not None:  # another app's (or identity's) key id
                raise bad_request("Request_BadRequest", f"The key credential's keyId '{chosen}' is already in use.")
        cred = directory.add_certificate(ctx, app.app_id, der)
        if chosen:
            cred.key_id = chosen


def _app_changes(ctx: Ctx, tenant: Tenant, body: Any, app: Application | None) -> tuple[Doc, list[Doc] | None]:
    changes = parse_body(body, APP_PROPS, "Application")
    if changes.pop("passwordCredentials", []):
        raise bad_request("Request_BadRequest", "Property 'passwordCredentials' is read-only and cannot be set: "
                                                "use addPassword and removePassword.")
    keys = changes.pop("keyCredentials", None)
    audience = changes.get("signInAudience")
    if "signInAudience" in changes and audience not in SIGN_IN_AUDIENCES:
        raise _invalid("signInAudience", "Application")
    if "identifierUris" in changes:
        _check_identifier_uris(ctx, tenant, changes["identifierUris"], app)
    for name in ("tags", "identifierUris"):
        if name in changes and changes[name] is None:
            raise _invalid(name, "Application")
    return changes, keys


def create_application(ctx: Ctx, tenant_id: str, body: Any) -> Application:
    tenant = _tenant(ctx, tenant_id)
    changes, keys = _app_changes(ctx, tenant, body, None)
    name = _display_name(changes.pop("displayName", None), "Application", required=True)
    assert name is not None
    changes.setdefault("signInAudience", GRAPH_DEFAULT_AUDIENCE)
    blank = graph.application_json(Application(created_at=0.0), [], None)
    if changes["signInAudience"] in ("AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount"):
        # personal accounts need v2 access tokens: Graph sets the version for such an app
        changes["api"] = {**blank["api"], "requestedAccessTokenVersion": 2, **(changes.get("api") or {})}
    app = directory.new_application(ctx, tenant.id, name, properties=_merged(blank, changes, APP_PROPS))
    ctx.session.flush()
    if keys:
        _key_credentials(ctx, app, keys)
    return app


def update_application(ctx: Ctx, app: Application, body: Any) -> None:
    tenant = _tenant(ctx, app.tenant_id)
    changes, keys = _app_changes(ctx, tenant, body, app)
    if "displayName" in changes:
        name = _display_name(changes.pop("displayName"), "Application", required=True)
        assert name is not None
        app.display_name = name
    app.properties = {**(app.properties or {}), **_merged(graph.application_json(app, [], None), changes, APP_PROPS)}
    if keys is not None:
        _key_credentials(ctx, app, keys)
    if "identifierUris" in changes:  # the service principal's names follow its application's identifier URIs
        for sp in _principals_of(ctx, app):
            sp.service_principal_names = [app.app_id, *changes["identifierUris"]]
    events.record(ctx, "application.updated", app.object_id, appId=app.app_id, properties=sorted(changes))


def _principals_of(ctx: Ctx, app: Application) -> list[ServicePrincipal]:
    return list(ctx.session.scalars(select(ServicePrincipal).where(ServicePrincipal.application_object_id ==
                                                                   app.object_id)))


def delete_application(ctx: Ctx, app: Application) -> None:
    """The application, its credentials (federated ones too) and its service principal (Entra deletes the home
    tenant's principal with its application); role assignments that name the principal stay behind as orphans."""
    for sp in _principals_of(ctx, app):
        principal_deletion.delete(ctx, sp, "application deleted")
    ctx.session.execute(delete(Credential).where(Credential.app_id == app.app_id))
    ctx.session.execute(delete(ApplicationFederatedCredential).where(
        ApplicationFederatedCredential.application_object_id == app.object_id))
    events.record(ctx, "application.deleted", app.object_id, appId=app.app_id, displayName=app.display_name)
    ctx.session.delete(app)
    ctx.session.flush()


def _password_json(cred: Credential, secret: str | None) -> Doc:
    return {"customKeyIdentifier": None, "displayName": cred.display_name, "endDateTime": graph.iso(cred.end_at),
            "hint": cred.hint, "keyId": cred.key_id, "secretText": secret, "startDateTime": graph.iso(cred.start_at)}


def add_password(ctx: Ctx, app: Application, body: Any) -> Doc:
    """A new secret made by Graph: the answer is the only place its text is ever shown."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise bad_request("Request_BadRequest", "A request body with a JSON object is required.")
    spec = next((v for k, v in body.items() if k.casefold() == "passwordcredential"), None) or {}
    if not isinstance(spec, dict):
        raise _invalid("passwordCredential", "PasswordCredential")
    fields = {k.casefold(): v for k, v in spec.items()}
    name = fields.get("displayname")
    if name is not None and (not isinstance(name, str) or len(name) > 256):
        raise _invalid("displayName", "PasswordCredential")
    start = _date(fields["startdatetime"], "startDateTime", "PasswordCredential") \
        if fields.get("startdatetime") is not None else ctx.now
    end = _date(fields["enddatetime"], "endDateTime", "PasswordCredential") \
        if fields.get("enddatetime") is not None else start + SECRET_LIFETIME
    if end <= start:
        raise _invalid("endDateTime", "PasswordCredential")
    secret = directory.new_client_secret()
    cred = directory.new_password(ctx, app.app_id, secret, name, start, end)
    return _password_json(cred, secret)


def remove_password(ctx: Ctx, app: Application, body: Any) -> None:
    key = next((v for k, v in body.items() if k.casefold() == "keyid"), None) if isinstance(body, dict) else None
    try:
        key_id = str(uuid.UUID(key)) if isinstance(key, str) else None
    except ValueError:
        key_id = None
    if key_id is None:
        raise _invalid("keyId", "PasswordCredential")
    cred = ctx.session.get(Credential, key_id)
    if cred is None or cred.app_id != app.app_id or cred.kind != "password":
        raise DomainError(404, "Request_ResourceNotFound", f"No password credential found with keyId '{key_id}'.")
    ctx.session.delete(cred)
    events.record(ctx, "credential.removed", app.app_id, kind="password", keyId=key_id)


def guard_administrator(ctx: Ctx, app_id: str, caller: Caller, method: str) -> None:
    """The simulator's bootstrap application is its administrator (its token opens /_sim: IMDS keys, reset): no
    other app may change it or add credentials to it, whatever Graph permission it holds, and no one deletes it
    (not even itself: the simulator would be left without an administrator; `arm-sim reset` starts over)."""
    boot = ctx.session.get(Bootstrap, 1)
    if boot is None or app_id.lower() != boot.client_id.lower():
        return
    if method == "DELETE" or caller.client_id.lower() != app_id.lower():
        raise DomainError(403, "Authorization_RequestDenied", graph_permissions.INSUFFICIENT_PRIVILEGES)


# --- service principals ---------------------------------------------------------------------------------


def _writable_principal(sp: ServicePrincipal) -> None:
    if sp.service_principal_type == "ManagedIdentity":
        # a managed identity's principal is the Azure resource's: deleting or disabling the identity removes it
        raise bad_request("Request_BadRequest", "Managed identity service principals cannot be changed or deleted "
                                                "through Microsoft Graph: delete the managed identity (or turn off "
                                                "the resource's system-assigned identity) instead.")
    if graph_permissions.is_graph(sp):
        raise DomainError(403, "Authorization_RequestDenied", graph_permissions.INSUFFICIENT_PRIVILEGES)


def _sp_changes(body: Any) -> Doc:
    changes = parse_body(body, SP_PROPS, "ServicePrincipal")
    if changes.get("accountEnabled") is False:
        raise bad_request("BadRequest", "arm-sim does not simulate disabled service principals "
                                        "(accountEnabled: false).")
    changes.pop("accountEnabled", None)
    for name in ("tags", "notificationEmailAddresses", "replyUrls"):
        if name in changes and changes[name] is None:
            raise _invalid(name, "ServicePrincipal")
    return changes


def create_service_principal(ctx: Ctx, tenant_id: str, body: Any) -> ServicePrincipal:
    """The service principal of an application of this tenant (`appId`), once."""
    changes = _sp_changes(body)
    app_id = changes.pop("appId", None)
    if app_id is None:
        raise bad_request("Request_BadRequest", "Required property 'appId' of resource 'ServicePrincipal' is "
                                                "missing.")
    try:
        uuid.UUID(app_id)
    except ValueError as e:
        raise _invalid("appId", "ServicePrincipal") from e
    if ctx.session.scalars(select(ServicePrincipal.object_id).where(
            ServicePrincipal.tenant_id == tenant_id, func.lower(ServicePrincipal.app_id) == app_id.lower())).first():
        raise DomainError(409, "Request_MultipleObjectsWithSameKeyValue",
                          "Another object with the same value for property servicePrincipalNames already exists.")
    app = ctx.session.scalars(select(Application).where(
        Application.tenant_id == tenant_id, func.lower(Application.app_id) == app_id.lower())).first()
    if app is None:
        raise bad_request("Request_BadRequest",
                          f"The appId '{app_id}' of the service principal does not reference a valid application "
                          "object.")
    name = _display_name(changes.pop("displayName", None), "ServicePrincipal", required=False)
    sp = directory.new_service_principal(ctx, app)
    if name is not None:
        sp.display_name = name
    sp.properties = _merged(graph.service_principal_json(sp, []), changes, SP_PROPS) or None
    ctx.session.flush()
    return sp


def update_service_principal(ctx: Ctx, sp: ServicePrincipal, body: Any) -> None:
    _writable_principal(sp)
    changes = _sp_changes(body)
    if "appId" in changes and str(changes.pop("appId")).lower() != sp.app_id.lower():
        raise _invalid("appId", "ServicePrincipal")
    if "displayName" in changes:
        name = _display_name(changes.pop("displayName"), "ServicePrincipal", required=True)
        assert name is not None
        sp.display_name = name
    sp.properties = {**(sp.properties or {}), **_merged(graph.service_principal_json(sp, []), changes, SP_PROPS)}
    events.record(ctx, "servicePrincipal.updated", sp.object_id, principalId=sp.object_id, appId=sp.app_id,
                  properties=sorted(changes))


def delete_service_principal(ctx: Ctx, sp: ServicePrincipal) -> None:
    """The principal alone: its application and the application's credentials stay (a new principal can be made
    from the appId again); its grants stay behind as orphans."""
    _writable_principal(sp)
    principal_deletion.delete(ctx, sp, "deleted through Microsoft Graph")
    ctx.session.flush()
