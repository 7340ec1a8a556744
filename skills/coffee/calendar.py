"""Coffee time: the period a round belongs to (``2026-W45``, ``2026-11-02+2w``, ``2026-11``), the
cron fields of a programme's schedule, when its next round runs, pauses, time zones, and the
wording of a schedule and of a date ("every week on Monday at 10:00 (Europe/Zurich)").
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.coffee import CoffeeProgramme, CoffeeRound
from bot.i18n import format_date, weekday_name
from skills.coffee.text import T


CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def trigger_fields(p: CoffeeProgramme) -> dict[str, Any]:
    """CronTrigger fields of a programme. Biweekly fires weekly: the second fire of a fortnight
    finds the fortnight's round already there and does nothing."""
    day = CRON_DAYS[p.weekday]
    fields: dict[str, Any] = {"hour": p.hour, "minute": p.minute, "timezone": p.tz}
    if p.cadence == "monthly":
        fields["day"] = f"1st {day}"
    else:
        fields["day_of_week"] = day
    return fields


def utc(at: dt.datetime | None) -> dt.datetime | None:
    """A stored time as an aware UTC datetime (SQLite gives them back without a zone)."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=dt.timezone.utc)


def utc_offset(tz: str | None, at: dt.datetime) -> float | None:
    if not tz:
        return None
    try:
        off = at.astimezone(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return off.total_seconds() / 3600 if off is not None else None


_FORTNIGHT_EPOCH = dt.date(1970, 1, 5)  # a Monday


def period_of(p: CoffeeProgramme, at: dt.datetime) -> str:
    """The period a time falls in, in the programme's time zone: ``2026-W45``, ``2026-11-02+2w``
    (the Monday starting the fortnight), or ``2026-11``."""
    local = at.astimezone(ZoneInfo(p.tz)).date()
    if p.cadence == "monthly":
        return f"{local.year}-{local.month:02d}"
    if p.cadence == "biweekly":
        start = _FORTNIGHT_EPOCH + dt.timedelta(days=((local - _FORTNIGHT_EPOCH).days // 14) * 14)
        return f"{start.isoformat()}+2w"
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def period_length(p: CoffeeProgramme) -> dt.timedelta:
    return {"weekly": dt.timedelta(days=7), "biweekly": dt.timedelta(days=14)}.get(p.cadence, dt.timedelta(days=30))


def is_paused(p: CoffeeProgramme, at: dt.datetime) -> bool:
    if not p.paused:
        return False
    if p.paused_until is None:
        return True
    return at.astimezone(ZoneInfo(p.tz)).date() < p.paused_until


def next_round_at(session: Session, p: CoffeeProgramme, after: dt.datetime) -> dt.datetime | None:
    """When the next round will run: the next scheduled time whose period has no round yet and
    that is not inside a pause."""
    if p.paused and p.paused_until is None:
        return None
    fields = trigger_fields(p)
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger(timezone=ZoneInfo(fields.pop("timezone")), **fields)
    done = set(session.scalars(select(CoffeeRound.period).where(CoffeeRound.programme_id == p.id)))
    t = trigger.get_next_fire_time(None, after)
    for _ in range(60):
        if t is None:
            return None
        if period_of(p, t) not in done and not is_paused(p, t):
            return t
        t = trigger.get_next_fire_time(t, t + dt.timedelta(seconds=1))
    return None


def fmt_when(lang: str, at: dt.datetime | None, tz: str) -> str:
    if at is None:
        return T.get(lang, "next_never")
    return format_date(lang, at.astimezone(ZoneInfo(tz)), "EEEE d MMM, HH:mm")  # Monday 7 Dec, 09:00


def schedule_text(lang: str, p: CoffeeProgramme) -> str:
    return T.get(lang, p.cadence, weekday=weekday_name(lang, p.weekday), time=f"{p.hour:02d}:{p.minute:02d}", tz=p.tz)
