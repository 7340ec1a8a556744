"""expertise: the workspace's count of people kept in one row; a message's evidence topics read
from an index alone

``expertise_counts`` holds, per workspace, how many people the index holds and their latest
activity: every question weighs topics by the first and measures time up to the second, and
read them by counting ``expertise_people``. The index's writer keeps the row from now on; the
upgrade fills it from what is stored.

``ix_expertise_evidence_message`` (workspace, conversation, ts) becomes (workspace,
conversation, ts, kind, topic_key): the topics of the thread roots a batch's replies are in are
read from the index alone. Without it SQLite preferred walking the unique index of the whole
workspace's evidence, which made each batch of an import slower than the one before.

Revision ID: 0009_expertise_speed
Revises: 0008_wide_ids
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_expertise_speed"
down_revision = "0008_wide_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "expertise_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("people_n", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("workspace", sa.String(length=96), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace", name="uq_expertise_counts"),
    )
    op.execute(
        "INSERT INTO expertise_counts (workspace, people_n, last_at) "
        "SELECT workspace, count(*), max(last_at) FROM expertise_people GROUP BY workspace"
    )
    with op.batch_alter_table("expertise_evidence", schema=None) as batch_op:
        batch_op.create_index("ix_expertise_evidence_message_topic",
                              ["workspace", "conversation_id", "ts", "kind", "topic_key"], unique=False)
        batch_op.drop_index("ix_expertise_evidence_message")


def downgrade() -> None:
    with op.batch_alter_table("expertise_evidence", schema=None) as batch_op:
        batch_op.create_index("ix_expertise_evidence_message", ["workspace", "conversation_id", "ts"], unique=False)
        batch_op.drop_index("ix_expertise_evidence_message_topic")
    op.drop_table("expertise_counts")
