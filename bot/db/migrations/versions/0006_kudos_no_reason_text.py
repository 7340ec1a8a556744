"""kudos: the reason's text is not kept (only its topics); existing reasons are erased

Revision ID: 0006_kudos
Revises: 0003_kudos
Create Date: 2026-12-04 19:18:41.852762
"""

from alembic import op
import sqlalchemy as sa


revision = '0006_kudos'
down_revision = '0003_kudos'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Emptied first, then dropped: PostgreSQL only marks a dropped column as gone, so the texts
    # would otherwise stay in the table's rows until they are next rewritten.
    op.execute(sa.text("UPDATE kudos SET reason = '' WHERE reason <> ''"))
    with op.batch_alter_table('kudos', schema=None) as batch_op:
        batch_op.drop_column('reason')


def downgrade() -> None:
    # The texts are gone; an older version finds the column back, empty.
    with op.batch_alter_table('kudos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.Text(), nullable=False, server_default=''))
