"""One message cannot freeze the bot: after channel messages made to make regular expressions
backtrack (a thanks followed by 1,500 newlines, mentions separated by blank lines), a direct
message is still acknowledged and answered within a second, and the long thanks is answered too.

The one-second bound is the safety property itself (Slack retries, then gives up, on slow
acknowledgements); the work measured takes a few milliseconds."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import T0
from tests.http.fake_slack import FakeSlack, channel_message, running_bot, slack_user

BOUND = 1.0  # seconds


def ts(n: int) -> str:
    return f"{int(T0.timestamp())}.{n:06d}"


async def probe(bot, fake: FakeSlack, n: int) -> None:  # noqa: ANN001
    """A DM to the bot and GET /healthz: each must be answered within the bound. The timed windows
    cover every await of the test, so a freeze at any moment falls in one of them."""
    started = time.perf_counter()
    await asyncio.sleep(0.05)
    resp = await bot.event(channel_message("U0CAM", "help", ts(100 + n), channel="D0CAM", channel_type="im"),
                           event_id=f"EvP{n}")
    acked = time.perf_counter() - started
    assert resp.status == 200
    assert acked < BOUND, f"DM {n} was acknowledged after {acked:.2f} s"
    while len([c for c in fake.calls("chat.postMessage") if c["channel"] == "D0CAM"]) < n:
        assert time.perf_counter() - started < BOUND, f"DM {n} was not answered within a second"
        await asyncio.sleep(0.01)
    started = time.perf_counter()
    health = await bot.client.get("/healthz")
    assert health.status == 200 and time.perf_counter() - started < BOUND


def answered_to_bob(fake: FakeSlack) -> list[str]:
    return [c["text"] for c in fake.calls("chat.postMessage") if c["channel"] == "D-U0BOB"]


async def test_dms_are_acked_and_answered_within_a_second_meanwhile(make_app, sqlite_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.kudos")
    fake = FakeSlack(users=[slack_user("U0ADA", "Ada Lovelace"), slack_user("U0BOB", "Bob Martin"),
                            slack_user("U0CAM", "Camille Durand")])
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        # As `liaison serve` does, the language pipelines are loaded before the first request.
        await asyncio.to_thread(bot.app.services.get("nlp").load_all)
        mentions = "\n\n".join(["<@U0BOB>"] * 13)
        long_thanks = "thanks <@U0BOB> x" + "\n" * 1500 + "y"
        assert len(long_thanks) == 1518
        for n, text in enumerate((mentions, long_thanks), 1):
            started = time.perf_counter()
            resp = await bot.event(channel_message("U0ADA", text, ts(n)), event_id=f"EvF{n}")
            assert resp.status == 200 and time.perf_counter() - started < BOUND
        # Probe the bot until the channel messages have been handled (the thanks answered), and
        # at least twice; each probe is a new DM.
        n = 0
        while n < 2 or not answered_to_bob(fake):
            n += 1
            assert n <= 50, "the 1,518-character thanks was not answered"
            await probe(bot, fake, n)
        await bot.settle()

    # The 1,518-character thanks was read as a thanks: Bob is told, with its reason.
    [to_bob] = answered_to_bob(fake)
    assert "<@U0ADA>" in to_bob and "_x y_" in to_bob
    routes = [o.route for o in bot.outcomes]
    assert "kudos.thanks_message" in routes and routes.count("help.show_help") == n
