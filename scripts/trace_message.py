"""Which of our files one Slack "who knows kafka?" goes through, from POST /slack/events to the
chat.postMessage that answers it.

    PYTHONPATH=$PWD .venv/bin/python scripts/trace_message.py [--without routing]

It runs the real stack in one process: the app built by the real bootstrap with Slack on, its web
app served on loopback, the fake Slack Web API of ``tests/http/fake_slack.py`` (a real HTTP server
on an ephemeral port). Three channel messages about Kafka are posted and ingested first, so the
question has someone to name; then a profile hook is set on every thread (``sys.setprofile`` for
this one, ``threading.setprofile`` for every thread started after, installed before the app
starts any) and the signed DM "who knows kafka?" is posted. The hook records each Python function
of bot/, skills/ and adapters/ that is called, until the fake Slack receives the answer's
chat.postMessage. Module bodies run by an import are not counted: only functions that ran.

``--without NAME`` leaves a skill out of the app (``skills.NAME``), to compare with a tree that did
not have it yet. Prints the files in the order their first function ran (with that function and its thread), their
count, and the count without the core's plain data and helper modules (HELPERS below).

The checkout measured is the one ``bot`` is imported from (set PYTHONPATH to it); the script also
runs against a tree where the composition root was still ``bot/bootstrap.py``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

PACKAGES = ("bot", "skills", "adapters")
# The core's plain data and helper modules: counted apart, as they say little about the path.
HELPERS = ("bot/events.py", "bot/ports.py", "bot/db/__init__.py", "bot/i18n.py", "bot/text.py", "bot/people.py")
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)  # the tests' clock: a Monday
QUESTION = "who knows kafka?"


class Tracer:
    """A profile hook that records, while on, the first call into each of our files."""

    def __init__(self, root: Path) -> None:
        self.prefixes = tuple(str(root / package) + "/" for package in PACKAGES)
        self.root = str(root) + "/"
        self.recording = False
        self.files: dict[str, tuple[str, str]] = {}  # path -> (first function, thread name)
        self.answer: dict[str, Any] | None = None

    def hook(self, frame, event: str, arg: Any) -> None:  # noqa: ANN001
        if not self.recording or event != "call":
            return
        code = frame.f_code
        path = code.co_filename
        if code.co_name == "<module>" or not path.startswith(self.prefixes):
            return
        relative = path[len(self.root):]
        if relative not in self.files:
            self.files[relative] = (code.co_qualname, threading.current_thread().name)

    def install(self) -> None:
        threading.setprofile(self.hook)
        sys.setprofile(self.hook)

    def uninstall(self) -> None:
        sys.setprofile(None)
        threading.setprofile(None)


def imports() -> dict[str, Any]:
    """What the run needs, from the checkout on the path (the composition root moved once)."""
    try:
        from bot.app.bootstrap import SKILLS, bootstrap
    except ImportError:  # the tree before the composition root was bot/app/
        from bot.bootstrap import SKILLS, bootstrap
    from bot.config import load_settings
    from bot.ingest import IngestWorker
    from bot.ports import FixedClock
    from tests.http import fake_slack

    return {"bootstrap": bootstrap, "load_settings": load_settings, "IngestWorker": IngestWorker,
            "FixedClock": FixedClock, "fake_slack": fake_slack, "SKILLS": SKILLS}


async def run(tracer: Tracer, database_url: str, without: list[str]) -> None:
    need = imports()
    fs = need["fake_slack"]
    skills = [m for m in need["SKILLS"] if m.__name__.rpartition(".")[2] not in without]

    class TracedSlack(fs.FakeSlack):
        def _m_chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
            if tracer.recording and body.get("channel") == "D0BOB":
                tracer.recording = False  # the answer has reached Slack: the window closes here
                tracer.answer = body
            return super()._m_chat_postMessage(body)

    def make_app(*, database_url: str, platforms: Any, env: dict[str, str], **overrides: Any) -> Any:
        settings = need["load_settings"]({"DATABASE_URL": database_url, **env}, overrides=overrides or None)
        return need["bootstrap"](settings, clock=need["FixedClock"](T0), platforms=platforms, chats={}, migrate=True,
                                 skills=skills)

    fake = TracedSlack(users=[
        fs.slack_user("U0ADA", "Ada Lovelace", title="Platform", is_admin=True),
        fs.slack_user("U0BOB", "Bob Martin", title="Sales"),
        fs.slack_user("U0DAN", "Dan Brown", title="Platform"),
    ])
    async with fs.running_bot(make_app, fake, database_url=database_url) as bot:
        said = [
            ("U0ADA", "Our Kafka consumers lag behind; I tuned the Kafka partitions and the consumer groups today."),
            ("U0ADA", "Kafka retention is now seven days on the events topic, ping me for Kafka questions."),
            ("U0DAN", "The Terraform plan for the staging VPC is ready for review."),
        ]
        for n, (user, text) in enumerate(said, 1):
            await bot.event(fs.channel_message(user, text, f"1762070500.00{n}000"), event_id=f"EvK{n}")
        await bot.settle()
        await asyncio.to_thread(need["IngestWorker"](bot.app).drain)

        question = fs.channel_message("U0BOB", QUESTION, "1762070600.000100", channel="D0BOB", channel_type="im")
        tracer.recording = True
        response = await bot.event(question, event_id="EvQ1")
        await bot.settle()
        tracer.recording = False
        if response.status != 200:
            raise SystemExit(f"POST /slack/events answered {response.status}")


def main(argv: list[str] | None = None) -> int:
    import argparse

    import bot

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--without", action="append", default=[], metavar="SKILL",
                        help="leave the skill skills.SKILL out (repeatable)")
    args = parser.parse_args(argv)

    root = Path(bot.__file__).resolve().parents[1]
    tracer = Tracer(root)
    tracer.install()  # before the app starts any thread, so each new thread inherits the hook
    try:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run(tracer, f"sqlite:///{tmp}/trace.db", args.without))
    finally:
        tracer.uninstall()
    if tracer.answer is None:
        print("No answer reached chat.postMessage: nothing to show.", file=sys.stderr)
        return 1
    print(f"Checkout: {root}" + (f" (without {', '.join(args.without)})" if args.without else ""))
    print(f'Answer to "{QUESTION}" (DM): {json.dumps(tracer.answer.get("text", ""))[:100]}…')
    print("Files whose functions ran from POST /slack/events to chat.postMessage, in first-call order:")
    for n, (path, (function, thread)) in enumerate(tracer.files.items(), 1):
        mark = "  (helper)" if path in HELPERS else ""
        print(f"  {n:>2}. {path:<40} {function}  [{thread}]{mark}")
    core = [path for path in tracer.files if path not in HELPERS]
    print(f"Files: {len(tracer.files)}; without the plain data/helper modules ({', '.join(HELPERS)}): {len(core)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
