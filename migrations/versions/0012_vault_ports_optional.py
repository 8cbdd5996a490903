"""A vault's data-plane port is optional: vaults are reached by name

A vault is served by host name (`{name}.vault.azure.net` through the proxy, `{name}.vault.localhost` on the main
listener); a port of ARM_SIM_VAULT_PORTS is a convenience lent to an active vault while one is free, given back
when the vault is soft-deleted. So the column may be empty, and soft-deleted vaults hold no port.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vaults', schema=None) as batch_op:
        batch_op.alter_column('port', existing_type=sa.Integer(), nullable=True)
    vaults = sa.table('vaults', sa.column('port', sa.Integer), sa.column('state', sa.String))
    op.execute(vaults.update().where(vaults.c.state == 'deleted').values(port=None))


def downgrade() -> None:
    # an older arm-sim needs a port on every row: portless vaults get distinct negative ones, which serve nothing
    conn = op.get_bind()
    vaults = sa.table('vaults', sa.column('name', sa.String), sa.column('port', sa.Integer))
    names = conn.execute(sa.select(vaults.c.name).where(vaults.c.port.is_(None)).order_by(vaults.c.name)).scalars()
    for n, name in enumerate(list(names), start=1):
        conn.execute(vaults.update().where(vaults.c.name == name).values(port=-n))
    with op.batch_alter_table('vaults', schema=None) as batch_op:
        batch_op.alter_column('port', existing_type=sa.Integer(), nullable=False)
