"""/healthz answers while every shared worker thread is busy with handlers: a flood of slow
events must not make a live process look dead to its orchestrator."""

from __future__ import annotations

import importlib
import os

import aiohttp

from tests.http.fake_slack import FakeSlack, running_bot, slack_user


async def test_healthz_answers_while_every_shared_thread_is_busy(make_app, sqlite_url) -> None:  # noqa: ANN001
    skill = importlib.import_module("tests.http.test_slack_ack")  # its /slow command blocks on GATE
    skill.GATE.clear()
    skill.FINISHED.clear()
    # asyncio's default pool: min(32, CPUs + 4) threads; one more blocked command than that.
    busy = min(32, (os.cpu_count() or 1) + 4) + 1
    users = [slack_user(f"U0S{i:02d}", f"Slow {i}") for i in range(busy)]
    async with running_bot(make_app, FakeSlack(users=users, page_size=100), database_url=sqlite_url,
                           skills=(skill,)) as bot:
        try:
            for i, user in enumerate(users):
                # One conversation each, so the handlers run side by side and hold every thread.
                resp = await bot.command("/slow", "", user=user["id"], channel=f"D0S{i:02d}", channel_name="directmessage",
                                         trigger=str(100 + i))
                assert resp.status == 200
            # Generous: the old health check queued behind the blocked handlers until they ended.
            resp = await bot.client.get("/healthz", timeout=aiohttp.ClientTimeout(total=10))
            assert resp.status == 200
            body = await resp.json()
            assert body["database"]["ok"] is True and body["slack"]["events_in_progress"] == busy
            assert not skill.FINISHED.is_set()
        finally:
            skill.GATE.set()
            await bot.settle()
