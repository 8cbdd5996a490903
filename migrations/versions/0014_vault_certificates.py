"""Key Vault certificates: a certificate is the versions of its managed secret

Each version of a certificate's managed secret carries the certificate's own part (its X.509, policy and pending
operation) in `vault_secrets.certificate`; the managed key is an ordinary `vault_keys` row of the same name and
version. Plain secrets leave the column empty.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vault_secrets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('certificate', sa.JSON(none_as_null=True).with_variant(
            postgresql.JSONB(none_as_null=True, astext_type=Text()), 'postgresql'), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('vault_secrets', schema=None) as batch_op:
        batch_op.drop_column('certificate')
