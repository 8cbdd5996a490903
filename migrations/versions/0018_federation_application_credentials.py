"""Workload identity federation on app registrations: Graph's federatedIdentityCredentials of an application

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'application_federated_credentials',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('application_object_id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('name_key', sa.String(length=120), nullable=False),
        sa.Column('issuer', sa.String(length=600), nullable=False),
        sa.Column('subject', sa.String(length=600), nullable=False),
        sa.Column('audiences', JSON, nullable=False),
        sa.Column('description', sa.String(length=600), nullable=True),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['application_object_id'], ['applications.object_id'],
                                name=op.f('fk_application_federated_credentials_application_object_id_applications')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_application_federated_credentials')),
        sa.UniqueConstraint('application_object_id', 'name_key',
                            name=op.f('uq_application_federated_credentials_application_object_id')),
    )
    with op.batch_alter_table('application_federated_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_federated_credentials_application_object_id'),
                              ['application_object_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('application_federated_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_federated_credentials_application_object_id'))
    op.drop_table('application_federated_credentials')
