"""Graph writes: applications, service principals and users created, changed and deleted through Microsoft Graph

Applications and service principals keep the Graph properties a client sets (identifierUris, signInAudience,
web, tags …) as JSON; users get their own table. The bootstrap principal, which the Azure CLI signs in as, also
gets Application.ReadWrite.All and User.ReadWrite.All, as a tenant's administrator would grant its deployment
principal (`az ad app create`, `az ad sp create-for-rbac`, `az ad user create`).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""
import base64
import time
import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000'
NEW_BOOTSTRAP_ROLES = ('1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9',  # Application.ReadWrite.All
                       '741f803b-c850-494e-b5df-cde7c675a1ca')  # User.ReadWrite.All
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def _now(conn: sa.Connection) -> float:
    clock = sa.table('clock', sa.column('id', sa.Integer), sa.column('offset_seconds', sa.Float),
                     sa.column('frozen_at', sa.Float))
    row = conn.execute(sa.select(clock.c.offset_seconds, clock.c.frozen_at).where(clock.c.id == 1)).first()
    if row is None:
        return time.time()
    return row.frozen_at if row.frozen_at is not None else time.time() + (row.offset_seconds or 0.0)


def upgrade() -> None:
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('properties', JSON, nullable=True))
    with op.batch_alter_table('service_principals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('properties', JSON, nullable=True))
    op.create_table(
        'users',
        sa.Column('object_id', sa.String(length=36), nullable=False),
        sa.Column('tenant_id', sa.String(length=36), nullable=False),
        sa.Column('user_principal_name', sa.String(length=256), nullable=False),
        sa.Column('upn_key', sa.String(length=256), nullable=False),
        sa.Column('display_name', sa.String(length=256), nullable=False),
        sa.Column('mail_nickname', sa.String(length=64), nullable=False),
        sa.Column('account_enabled', sa.Boolean(), nullable=False),
        sa.Column('password_hash', sa.String(length=128), nullable=False),
        sa.Column('properties', JSON, nullable=True),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_users_tenant_id_tenants')),
        sa.PrimaryKeyConstraint('object_id', name=op.f('pk_users')),
        sa.UniqueConstraint('tenant_id', 'upn_key', name=op.f('uq_users_tenant_id')),
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_tenant_id'), ['tenant_id'], unique=False)

    conn = op.get_bind()
    principals = sa.table('service_principals', sa.column('object_id', sa.String), sa.column('app_id', sa.String),
                          sa.column('tenant_id', sa.String))
    grants = sa.table('graph_app_role_assignments', sa.column('id', sa.String), sa.column('tenant_id', sa.String),
                      sa.column('principal_id', sa.String), sa.column('resource_id', sa.String),
                      sa.column('app_role_id', sa.String), sa.column('created_at', sa.Float))
    bootstrap = sa.table('bootstrap', sa.column('client_id', sa.String))
    found = conn.execute(sa.select(principals.c.object_id, principals.c.tenant_id)
                         .join(bootstrap, bootstrap.c.client_id == principals.c.app_id)).first()
    if found is None:
        return
    graph = conn.execute(sa.select(principals.c.object_id).where(principals.c.tenant_id == found.tenant_id,
                                                                 principals.c.app_id == GRAPH_APP_ID)).first()
    if graph is None:
        return
    now = _now(conn)
    held = set(conn.execute(sa.select(grants.c.app_role_id).where(grants.c.principal_id == found.object_id))
               .scalars())
    for role in NEW_BOOTSTRAP_ROLES:
        if role not in held:
            key = base64.urlsafe_b64encode(uuid.UUID(found.object_id).bytes_le + uuid.uuid4().bytes).decode()
            conn.execute(grants.insert().values(
                id=key.rstrip('='), tenant_id=found.tenant_id, principal_id=found.object_id,
                resource_id=graph.object_id, app_role_id=role, created_at=now))


def downgrade() -> None:
    conn = op.get_bind()
    grants = sa.table('graph_app_role_assignments', sa.column('app_role_id', sa.String),
                      sa.column('principal_id', sa.String))
    principals = sa.table('service_principals', sa.column('object_id', sa.String), sa.column('app_id', sa.String))
    bootstrap = sa.table('bootstrap', sa.column('client_id', sa.String))
    deployer = sa.select(principals.c.object_id).join(bootstrap, bootstrap.c.client_id == principals.c.app_id)
    conn.execute(grants.delete().where(grants.c.app_role_id == NEW_BOOTSTRAP_ROLES[1]))  # User.* is new here
    conn.execute(grants.delete().where(grants.c.app_role_id == NEW_BOOTSTRAP_ROLES[0],
                                       grants.c.principal_id.in_(deployer)))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_tenant_id'))
    op.drop_table('users')
    with op.batch_alter_table('service_principals', schema=None) as batch_op:
        batch_op.drop_column('properties')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_column('properties')
