"""Tables of the expertise index. No message text is stored: only topics, who, when, and where
(conversation id, timestamp, permalink) for the "why" of an answer.

- ``expertise_messages``: one row per indexed message (idempotency, edits, deletes, threads);
- ``expertise_evidence``: one row per (person, topic, kind, message) with its weight;
- ``expertise_scores``: per (person, topic), counts and time-weighted sums by kind, kept in step
  with the evidence so a question reads a few rows per topic instead of every message;
- ``expertise_people``: per person, how often they answered in others' threads (the prior);
- ``expertise_models``: per workspace, the ranking learned from its answered threads (weights
  as JSON, no code);
- ``expertise_topics``: per topic, its display form and how many people have evidence for it
  (the document frequency that makes rare topics count more than common ones);
- ``expertise_counts``: per workspace, how many people the index holds and its latest activity.

Time-weighted sums are stored as ``Σ weight · 2^((t − EPOCH) / half_life)``; dividing by
``2^((now − EPOCH) / half_life)`` at query time gives the decayed value without rewriting rows.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import ID_LENGTH, Base, WorkspaceScoped


class _Scoped(WorkspaceScoped):
    """``WorkspaceScoped`` without an index on the workspace alone: every index of these tables
    starts with the workspace and serves that lookup, so a one-column index would only make
    each write (thousands of rows per ingested batch) update one more index."""

    workspace: Mapped[str] = mapped_column(String(96))


class ExpertiseMessage(_Scoped, Base):
    __tablename__ = "expertise_messages"
    __table_args__ = (
        UniqueConstraint("workspace", "conversation_id", "ts", name="uq_expertise_message"),
        Index("ix_expertise_messages_thread", "workspace", "conversation_id", "thread_ts"),
        Index("ix_expertise_messages_user", "workspace", "user_id"),
        # Past help between an asker and the people who answered them: a question counts, for
        # each candidate, their answers in the asker's threads with one seek each (however many
        # replies the asker's threads hold).
        Index("ix_expertise_messages_parent_user", "workspace", "parent_user_id", "user_id"),
    )
    __person_columns__ = ("user_id", "parent_user_id")
    # Another person's reply in an erased person's thread stays indexed, without the link.
    __person_links__ = ("parent_user_id",)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    conversation_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ts: Mapped[str] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parent_user_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    # 1: help (not chatter) in someone else's thread, the person's first in that thread
    answer: Mapped[bool] = mapped_column(Boolean, default=False)
    question: Mapped[bool] = mapped_column(Boolean, default=False)  # 1: a thread's first message that asks
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    permalink: Mapped[str | None] = mapped_column(String(500), nullable=True)


class ExpertiseEvidence(_Scoped, Base):
    __tablename__ = "expertise_evidence"
    __table_args__ = (
        UniqueConstraint("workspace", "user_id", "topic_key", "kind", "conversation_id", "ts", name="uq_expertise_evidence"),
        # A message's evidence: its topics (the thread roots a batch's replies are in) read from
        # the index alone, and the rows an edit or a deletion takes back.
        Index("ix_expertise_evidence_message_topic", "workspace", "conversation_id", "ts", "kind", "topic_key"),
        # The latest evidence of one person on one topic, for the links of an answer.
        Index("ix_expertise_evidence_person_topic", "workspace", "user_id", "topic_key", "at"),
    )
    __person_columns__ = ("user_id",)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    topic_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # wrote, answered, thanked, declared
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    conversation_id: Mapped[str] = mapped_column(String(ID_LENGTH), default="")  # "" when no message
    ts: Mapped[str] = mapped_column(String(64), default="")
    permalink: Mapped[str | None] = mapped_column(String(500), nullable=True)
    conversation_name: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ExpertiseScore(_Scoped, Base):
    __tablename__ = "expertise_scores"
    __table_args__ = (
        UniqueConstraint("workspace", "user_id", "topic_key", name="uq_expertise_score"),
        # The strongest people of one topic first, read from the index alone: it holds every
        # column a question reads of them (an index-only scan instead of a table row per person).
        Index("ix_expertise_scores_topic", "workspace", "topic_key", "strength", "user_id", "last_at", "wrote_n",
              "answered_n", "thanked_n", "declared_n", "wrote_s", "answered_s", "thanked_s", "declared_s"),
    )
    __person_columns__ = ("user_id",)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    topic_key: Mapped[str] = mapped_column(String(200))
    wrote_n: Mapped[int] = mapped_column(Integer, default=0)
    answered_n: Mapped[int] = mapped_column(Integer, default=0)
    thanked_n: Mapped[int] = mapped_column(Integer, default=0)
    declared_n: Mapped[int] = mapped_column(Integer, default=0)
    wrote_s: Mapped[float] = mapped_column(Float, default=0.0)
    answered_s: Mapped[float] = mapped_column(Float, default=0.0)
    thanked_s: Mapped[float] = mapped_column(Float, default=0.0)
    declared_s: Mapped[float] = mapped_column(Float, default=0.0)
    # Σ kind weight × time-weighted sum, with the weights in force when written: orders the
    # candidates of a topic; the exact score is computed with the current weights.
    strength: Mapped[float] = mapped_column(Float, default=0.0)
    last_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ExpertisePerson(_Scoped, Base):
    __tablename__ = "expertise_people"
    __table_args__ = (
        UniqueConstraint("workspace", "user_id", name="uq_expertise_person"),
        Index("ix_expertise_people_helpers", "workspace", "answers_s"),
        Index("ix_expertise_people_recent", "workspace", "last_at"),
    )
    __person_columns__ = ("user_id",)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    messages_n: Mapped[int] = mapped_column(Integer, default=0)
    answers_n: Mapped[int] = mapped_column(Integer, default=0)
    answers_s: Mapped[float] = mapped_column(Float, default=0.0)
    last_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ExpertiseTopic(_Scoped, Base):
    __tablename__ = "expertise_topics"
    __table_args__ = (UniqueConstraint("workspace", "key", name="uq_expertise_topic"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    display: Mapped[str] = mapped_column(String(200))
    lang: Mapped[str] = mapped_column(String(8), default="en")
    people_n: Mapped[int] = mapped_column(Integer, default=0)  # people with evidence for it


class ExpertiseModel(_Scoped, Base):
    """The ranking a workspace learned from its own history (see ``skills/expertise/model.py``): the
    features' names, means, scales and weights as JSON. Names no person."""

    __tablename__ = "expertise_models"
    __table_args__ = (UniqueConstraint("workspace", name="uq_expertise_model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    examples: Mapped[int] = mapped_column(Integer, default=0)  # answered questions it learned from
    model: Mapped[str] = mapped_column(Text)


class ExpertiseCounts(_Scoped, Base):
    """Per workspace, what every question weighs topics by and measures time up to: how many
    people the index holds (rows of ``expertise_people``) and the latest of their ``last_at``.
    Kept by the index's writer as it adds people, and counted again where people are removed,
    so a question reads one row instead of counting the workspace's people. Names no person."""

    __tablename__ = "expertise_counts"
    __table_args__ = (UniqueConstraint("workspace", name="uq_expertise_counts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    people_n: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
