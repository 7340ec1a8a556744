"""Tables of the "thank a colleague" skill: one row per thanks received, one row per monthly
digest sent, and the workspace's kudos options that admins change from chat.

Idempotency lives in the unique keys: a thanks is keyed by its source (the message, or the
reaction of one person on one message) and its receiver, so an edited, retried or re-reacted
thanks is stored once; a digest is keyed by (person, month), so a second scheduler fire sends
nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import ID_LENGTH, Base, WorkspaceScoped
from bot.db.models import utcnow


class KudosRow(WorkspaceScoped, Base):
    """One person thanked by another, once per source and receiver.

    ``weight`` is what the thanks counted for as expertise evidence (below 1 for pairs who keep
    thanking each other); ``topics`` holds every topic key of its reason (and thread), and
    ``topic_names`` the few display forms named to people ("my thanks", the monthly digest).
    The reason's text is not kept; ``conversation_name`` and ``permalink`` only for a public
    channel.
    """

    __tablename__ = "kudos"
    __table_args__ = (
        UniqueConstraint("workspace", "source_key", "receiver_id", name="uq_kudos_source_receiver"),
        Index("ix_kudos_giver_at", "workspace", "giver_id", "at"),
        Index("ix_kudos_receiver_at", "workspace", "receiver_id", "at"),
    )
    __person_columns__ = ("giver_id", "receiver_id")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_key: Mapped[str] = mapped_column(String(255))
    giver_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    receiver_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    topic_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    via: Mapped[str] = mapped_column(String(16), default="message")  # "message", "command", "reaction"
    conversation_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    conversation_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ts: Mapped[str | None] = mapped_column(String(64), nullable=True)
    permalink: Mapped[str | None] = mapped_column(String(500), nullable=True)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KudosDigestRow(WorkspaceScoped, Base):
    """A monthly digest sent to one person: written before the message goes out, so a second
    fire of the same month finds it and sends nothing."""

    __tablename__ = "kudos_digests"
    __table_args__ = (UniqueConstraint("workspace", "user_id", "month", name="uq_kudos_digest_month"),)
    __person_columns__ = ("user_id",)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    month: Mapped[str] = mapped_column(String(7))  # "2026-11"
    thanks: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KudosOptionsRow(WorkspaceScoped, Base):
    """What admins changed from chat; a workspace without a row follows config/default.toml."""

    __tablename__ = "kudos_options"
    __table_args__ = (UniqueConstraint("workspace", name="uq_kudos_options_workspace"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    leaderboard: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
