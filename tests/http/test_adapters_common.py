"""What Slack and Teams share (adapters.common): pacing per conversation, retry delays and the
retry loop, ordered background tasks, the periodic sync loop, paging and installation rows.

The pacing tests run on the real event loop clock (aiolimiter reads it), with short periods;
what they assert are lower bounds on the gaps and the order of starts, which load cannot break.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.common import installations, paging
from adapters.common.flow import Pacer, Tasks
from adapters.common.periodic import Periodic
from adapters.common.retry import retry_delay, retrying
from bot.db import Database
from bot.db.migrate import upgrade
from bot.db.models import Installation

EPS = 0.01  # the loop's timers may fire this much early; aiolimiter then checks again

log = logging.getLogger("test.adapters.common")


async def _turns(pacer: Pacer, keys: list[str], *, gap: float = 0.0) -> list[tuple[str, float]]:
    """Ask for a turn per key, ``gap`` seconds apart; (key, loop time the turn started) in the
    order turns were given."""
    loop = asyncio.get_running_loop()
    started: list[tuple[str, float]] = []

    async def one(key: str) -> None:
        async with pacer.turn(key):
            started.append((key, loop.time()))

    tasks = []
    for key in keys:
        tasks.append(asyncio.create_task(one(key)))
        await asyncio.sleep(gap)
    await asyncio.gather(*tasks)
    return started


async def test_slack_pacing_is_one_message_per_interval_per_conversation() -> None:
    pacer = Pacer(1, 0.3)  # SlackChat's: one per min_seconds_between_messages
    started = await _turns(pacer, ["C1", "C1", "C2", "C1"], gap=0.05)
    c1 = [t for key, t in started if key == "C1"]
    c2 = [t for key, t in started if key == "C2"]
    assert c1[1] - c1[0] >= 0.3 - EPS and c1[2] - c1[1] >= 0.3 - EPS
    # C2 does not wait for C1: it starts before C1's second message.
    assert [key for key, _ in started] == ["C1", "C2", "C1", "C1"]
    assert c2[0] < c1[1]


async def test_a_period_of_zero_does_not_pace() -> None:
    pacer = Pacer(1, 0.0)
    loop = asyncio.get_running_loop()
    before = loop.time()
    started = await _turns(pacer, ["C1"] * 20)
    assert [key for key, _ in started] == ["C1"] * 20
    assert loop.time() - before < 1.0


async def test_teams_pacing_never_puts_more_than_seven_in_any_second() -> None:
    pacer = Pacer.per_second(7)
    started = await _turns(pacer, ["a"] * 10 + ["b"])
    times = [t for key, t in started if key == "a"]
    assert len(times) == 10
    for start in times:
        assert sum(1 for t in times if start <= t < start + 1.0 - EPS) <= 7
    assert all(later - earlier >= 1 / 7 - EPS for earlier, later in zip(times, times[1:]))
    # Another conversation is not held back by a's queue: b goes before a's second message.
    b = next(t for key, t in started if key == "b")
    assert b < times[1]


def test_a_pacer_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError):
        Pacer.per_second(0)


def test_retry_delays_double_and_respect_retry_after() -> None:
    assert [retry_delay(attempt=a, base=1.0, cap=30.0, retry_after=None) for a in (1, 2, 3, 6)] == [1.0, 2.0, 4.0, 30.0]
    assert retry_delay(attempt=1, base=1.0, cap=30.0, retry_after="5") == 5.0
    assert retry_delay(attempt=3, base=1.0, cap=30.0, retry_after="1") == 4.0
    assert retry_delay(attempt=1, base=1.0, cap=30.0, retry_after="soon") == 1.0


class Throttled(Exception):
    def __init__(self, retry_after: str | None) -> None:
        super().__init__("throttled")
        self.retry_after = retry_after


async def test_retrying_waits_as_asked_and_gives_up_after_the_attempts() -> None:
    slept: list[float] = []
    announced: list[tuple[int, float]] = []
    calls = 0

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def call() -> str:
        nonlocal calls
        calls += 1
        raise Throttled("3" if calls == 1 else None)

    with pytest.raises(Throttled):
        async for attempt in retrying(attempts=4, base=1.0, cap=30.0, sleep=sleep,
                                      should_retry=lambda exc: isinstance(exc, Throttled),
                                      retry_after=lambda exc: getattr(exc, "retry_after", None),
                                      before_wait=lambda exc, n, s: announced.append((n, s))):
            with attempt:
                await call()
    assert calls == 4
    assert slept == [3.0, 2.0, 4.0]  # Retry-After 3 s, then doubling from the base
    assert announced == [(2, 3.0), (3, 2.0), (4, 4.0)]


async def test_retrying_does_not_retry_what_is_not_worth_it() -> None:
    calls = 0

    async def sleep(seconds: float) -> None:
        raise AssertionError("no wait expected")

    with pytest.raises(KeyError):
        async for attempt in retrying(attempts=5, base=1.0, cap=30.0, sleep=sleep,
                                      should_retry=lambda exc: isinstance(exc, Throttled)):
            with attempt:
                calls += 1
                raise KeyError("not found")
    assert calls == 1


async def test_tasks_of_one_key_run_in_the_order_they_were_handed_over() -> None:
    tasks = Tasks(log, "failed")
    done: list[str] = []

    async def job(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        done.append(name)

    # The first of each conversation is the slowest: order within a key must still hold.
    for name, seconds in [("a1", 0.05), ("b1", 0.03), ("a2", 0.0), ("a3", 0.01), ("b2", 0.0)]:
        tasks.in_order(name[0], job(name, seconds))
    await tasks.drain()
    assert [n for n in done if n.startswith("a")] == ["a1", "a2", "a3"]
    assert [n for n in done if n.startswith("b")] == ["b1", "b2"]
    assert done.index("b1") < done.index("a1")  # b did not wait for a
    assert len(tasks) == 0


async def test_a_failing_task_is_logged_and_the_next_one_of_its_key_still_runs(caplog) -> None:  # noqa: ANN001
    tasks = Tasks(log, "handling an event failed")
    done: list[str] = []

    async def boom() -> None:
        raise RuntimeError("bug")

    async def fine() -> None:
        done.append("fine")

    with caplog.at_level(logging.ERROR, logger=log.name):
        tasks.in_order("k", boom())
        tasks.in_order("k", fine())
        await tasks.drain()
    assert done == ["fine"]
    assert [r.getMessage() for r in caplog.records] == ["handling an event failed"]
    assert caplog.records[0].exc_info is not None


async def test_a_periodic_job_keeps_running_after_a_failure(caplog) -> None:  # noqa: ANN001
    runs: list[int] = []
    enough = asyncio.Event()

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("database away")
        if len(runs) == 3:
            enough.set()

    periodic = Periodic("test-sync", job, hours=0.01 / 3600, log=log, failure="sync failed: %s; again in %.0f h")
    with caplog.at_level(logging.WARNING, logger=log.name):
        periodic.start()
        await asyncio.wait_for(enough.wait(), 5)
        await periodic.stop()
    assert runs[:3] == [0, 1, 2] and not periodic.running
    assert [r.getMessage() for r in caplog.records] == ["sync failed: database away; again in 0 h"]


async def test_a_periodic_job_with_no_period_never_starts() -> None:
    async def job() -> None:
        raise AssertionError("must not run")

    periodic = Periodic("off", job, hours=0, log=log, failure="%s %.0f")
    periodic.start()
    assert not periodic.running
    await periodic.stop()


async def test_paging_follows_the_cursor_and_stops_at_the_limit() -> None:
    book = {None: (["a", "b"], "p2"), "p2": (["c"], "p3"), "p3": (["d"], "")}
    asked: list[str | None] = []

    async def fetch(cursor: str | None) -> tuple[list[str], str]:
        asked.append(cursor)
        return book[cursor]

    assert await paging.collect(fetch, lambda page: page[1], lambda page: page[0]) == ["a", "b", "c", "d"]
    assert asked == [None, "p2", "p3"]
    asked.clear()
    first_two = [page[0] async for page in paging.pages(fetch, lambda page: page[1], limit=2)]
    assert first_two == [["a", "b"], ["c"]] and asked == [None, "p2"]


def test_installation_rows_are_marked_active_and_inactive(database_url) -> None:  # noqa: ANN001
    db = Database(database_url)
    upgrade(db)
    installations.mark_active(db, "slack:T1", name="Acme")
    installations.mark_active(db, "teams:t2")
    installations.mark_inactive(db, "slack:T1")
    installations.mark_active(db, "teams:t2")  # again: still one row, still active
    installations.mark_inactive(db, "slack:T9")  # removed before it was ever seen: recorded
    with db.session(None) as s:
        rows = {r.workspace: (r.name, r.active) for r in s.query(Installation).all()}
    assert rows == {"slack:T1": ("Acme", False), "teams:t2": (None, True), "slack:T9": (None, False)}
    installations.mark_active(db, "slack:T1")  # back, without a name: the stored name stays
    with db.session(None) as s:
        assert (s.get(Installation, "slack:T1").name, s.get(Installation, "slack:T1").active) == ("Acme", True)
    db.dispose()
