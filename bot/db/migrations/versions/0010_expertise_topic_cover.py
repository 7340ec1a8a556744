"""expertise: a topic's strongest people read from the index alone

``ix_expertise_scores_topic`` (workspace, topic, strength) becomes (workspace, topic, strength,
then every other column a question reads of a score row: person, latest activity, counts and
time-weighted sums by kind). A question reads the strongest 300 people of each of its topics;
with the narrow index each of them cost a read of the table (scattered: one page per person),
with this one the database reads a few index pages per topic (PostgreSQL: an index-only scan,
about 20 pages instead of 600 for a three-topic question on a 10,000-person index; SQLite: a
covering index). The index is about 1.8 times the old one's size.

Revision ID: 0010_expertise_topic_cover
Revises: 0009_expertise_speed
"""

from __future__ import annotations

from alembic import op

revision = "0010_expertise_topic_cover"
down_revision = "0009_expertise_speed"
branch_labels = None
depends_on = None

_COVER = ["workspace", "topic_key", "strength", "user_id", "last_at", "wrote_n", "answered_n", "thanked_n", "declared_n",
          "wrote_s", "answered_s", "thanked_s", "declared_s"]


def upgrade() -> None:
    with op.batch_alter_table("expertise_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_expertise_scores_topic")
        batch_op.create_index("ix_expertise_scores_topic", _COVER, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("expertise_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_expertise_scores_topic")
        batch_op.create_index("ix_expertise_scores_topic", ["workspace", "topic_key", "strength"], unique=False)
