"""a deployment PUTs every resource (the reconciler and hooks always run): the record of bodies it skipped goes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table('deployed_resources')


def downgrade() -> None:
    op.create_table('deployed_resources',
                    sa.Column('key', sa.String(length=1024), nullable=False),
                    sa.Column('body_hash', sa.String(length=64), nullable=False),
                    sa.Column('state_hash', sa.String(length=64), nullable=False),
                    sa.Column('deployment_key', sa.String(length=1024), nullable=False),
                    sa.Column('changed_at', sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint('key', name=op.f('pk_deployed_resources')))
