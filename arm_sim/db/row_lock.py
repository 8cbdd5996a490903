"""Taking a row's write lock before a check that counts its children ("at most 20 federated credentials", "each
issuer and subject once"): two concurrent writers would otherwise both count the same siblings and both pass.

A no-op UPDATE of the parent row holds it until the unit ends: on PostgreSQL, that row's lock (the second writer
waits, then reads what the first committed); on SQLite, the write gate and the database's one writer. The check
reads after it, so it sees every sibling a concurrent writer committed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import InstrumentedAttribute, Session


def hold(session: Session, key: InstrumentedAttribute[Any], value: str) -> None:
    """Lock the row of `key`'s entity whose `key` is `value` (none there: nothing to lock, nothing happens)."""
    session.execute(update(key.class_).where(key == value).values({key.key: key})
                    .execution_options(synchronize_session=False))
