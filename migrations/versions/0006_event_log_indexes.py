"""the event log keeps only its subject index (every data-plane read appends a decision)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f('ix_events_at'), table_name='events')
    op.drop_index(op.f('ix_events_kind'), table_name='events')


def downgrade() -> None:
    op.create_index(op.f('ix_events_kind'), 'events', ['kind'], unique=False)
    op.create_index(op.f('ix_events_at'), 'events', ['at'], unique=False)
