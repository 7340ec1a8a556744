"""What other skills may ask of the coffee skill. The network report (skills/insights) reads the
rounds and who was grouped with whom; nothing outside skills/coffee reads the coffee tables: it
goes through these functions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.context import SkillContext
from bot.db.coffee import CoffeeGroupMember, CoffeeMember, CoffeeProgramme, CoffeeRound
from bot.ports import ChatError
from bot.privacy import forgotten

__all__ = ["Grouped", "RoundRow", "grouped_in", "in_a_programme", "rounds_before"]


def utc(at: dt.datetime) -> dt.datetime:
    """Stored times as aware UTC (SQLite hands back naive datetimes; every stored time is UTC)."""
    return at.replace(tzinfo=dt.timezone.utc) if at.tzinfo is None else at.astimezone(dt.timezone.utc)


@dataclass(frozen=True)
class RoundRow:
    id: int
    programme_id: int
    seq: int
    started_at: dt.datetime


@dataclass(frozen=True)
class Grouped:
    """One person in one coffee group, with the group's answer as they gave it."""

    round_id: int
    group_id: int
    user_id: str
    team: str | None
    met: bool | None


def rounds_before(s: Session, before: dt.datetime) -> list[RoundRow]:
    """Every coffee round started before ``before``, oldest first."""
    rows = s.execute(select(CoffeeRound.id, CoffeeRound.programme_id, CoffeeRound.seq, CoffeeRound.started_at)
                     .where(CoffeeRound.started_at < before).order_by(CoffeeRound.started_at, CoffeeRound.id))
    return [RoundRow(i, p, q, utc(at)) for i, p, q, at in rows]


def grouped_in(s: Session, round_ids: Iterable[int]) -> list[Grouped]:
    """The members of the groups of these rounds, with their answers."""
    ids = list(round_ids)
    out: list[Grouped] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = s.execute(select(CoffeeGroupMember.round_id, CoffeeGroupMember.group_id, CoffeeGroupMember.user_id,
                                CoffeeGroupMember.team, CoffeeGroupMember.met)
                         .where(CoffeeGroupMember.round_id.in_(chunk)))
        out.extend(Grouped(r, g, u, t or None, m) for r, g, u, t, m in rows)
    return out


def in_a_programme(ctx: SkillContext, user_ids: Iterable[str]) -> set[str]:
    """Who of ``user_ids`` takes part in a coffee programme of the workspace: a member of its
    channel or someone who joined it, who has not left it nor said "forget me" since (as a round
    counts them; snoozing still counts as taking part). A channel whose members the platform
    cannot list counts only those who joined."""
    wanted = set(user_ids)
    out: set[str] = set()
    for p in ctx.db.scalars(select(CoffeeProgramme)).all():
        choices = ctx.db.scalars(select(CoffeeMember).where(
            CoffeeMember.programme_id == p.id, CoffeeMember.user_id.in_(sorted(wanted)))).all()
        left = {c.user_id for c in choices if c.status == "left"}
        joined = {c.user_id for c in choices if c.status == "joined"}
        members: set[str] = set()
        if ctx.chat is not None:
            try:
                members = set(ctx.chat.list_members(p.channel_id)) & wanted
            except ChatError:
                members = set()
        left |= forgotten(ctx.db, members - joined)
        out |= (members | joined) - left
    return out
