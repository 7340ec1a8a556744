"""Slack gets its acknowledgement before any skill work runs: a handler that is still blocked
does not hold the HTTP answer back. This module is also the small blocking skill under test."""

from __future__ import annotations

import importlib
import threading

from bot.context import SkillContext
from bot.dispatch import reply
from bot.router import Routes
from tests.http.fake_slack import FakeSlack, channel_message, running_bot, slack_user

routes = Routes("slowcheck")
GATE = threading.Event()
FINISHED = threading.Event()


@routes.command("slow")
def slow(event, ctx: SkillContext):  # noqa: ANN001
    GATE.wait(timeout=60)
    FINISHED.set()
    return reply(ctx, "done at last")


@routes.message(en=r"slow please")
def slow_message(event, ctx: SkillContext):  # noqa: ANN001
    return slow(event, ctx)


async def test_commands_and_events_are_acknowledged_before_the_handler_finishes(make_app, sqlite_url) -> None:  # noqa: ANN001
    # The skill is this module under its package name; use that module's events (pytest may
    # have imported this file under another name).
    skill = importlib.import_module("tests.http.test_slack_ack")
    gate, finished = skill.GATE, skill.FINISHED
    gate.clear()
    finished.clear()
    fake = FakeSlack(users=[slack_user("U0CAM", "Camille Durand")])
    async with running_bot(make_app, fake, database_url=sqlite_url, skills=(skill,)) as bot:
        command = await bot.command("/slow", "", user="U0CAM", trigger="21")
        event = await bot.event(channel_message("U0CAM", "slow please", "1762071000.000100", channel="D0CAM",
                                                channel_type="im"), event_id="EvA1")
        assert (command.status, event.status) == (200, 200)
        assert not finished.is_set()  # both answered while the handler is still blocked
        gate.set()
        await bot.settle()
    assert finished.is_set()
    assert sorted(c["channel"] for c in fake.calls("chat.postMessage")) == ["C0GENERAL", "D0CAM"]
