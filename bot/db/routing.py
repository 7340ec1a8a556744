"""Tables of the question-routing skill ("Ask them for me").

- ``routing_questions``: a who-knows answer the asker may have routed, and its course: "offered"
  (the answer with its button), "open" (offers are out), "accepted" (a helper said "I can
  help"), "expired" (nobody did in time) or "closed" (nobody left to ask). The people of the
  answer, best first, are a JSON list (``candidates``).
- ``routing_offers``: one per person asked, with its state (pending, sent, accepted, declined,
  passed, taken, expired), the sending claim (``sending_by``/``sending_until``, as coffee groups
  have one) and where the platform put the message (``conversation_id``/``message_ts``), so
  the buttons can be replaced later by "taken". (question, expert) is unique.
- ``routing_not_me``: "Not me" on a topic, per asker, expert and topic, with its time: routing
  stops sending that topic to the expert for ``expertise.not_me_days``, and the asker's later
  questions rank the expert lower on it.
- ``routing_opt_outs``: people who said "don't send me questions".

Every column naming a person is declared, so "forget me" deletes the person's rows as asker and
as expert (an offer names its question's asker too, so the asker's questions go with their offers).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import ID_LENGTH, Base, WorkspaceScoped
from bot.db.models import utcnow


class RoutedQuestion(WorkspaceScoped, Base):
    __tablename__ = "routing_questions"
    __person_columns__ = ("asker_id", "helper_id")
    __person_links__ = ("helper_id",)
    __person_lists__ = ("candidates",)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asker_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    question: Mapped[str] = mapped_column(Text)
    context: Mapped[str | None] = mapped_column(Text, nullable=True)
    topics: Mapped[list] = mapped_column(JSON, default=list)  # [[key, display, lang], …]
    candidates: Mapped[list] = mapped_column(JSON, default=list)  # user ids, best first
    conversation_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    permalink: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    lang: Mapped[str] = mapped_column(String(8), default="en")
    state: Mapped[str] = mapped_column(String(16), default="offered", index=True)
    helper_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    routed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    deadline_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    thanks_offered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RoutingOffer(WorkspaceScoped, Base):
    __tablename__ = "routing_offers"
    __table_args__ = (UniqueConstraint("workspace", "question_id", "expert_id", name="uq_routing_offer"),)
    __person_columns__ = ("asker_id", "expert_id")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("routing_questions.id", ondelete="CASCADE"), index=True)
    asker_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    expert_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    rank: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    not_before: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sending_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    sending_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    conversation_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    message_ts: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RoutingNotMe(WorkspaceScoped, Base):
    __tablename__ = "routing_not_me"
    __table_args__ = (UniqueConstraint("workspace", "asker_id", "expert_id", "topic_key", name="uq_routing_not_me"),)
    __person_columns__ = ("asker_id", "expert_id")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asker_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    expert_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    topic_key: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RoutingOptOut(WorkspaceScoped, Base):
    __tablename__ = "routing_opt_outs"
    __table_args__ = (UniqueConstraint("workspace", "user_id", name="uq_routing_opt_out"),)
    __person_columns__ = ("user_id",)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
