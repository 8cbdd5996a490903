"""the clock row carries the database's epoch (process-wide caches are keyed by it); the row always exists

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clock') as batch:
        batch.add_column(sa.Column('epoch', sa.String(length=36), nullable=True))
    clock = sa.table('clock', sa.column('id', sa.Integer), sa.column('offset_seconds', sa.Float),
                     sa.column('frozen_at', sa.Float), sa.column('epoch', sa.String))
    conn = op.get_bind()
    epoch = str(uuid.uuid4())
    if conn.execute(sa.select(clock.c.id).where(clock.c.id == 1)).first() is None:
        op.bulk_insert(clock, [{'id': 1, 'offset_seconds': 0.0, 'frozen_at': None, 'epoch': epoch}])
    else:
        conn.execute(clock.update().where(clock.c.id == 1).values(epoch=epoch))


def downgrade() -> None:
    with op.batch_alter_table('clock') as batch:
        batch.drop_column('epoch')
