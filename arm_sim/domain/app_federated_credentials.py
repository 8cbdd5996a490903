"""An application's federated identity credentials, written through Microsoft Graph
(`/applications/{id}/federatedIdentityCredentials`): the trusts domain/federation.py matches when the token endpoint
gets an external assertion whose `client_id` is the application's appId.

The rules are a user-assigned identity's (providers/managed_identity.py): an https issuer, each issuer + subject pair
once per application, one audience, at most 20 credentials. Graph's own words for them, and where each was seen:
- InvalidFederatedIdentityCredentialValue (400), "The combination of issuer and subject must be unique for the
  application. …": Azure/azure-workload-identity#434 (Graph's answer to a second POST with the same pair);
- the other validation failures answer the same code (seen for refused issuers in public deployment scripts); their
  texts are arm-sim's, in the same form;
- the 21st credential: Azure's answer for an identity is `BadRequest` "Too many Federated Identity Credentials" (see
  providers/managed_identity.py); Graph's code for an application was not found, so its code is the family's above;
- a name taken: Graph's alternate-key conflict (409 Request_MultipleObjectsWithSameKeyValue, as for other alternate
  keys); the shape of every answer: Azure/azure-cli's recording test_app_federated_credential.yaml.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db import row_lock
from arm_sim.db.models import Application, ApplicationFederatedCredential
from arm_sim.domain import directory_apps, events, federation
from arm_sim.domain.context import Ctx

Doc = dict[str, Any]
ENTITY = "FederatedIdentityCredential"
PROPS = {"name": "str", "issuer": "str", "subject": "str", "description": "str", "audiences": "strs"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,119}$")  # "URL friendly", at most 120 characters
LIMIT = 600  # Graph's limit for issuer, subject, each audience and the description
INVALID = "InvalidFederatedIdentityCredentialValue"
# Writing one needs Application.ReadWrite.All (Graph's permission table for the create, update and delete calls;
# Directory.ReadWrite.All, which writes applications, is not among them; .OwnedBy is not offered: no ownership here).
WRITE = frozenset({"Application.ReadWrite.All"})
# Reading them: Graph's table for the list names Application.Read.All and Application.ReadWrite.All (and .OwnedBy),
# not the Directory.* permissions that read applications themselves (learn.microsoft.com/graph/api/
# application-list-federatedidentitycredentials; the table for a GET of one names only the ReadWrite ones, which az's
# `federated-credential show` after a list would contradict: both reads take the list's).
READ = frozenset({"Application.Read.All", "Application.ReadWrite.All"})


def as_json(c: ApplicationFederatedCredential) -> Doc:
    return {"id": c.id, "name": c.name, "issuer": c.issuer, "subject": c.subject, "description": c.description,
            "audiences": list(c.audiences)}


def _value_error(param: str, value: Any, why: str) -> DomainError:
    return bad_request(INVALID, f"{why} paramName: {ENTITY}.{param}, paramValue: {value}, objectType: "
                                "Microsoft.Online.DirectoryServices.Application")


def _validate(fields: Doc) -> None:
    issuer, subject, audiences = fields.get("issuer"), fields.get("subject"), fields.get("audiences")
    try:
        parts = urlsplit(issuer or "")
    except ValueError:  # not a URL at all (`https://[::1`: an unclosed IPv6 bracket)
        parts = urlsplit("")
    if not issuer or parts.scheme != "https" or not parts.netloc or len(issuer) > LIMIT:
        raise _value_error("Issuer", issuer, "The issuer must be an https URL of at most 600 characters.")
    if not subject or not subject.strip() or len(subject) > LIMIT:
        raise _value_error("Subject", subject, "The subject must be a non-empty string of at most 600 characters.")
    if not audiences or len(audiences) != 1 or not audiences[0].strip() or len(audiences[0]) > LIMIT:
        raise _value_error("Audiences", audiences, "Exactly one audience of at most 600 characters is allowed.")
    if len(fields.get("description") or "") > LIMIT:
        raise _value_error("Description", fields["description"], "The description is at most 600 characters.")


def _check_siblings(ctx: Ctx, app: Application, fields: Doc, itself: str | None) -> None:
    row_lock.hold(ctx.session, Application.object_id, app.object_id)  # concurrent writes count in turn
    others = [c for c in federation.application_credentials(ctx, app.object_id) if c.id != itself]
    if itself is None and len(others) >= federation.MAX_CREDENTIALS:
        raise bad_request(INVALID, f"Too many Federated Identity Credentials: an application has at most "
                                   f"{federation.MAX_CREDENTIALS}.")
    if any((c.issuer, c.subject) == (fields["issuer"], fields["subject"]) for c in others):
        raise _value_error("Subject", fields["subject"],
                           "The combination of issuer and subject must be unique for the application. Issuer "
                           f"{fields['issuer']} and Subject: {fields['subject']} already exist.")


def _is_guid(key: str) -> bool:
    try:
        uuid.UUID(key)
    except ValueError:
        return False
    return True


def find(ctx: Ctx, app: Application, key: str, by_name: bool) -> ApplicationFederatedCredential:
    """By id, or by the `name` alternate key (az passes either in the same path segment)."""
    q = select(ApplicationFederatedCredential).where(ApplicationFederatedCredential.application_object_id ==
                                                     app.object_id)
    row = None
    if not by_name and _is_guid(key):
        row = ctx.session.scalars(q.where(ApplicationFederatedCredential.id == str(uuid.UUID(key)))).first()
    if row is None:
        row = ctx.session.scalars(q.where(ApplicationFederatedCredential.name_key == key.casefold())).first()
    if row is None:
        raise DomainError(404, "Request_ResourceNotFound", f"Resource '{key}' does not exist or one of its queried "
                                                           "reference-property objects are not present.")
    return row


def create(ctx: Ctx, app: Application, body: Any) -> ApplicationFederatedCredential:
    fields = directory_apps.parse_body(body, PROPS, ENTITY)
    for required in ("name", "issuer", "subject", "audiences"):
        if fields.get(required) is None:
            raise bad_request("Request_BadRequest", f"Required property '{required}' of resource '{ENTITY}' is "
                                                    "missing.")
    name = fields["name"]
    if not _NAME.match(name):
        raise _value_error("Name", name, "The name must be 1 to 120 URL-friendly characters.")
    _validate(fields)
    _check_siblings(ctx, app, fields, None)
    if ctx.session.scalars(select(func.count()).select_from(ApplicationFederatedCredential).where(
            ApplicationFederatedCredential.application_object_id == app.object_id,
            ApplicationFederatedCredential.name_key == name.casefold())).one():
        raise DomainError(409, "Request_MultipleObjectsWithSameKeyValue",
                          "Another object with the same value for property name already exists.")
    row = ApplicationFederatedCredential(
        id=str(uuid.uuid4()), application_object_id=app.object_id, name=name, name_key=name.casefold(),
        issuer=fields["issuer"], subject=fields["subject"], audiences=list(fields["audiences"]),
        description=fields.get("description"), created_at=ctx.now)
    ctx.session.add(row)
    ctx.session.flush()
    events.record(ctx, "federatedCredential.created", app.object_id, appId=app.app_id, credential=row.id,
                  name=name, issuer=row.issuer, subject=row.subject)
    return row


def update(ctx: Ctx, app: Application, row: ApplicationFederatedCredential, body: Any) -> None:
    changes = directory_apps.parse_body(body, PROPS, ENTITY)
    if "name" in changes and changes["name"] != row.name:  # Graph: the name is immutable once created
        raise _value_error("Name", changes["name"], "The name of a federated identity credential cannot be changed.")
    fields = {"issuer": row.issuer, "subject": row.subject, "audiences": list(row.audiences),
              "description": row.description, **{k: v for k, v in changes.items() if k != "name"}}
    _validate(fields)
    _check_siblings(ctx, app, fields, row.id)
    row.issuer, row.subject, row.audiences = fields["issuer"], fields["subject"], list(fields["audiences"])
    row.description = fields["description"]
    events.record(ctx, "federatedCredential.updated", app.object_id, appId=app.app_id, credential=row.id,
                  properties=sorted(changes))


def delete(ctx: Ctx, app: Application, row: ApplicationFederatedCredential) -> None:
    """Gone at once: the next exchange that needed it is refused (no replication grace in arm-sim)."""
    ctx.session.delete(row)
    ctx.session.flush()
    events.record(ctx, "federatedCredential.deleted", app.object_id, appId=app.app_id, credential=row.id,
                  name=row.name)
