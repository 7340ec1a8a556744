"""Core tables: people, events seen (idempotency), the inbox of acknowledged events, the durable
ingestion queue and stored conversation references. Skills keep their tables in their own modules beside this one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import ID_LENGTH, Base, WorkspaceScoped


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class PersonRow(WorkspaceScoped, Base):
    """Someone the bot has seen. ``indexing_opt_out`` keeps them out of the expertise index."""

    __tablename__ = "people"
    __person_columns__ = ("user_id",)
    __table_args__ = (UniqueConstraint("workspace", "user_id", name="uq_people_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    name: Mapped[str] = mapped_column(String(200), default="")
    team: Mapped[str | None] = mapped_column(String(200), nullable=True)
    tz: Mapped[str | None] = mapped_column(String(64), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    indexing_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class EventSeen(WorkspaceScoped, Base):
    """One row per event handled; the unique key makes a retried delivery a no-op."""

    __tablename__ = "events_seen"
    __person_columns__ = ("user_id",)
    __table_args__ = (UniqueConstraint("workspace", "key", name="uq_events_seen_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)  # who caused the event
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class InboxItem(WorkspaceScoped, Base):
    """An event acknowledged to its platform and not handled yet: written before the
    acknowledgement, deleted in the transaction that records the event as seen (``events_seen``).
    A process that dies in between leaves the row; the next one handles it (``bot/inbox.py``).
    ``event`` is the neutral event without its raw payload; ``meta`` what the adapter needs to
    answer it (a slash command's response_url)."""

    __tablename__ = "inbox"
    __person_columns__ = ("user_id",)
    # Ids never come back after a delete (SQLite would reuse the highest): they order the
    # events as received and name one event for as long as it is being handled.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)  # who caused the event
    event: Mapped[dict[str, Any]] = mapped_column(JSON)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # times handed out again after a crash


class IngestItem(WorkspaceScoped, Base):
    """A public-channel message waiting for the worker. Its text lives here only until the
    worker has turned it into topics; then the row is deleted in the same transaction.
    One row per message: an edit replaces the pending text, a deletion replaces the op."""

    __tablename__ = "ingest_queue"
    __person_columns__ = ("user_id", "parent_user_id")
    # Another person's reply in an erased person's thread stays queued, without the link.
    __person_links__ = ("parent_user_id",)
    __person_lists__ = ("mentions",)
    __table_args__ = (UniqueConstraint("workspace", "conversation_id", "ts", name="uq_ingest_message"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    op: Mapped[str] = mapped_column(String(16), default="upsert")  # "upsert" or "delete"
    conversation_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    conversation_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ts: Mapped[str] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parent_user_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    text: Mapped[str] = mapped_column(Text, default="")
    mentions: Mapped[list[str]] = mapped_column(JSON, default=list)
    permalink: Mapped[str | None] = mapped_column(String(500), nullable=True)
    message_time: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    enqueued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ErasedPerson(WorkspaceScoped, Base):
    """Someone who said "forget me": kept after everything else about them is erased, so that
    nothing queued or in flight brings them back, they stay out of the index until they say
    "start indexing me", and out of coffee rounds until they join again.

    ``person_key`` is a one-way digest of the workspace and user id (``bot.privacy.person_key``):
    the table can tell whether someone is in it, but does not list who is."""

    __tablename__ = "erased_people"
    __table_args__ = (UniqueConstraint("workspace", "person_key", name="uq_erased_person"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_key: Mapped[str] = mapped_column(String(64))
    erased_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When they asked to be indexed again; None: their messages are not indexed.
    indexed_again_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ConversationRef(WorkspaceScoped, Base):
    """What a platform needs to message someone later (Teams ConversationReference, a Slack
    DM channel id), so proactive messages still work after a restart."""

    __tablename__ = "conversation_refs"
    __person_columns__ = ("user_id",)
    __table_args__ = (UniqueConstraint("workspace", "key", name="uq_conversation_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255))  # "user:<id>" or "conversation:<id>"
    user_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)  # set for a person's 1:1
    reference: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Installation(Base):
    """A workspace the bot is installed in, and whether it still is."""

    __tablename__ = "installations"

    workspace: Mapped[str] = mapped_column(String(96), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    installed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
