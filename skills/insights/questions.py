"""Who-knows questions, counted per workspace and month: asked, and answered with at least one
person who knows. The expertise skill tells about each question with
``ctx.notify("who_knows.asked", answered=…)``; this skill listens (the service
``on:who_knows.asked:insights``) and adds one to the month's counts, once the answer is sent,
in a transaction of its own (the dispatcher runs it right after sending). Only the two counts are kept: no person, no text, no topic, so "forget me" has
nothing to erase here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.db.insights import InsightsQuestions


def month_of(at: dt.datetime) -> str:
    """The UTC calendar month of ``at``, as the report labels months ("2026-11")."""
    at = at.astimezone(dt.timezone.utc) if at.tzinfo else at
    return f"{at.year:04d}-{at.month:02d}"


def count_question(ctx: Any, *, answered: bool) -> None:
    """One more question in the month of ``ctx.clock.now()``, answered or not: one upsert, so
    questions asked at the same moment in one workspace each count."""
    session: Session = ctx.db
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = InsightsQuestions.__table__
    stmt = insert(table).values(workspace=ctx.workspace.key, month=month_of(ctx.clock.now()), asked=1,
                                answered=int(answered))
    stmt = stmt.on_conflict_do_update(index_elements=["workspace", "month"],
                                      set_={"asked": table.c.asked + 1, "answered": table.c.answered + int(answered)})
    session.execute(stmt)


def read_questions(s: Session, months: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Asked and answered per month label, for the months that had a question (a session
    scoped to one workspace reads only its own counts)."""
    wanted = list(months)
    rows = s.execute(select(InsightsQuestions.month, InsightsQuestions.asked, InsightsQuestions.answered)
                     .where(InsightsQuestions.month.in_(wanted)))
    return {month: (asked, answered) for month, asked, answered in rows}
