"""Microsoft Graph application permissions granted to service principals; the bootstrap deployer holds two

Graph reads of applications and service principals now need `Application.Read.All` (or a wider permission) in
the token's `roles` claim. The existing bootstrap principal gets `Application.Read.All` and `Directory.Read.All`,
as a new database's does at bootstrap, so what it could read before it still can.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""
import time
import uuid

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# Microsoft Graph's app role ids of Application.Read.All and Directory.Read.All
BOOTSTRAP_APP_ROLES = ('9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30', '7ab1d382-f21e-4acd-a863-ba3e13f7da61')


def upgrade() -> None:
    grants = op.create_table(
        'graph_app_role_assignments',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('tenant_id', sa.String(length=36), nullable=False),
        sa.Column('principal_id', sa.String(length=36), nullable=False),
        sa.Column('app_role_id', sa.String(length=36), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_graph_app_role_assignments')),
    )
    with op.batch_alter_table('graph_app_role_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_graph_app_role_assignments_principal_id'), ['principal_id'],
                              unique=False)
    bootstrap = sa.table('bootstrap', sa.column('client_id', sa.String))
    principals = sa.table('service_principals', sa.column('object_id', sa.String), sa.column('app_id', sa.String),
                          sa.column('tenant_id', sa.String))
    conn = op.get_bind()
    found = conn.execute(sa.select(principals.c.object_id, principals.c.tenant_id)
                         .join(bootstrap, bootstrap.c.client_id == principals.c.app_id)).first()
    if found is not None:
        clock = sa.table('clock', sa.column('id', sa.Integer), sa.column('offset_seconds', sa.Float),
                         sa.column('frozen_at', sa.Float))
        row = conn.execute(sa.select(clock.c.offset_seconds, clock.c.frozen_at).where(clock.c.id == 1)).first()
        now = time.time() + (row.offset_seconds or 0.0) if row is not None else time.time()
        if row is not None and row.frozen_at is not None:
            now = row.frozen_at
        op.bulk_insert(grants, [{'id': str(uuid.uuid4()), 'tenant_id': found.tenant_id, 'principal_id': found.object_id,
                                 'app_role_id': role, 'created_at': now} for role in BOOTSTRAP_APP_ROLES])


def downgrade() -> None:
    with op.batch_alter_table('graph_app_role_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_graph_app_role_assignments_principal_id'))
    op.drop_table('graph_app_role_assignments')
