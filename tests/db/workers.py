"""Real worker processes for the fail-over tests, and what they need around them.

``python -m tests.db.workers`` is `liaison worker` (``bot.app.runtime.work``: the scheduler and the
ingestion worker, built by the real bootstrap from the environment) with the coffee skill alone,
so a process starts in a second or two instead of loading the language pipelines first.
``Worker`` runs one, reads its log as it comes, and can kill it with SIGKILL at a chosen moment;
``coffee_setup`` makes a Slack workspace with a coffee programme whose round is due now, on the
fake Slack those processes talk to. A worker's clock is the system clock, except while the test
holds it (``HeldClock``: the file ``worker_env`` names exists and says the time): so a test can
have a worker arrive at a chosen moment of another worker's claim, whatever the machine's load.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import func, select

from bot.db.coffee import CoffeeGroup, CoffeeRound
from bot.events import CommandInvoked, Conversation, Person, Workspace
from bot.ports import FixedClock
from skills import coffee
from tests.http.fake_slack import SIGNING_SECRET, TEAM_ID, FakeSlack, slack_user

ROOT = Path(__file__).resolve().parents[2]
WS = Workspace("slack", TEAM_ID)
ADMIN = Person(id="U0ADA", name="Ada Lovelace", team="Platform", tz="UTC", locale="en-US")
PEOPLE = [("U0ADA", "Ada Lovelace", "Platform"), ("U0BOB", "Bob Martin", "Sales"), ("U0CAM", "Camille Durand", "People"),
          ("U0DAN", "Dan Brown", "Platform"), ("U0EVE", "Eve Adams", "Sales"), ("U0FOX", "Fox Mulder", "People"),
          ("U0GIL", "Gil Scott", "Legal"), ("U0HAL", "Hal Jordan", "Legal")]
COFFEE = Conversation("C0COFFEE", "channel", "coffee")
CLAIM_SECONDS = 8.0  # how long a killed worker's claim outlives its last renewal
WORKER_CONFIG = f"""
[bot]
hr_admins = ["U0ADA"]
[scheduler]
leader_poll_seconds = 0.5
[coffee]
claim_seconds = {CLAIM_SECONDS}
[slack]
min_seconds_between_messages = 0.0
"""


def fake_slack() -> FakeSlack:
    users = [slack_user(uid, name, title=team, tz="UTC") for uid, name, team in PEOPLE]
    return FakeSlack(users=users, members={"C0COFFEE": [uid for uid, _, _ in PEOPLE]})


CLOCK_FILE = "LIAISON_TEST_CLOCK_FILE"  # environment: the file that holds the workers' clock


class HeldClock:
    """The system clock, except while the file ``path`` exists: then the time written in it
    (ISO 8601), standing still. Deleting the file lets the clock go on (a jump to the real time)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> dt.datetime:
        try:
            held = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            held = ""
        return dt.datetime.fromisoformat(held) if held else dt.datetime.now(dt.timezone.utc)

    def hold(self, at: dt.datetime) -> None:
        """Stop the clock at ``at`` (written whole, then renamed into place)."""
        part = self.path.with_suffix(".part")
        part.write_text(at.isoformat(), encoding="utf-8")
        part.replace(self.path)

    def release(self) -> None:
        self.path.unlink(missing_ok=True)


def worker_env(database_url: str, fake: FakeSlack, tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "worker.toml"
    config.write_text(WORKER_CONFIG, encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "LIAISON_"))}
    environ.update({"DATABASE_URL": database_url, "LIAISON_CONFIG": str(config), "PYTHONPATH": str(ROOT),
                    "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                    "SLACK_API_URL": fake.api_url, CLOCK_FILE: str(tmp_path / "worker-clock")})
    return environ


def worker_clock(env: dict[str, str]) -> HeldClock:
    """The clock of the workers started with ``env`` (running until the test holds it)."""
    return HeldClock(Path(env[CLOCK_FILE]))


async def coffee_setup(make_app: Callable[..., Any], database_url: str, fake: FakeSlack) -> tuple[Any, dt.datetime]:
    """A weekly programme in #coffee whose round fell due a moment ago (the job is stored with
    that run time, as a worker that was running then would have stored it). Returns the app
    (for reading the database) and the round's time."""
    now = dt.datetime.now(dt.timezone.utc)
    due = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
    before = FixedClock(due - dt.timedelta(seconds=30))
    app = make_app(database_url=database_url, platforms=["slack"], skills=(coffee,), clock_=before,
                   env={"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake.api_url},
                   bot={"hr_admins": [ADMIN.id]}, slack={"min_seconds_between_messages": 0.0})
    day = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")[due.weekday()]
    outcome = await app.dispatcher.handle(CommandInvoked(
        workspace=WS, conversation=COFFEE, sender=ADMIN, command="coffee",
        text=f"cadence weekly on {day} at {due:%H:%M} UTC", event_id="EvSetup1"))
    assert outcome.status == "ok", outcome
    s = app.services.get("scheduler")
    await s.start()  # stores the round's job, due at ``due``
    await s.stop()
    return app, due


def rounds(app: Any) -> list[Any]:
    with app.db.session(WS.key) as s:
        return s.scalars(select(CoffeeRound).order_by(CoffeeRound.id)).all()


def open_claims(app: Any) -> list[tuple[int, str, dt.datetime]]:
    """The claims on intros not sent yet: (group number, holder, runs until), by group."""
    with app.db.session(WS.key) as s:
        rows = s.execute(select(CoffeeGroup.number, CoffeeGroup.sending_by, CoffeeGroup.sending_until)
                         .where(CoffeeGroup.intro_sent_at.is_(None), CoffeeGroup.sending_by.is_not(None))
                         .order_by(CoffeeGroup.number)).all()
    return [(number, by, until if until.tzinfo else until.replace(tzinfo=dt.timezone.utc)) for number, by, until in rows]


def group_count(app: Any) -> int:
    with app.db.session(WS.key) as s:
        return s.scalar(select(func.count()).select_from(CoffeeGroup)) or 0


def intros_by_channel(fake: FakeSlack) -> dict[str, list[str]]:
    """Group DM -> the keys of the coffee intros in it, as Slack holds them."""
    return {channel: [m["metadata"]["event_payload"]["key"] for m in messages if "metadata" in m]
            for channel, messages in fake.history.items() if channel.startswith("G")}


async def until(check: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll ``check`` (in a thread) until it returns something true; fail after ``timeout`` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await asyncio.to_thread(check)
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.2)


class Worker:
    """One worker process; ``lines`` is its log so far."""

    def __init__(self, env: dict[str, str], name: str) -> None:
        self.env, self.name = env, name
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._new_line = asyncio.Event()

    async def start(self) -> "Worker":
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.db.workers", cwd=str(ROOT), env=self.env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.lines.append(raw.decode("utf-8", "replace").rstrip())
            self._new_line.set()

    async def wait_for(self, text: str, *, timeout: float = 60.0) -> str:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for line in self.lines:
                if text in line:
                    return line
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0 or (self.proc is not None and self.proc.returncode is not None):
                raise AssertionError(f"worker {self.name} never logged {text!r}; its log:\n" + "\n".join(self.lines[-40:]))
            self._new_line.clear()
            try:
                await asyncio.wait_for(self._new_line.wait(), timeout=min(left, 1.0))
            except asyncio.TimeoutError:
                pass

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when the machine or the container goes."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=20)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            await self._reader


def main() -> None:
    from bot.app.bootstrap import bootstrap
    from bot.app.cli import setup_logging
    from bot.app.runtime import work
    from bot.config import load_settings

    setup_logging("INFO")
    clock = HeldClock(Path(os.environ[CLOCK_FILE])) if os.environ.get(CLOCK_FILE) else None
    app = bootstrap(load_settings(), skills=(coffee,), clock=clock)
    try:
        asyncio.run(work(app))
    finally:
        app.close()


if __name__ == "__main__":
    main()
