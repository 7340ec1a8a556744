"""How fast the Slack adapter acknowledges, and how long until the answer reaches Slack.

Runs the production app (bootstrap, web app, Slack adapter) on loopback against the fake Slack
of the tests, sends signed Events API deliveries ("help" in a DM) and slash commands, and prints
the acknowledgement latency (what Slack's 3-second limit applies to) and the time until the
answer was posted. SQLite in a temporary directory unless DATABASE_URL is set.

    .venv/bin/python bench/slack_ack.py [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402

from bot.app.bootstrap import bootstrap  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.web import build_web_app  # noqa: E402
from skills import help as help_skill  # noqa: E402
from tests.http.fake_slack import SIGNING_SECRET, TEAM_ID, FakeSlack, channel_message, event_envelope, slack_user  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def signed(body: str, content_type: str) -> dict[str, str]:
    ts = str(int(time.time()))
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=body)}


async def run(n: int) -> None:
    fake = await FakeSlack(users=[slack_user(f"U{i:04d}", f"Person {i}") for i in range(50)], page_size=200).start()
    tmp = tempfile.mkdtemp()
    env = {"DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/bench.db",
           "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake.api_url}
    settings = load_settings(env, overrides={"slack": {"min_seconds_between_messages": 0.0}})
    app = bootstrap(settings, platforms=["slack"], skills=(help_skill,), migrate=True)
    adapter = app.adapters["slack"]
    await adapter.start()
    client = TestClient(TestServer(build_web_app(app)))
    await client.start_server()
    posted_at: dict[str, float] = {}
    sent_at: dict[str, float] = {}
    app.dispatcher.hooks_after.append(lambda event, outcome: posted_at.setdefault(getattr(event, "ts", "") or "", time.perf_counter()))
    try:
        acks: list[float] = []
        for i in range(n):
            ts = f"1762071000.{i:06d}"
            body = json.dumps(event_envelope(channel_message(f"U{i % 50:04d}", "help", ts, channel=f"D{i % 50:04d}",
                                                             channel_type="im"), event_id=f"EvB{i}"))
            started = time.perf_counter()
            resp = await client.post("/slack/events", data=body.encode(), headers=signed(body, "application/json"))
            acks.append((time.perf_counter() - started) * 1000)
            sent_at[ts] = started
            assert resp.status == 200
        await adapter.drain()
        done = [(posted_at[ts] - sent_at[ts]) * 1000 for ts in sent_at if ts in posted_at]

        cmd_acks: list[float] = []
        for i in range(n):
            form = urlencode({"team_id": TEAM_ID, "channel_id": "C0GENERAL", "channel_name": "general",
                              "user_id": f"U{i % 50:04d}", "command": "/liaison", "text": "help",
                              "response_url": fake.response_url(str(i)), "trigger_id": f"{i}.1.x"})
            started = time.perf_counter()
            resp = await client.post("/slack/events", data=form.encode(),
                                     headers=signed(form, "application/x-www-form-urlencoded"))
            cmd_acks.append((time.perf_counter() - started) * 1000)
            assert resp.status == 200
        await adapter.drain()
        answered = len(fake.calls("chat.postMessage")) + len(fake.calls("chat.postEphemeral"))
        print(f"database: {app.db.dialect}; {n} events and {n} slash commands, one at a time")
        print(f"event ack ms:    p50 {statistics.median(acks):.1f}  p95 {pct(acks, 0.95):.1f}  max {max(acks):.1f}")
        print(f"command ack ms:  p50 {statistics.median(cmd_acks):.1f}  p95 {pct(cmd_acks, 0.95):.1f}  max {max(cmd_acks):.1f}")
        print(f"event -> answer handled ms: p50 {statistics.median(done):.1f}  p95 {pct(done, 0.95):.1f}  max {max(done):.1f}")
        print(f"answers posted to the fake Slack: {answered} of {2 * n}")
    finally:
        await adapter.stop()
        await client.close()
        await fake.stop()
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(run(args.requests))


if __name__ == "__main__":
    main()
