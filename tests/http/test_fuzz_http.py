"""Fuzzing the running server: `liaison serve` (a real process on an ephemeral loopback port,
SQLite, Slack over HTTP against a fake Slack, Teams in its no-auth mode against a fake Bot
Connector) gets Hypothesis-made requests on POST /slack/events and POST /api/messages, signed
and not, malformed, nested thousands deep, unicode, megabytes long, with wrong content types,
while a thread polls GET /healthz. Nothing may answer 5xx, the answers' p99 stays under a
second, /healthz answers 200 throughout, and the server log holds no traceback from Slack.

LIAISON_FUZZ_EXAMPLES sets the examples per endpoint (default 300). The counts are printed.
"""

from __future__ import annotations

import asyncio
import collections
import http.client
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import aiohttp
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings

from tests.http.fake_connector import FakeConnector
from tests.http.fake_slack import SIGNING_SECRET, FakeSlack, slack_user
from tests.http.fuzz_requests import Request, slack_requests, slack_signature, teams_requests
from tests.http.serve_process import ServeProcess, free_port, percentile

EXAMPLES = int(os.environ.get("LIAISON_FUZZ_EXAMPLES", "300"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck))


class BackgroundLoop:
    """An event loop on a thread of its own, for the fakes the server calls."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fakes", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 240) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@dataclass
class Server:
    proc: ServeProcess
    connector: FakeConnector

    @property
    def port(self) -> int:
        return self.proc.port


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:  # noqa: ANN001
    fakes = BackgroundLoop()
    slack = fakes.run(FakeSlack(users=[slack_user("U0CAM", "Camille Durand"), slack_user("U0ADA", "Ada Lovelace")]).start())
    connector = fakes.run(FakeConnector().__aenter__())
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    config = workdir / "liaison.toml"
    config.write_text('[server]\nhost = "127.0.0.1"\n[slack]\nmin_seconds_between_messages = 0.0\n'
                      '[teams]\nallowed_service_hosts = ["http://127.0.0.1"]\n', encoding="utf-8")
    env = {"DATABASE_URL": f"sqlite:///{workdir / 'fuzz.db'}", "SLACK_BOT_TOKEN": "xoxb-fuzz",
           "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack.api_url, "LIAISON_TEAMS_NO_AUTH": "1",
           "LIAISON_CONFIG": str(config), "PORT": str(free_port())}
    proc = ServeProcess(workdir, env).start()

    async def ready() -> None:
        async with aiohttp.ClientSession() as session:
            await proc.wait_ready(session, marker="Slack: directory synced")

    try:
        fakes.run(ready())
        yield Server(proc, connector)
    finally:
        proc.stop()
        fakes.run(slack.stop())
        fakes.run(connector.__aexit__(None, None, None))
        fakes.close()


def send(port: int, request: Request) -> tuple[int, float]:
    """(status, seconds) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    try:
        conn.putrequest("POST", request.path)
        for name, value in request.headers.items():
            # Header bytes as given; text beyond Latin-1 goes as its UTF-8 bytes.
            conn.putheader(name, value.encode("latin-1") if max(map(ord, value), default=0) < 256 else value.encode("utf-8"))
        conn.putheader("Content-Length", str(len(request.body)))
        conn.endheaders(request.body)
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        conn.close()


class HealthPoller(threading.Thread):
    """GET /healthz every 100 ms while the fuzzing runs."""

    def __init__(self, port: int) -> None:
        super().__init__(name="healthz", daemon=True)
        self.port = port
        self.results: list[tuple[int | str, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                response.read()
                conn.close()
                status: int | str = response.status
            except OSError as exc:
                status = type(exc).__name__
            self.results.append((status, time.perf_counter() - started))
            self._halt.wait(0.1)

    def __enter__(self) -> "HealthPoller":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._halt.set()
        self.join(timeout=15)


@dataclass
class Tally:
    endpoint: str
    statuses: collections.Counter = field(default_factory=collections.Counter)
    kinds: collections.Counter = field(default_factory=collections.Counter)
    seconds: list[float] = field(default_factory=list)
    failures: dict[tuple[int, str], Request] = field(default_factory=dict)  # the smallest per 5xx status and kind

    def add(self, request: Request, status: int, seconds: float) -> None:
        kind = request.kind.split(" (")[0].split(":")[0]
        self.statuses[status] += 1
        self.kinds[kind] += 1
        self.seconds.append(seconds)
        known = self.failures.get((status, kind))
        if status >= 500 and (known is None or len(request.body) < len(known.body)):
            self.failures[(status, kind)] = request

    def summary(self, health: HealthPoller) -> str:
        healthz = collections.Counter(status for status, _ in health.results)
        slowest_health = max((s for _, s in health.results), default=0.0)
        if not self.seconds:
            return f"fuzz {self.endpoint}: no request answered"
        return (f"fuzz {self.endpoint}: {sum(self.statuses.values())} requests, by kind {dict(sorted(self.kinds.items()))}; "
                f"statuses {dict(sorted(self.statuses.items()))}; answer p50 {percentile(self.seconds, 0.5) * 1000:.1f} ms, "
                f"p99 {percentile(self.seconds, 0.99) * 1000:.1f} ms, max {max(self.seconds) * 1000:.1f} ms; "
                f"/healthz {sum(healthz.values())} polls {dict(healthz)}, slowest {slowest_health * 1000:.0f} ms")


def _check(tally: Tally, health: HealthPoller) -> None:
    assert not tally.failures, "5xx answers:\n" + "\n".join(f"{key[0]}: {r.describe()}" for key, r in tally.failures.items())
    assert percentile(tally.seconds, 0.99) < 1.0
    assert health.results and {status for status, _ in health.results} == {200}, collections.Counter(health.results)


def _signed(body: bytes, **headers: str) -> Request:
    now = str(int(time.time()))
    return Request("/slack/events", "explicit", body, {"Content-Type": "application/json", "X-Slack-Request-Timestamp": now,
                                                       "X-Slack-Signature": slack_signature(body, now), **headers})


def test_fuzz_slack_events(server: Server, capsys) -> None:  # noqa: ANN001
    tally = Tally("POST /slack/events")

    @SETTINGS
    @given(request=slack_requests())
    @example(request=Request("/slack/events", "explicit", b"{}", {"Content-Type": "application/json",
                                                                  "X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=0"}))
    @example(request=Request("/slack/events", "explicit", b"not json at all", {"Content-Type": "application/json",
                                                                               "X-Slack-Signature": "v0=0"}))
    @example(request=_signed(b"[" * 5000 + b"]" * 5000))
    @example(request=_signed(b"{}", **{"X-Slack-Signature": "v0=\x0f\x01"}))  # aiohttp's parser refuses it
    @example(request=_signed(json.dumps({"type": "block_actions"}).encode(), **{"Content-Type": "application/x-www-form-urlencoded"}))
    def fuzz(request: Request) -> None:
        status, seconds = send(server.port, request)
        tally.add(request, status, seconds)

    with HealthPoller(server.port) as health:
        try:
            fuzz()
        finally:
            with capsys.disabled():
                print("\n" + tally.summary(health))
    _check(tally, health)
    # One line per refused request, never a traceback (this test runs before the Teams one).
    log = server.proc.output()
    assert "Traceback" not in log, log[log.index("Traceback") - 500:][:4000]


def test_fuzz_teams_activities(server: Server, capsys) -> None:  # noqa: ANN001
    tally = Tally("POST /api/messages")

    @SETTINGS
    @given(request=teams_requests(server.connector.service_url))
    @example(request=Request("/api/messages", "explicit", b"[" * 5000 + b"]" * 5000, {"Content-Type": "application/json"}))
    def fuzz(request: Request) -> None:
        status, seconds = send(server.port, request)
        tally.add(request, status, seconds)

    with HealthPoller(server.port) as health:
        try:
            fuzz()
        finally:
            with capsys.disabled():
                print("\n" + tally.summary(health))
                for (status, _), request in tally.failures.items():
                    print(f"  {status}: {request.describe()}")
    _check(tally, health)
