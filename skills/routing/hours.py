"""Working hours in a person's own time zone: whether now is inside them, when they next start,
and a deadline counted in working hours (a question routed on Friday at 17:00 with 24 working
hours to go is due on Wednesday afternoon, with 09:00–18:00, Monday to Friday)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config import ConfigError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UTC = dt.timezone.utc


@dataclass(frozen=True)
class WorkingHours:
    start: dt.time
    end: dt.time
    days: frozenset[int]  # 0 is Monday
    to_midnight: bool = False  # "…-24:00": the day's working hours end at the next midnight (``end`` unused)

    @classmethod
    def parse(cls, hours: str, days: Sequence[str]) -> "WorkingHours":
        """From the settings: ``"09:00-18:00"`` and ``["mon", …]``; the end may be ``24:00`` (up
        to midnight: ``"00:00-24:00"`` is the whole day). A value that cannot be used raises
        ConfigError naming the setting."""
        m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", hours)
        to_midnight = bool(m) and (int(m.group(3)), int(m.group(4))) == (24, 0)
        if not m or int(m.group(1)) > 23 or (int(m.group(3)) > 23 and not to_midnight) or int(m.group(2)) > 59 \
                or int(m.group(4)) > 59:
            raise ConfigError(f"expertise.route_work_hours must look like \"09:00-18:00\" (the end may be 24:00), "
                              f"not {hours!r}")
        start = dt.time(int(m.group(1)), int(m.group(2)))
        end = dt.time(0, 0) if to_midnight else dt.time(int(m.group(3)), int(m.group(4)))
        if end <= start and not to_midnight:
            raise ConfigError(f"expertise.route_work_hours must end after it starts, not {hours!r}")
        wanted = [d.strip().lower()[:3] for d in days]
        if not wanted or any(d not in DAYS for d in wanted):
            raise ConfigError(f"expertise.route_work_days must name days such as \"mon\", not {list(days)!r}")
        return cls(start, end, frozenset(DAYS.index(d) for d in wanted), to_midnight)


def zone(tz: str | None) -> ZoneInfo | dt.timezone:
    """A person's time zone; UTC when the directory has none, or one Python does not know."""
    try:
        return ZoneInfo(tz) if tz else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def aware(at: dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC datetime (SQLite gives them back without a zone)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _bounds(day: dt.date, tz: ZoneInfo | dt.timezone, wh: WorkingHours) -> tuple[dt.datetime, dt.datetime]:
    end = (dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=tz) if wh.to_midnight
           else dt.datetime.combine(day, wh.end, tzinfo=tz))
    return dt.datetime.combine(day, wh.start, tzinfo=tz).astimezone(UTC), end.astimezone(UTC)


def next_start(at: dt.datetime, tz: str | None, wh: WorkingHours) -> dt.datetime:
    """``at`` when it falls in the person's working hours, else when they next begin."""
    z = zone(tz)
    at = aware(at)
    local = at.astimezone(z)
    for i in range(8):
        day = local.date() + dt.timedelta(days=i)
        if day.weekday() not in wh.days:
            continue
        start, end = _bounds(day, z, wh)
        if start <= at < end:
            return at
        if at < start:
            return start
    return at  # no working day at all cannot happen (parse refuses it); never wait forever


def is_working(at: dt.datetime, tz: str | None, wh: WorkingHours) -> bool:
    return next_start(at, tz, wh) == aware(at)


def add_working_hours(at: dt.datetime, hours: float, tz: str | None, wh: WorkingHours) -> dt.datetime:
    """The time ``hours`` working hours after ``at``, counted in the working hours of ``tz``."""
    z = zone(tz)
    left = dt.timedelta(hours=hours)
    t = next_start(at, tz, wh)
    for _ in range(3660):  # ten years of working days: far beyond any setting
        _, end = _bounds(t.astimezone(z).date(), z, wh)
        if t + left <= end:
            return t + left
        left -= end - t
        t = next_start(end, tz, wh)
    return t + left
