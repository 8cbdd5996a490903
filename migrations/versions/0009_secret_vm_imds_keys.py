"""a VM's IMDS is keyed by a secret of its own, not by its public vmId: existing VM endpoints get a fresh key

The old `/vms/{vmId}/...` addresses stop answering (that is the point: anyone who could read the VM knew them).
`arm-sim env --vm NAME` or `GET /_sim/imds-endpoint?resourceId=` hands out the new address.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

endpoints = sa.table('identity_endpoints', sa.column('key', sa.String), sa.column('kind', sa.String))


def upgrade() -> None:
    conn = op.get_bind()
    for (key,) in conn.execute(sa.select(endpoints.c.key).where(endpoints.c.kind == 'vm')).all():
        conn.execute(endpoints.update().where(endpoints.c.key == key).values(key=secrets.token_urlsafe(32)))


def downgrade() -> None:
    # the vmId each key replaced is the VM's properties.vmId; keyed by it again, the VM's IMDS is public again
    resources = sa.table('resources', sa.column('key', sa.String), sa.column('properties', sa.JSON))
    rows = sa.table('identity_endpoints', sa.column('key', sa.String), sa.column('kind', sa.String),
                    sa.column('resource_key', sa.String))
    conn = op.get_bind()
    found = conn.execute(sa.select(rows.c.key, resources.c.properties)
                         .join(resources, resources.c.key == rows.c.resource_key)
                         .where(rows.c.kind == 'vm')).all()
    for key, props in found:
        vm_id = (props or {}).get('vmId') if isinstance(props, dict) else None
        if vm_id:
            conn.execute(rows.update().where(rows.c.key == key).values(key=vm_id))
