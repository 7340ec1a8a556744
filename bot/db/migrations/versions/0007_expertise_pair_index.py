"""expertise: past help between an asker and a candidate read with one seek per candidate

Revision ID: 0007_expertise_pair
Revises: 0006_expertise_ranking
Create Date: 2026-12-06 20:55:00.000000
"""

from alembic import op


revision = '0007_expertise_pair'
down_revision = '0006_expertise_ranking'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('expertise_messages', schema=None) as batch_op:
        batch_op.create_index('ix_expertise_messages_parent_user', ['workspace', 'parent_user_id', 'user_id'], unique=False)
        batch_op.drop_index('ix_expertise_messages_parent')


def downgrade() -> None:
    with op.batch_alter_table('expertise_messages', schema=None) as batch_op:
        batch_op.create_index('ix_expertise_messages_parent', ['workspace', 'parent_user_id'], unique=False)
        batch_op.drop_index('ix_expertise_messages_parent_user')
