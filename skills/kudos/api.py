"""What other skills may ask of the kudos skill. The network report (skills/insights) reads who
thanked whom and when; nothing outside skills/kudos reads the kudos tables: it goes through these
functions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.kudos import KudosRow
from skills.kudos.rules import as_utc

__all__ = ["Thanks", "thanks_before"]


@dataclass(frozen=True)
class Thanks:
    """One thanks: who gave it, who received it, and when it counts (aware UTC)."""

    giver_id: str
    receiver_id: str
    at: dt.datetime


def thanks_before(session: Session, before: dt.datetime) -> list[Thanks]:
    """Every thanks given before ``before``, in the session's workspace."""
    rows = session.execute(select(KudosRow.giver_id, KudosRow.receiver_id, KudosRow.at).where(KudosRow.at < before))
    return [Thanks(giver, receiver, as_utc(at)) for giver, receiver, at in rows]
