"""kudos tables: thanks received, monthly digests sent, options admins change from chat

Revision ID: 0003_kudos
Revises: 0001_core
Create Date: 2026-11-26 13:49:30.969827
"""

from alembic import op
import sqlalchemy as sa


revision = '0003_kudos'
down_revision = '0001_core'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kudos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('giver_id', sa.String(length=64), nullable=False),
    sa.Column('receiver_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('topics', sa.JSON(), nullable=False),
    sa.Column('topic_names', sa.JSON(), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=True),
    sa.Column('conversation_name', sa.String(length=200), nullable=True),
    sa.Column('ts', sa.String(length=64), nullable=True),
    sa.Column('permalink', sa.String(length=500), nullable=True),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace', sa.String(length=96), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace', 'source_key', 'receiver_id', name='uq_kudos_source_receiver')
    )
    with op.batch_alter_table('kudos', schema=None) as batch_op:
        batch_op.create_index('ix_kudos_giver_at', ['workspace', 'giver_id', 'at'], unique=False)
        batch_op.create_index('ix_kudos_receiver_at', ['workspace', 'receiver_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_kudos_workspace'), ['workspace'], unique=False)

    op.create_table('kudos_digests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('thanks', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace', sa.String(length=96), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace', 'user_id', 'month', name='uq_kudos_digest_month')
    )
    with op.batch_alter_table('kudos_digests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kudos_digests_workspace'), ['workspace'], unique=False)

    op.create_table('kudos_options',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('leaderboard', sa.Boolean(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace', sa.String(length=96), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace', name='uq_kudos_options_workspace')
    )
    with op.batch_alter_table('kudos_options', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kudos_options_workspace'), ['workspace'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('kudos_options', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kudos_options_workspace'))

    op.drop_table('kudos_options')
    with op.batch_alter_table('kudos_digests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kudos_digests_workspace'))

    op.drop_table('kudos_digests')
    with op.batch_alter_table('kudos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kudos_workspace'))
        batch_op.drop_index('ix_kudos_receiver_at')
        batch_op.drop_index('ix_kudos_giver_at')

    op.drop_table('kudos')
