"""What the network report reads, asked of the other skills through their ``api`` modules. Each function
takes a session scoped to one workspace (``Database.session(workspace)`` adds the workspace
condition to every query), so a report can never mix workspaces.

Read here:
- ``people``: who is a person (not a bot, not deleted) and their team — team sizes decide what
  may be shown (the ``min_group`` rule);
- rounds, who was grouped with whom, the team recorded at pairing time and the "did you meet?"
  answers: asked of the coffee skill (``skills.coffee.api``);
- who wrote in which public thread and when (no text is kept): asked of the expertise skill
  (``skills.expertise.api``); two people in one thread have interacted; a reply in someone
  else's thread is an answer;
- who thanked whom, and when: asked of the kudos skill (``skills.kudos.api``), which owns that
  table.

The who-knows questions of each month are this skill's own counts (``questions.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import PersonRow
from skills.coffee.api import Grouped, RoundRow, grouped_in, rounds_before
from skills.expertise.api import Answer, ThreadPresence, answers_between, thread_presence_before
from skills.kudos.api import Thanks, thanks_before


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


def read_thanks(s: Session, before: dt.datetime) -> list[Thanks]:
    """Every thanks given before ``before``."""
    return thanks_before(s, before)


def read_rounds(s: Session, before: dt.datetime) -> list[RoundRow]:
    """Every coffee round started before ``before``, oldest first (asked of the coffee skill)."""
    return rounds_before(s, before)


def read_grouped(s: Session, round_ids: Iterable[int]) -> list[Grouped]:
    """The members of the groups of these rounds, with their answers (asked of the coffee skill)."""
    return grouped_in(s, round_ids)


def read_thread_presence(s: Session, before: dt.datetime) -> list[ThreadPresence]:
    """Per public thread and person, the first and last message before ``before`` (asked of the
    expertise skill, which keeps no text)."""
    return thread_presence_before(s, before)


def read_answers(s: Session, start: dt.datetime, end: dt.datetime) -> list[Answer]:
    """Replies in someone else's thread written in [start, end) (asked of the expertise skill)."""
    return answers_between(s, start, end)
