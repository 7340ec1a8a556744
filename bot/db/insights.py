"""Tables of the network-health skill (skills/insights): the admin-page links already used
(a link is single use: its nonce is a unique key, so a second use fails on insert) and the
monthly reports already sent (one per workspace and month, so a second fire sends nothing), and
the who-knows questions of each month, counted (no person, no text, no topic)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import ID_LENGTH, Base, WorkspaceScoped
from bot.db.models import utcnow


class InsightsLinkUse(WorkspaceScoped, Base):
    """An admin-page link that was used: written when the link opens a session."""

    __tablename__ = "insights_link_uses"
    __table_args__ = (UniqueConstraint("nonce", name="uq_insights_link_nonce"),)
    __person_columns__ = ("user_id",)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    used_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InsightsReport(WorkspaceScoped, Base):
    """A monthly network report sent to the admins: written before the messages go out."""

    __tablename__ = "insights_reports"
    __table_args__ = (UniqueConstraint("workspace", "month", name="uq_insights_report_month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # "2026-11": the month the report covers
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InsightsQuestions(WorkspaceScoped, Base):
    """Who-knows questions per workspace and month, as two counts: asked, and answered with at
    least one person who knows. No person, no text, no topic: nothing here is about anyone."""

    __tablename__ = "insights_questions"
    __table_args__ = (UniqueConstraint("workspace", "month", name="uq_insights_questions_month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # "2026-11", UTC
    asked: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
