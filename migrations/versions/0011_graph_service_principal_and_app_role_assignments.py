"""Microsoft Graph's service principal in every tenant, and app role assignments as Graph keeps them

A service principal's appId is now unique per tenant, not across tenants: Microsoft Graph's first-party principal
(appId 00000003-0000-0000-c000-000000000000) exists in every tenant, and an app role assignment names it as its
resource. Assignments get Graph's 43-character ids (existing ones keep theirs) and a resource id. The bootstrap
principal also gets AppRoleAssignment.ReadWrite.All, so it can grant permissions through Graph itself.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""
import time
import uuid

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000'
APP_ROLE_ASSIGNMENT_READWRITE_ALL = '06b708a9-e830-4db3-a914-8e69da51d44f'
GRAPH_SPNS = ['https://dod-graph.microsoft.us', 'https://graph.microsoft.com/', 'https://graph.microsoft.us',
              GRAPH_APP_ID + '/ags.windows.net', GRAPH_APP_ID, 'https://canary.graph.microsoft.com',
              'https://graph.microsoft.com', 'https://ags.windows.net']


def _now(conn: sa.Connection) -> float:
    clock = sa.table('clock', sa.column('id', sa.Integer), sa.column('offset_seconds', sa.Float),
                     sa.column('frozen_at', sa.Float))
    row = conn.execute(sa.select(clock.c.offset_seconds, clock.c.frozen_at).where(clock.c.id == 1)).first()
    if row is None:
        return time.time()
    return row.frozen_at if row.frozen_at is not None else time.time() + (row.offset_seconds or 0.0)


def upgrade() -> None:
    with op.batch_alter_table('service_principals', schema=None) as batch_op:
        batch_op.drop_constraint('uq_service_principals_app_id', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_service_principals_tenant_id'), ['tenant_id', 'app_id'])
        batch_op.create_index(batch_op.f('ix_service_principals_app_id'), ['app_id'], unique=False)
    with op.batch_alter_table('graph_app_role_assignments', schema=None) as batch_op:
        batch_op.alter_column('id', existing_type=sa.String(length=36), type_=sa.String(length=64),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('resource_id', sa.String(length=36), nullable=True))

    conn = op.get_bind()
    now = _now(conn)
    tenants = sa.table('tenants', sa.column('id', sa.String))
    principals = sa.table(
        'service_principals', sa.column('object_id', sa.String), sa.column('app_id', sa.String),
        sa.column('tenant_id', sa.String), sa.column('display_name', sa.String),
        sa.column('service_principal_type', sa.String), sa.column('alternative_names', sa.JSON),
        sa.column('service_principal_names', sa.JSON), sa.column('application_object_id', sa.String),
        sa.column('resource_key', sa.String), sa.column('created_at', sa.Float))
    grants = sa.table('graph_app_role_assignments', sa.column('id', sa.String), sa.column('tenant_id', sa.String),
                      sa.column('principal_id', sa.String), sa.column('resource_id', sa.String),
                      sa.column('app_role_id', sa.String), sa.column('created_at', sa.Float))
    graph_sp: dict[str, str] = {}
    for (tid,) in conn.execute(sa.select(tenants.c.id)).all():
        graph_sp[tid] = str(uuid.uuid4())
        conn.execute(principals.insert().values(
            object_id=graph_sp[tid], app_id=GRAPH_APP_ID, tenant_id=tid, display_name='Microsoft Graph',
            service_principal_type='Application', alternative_names=[], service_principal_names=GRAPH_SPNS,
            application_object_id=None, resource_key=None, created_at=now))
    for tid, sp in graph_sp.items():
        conn.execute(grants.update().where(grants.c.tenant_id == tid).values(resource_id=sp))

    bootstrap = sa.table('bootstrap', sa.column('client_id', sa.String))
    found = conn.execute(sa.select(principals.c.object_id, principals.c.tenant_id)
                         .join(bootstrap, bootstrap.c.client_id == principals.c.app_id)).first()
    if found is not None and found.tenant_id in graph_sp:
        conn.execute(grants.insert().values(
            id=str(uuid.uuid4()), tenant_id=found.tenant_id, principal_id=found.object_id,
            resource_id=graph_sp[found.tenant_id], app_role_id=APP_ROLE_ASSIGNMENT_READWRITE_ALL, created_at=now))

    with op.batch_alter_table('graph_app_role_assignments', schema=None) as batch_op:
        batch_op.alter_column('resource_id', existing_type=sa.String(length=36), nullable=False)
        batch_op.create_index(batch_op.f('ix_graph_app_role_assignments_resource_id'), ['resource_id'],
                              unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_graph_app_role_assignments_principal_id'),
                                          ['principal_id', 'resource_id', 'app_role_id'])


def downgrade() -> None:
    conn = op.get_bind()
    grants = sa.table('graph_app_role_assignments', sa.column('app_role_id', sa.String),
                      sa.column('id', sa.String))
    conn.execute(grants.delete().where(grants.c.app_role_id == APP_ROLE_ASSIGNMENT_READWRITE_ALL))
    conn.execute(grants.delete().where(sa.func.length(grants.c.id) > 36))
    principals = sa.table('service_principals', sa.column('app_id', sa.String))
    conn.execute(principals.delete().where(principals.c.app_id == GRAPH_APP_ID))
    with op.batch_alter_table('graph_app_role_assignments', schema=None) as batch_op:
        batch_op.drop_constraint('uq_graph_app_role_assignments_principal_id', type_='unique')
        batch_op.drop_index(batch_op.f('ix_graph_app_role_assignments_resource_id'))
        batch_op.drop_column('resource_id')
        batch_op.alter_column('id', existing_type=sa.String(length=64), type_=sa.String(length=36),
                              existing_nullable=False)
    with op.batch_alter_table('service_principals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_principals_app_id'))
        batch_op.drop_constraint('uq_service_principals_tenant_id', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_service_principals_app_id'), ['app_id'])
