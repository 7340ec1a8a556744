"""Nothing Slack got a 200 for is lost: `liaison serve` killed with SIGKILL right after its last
acknowledgement, started again, handles every acknowledged channel message (Slack never
redelivers what it got a 200 for). A real process, a real port, signed requests shaped like
Slack's, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
from sqlalchemy import create_engine, func, select

from bot.db import normalise_url
from bot.db.expertise import ExpertiseMessage
from bot.db.models import EventSeen, IngestItem
from tests.http.fake_slack import SIGNING_SECRET, TEAM_ID, FakeSlack, channel_message, event_envelope, slack_user
from tests.http.serve_process import ServeProcess, free_port, percentile, run_cli, signed_headers

# 300 messages: the kill still finds most of them acknowledged but not yet indexed. The first
# process indexes while it acknowledges, at a fraction of the acknowledging rate (measured: 223 of
# 1,000 indexed by the kill; 0 of 300, on SQLite and on PostgreSQL), so fewer messages leave no fewer waiting in
# proportion, and 32 senders still have about ten requests each. What the test proves is that
# none of those waiting at the kill is lost; the assertion on ``at_kill`` checks there were some.
N = 300
CONCURRENCY = 32
WS_KEY = f"slack:{TEAM_ID}"
USERS = [slack_user(f"U0P{i:03d}", f"Person {i}") for i in range(8)]
CHANNELS = {"C0GENERAL": "general", "C0KAFKA": "kafka", "C0INFRA": "infra"}
TOPICS = ["kafka consumer lag", "terraform state lock", "postgres vacuum", "kubernetes ingress", "grafana alerting"]


def _message(i: int) -> tuple[str, str]:
    channel = list(CHANNELS)[i % len(CHANNELS)]
    ts = f"{1762071000 + i}.{i:06d}"
    text = f"the {TOPICS[i % len(TOPICS)]} issue number {i} is fixed by restarting the broker"
    body = json.dumps(event_envelope(channel_message(USERS[i % len(USERS)]["id"], text, ts, channel=channel),
                                     event_id=f"EvCrash{i:05d}"))
    return ts, body


def _counts(url: str, tss: set[str]) -> tuple[int, int, int]:
    """(messages indexed, still queued, events seen) among ours."""
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            indexed = {r[0] for r in conn.execute(select(ExpertiseMessage.ts).where(ExpertiseMessage.workspace == WS_KEY))}
            queued = {r[0] for r in conn.execute(select(IngestItem.ts).where(IngestItem.workspace == WS_KEY))}
            seen = conn.execute(select(func.count()).select_from(EventSeen).where(EventSeen.key.like("msg:%"))).scalar()
        return len(indexed & tss), len(queued & tss), int(seen or 0)
    finally:
        engine.dispose()


async def _send_all(session: aiohttp.ClientSession, url: str, bodies: list[str]) -> tuple[list[int], list[float]]:
    statuses: list[int] = [0] * len(bodies)
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(bodies)):
        queue.put_nowait(i)

    async def sender() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            headers = signed_headers(bodies[i], "application/json")
            started = time.perf_counter()
            async with session.post(url + "/slack/events", data=bodies[i].encode(), headers=headers) as resp:
                await resp.read()
                statuses[i] = resp.status
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
    return statuses, latencies


async def _wait_indexed(url: str, tss: set[str], *, timeout: float, idle: float = 45) -> tuple[int, int, int]:
    """Until every message is indexed, nothing moved for ``idle`` seconds, or ``timeout``."""
    deadline = time.monotonic() + timeout
    last, changed = None, time.monotonic()
    while True:
        counts = await asyncio.to_thread(_counts, url, tss)
        if counts != last:
            last, changed = counts, time.monotonic()
        if counts[0] == len(tss) or time.monotonic() > min(deadline, changed + idle):
            return counts
        await asyncio.sleep(1)


async def test_kill_9_after_the_acks_loses_no_channel_message(database_url, tmp_path: Path) -> None:  # noqa: ANN001
    fake = await FakeSlack(users=USERS, page_size=200, channel_names=CHANNELS).start()
    config = tmp_path / "liaison.toml"
    config.write_text("[slack]\nmin_seconds_between_messages = 0.0\n", encoding="utf-8")
    env = {"DATABASE_URL": database_url, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_API_URL": fake.api_url, "LIAISON_CONFIG": str(config), "PORT": str(free_port())}
    if database_url.startswith("postgresql"):
        code, out = await run_cli(["db", "upgrade"], env, tmp_path)
        assert code == 0, out
    messages = [_message(i) for i in range(N)]
    tss = {ts for ts, _ in messages}
    first = ServeProcess(tmp_path, env).start()
    second: ServeProcess | None = None
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
            await first.wait_ready(session, marker="Slack: directory synced")
            statuses, latencies = await _send_all(session, first.url, [body for _, body in messages])
            first.kill()  # at once after the last acknowledgement
            assert statuses.count(200) == N, sorted(set(statuses))
            at_kill = await asyncio.to_thread(_counts, database_url, tss)
            print(f"\n{N} acks: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
                  f"max {max(latencies) * 1000:.0f} ms; at the kill: {at_kill[0]} indexed, {at_kill[1]} queued")
            assert at_kill[0] < N, "every message was indexed before the kill: the restart had nothing to recover"

            second = ServeProcess(tmp_path, env).start()
            await second.wait_ready(session, marker="Slack: directory synced")
            indexed, queued, seen = await _wait_indexed(database_url, tss, timeout=240)
    finally:
        for proc in (first, second):
            if proc is not None and proc.proc is not None and proc.proc.poll() is None:
                proc.stop()
        await fake.stop()
    lost = N - indexed
    assert lost == 0, f"{lost} of {N} acknowledged messages were never indexed ({queued} still queued)\n{second.output()[-3000:] if second else ''}"
    assert seen == N  # each handled exactly once
    # Nothing was answered: channel messages that do not talk to the bot get no reply.
    assert fake.calls("chat.postMessage") == []
