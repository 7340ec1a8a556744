"""Widen every user, conversation and channel id column to 255 characters.

Teams ids do not fit in 64: a user is "29:" and about 110 characters, a 1:1 conversation "a:"
and about 140. PostgreSQL refused them ("value too long for type character varying(64)");
SQLite does not enforce lengths, so there is nothing to do there. On PostgreSQL widening a
varchar is a catalogue change: no table is rewritten.

Revision ID: 0008_wide_ids
Revises: every head before it
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_wide_ids"
down_revision = (
    "0006_coffee_delivery", "0006_inbox", "0006_kudos", "0006_privacy", "0007_expertise_pair",
    "0007_insights_questions",
)
branch_labels = None
depends_on = None

# (table, column, nullable)
COLUMNS = (
    ("coffee_programmes", "channel_id", False),
    ("coffee_members", "user_id", False),
    ("coffee_groups", "conversation_id", True),
    ("coffee_group_members", "user_id", False),
    ("coffee_ties", "user_a", False),
    ("coffee_ties", "user_b", False),
    ("expertise_messages", "conversation_id", False),
    ("expertise_messages", "parent_user_id", True),
    ("expertise_messages", "user_id", False),
    ("expertise_evidence", "user_id", False),
    ("expertise_evidence", "conversation_id", False),
    ("expertise_scores", "user_id", False),
    ("expertise_people", "user_id", False),
    ("insights_link_uses", "user_id", False),
    ("kudos", "giver_id", False),
    ("kudos", "receiver_id", False),
    ("kudos", "conversation_id", True),
    ("kudos_digests", "user_id", False),
    ("people", "user_id", False),
    ("events_seen", "user_id", True),
    ("inbox", "user_id", True),
    ("ingest_queue", "conversation_id", False),
    ("ingest_queue", "parent_user_id", True),
    ("ingest_queue", "user_id", False),
    ("conversation_refs", "user_id", True),
)


def _alter(length_from: int, length_to: int) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column, nullable in COLUMNS:
        op.alter_column(table, column, type_=sa.String(length_to), existing_type=sa.String(length_from),
                        existing_nullable=nullable)


def upgrade() -> None:
    _alter(64, 255)


def downgrade() -> None:
    _alter(255, 64)
