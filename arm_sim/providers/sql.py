"""Microsoft.Sql: logical servers (`{name}.database.windows.net`) and their databases.

A server's name is a global DNS label, so it is unique across the simulator. The administrator password is
write-only in Azure: it is never stored here, so no GET or list can ever show it.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from arm_sim.core import ids
from arm_sim.core.errors import DomainError, bad_request
from arm_sim.db.models import Resource
from arm_sim.domain.clock import iso
from arm_sim.domain.context import Ctx
from arm_sim.providers.base import Doc
from arm_sim.providers.computed import TypedProvider, kind_of, new_guid, props, sim_state

SERVER = "microsoft.sql/servers"
DATABASE = SERVER + "/databases"
SUFFIX = "database.windows.net"
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_WRITE_ONLY = ("administratorLoginPassword",)


class SqlProvider(TypedProvider):
    namespace = "Microsoft.Sql"
    types = frozenset({SERVER})

    def validate(self, ctx: Ctx, path: ids.ArmPath, doc: Doc, before: Doc | None) -> None:
        if path.resource_type.lower() != SERVER:
            return
        p = props(doc)
        for field in _WRITE_ONLY:
            p.pop(field, None)
        doc["kind"] = doc.get("kind") or (before or {}).get("kind") or "v12.0"
        if before is not None:
            return
        if not _NAME.match(path.name):
            raise bad_request("InvalidServerName",
                              f"Invalid value given for parameter ServerName '{path.name}'. A server name is 1 to 63 "
                              "lower-case letters, digits and hyphens, and does not start or end with a hyphen.",
                              target="name")
        taken = ctx.session.scalars(select(Resource.id).where(
            Resource.type_key == SERVER, func.lower(Resource.name) == path.name.lower(),
            Resource.key != ids.key(path.id)).limit(1)).first()
        if taken is not None:
            raise DomainError(409, "NameAlreadyExists",
                              f"The name '{path.name}.{SUFFIX}' already exists. Choose a different name.")

    def on_put(self, ctx: Ctx, before: Doc | None, after: Doc) -> None:
        kind = kind_of(after)
        p = props(after)
        if kind == SERVER:
            p.update(fullyQualifiedDomainName=f"{after['name'].lower()}.{SUFFIX}", state="Ready")
            p.setdefault("version", "12.0")
            p.setdefault("publicNetworkAccess", "Enabled")
            p.setdefault("restrictOutboundNetworkAccess", "Disabled")
            p.setdefault("minimalTlsVersion", "1.2")
        elif kind == DATABASE:
            state = sim_state(after)
            state.setdefault("databaseId", new_guid())
            state.setdefault("creationDate", iso(ctx.now))
            p.update(databaseId=state["databaseId"], creationDate=state["creationDate"], status="Online")
            p.setdefault("collation", "SQL_Latin1_General_CP1_CI_AS")
            p.setdefault("catalogCollation", "SQL_Latin1_General_CP1_CI_AS")
