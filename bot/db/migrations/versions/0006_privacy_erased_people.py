"""privacy: erased people (kept after forget me, so nothing brings them back)

Revision ID: 0006_privacy
Revises: 0001_core
Create Date: 2026-12-04 19:16:55.994168
"""

from alembic import op
import sqlalchemy as sa


revision = '0006_privacy'
down_revision = '0001_core'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('erased_people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_key', sa.String(length=64), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('indexed_again_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('workspace', sa.String(length=96), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace', 'person_key', name='uq_erased_person')
    )
    with op.batch_alter_table('erased_people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_erased_people_workspace'), ['workspace'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('erased_people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_erased_people_workspace'))

    op.drop_table('erased_people')
