"""resources: an index on (type, lower-cased name)

Names Azure keeps unique across all subscriptions (storage accounts, sites, container registries, SQL servers)
and custom role definitions by GUID are looked up by type and case-insensitive name, whatever the subscription;
no index led with those, so each such create read every resource (issue 18 point 5's follow-up).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_resources_type_lower_name', 'resources', ['type_key', sa.text('lower(name)')], unique=False)


def downgrade() -> None:
    op.drop_index('ix_resources_type_lower_name', table_name='resources')
