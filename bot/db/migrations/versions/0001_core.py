"""core tables

Revision ID: 0001_core
Revises: 
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = '0001_core'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('conversation_refs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('reference', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace', sa.String(length=96), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace', 'key', name='uq_conversation_ref')
    )
    with op.batch_alter_table('conversation_refs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_refs_workspace'), ['workspace'], unique=False)

    op.create_table('events_seen',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace', sa.String(length=96), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace', 'key', name='uq_events_seen_key')
    )
    with op.batch_alter_table('events_seen', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_seen_seen_at'), ['seen_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_seen_workspace'), ['workspace'], unique=False)

    op.create_table('ingest_queue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('op', sa.String(length=16), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('conversation_name', sa.String(length=200), nullable=True),
    sa.Column('ts', sa.String(length=64), nullable=False),
    sa.Column('thread_ts', sa.String(length=64), nullable=True),
    sa.Column('parent_user_id', sa.String(length=64), nullable=True),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('mentions', sa.JSON(), nullable=False),
    sa.Column('permalink', sa.String(length=500), nullable=True),
    sa.Column('message_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('workspace', sa.String(length=96), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace', 'conversation_id', 'ts', name='uq_ingest_message')
    )
    with op.batch_alter_table('ingest_queue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ingest_queue_enqueued_at'), ['enqueued_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ingest_queue_workspace'), ['workspace'], unique=False)

    op.create_table('installations',
    sa.Column('workspace', sa.String(length=96), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('installed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('workspace')
    )
    op.create_table('people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('team', sa.String(length=200), nullable=True),
    sa.Column('tz', sa.String(length=64), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('is_bot', sa.Boolean(), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('indexing_opt_out', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace', sa.String(length=96), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace', 'user_id', name='uq_people_user')
    )
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_people_workspace'), ['workspace'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_people_workspace'))

    op.drop_table('people')
    op.drop_table('installations')
    with op.batch_alter_table('ingest_queue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ingest_queue_workspace'))
        batch_op.drop_index(batch_op.f('ix_ingest_queue_enqueued_at'))

    op.drop_table('ingest_queue')
    with op.batch_alter_table('events_seen', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_seen_workspace'))
        batch_op.drop_index(batch_op.f('ix_events_seen_seen_at'))

    op.drop_table('events_seen')
    with op.batch_alter_table('conversation_refs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_refs_workspace'))

    op.drop_table('conversation_refs')

