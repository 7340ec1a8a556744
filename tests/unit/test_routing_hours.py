"""Working hours in a person's own time zone, as routed questions count them."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.config import ConfigError
from skills.routing.hours import WorkingHours, add_working_hours, is_working, next_start

WH = WorkingHours.parse("09:00-18:00", ["mon", "tue", "wed", "thu", "fri"])


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone.utc)


def test_inside_working_hours_is_now_and_outside_is_the_next_morning() -> None:
    monday_10_zurich = utc(2026, 11, 2, 9, 0)
    assert is_working(monday_10_zurich, "Europe/Zurich", WH)
    assert next_start(monday_10_zurich, "Europe/Zurich", WH) == monday_10_zurich
    # 18:00 UTC is evening in Zurich and night in Tokyo; Tokyo's next morning comes first.
    evening = utc(2026, 11, 2, 18, 0)
    assert next_start(evening, "Europe/Zurich", WH) == utc(2026, 11, 3, 8, 0)
    assert next_start(evening, "Asia/Tokyo", WH) == utc(2026, 11, 3, 0, 0)
    # Friday evening waits for Monday; no time zone (or an unknown one) is UTC.
    assert next_start(utc(2026, 11, 6, 19, 0), None, WH) == utc(2026, 11, 9, 9, 0)
    assert next_start(utc(2026, 11, 6, 19, 0), "Mars/Olympus", WH) == utc(2026, 11, 9, 9, 0)


def test_a_deadline_counts_working_hours_only() -> None:
    friday_17 = utc(2026, 11, 6, 17, 0)  # 18:00 in Zurich: the day is over
    assert add_working_hours(friday_17, 24, "Europe/Zurich", WH) == utc(2026, 11, 11, 14, 0)  # Wednesday 15:00
    assert add_working_hours(utc(2026, 11, 2, 8, 0), 9, "Europe/Zurich", WH) == utc(2026, 11, 2, 17, 0)


def test_a_day_that_ends_at_midnight_has_no_gap_before_it() -> None:
    every_day = WorkingHours.parse("00:00-24:00", ["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    # 23:59 and 23:59:59 in Paris are inside the day (a day up to "23:59" left a minute out).
    for at in (utc(2026, 12, 5, 22, 59), utc(2026, 12, 5, 22, 59, 59), utc(2026, 12, 5, 23, 0), utc(2026, 12, 6, 12, 0)):
        assert is_working(at, "Europe/Paris", every_day), at
    assert not is_working(utc(2026, 12, 5, 22, 59), "Europe/Paris", WorkingHours.parse("00:00-23:59", ["sat"]))
    # A deadline runs on through midnight, even over a change of clocks (Paris, 25 October 2026).
    assert add_working_hours(utc(2026, 10, 24, 20, 0), 30, "Europe/Paris", every_day) == utc(2026, 10, 26, 2, 0)
    # Working hours that end at midnight on working days only: Friday night waits for Monday.
    to_midnight = WorkingHours.parse("18:00-24:00", ["mon", "tue", "wed", "thu", "fri"])
    assert is_working(utc(2026, 11, 6, 22, 30), None, to_midnight)
    assert next_start(utc(2026, 11, 7, 0, 0), None, to_midnight) == utc(2026, 11, 9, 18, 0)


@pytest.mark.parametrize(("hours", "days"), [("9-18", ["mon"]), ("18:00-09:00", ["mon"]), ("09:00-18:00", []),
                                             ("09:00-18:00", ["someday"]), ("00:00-24:30", ["mon"]),
                                             ("24:00-24:00", ["mon"])])
def test_unusable_settings_are_refused(hours: str, days: list[str]) -> None:
    with pytest.raises(ConfigError, match="expertise.route_work"):
        WorkingHours.parse(hours, days)
