"""Tables of the random-coffee skill: programmes (one per channel), who opted in or out, rounds
(one per programme and period, a unique key, so a repeated scheduler fire cannot pair twice),
groups with their members, intro and follow-up delivery marks and a per-group sending claim (so
sending resumes after a crash, group by group), met / not-met answers, and the interaction
counts between people ("ties") that let the pairing favour colleagues who rarely talk."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import ID_LENGTH, Base, WorkspaceScoped
from bot.db.models import utcnow


class CoffeeProgramme(WorkspaceScoped, Base):
    """A coffee programme: the members of ``channel_id`` meet every period.

    ``weekday`` is 0 for Monday; ``hour``/``minute`` and the weekday are local to ``tz``.
    ``paused`` with ``paused_until`` None is an open-ended pause."""

    __tablename__ = "coffee_programmes"
    __table_args__ = (UniqueConstraint("workspace", "channel_id", name="uq_coffee_programme_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    channel_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    cadence: Mapped[str] = mapped_column(String(16), default="weekly")  # weekly, biweekly, monthly
    weekday: Mapped[int] = mapped_column(Integer, default=0)
    hour: Mapped[int] = mapped_column(Integer, default=10)
    minute: Mapped[int] = mapped_column(Integer, default=0)
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    group_size: Mapped[int] = mapped_column(Integer, default=2)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CoffeeMember(WorkspaceScoped, Base):
    """Someone's choice about one programme: ``status`` "joined" (also people who are not in
    the channel) or "left" (opted out); ``snoozed_until`` skips rounds until then."""

    __tablename__ = "coffee_members"
    __table_args__ = (UniqueConstraint("workspace", "programme_id", "user_id", name="uq_coffee_member"),)
    __person_columns__ = ("user_id",)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("coffee_programmes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default="joined")
    snoozed_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CoffeeRound(WorkspaceScoped, Base):
    """One round of a programme. ``period`` names the week, fortnight or month it belongs to;
    (programme, period) is unique, which is what makes a round happen at most once."""

    __tablename__ = "coffee_rounds"
    __table_args__ = (UniqueConstraint("workspace", "programme_id", "period", name="uq_coffee_round_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("coffee_programmes.id", ondelete="CASCADE"), index=True)
    period: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer, default=1)  # 1 for the programme's first round
    seed: Mapped[int] = mapped_column(Integer, default=0)
    scheduled_for: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    eligible: Mapped[int] = mapped_column(Integer, default=0)  # channel members and joiners, humans
    participants: Mapped[int] = mapped_column(Integer, default=0)
    groups: Mapped[int] = mapped_column(Integer, default=0)
    total_pairs: Mapped[int] = mapped_column(Integer, default=0)
    cross_team_pairs: Mapped[int] = mapped_column(Integer, default=0)
    new_cross_team_ties: Mapped[int] = mapped_column(Integer, default=0)
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    followup_due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    intros_done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    followups_done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # When the round's note went to the programme's channel (a scheduled round's, once).
    announced_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CoffeeGroup(WorkspaceScoped, Base):
    """A group of one round. The intro and follow-up marks are set right after each send
    succeeds, so a resumed round sends only what is missing.

    ``sending_by`` / ``sending_until`` are a claim on the group's next message (its intro, later
    its follow-up): the sender (a process id) claims the group, posts, and records the mark and
    clears the claim in one commit. While the post is in flight the claim is renewed; a claim
    whose time ran out without a mark belongs to a sender that stopped mid-post, and whoever
    takes the group over first asks the platform whether that message got through."""

    __tablename__ = "coffee_groups"
    __table_args__ = (UniqueConstraint("workspace", "round_id", "number", name="uq_coffee_group_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("coffee_rounds.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    starter: Mapped[str | None] = mapped_column(String(200), nullable=True)  # shared topic, if any
    intro_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    intro_attempts: Mapped[int] = mapped_column(Integer, default=0)
    intro_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    conversation_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    followup_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    followup_attempts: Mapped[int] = mapped_column(Integer, default=0)
    sending_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sending_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CoffeeGroupMember(WorkspaceScoped, Base):
    """A member of a group and their answer to "did you meet?" (None until they answer)."""

    __tablename__ = "coffee_group_members"
    __table_args__ = (UniqueConstraint("workspace", "group_id", "user_id", name="uq_coffee_group_member"),)
    __person_columns__ = ("user_id",)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("coffee_groups.id", ondelete="CASCADE"), index=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("coffee_rounds.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    team: Mapped[str | None] = mapped_column(String(200), nullable=True)
    met: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CoffeeTie(WorkspaceScoped, Base):
    """How often two people interact in public channels (thread replies, mentions); the pair
    is stored once, with ``user_a < user_b``."""

    __tablename__ = "coffee_ties"
    __table_args__ = (UniqueConstraint("workspace", "user_a", "user_b", name="uq_coffee_tie"),)
    __person_columns__ = ("user_a", "user_b")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_a: Mapped[str] = mapped_column(String(ID_LENGTH))
    user_b: Mapped[str] = mapped_column(String(ID_LENGTH))
    interactions: Mapped[float] = mapped_column(Float, default=0.0)
    last_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
