"""Users written through Microsoft Graph: create, read by id or userPrincipalName, delete.

A user's userPrincipalName must be in a verified domain of its tenant (arm-sim's tenant has one: its
`{name}.onmicrosoft.com` default domain) and unique in it; the password must meet Entra's complexity rule and is
kept hashed only. Nobody signs in as a user here (arm-sim issues app-only tokens), but role assignments name users.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from sqlalchemy import select

from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import Tenant, User
from arm_sim.domain import events, graph, principal_deletion
from arm_sim.domain.context import Ctx

ENTITY = "User"
REQUIRED = ("accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName")
# What else a user may be created with (kept and shown as given); values are strings unless listed.
OPTIONAL = ("givenName", "surname", "jobTitle", "department", "companyName", "officeLocation", "mobilePhone",
            "preferredLanguage", "usageLocation", "city", "country", "state", "streetAddress", "postalCode",
            "employeeId", "onPremisesImmutableId", "passwordPolicies", "mail", "userType")
LIST_PROPS = ("businessPhones", "otherMails")
_READ_ONLY = {"id", "@odata.type", "@odata.context", "createdDateTime", "deletedDateTime"}
_NICKNAME_BAD = set(' @()\\[]";:<>,')
PASSWORD_COMPLEXITY = ("The specified password does not comply with password complexity requirements. Please "
                       "provide a different password.")


def _invalid(prop: str) -> DomainError:
    return bad_request("Request_BadRequest", f"Invalid value specified for property '{prop}' of resource "
                                             f"'{ENTITY}'.")


def verified_domains(tenant: Tenant) -> list[str]:
    return [tenant.default_domain.lower()]


def _complex_enough(password: str) -> bool:
    classes = [any(c.islower() for c in password), any(c.isupper() for c in password),
               any(c.isdigit() for c in password), any(not c.isalnum() for c in password)]
    return 8 <= len(password) <= 256 and sum(classes) >= 3


def _fields(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("Request_BadRequest", "A request body with a JSON object is required.")
    known = {k.casefold(): k for k in (*REQUIRED, *OPTIONAL, *LIST_PROPS)}
    out: dict[str, Any] = {}
    for key, value in body.items():
        name = known.get(key.casefold())
        if name is None:
            if key in _READ_ONLY or key.startswith("@"):
                continue
            raise bad_request("Request_BadRequest",
                              f"Property '{key}' does not exist as a declared property or extension property.")
        out[name] = value
    return out


def create(ctx: Ctx, tenant_id: str, body: Any) -> User:
    fields = _fields(body)
    for name in REQUIRED:
        if fields.get(name) is None:
            raise _invalid(name)
    upn, display, nickname = fields["userPrincipalName"], fields["displayName"], fields["mailNickname"]
    if not isinstance(fields["accountEnabled"], bool):
        raise _invalid("accountEnabled")
    if not isinstance(display, str) or not display.strip() or len(display) > 256:
        raise _invalid("displayName")
    if not isinstance(nickname, str) or not nickname or len(nickname) > 64 or set(nickname) & _NICKNAME_BAD:
        raise _invalid("mailNickname")
    if not isinstance(upn, str) or upn.count("@") != 1 or not upn.split("@")[0] or len(upn) > 113:
        raise _invalid("userPrincipalName")
    tenant = ctx.session.get(Tenant, tenant_id)
    if tenant is None or upn.split("@")[1].lower() not in verified_domains(tenant):
        raise bad_request("Request_BadRequest", "The domain portion of the userPrincipalName property is invalid. "
                                                "You must use one of the verified domain names in your "
                                                "organization.")
    profile = fields["passwordProfile"]
    if not isinstance(profile, dict):
        raise _invalid("passwordProfile")
    profile = {k.casefold(): v for k, v in profile.items()}
    password, force = profile.get("password"), profile.get("forcechangepasswordnextsignin", True)
    if not isinstance(password, str) or not isinstance(force, bool):
        raise _invalid("passwordProfile")
    if not _complex_enough(password):
        raise bad_request("Request_BadRequest", PASSWORD_COMPLEXITY)
    extra: dict[str, Any] = {}
    for name in OPTIONAL:
        if name in fields:
            if fields[name] is not None and not isinstance(fields[name], str):
                raise _invalid(name)
            extra[name] = fields[name]
    for name in LIST_PROPS:
        if name in fields:
            if not isinstance(fields[name], list) or not all(isinstance(v, str) for v in fields[name]):
                raise _invalid(name)
            extra[name] = fields[name]
    if by_upn(ctx, tenant_id, upn) is not None:
        raise bad_request("Request_BadRequest",
                          "Another object with the same value for property userPrincipalName already exists.")
    user = User(object_id=str(uuid.uuid4()), tenant_id=tenant_id, user_principal_name=upn, upn_key=upn.casefold(),
                display_name=display, mail_nickname=nickname, account_enabled=fields["accountEnabled"],
                password_hash=hash_password(password), properties=extra or None, created_at=ctx.now)
    ctx.session.add(user)
    events.record(ctx, "user.created", user.object_id, userPrincipalName=upn, principalId=user.object_id)
    ctx.session.flush()
    return user


def by_upn(ctx: Ctx, tenant_id: str, upn: str) -> User | None:
    return ctx.session.scalars(select(User).where(User.tenant_id == tenant_id, User.upn_key == upn.casefold())
                               ).first()


def find(ctx: Ctx, tenant_id: str, key: str) -> User:
    """A user of the tenant by object id or userPrincipalName (Graph's two keys for /users/{key})."""
    user: User | None
    if "@" in key:
        user = by_upn(ctx, tenant_id, key)
    else:
        try:
            found = ctx.session.get(User, str(uuid.UUID(key)))
        except ValueError as e:
            raise bad_request("Request_BadRequest", f"Invalid object identifier '{key}'.") from e
        user = found if found is not None and found.tenant_id == tenant_id else None
    if user is None:
        raise graph.not_found(key)
    return user


def delete(ctx: Ctx, user: User) -> None:
    """The user goes; role assignments that name it stay behind as orphans, as for any deleted principal."""
    events.record(ctx, "user.deleted", user.object_id, userPrincipalName=user.user_principal_name,
                  principalId=user.object_id)
    principal_deletion.record_orphaned(ctx, user.object_id, None)
    ctx.session.delete(user)
    ctx.session.flush()


def hash_password(password: str) -> str:
    """A password a person chose: a slow, salted hash (scrypt), unlike the random client secrets of
    directory.hash_secret. Never answered; kept for a sign-in arm-sim may model one day."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2 ** 14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"
