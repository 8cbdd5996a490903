"""resources: keys compare bytewise on PostgreSQL too, and every list's index ends with the key

Issue 18 point 5. Deleting a resource looked for what lies below it with `key LIKE '{key}/%'`, which neither
database answers from an index (SQLite's LIKE is case-insensitive, PostgreSQL's default collation is not bytewise),
so every delete read the whole table. It is now the key range [key + "/", key + "0"), which the primary key answers
when keys compare bytewise: SQLite's BINARY already does, PostgreSQL's column gets the "C" collation.

Lists are keyset pages (`… AND key > :last ORDER BY key LIMIT n`); with the key last in the index, a page reads
its own rows only, instead of sorting the whole group (or subscription) for each page.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_NEW = (
    ('ix_resources_parent_key_key', ['parent_key', 'key']),
    ('ix_resources_parent_type_key', ['parent_key', 'type_key', 'key']),
    ('ix_resources_sub_type_key', ['subscription_id', 'type_key', 'key']),
    ('ix_resources_sub_key', ['subscription_id', 'key']),
)
_OLD = (
    ('ix_resources_parent_key', ['parent_key']),
    ('ix_resources_sub_type', ['subscription_id', 'type_key']),
    ('ix_resources_subscription_id', ['subscription_id']),
)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade() -> None:
    for name, _ in _OLD:
        op.drop_index(name, table_name='resources')
    if _postgresql():
        op.alter_column('resources', 'key', type_=sa.String(1024, collation='C'), existing_type=sa.String(1024),
                        existing_nullable=False)
    for name, columns in _NEW:
        op.create_index(name, 'resources', columns, unique=False)


def downgrade() -> None:
    for name, _ in _NEW:
        op.drop_index(name, table_name='resources')
    if _postgresql():
        op.alter_column('resources', 'key', type_=sa.String(1024, collation='default'),
                        existing_type=sa.String(1024, collation='C'), existing_nullable=False)
    for name, columns in _OLD:
        op.create_index(name, 'resources', columns, unique=False)
