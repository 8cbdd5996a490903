"""Workload identity federation: the signing keys of the external OIDC issuers arm-sim plays (AKS clusters with an
OIDC issuer, GitHub Actions), kept apart from the tenants' token-signing keys.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('issuer_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('issuer', sa.String(length=512), nullable=False),
    sa.Column('private_key_pem', sa.Text(), nullable=False),
    sa.Column('certificate_der', sa.LargeBinary(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('publish_until', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_issuer_keys'))
    )
    with op.batch_alter_table('issuer_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issuer_keys_issuer'), ['issuer'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('issuer_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issuer_keys_issuer'))
    op.drop_table('issuer_keys')
