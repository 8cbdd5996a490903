"""Microsoft Graph's view of the directory: servicePrincipal and application JSON, `$select`, paged lists.

Lists are keyset-paged on the object id: `$skiptoken` names the last object of the previous page,
so pages stay stable while principals come and go. Simple `prop eq 'x'` terms are pushed into SQL
as a pre-filter; the parsed `$filter` is then applied to the Graph JSON itself, so what matches is
exactly what Graph's semantics say, whatever SQL did.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select

from arm_sim.core import odata
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import Application, Base, Credential, ServicePrincipal, Tenant, User
from arm_sim.domain import graph_permissions, managed_identities
from arm_sim.domain.context import Ctx

DEFAULT_PAGE = 100
MAX_PAGE = 999
_CHUNK = 200  # rows fetched per SQL round trip while scanning for matches
_TOKEN_PREFIX = "X1"  # lets a skiptoken from an older format be refused rather than misread

Doc = dict[str, Any]
Row = ServicePrincipal | Application | User


def iso(epoch: float) -> str:
    """Graph's DateTimeOffset form: whole seconds, UTC, 'Z'."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key_credential(c: Credential, with_key: bool) -> Doc:
    # Graph shows a certificate's customKeyIdentifier as its SHA-1 thumbprint in upper-case hex.
    return {"customKeyIdentifier": c.thumbprint_sha1, "displayName": c.display_name,
            "endDateTime": iso(c.end_at), "key": base64.b64encode(c.certificate_der).decode()
            if with_key and c.certificate_der else None, "keyId": c.key_id,
            "startDateTime": iso(c.start_at), "type": "AsymmetricX509Cert", "usage": "Verify"}


def _password_credential(c: Credential) -> Doc:
    # Graph never returns a secret after creation: only its first characters, as `hint`.
    return {"customKeyIdentifier": None, "displayName": c.display_name, "endDateTime": iso(c.end_at),
            "hint": c.hint, "keyId": c.key_id, "secretText": None, "startDateTime": iso(c.start_at)}


def _credentials(creds: Sequence[Credential], with_key: bool) -> Doc:
    return {"keyCredentials": [_key_credential(c, with_key) for c in creds if c.kind == "certificate"],
            "passwordCredentials": [_password_credential(c) for c in creds if c.kind == "password"]}


def service_principal_json(sp: ServicePrincipal, creds: Sequence[Credential], with_key: bool = False) -> Doc:
    managed = sp.service_principal_type == "ManagedIdentity"
    first_party = graph_permissions.is_graph(sp)  # Microsoft Graph's own principal: Microsoft's app, with roles
    return {
        "id": sp.object_id, "deletedDateTime": None, "accountEnabled": True,
        "createdDateTime": iso(sp.created_at) if sp.created_at is not None else None,  # (an unsaved row)
        "alternativeNames": list(sp.alternative_names or []), "appDisplayName": sp.display_name,
        "appDescription": None, "appId": sp.app_id, "applicationTemplateId": None,
        "appOwnerOrganizationId": graph_permissions.MICROSOFT_TENANT if first_party else sp.tenant_id,
        "appRoleAssignmentRequired": False, "description": None,
        "disabledByMicrosoftStatus": None, "displayName": sp.display_name, "homepage": None, "loginUrl": None,
        "logoutUrl": None, "notes": None, "notificationEmailAddresses": [], "preferredSingleSignOnMode": None,
        "preferredTokenSigningKeyThumbprint": None, "replyUrls": [],
        "servicePrincipalNames": list(sp.service_principal_names or []),
        "servicePrincipalType": sp.service_principal_type,
        "signInAudience": None if managed else "AzureADMultipleOrgs" if first_party else "AzureADMyOrg",
        "tags": [], "tokenEncryptionKeyId": None, "samlSingleSignOnSettings": None, "addIns": [],
        "appRoles": [r.json() for r in graph_permissions.APP_ROLES.values()] if first_party else [],
        "info": {"logoUrl": None, "marketingUrl": None, "privacyStatementUrl": None, "supportUrl": None,
                 "termsOfServiceUrl": None},
        **_credentials(creds, with_key), "oauth2PermissionScopes": [], "resourceSpecificApplicationPermissions": [],
        "verifiedPublisher": {"displayName": None, "verifiedPublisherId": None, "addedDateTime": None},
    } | overlay(sp.properties)


def overlay(props: dict[str, Any] | None) -> Doc:
    """What a client set through Graph: complex values were merged over their defaults when written."""
    return dict(props or {})


def application_json(app: Application, creds: Sequence[Credential], domain: str | None,
                     with_key: bool = False) -> Doc:
    return {
        "id": app.object_id, "deletedDateTime": None, "appId": app.app_id, "applicationTemplateId": None,
        "disabledByMicrosoftStatus": None, "createdDateTime": iso(app.created_at), "displayName": app.display_name,
        "certification": None, "defaultRedirectUri": None,
        "parentalControlSettings": {"countriesBlockedForMinors": [], "legalAgeGroupRule": "Allow"},
        "description": None, "groupMembershipClaims": None, "identifierUris": [], "isDeviceOnlyAuthSupported": None,
        "isFallbackPublicClient": None, "notes": None, "publisherDomain": domain, "serviceManagementReference": None,
        "signInAudience": "AzureADMyOrg", "tags": [], "tokenEncryptionKeyId": None, "addIns": [],
        "api": {"acceptMappedClaims": None, "knownClientApplications": [], "requestedAccessTokenVersion": None,
                "oauth2PermissionScopes": [], "preAuthorizedApplications": []},
        "appRoles": [], "info": {"logoUrl": None, "marketingUrl": None, "privacyStatementUrl": None,
                                 "supportUrl": None, "termsOfServiceUrl": None},
        **_credentials(creds, with_key), "optionalClaims": None, "publicClient": {"redirectUris": []},
        "requiredResourceAccess": [], "spa": {"redirectUris": []},
        "verifiedPublisher": {"displayName": None, "verifiedPublisherId": None, "addedDateTime": None},
        "web": {"homePageUrl": None, "logoutUrl": None, "redirectUris": [],  # (redirectUriSettings: beta only)
                "implicitGrantSettings": {"enableAccessTokenIssuance": False, "enableIdTokenIssuance": False}},
    } | overlay(app.properties)


def _credentials_by_app(ctx: Ctx, app_ids: Sequence[str]) -> dict[str, list[Credential]]:
    found: dict[str, list[Credential]] = defaultdict(list)
    if app_ids:
        q = select(Credential).where(Credential.app_id.in_(app_ids)).order_by(Credential.start_at, Credential.key_id)
        for c in ctx.session.scalars(q):
            found[c.app_id].append(c)
    return found


def _names(blank: Doc) -> dict[str, str]:
    """Casefolded name -> Graph's spelling; Graph property names are case-insensitive."""
    return {k.casefold(): k for k in blank}


@dataclass(frozen=True)
class EntitySet:
    """One Graph entity set over one table: its JSON shape and which properties map to columns."""

    name: str  # the entity set, e.g. servicePrincipals
    type_name: str  # the entity type, e.g. microsoft.graph.servicePrincipal
    model: type[ServicePrincipal] | type[Application] | type[User]
    columns: dict[str, Any]  # casefolded Graph property -> column, for the SQL pre-filter
    shape: Callable[[Ctx, Sequence[Any], bool], list[Doc]]
    properties: dict[str, str]  # from the shape functions, so the property list has one source
    default_select: tuple[str, ...] | None = None  # what Graph returns without $select (None: every property)

    def project(self, doc: Doc, selected: tuple[str, ...] | None) -> Doc:
        return project(doc, selected or self.default_select)


def _sp_docs(ctx: Ctx, rows: Sequence[ServicePrincipal], with_key: bool) -> list[Doc]:
    # A credential row belongs to the object that owns the app id. When the principal has an application,
    # Graph lists the app's secrets and certificates on the application, and the principal's own lists are
    # empty; a managed identity has no application, so its certificates show on the principal.
    owned = [r.app_id for r in rows if r.application_object_id is None]
    creds = _credentials_by_app(ctx, owned)
    unissued = [r for r in rows if r.service_principal_type == "ManagedIdentity" and not creds.get(r.app_id)]
    if unissued:  # a managed identity's first certificate is made when first needed: here, to be shown
        for r in unissued:
            managed_identities.ensure_certificate(ctx, r)
        creds = _credentials_by_app(ctx, owned)
    return [service_principal_json(r, creds.get(r.app_id, []) if r.application_object_id is None else [], with_key)
            for r in rows]


def _app_docs(ctx: Ctx, rows: Sequence[Application], with_key: bool) -> list[Doc]:
    creds = _credentials_by_app(ctx, [r.app_id for r in rows])
    domains = {t.id: t.default_domain for t in ctx.session.scalars(
        select(Tenant).where(Tenant.id.in_({r.tenant_id for r in rows})))} if rows else {}
    return [application_json(r, creds.get(r.app_id, []), domains.get(r.tenant_id), with_key) for r in rows]


SERVICE_PRINCIPALS = EntitySet(
    "servicePrincipals", "microsoft.graph.servicePrincipal", ServicePrincipal,
    {"id": ServicePrincipal.object_id, "appid": ServicePrincipal.app_id,
     "displayname": ServicePrincipal.display_name, "serviceprincipaltype": ServicePrincipal.service_principal_type},
    _sp_docs, _names(service_principal_json(ServicePrincipal(service_principal_type="Application"), [])),
)
APPLICATIONS = EntitySet(
    "applications", "microsoft.graph.application", Application,
    {"id": Application.object_id, "appid": Application.app_id, "displayname": Application.display_name},
    _app_docs, _names(application_json(Application(created_at=0.0), [], None)),
)


def user_json(user: User) -> Doc:
    return {
        "id": user.object_id, "deletedDateTime": None, "accountEnabled": user.account_enabled,
        "businessPhones": [], "city": None, "companyName": None, "country": None,
        "createdDateTime": iso(user.created_at), "creationType": None, "department": None,
        "displayName": user.display_name, "employeeId": None, "givenName": None, "identities": [],
        "imAddresses": [], "jobTitle": None, "mail": None, "mailNickname": user.mail_nickname, "mobilePhone": None,
        "officeLocation": None, "onPremisesImmutableId": None, "otherMails": [], "passwordPolicies": None,
        "postalCode": None, "preferredLanguage": None, "proxyAddresses": [], "state": None, "streetAddress": None,
        "surname": None, "usageLocation": None, "userPrincipalName": user.user_principal_name, "userType": "Member",
    } | overlay(user.properties)


def _user_docs(ctx: Ctx, rows: Sequence[User], with_key: bool) -> list[Doc]:
    return [user_json(r) for r in rows]


USERS = EntitySet(
    "users", "microsoft.graph.user", User,
    {"id": User.object_id, "userprincipalname": User.user_principal_name, "displayname": User.display_name,
     "mailnickname": User.mail_nickname},
    _user_docs, _names(user_json(User(created_at=0.0, account_enabled=True))),
    # Graph's default properties of a user
    ("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
     "preferredLanguage", "surname", "userPrincipalName", "id"),
)


# --- query options -------------------------------------------------------------------------------


def parse_select(es: EntitySet, text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise bad_request("BadRequest", "Parsing OData Select and Expand failed: An identifier was expected.")
    out: list[str] = []
    for n in names:
        known = es.properties.get(n.casefold())
        if known is None:
            raise bad_request("BadRequest", f"Parsing OData Select and Expand failed: Could not find a property "
                                            f"named '{n}' on type '{es.type_name}'.")
        if known not in out:
            out.append(known)
    return tuple(out)


def _top_level_props(expr: odata.Expr) -> Iterator[str]:
    """Names of the entity's own properties that a filter reads (lambda-variable paths excluded)."""
    if isinstance(expr, odata.And | odata.Or):
        for t in expr.terms:
            yield from _top_level_props(t)
    elif isinstance(expr, odata.Not):
        yield from _top_level_props(expr.operand)
    elif isinstance(expr, odata.Lambda):
        if expr.collection.var is None and expr.collection.path:
            yield expr.collection.path[0]
        yield from _top_level_props(expr.body)
    elif expr.prop.var is None and expr.prop.path:
        yield expr.prop.path[0]


def parse_filter(es: EntitySet, text: str | None) -> odata.Filter | None:
    if text is None:
        return None
    flt = odata.parse_filter(text)
    for name in _top_level_props(flt.root):
        if name.casefold() not in es.properties:
            raise bad_request("Request_UnsupportedQuery",
                              f"Property '{name}' does not exist as a declared property or extension property.")
    return flt


def parse_top(text: str | None) -> int:
    if text is None:
        return DEFAULT_PAGE
    try:
        top = int(text.strip())
    except ValueError as e:
        raise bad_request("BadRequest", f"Invalid $top value '{text}': an integer is expected.") from e
    if not 1 <= top <= MAX_PAGE:
        raise bad_request("Request_UnsupportedQuery",
                          f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_PAGE} inclusive.")
    return top


def skiptoken(after: str) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}:{after}".encode()).decode().rstrip("=")


def parse_skiptoken(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        prefix, _, after = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        prefix, after = "", ""
    if prefix != _TOKEN_PREFIX or not after:
        raise bad_request("Request_BadRequest", "The $skiptoken value is not valid.")
    return after


def project(doc: Doc, selected: tuple[str, ...] | None) -> Doc:
    return doc if selected is None else {k: doc[k] for k in selected}


# --- reads --------------------------------------------------------------------------------------


def _object_id(text: str) -> str:
    """The canonical (lower-case) form arm-sim stores object ids in, so lookups can use the key."""
    try:
        return str(uuid.UUID(text))
    except ValueError as e:
        raise bad_request("Request_BadRequest", f"Invalid object identifier '{text}'.") from e


def not_found(key: str) -> DomainError:
    return DomainError(404, "Request_ResourceNotFound", f"Resource '{key}' does not exist or one of its queried "
                                                        "reference-property objects are not present.")


def get(ctx: Ctx, es: EntitySet, tenant_id: str, *, object_id: str | None = None, app_id: str | None = None,
        selected: tuple[str, ...] | None = None) -> Doc:
    """One object by object id or by the `appId` alternate key, in the caller's tenant; else 404."""
    row: Base | None  # an es.model row: SQLAlchemy's generics widen the union of the models to their base
    if object_id is not None:
        found = ctx.session.get(es.model, _object_id(object_id))
        row = found if isinstance(found, Row) and found.tenant_id == tenant_id else None
    else:  # app ids may have been pinned in any case (ARM_SIM_CLIENT_ID), so compare case-insensitively
        row = ctx.session.scalars(select(es.model).where(
            es.model.tenant_id == tenant_id, func.lower(es.columns["appid"]) == (app_id or "").lower())).first()
    if row is None:
        raise not_found(object_id if object_id is not None else app_id or "")
    # Graph returns a certificate's public key only when keyCredentials is $select-ed on one object.
    with_key = selected is not None and "keyCredentials" in selected
    return es.project(es.shape(ctx, [row], with_key)[0], selected)


@dataclass
class Page:
    value: list[Doc]
    next_after: str | None  # the object id to continue after, when more objects match


def _prefilter(es: EntitySet, flt: odata.Filter | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for name, value in (flt.equalities() if flt else {}).items():
        column = es.columns.get(name.casefold())
        # SQL lower() folds ASCII only: pushing a non-ASCII value could drop rows casefold() matches.
        if column is not None and value.isascii():
            conditions.append(func.lower(column) == value.lower())
    return conditions


def list_page(ctx: Ctx, es: EntitySet, tenant_id: str, flt: odata.Filter | None, top: int,
              after: str | None, selected: tuple[str, ...] | None = None) -> Page:
    key = es.columns["id"]
    base: Select[Any] = select(es.model).where(es.model.tenant_id == tenant_id, *_prefilter(es, flt)).order_by(key)
    found: list[Doc] = []
    cursor = after
    while True:
        q = base.where(key > cursor) if cursor else base
        rows = list(ctx.session.scalars(q.limit(_CHUNK)))
        for doc in es.shape(ctx, rows, False):
            if flt is None or flt.matches(doc):
                if len(found) == top:  # one more match exists: the page is full and has a successor
                    return Page([es.project(d, selected) for d in found], found[-1]["id"])
                found.append(doc)
        if len(rows) < _CHUNK:
            return Page([es.project(d, selected) for d in found], None)
        cursor = rows[-1].object_id


# --- directoryObjects/getByIds -------------------------------------------------------------------

# Graph's directoryObject types (the `types` parameter, case-insensitive, with or without `microsoft.graph.`):
# the types the directory has no objects of are valid and find nothing.
_OBJECT_TYPES = {"directoryobject", "user", "group", "device", "serviceprincipal", "application", "orgcontact",
                 "contact", "administrativeunit", "directoryrole", "directoryobjectpartnerreference"}
MAX_IDS = 1000  # Graph's limit on `ids`


def _types(types: Any) -> set[str]:
    if types is None:
        return {"directoryobject"}
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise bad_request("Request_BadRequest", "Invalid value for 'types': an array of strings is expected.")
    wanted = {t.lower().removeprefix("microsoft.graph.") for t in types}
    unknown = sorted(wanted - _OBJECT_TYPES)
    if unknown:
        raise bad_request("Request_BadRequest", f"Invalid type name(s) in 'types': {', '.join(unknown)}.")
    return wanted or {"directoryobject"}


def get_by_ids(ctx: Ctx, tenant_id: str, ids: Any, types: Any) -> list[Doc]:
    """The objects of the caller's tenant among `ids`, of the `types` asked (all without it), each with its
    `@odata.type`; ids that name nothing are left out, as Graph does. arm-sim's directory holds service
    principals, applications and users only, so those are all it can find."""
    if not isinstance(ids, list) or not ids:
        raise bad_request("Request_BadRequest", "The 'ids' parameter is required: an array of object ids.")
    if len(ids) > MAX_IDS:
        raise bad_request("Request_BadRequest", f"The number of ids exceeds the limit of {MAX_IDS}.")
    keys = [_object_id(i) if isinstance(i, str) else _object_id(str(i)) for i in ids]
    wanted = _types(types)
    found: dict[str, Doc] = {}
    for es in (SERVICE_PRINCIPALS, APPLICATIONS, USERS):
        if not wanted & {"directoryobject", es.type_name.removeprefix("microsoft.graph.").lower()}:
            continue
        rows = list(ctx.session.scalars(select(es.model).where(es.model.tenant_id == tenant_id,
                                                               es.columns["id"].in_(set(keys)))))
        for doc in es.shape(ctx, rows, False):
            found[doc["id"]] = {"@odata.type": f"#{es.type_name}", **es.project(doc, None)}
    return [found[k] for k in dict.fromkeys(keys) if k in found]


def domains_json(ctx: Ctx, tenant_id: str) -> Doc:
    """GET /domains: the tenant's one domain, its initial `*.onmicrosoft.com` name, verified and default (arm-sim's
    tenants add no custom domains)."""
    tenant = ctx.session.get(Tenant, tenant_id)
    value = [] if tenant is None else [{
        "id": tenant.default_domain, "authenticationType": "Managed", "availabilityStatus": None,
        "isAdminManaged": True, "isDefault": True, "isInitial": True, "isRoot": True, "isVerified": True,
        "passwordNotificationWindowInDays": None, "passwordValidityPeriodInDays": None,
        "supportedServices": ["Email", "OfficeCommunicationsOnline"], "state": None}]
    return {"value": value}
