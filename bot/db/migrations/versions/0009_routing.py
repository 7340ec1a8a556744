"""routing: routed questions, offers, not-me and opt-outs

Revision ID: 0009_routing
Revises: 0008_wide_ids
Create Date: 2026-12-04 22:52:24.888775
"""

from alembic import op
import sqlalchemy as sa


revision = '0009_routing'
down_revision = '0008_wide_ids'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('routing_not_me',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asker_id', sa.String(length=255), nullable=False),
    sa.Column('expert_id', sa.String(length=255), nullable=False),
    sa.Column('topic_key', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace', sa.String(length=96), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace', 'asker_id', 'expert_id', 'topic_key', name='uq_routing_not_me')
    )
    with op.batch_alter_table('routing_not_me', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_not_me_expert_id'), ['expert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_routing_not_me_workspace'), ['workspace'], unique=False)

    op.create_table('routing_opt_outs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace', sa.String(length=96), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace', 'user_id', name='uq_routing_opt_out')
    )
    with op.batch_alter_table('routing_opt_outs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_opt_outs_workspace'), ['workspace'], unique=False)

    op.create_table('routing_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asker_id', sa.String(length=255), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('context', sa.Text(), nullable=True),
    sa.Column('topics', sa.JSON(), nullable=False),
    sa.Column('candidates', sa.JSON(), nullable=False),
    sa.Column('conversation_id', sa.String(length=255), nullable=True),
    sa.Column('permalink', sa.String(length=1000), nullable=True),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('helper_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('routed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('thanks_offered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('workspace', sa.String(length=96), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('routing_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_questions_asker_id'), ['asker_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_routing_questions_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_routing_questions_workspace'), ['workspace'], unique=False)

    op.create_table('routing_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('asker_id', sa.String(length=255), nullable=False),
    sa.Column('expert_id', sa.String(length=255), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sending_by', sa.String(length=120), nullable=True),
    sa.Column('sending_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('conversation_id', sa.String(length=255), nullable=True),
    sa.Column('message_ts', sa.String(length=255), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace', sa.String(length=96), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['routing_questions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace', 'question_id', 'expert_id', name='uq_routing_offer')
    )
    with op.batch_alter_table('routing_offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_offers_expert_id'), ['expert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_routing_offers_question_id'), ['question_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_routing_offers_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_routing_offers_workspace'), ['workspace'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('routing_offers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_offers_workspace'))
        batch_op.drop_index(batch_op.f('ix_routing_offers_state'))
        batch_op.drop_index(batch_op.f('ix_routing_offers_question_id'))
        batch_op.drop_index(batch_op.f('ix_routing_offers_expert_id'))

    op.drop_table('routing_offers')
    with op.batch_alter_table('routing_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_questions_workspace'))
        batch_op.drop_index(batch_op.f('ix_routing_questions_state'))
        batch_op.drop_index(batch_op.f('ix_routing_questions_asker_id'))

    op.drop_table('routing_questions')
    with op.batch_alter_table('routing_opt_outs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_opt_outs_workspace'))

    op.drop_table('routing_opt_outs')
    with op.batch_alter_table('routing_not_me', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_not_me_workspace'))
        batch_op.drop_index(batch_op.f('ix_routing_not_me_expert_id'))

    op.drop_table('routing_not_me')
