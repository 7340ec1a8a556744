"""What the network report reads, through the other skills' tables, read only. Each function
takes a session scoped to one workspace (``Database.session(workspace)`` adds the workspace
condition to every query), so a report can never mix workspaces.

Read here:
- ``people``: who is a person (not a bot, not deleted) and their team — team sizes decide what
  may be shown (the ``min_group`` rule);
- ``coffee_rounds`` and ``coffee_group_members``: rounds, who was grouped with whom, the team
  recorded at pairing time and the "did you meet?" answers;
- ``expertise_messages``: who wrote in which public thread and when (no text is stored there);
  two people in one thread have interacted; a reply in someone else's thread is an answer;
- who thanked whom, and when: asked of the kudos skill (``skills.kudos.api``), which owns that
  table.

The who-knows questions of each month are this skill's own counts (``questions.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.coffee import CoffeeGroupMember, CoffeeRound
from bot.db.expertise import ExpertiseMessage
from bot.db.models import PersonRow
from skills.kudos.api import Thanks, thanks_before


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


@dataclass(frozen=True)
class ThreadPresence:
    """When one person first and last wrote in one public thread."""

    thread: tuple[str, str]  # (conversation id, thread root ts)
    user_id: str
    first: dt.datetime
    last: dt.datetime


@dataclass(frozen=True)
class Answer:
    """A reply in a thread someone else started."""

    user_id: str
    asker_id: str
    at: dt.datetime


def read_people(s: Session) -> dict[str, str | None]:
    """Every person (not bots, not deleted people) and their team, None when unknown."""
    rows = s.execute(select(PersonRow.user_id, PersonRow.team).where(
        PersonRow.is_bot.is_(False), PersonRow.deleted.is_(False)))
    return {user_id: (team or None) for user_id, team in rows}


def read_admin_ids(s: Session, hr_admins: Iterable[str]) -> list[str]:
    """The people who get the monthly report: workspace admins and the HR admins of the settings."""
    from bot import people

    rows = s.scalars(select(PersonRow).where(PersonRow.is_bot.is_(False), PersonRow.deleted.is_(False))).all()
    return sorted(r.user_id for r in rows if people.is_admin(r, hr_admins))


def read_rounds(s: Session, before: dt.datetime) -> list[RoundRow]:
    """Every coffee round started before ``before``, oldest first."""
    rows = s.execute(select(CoffeeRound.id, CoffeeRound.programme_id, CoffeeRound.seq, CoffeeRound.started_at)
                     .where(CoffeeRound.started_at < before).order_by(CoffeeRound.started_at, CoffeeRound.id))
    return [RoundRow(i, p, q, utc(at)) for i, p, q, at in rows]


def read_grouped(s: Session, round_ids: Iterable[int]) -> list[Grouped]:
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


def read_thread_presence(s: Session, before: dt.datetime) -> list[ThreadPresence]:
    """Per public thread and person, the first and last message before ``before`` (a message
    outside any thread is its own thread, so a reply meets its root)."""
    rows = s.execute(select(ExpertiseMessage.conversation_id, ExpertiseMessage.thread_ts, ExpertiseMessage.ts,
                            ExpertiseMessage.user_id, ExpertiseMessage.at)
                     .where(ExpertiseMessage.at < before))
    seen: dict[tuple[tuple[str, str], str], list[dt.datetime]] = {}
    for conv, thread_ts, ts, user_id, at in rows:
        key = ((conv, thread_ts or ts), user_id)
        at = utc(at)
        span = seen.get(key)
        if span is None:
            seen[key] = [at, at]
        else:
            span[0], span[1] = min(span[0], at), max(span[1], at)
    return [ThreadPresence(thread, user, first, last) for (thread, user), (first, last) in seen.items()]


def read_answers(s: Session, start: dt.datetime, end: dt.datetime) -> list[Answer]:
    """Replies in someone else's thread written in [start, end)."""
    rows = s.execute(select(ExpertiseMessage.user_id, ExpertiseMessage.parent_user_id, ExpertiseMessage.at)
                     .where(ExpertiseMessage.answer.is_(True), ExpertiseMessage.at >= start, ExpertiseMessage.at < end))
    return [Answer(u, p or "", utc(at)) for u, p, at in rows]


def read_thanks(s: Session, before: dt.datetime) -> list[Thanks]:
    """Every thanks given before ``before``."""
    return thanks_before(s, before)

