"""POST /api/messages fuzzed against a running bot (Hypothesis): arbitrary JSON, activities shaped
like Teams' with fields replaced by anything, raw bytes, and forged Authorization headers, with
and without an app id. No answer is ever 5xx, and /healthz keeps answering.

The bot, the fake Bot Connector and the fake Bot Framework run on an event loop of their own
(a thread), as a deployed process would; the examples are posted over HTTP from the test."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skills import help as help_skill
from tests.http.fake_botframework import APP_ID, FakeBotFramework
from tests.http.fake_connector import Activities, FakeConnector, served

ALICE = ("29:1alice-Qx_aliceaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Alice Martin")
BOB = ("29:1bob-Zy_bobbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "Bob Durand")
ACCEPTED = {200, 400, 401, 403, 413, 501}
EXAMPLES = 150


class Running:
    """The bot served on its own loop (a thread) with a fake Bot Connector and Bot Framework."""

    def __init__(self, app: Any, bf: FakeBotFramework) -> None:
        self.app, self.bf = app, bf
        self.loop = asyncio.new_event_loop()
        self.url = ""
        self.service_url = ""
        self.statuses: dict[int, int] = {}
        self.seconds: list[float] = []  # how long each POST took to be answered
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> "Running":
        self._thread.start()
        ready = asyncio.run_coroutine_threadsafe(self._start(), self.loop)
        self.url, self.service_url = ready.result(60)
        return self

    async def _start(self) -> tuple[str, str]:
        self._stack = contextlib.AsyncExitStack()
        connector = await self._stack.enter_async_context(FakeConnector())
        url = await self._stack.enter_async_context(served(self.app))
        return url, connector.service_url

    def __exit__(self, *exc: Any) -> None:
        async def stop() -> None:
            await self.app.adapters["teams"].wait_idle()
            await self._stack.aclose()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(120)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)

    def post(self, data: bytes, headers: dict[str, str] | None = None) -> int:
        request = urllib.request.Request(self.url + "/api/messages", data=data, method="POST",
                                         headers={"Content-Type": "application/json", **(headers or {})})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        self.seconds.append(time.perf_counter() - started)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if len(self.seconds) % 25 == 0:
            assert self.healthy()  # /healthz answers throughout
        return status

    def summary(self) -> str:
        times = sorted(self.seconds)
        p99 = times[min(len(times) - 1, int(0.99 * len(times)))] if times else 0.0
        return (f"{len(times)} requests, statuses {dict(sorted(self.statuses.items()))}, answered in median "
                f"{times[len(times) // 2] * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms")

    def healthy(self) -> bool:
        with urllib.request.urlopen(self.url + "/healthz", timeout=30) as resp:
            return resp.status == 200


@pytest.fixture(params=["no auth", "app id"])
def running(request, make_app, sqlite_url) -> Iterator[Running]:  # noqa: ANN001
    with FakeBotFramework() as bf:
        teams = {"roster_sync_hours": 0, "retry_base_seconds": 0.0, "max_attempts": 1,
                 "allowed_service_hosts": ["http://127.0.0.1"], "openid_metadata_url": bf.metadata_url}
        env = {"LIAISON_TEAMS_NO_AUTH": "1"} if request.param == "no auth" else {
            "MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": "not-a-real-secret"}
        app = make_app(database_url=sqlite_url, platforms=["teams"], env=env, teams=teams,
                       skills=(help_skill,), server={"host": "127.0.0.1"})
        with Running(app, bf) as bot:
            yield bot
            assert bot.healthy()
            print(f"\n{request.node.name}: {bot.summary()}")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=200),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=5),
    max_leaves=30,
)

# Where an activity's fields are; each may be replaced by any JSON value or removed.
PATHS = [("type",), ("id",), ("text",), ("serviceUrl",), ("channelId",), ("from",), ("from", "id"),
         ("from", "name"), ("conversation",), ("conversation", "id"), ("conversation", "conversationType"),
         ("conversation", "tenantId"), ("recipient",), ("recipient", "id"), ("channelData",),
         ("channelData", "tenant"), ("channelData", "team"), ("channelData", "channel"), ("entities",),
         ("value",), ("replyToId",), ("membersAdded",), ("membersRemoved",), ("reactionsAdded",),
         ("locale",), ("timestamp",), ("name",), ("attachments",)]

TYPES = ["message", "messageUpdate", "messageDelete", "conversationUpdate", "messageReaction", "invoke",
         "installationUpdate", "typing", "event"]


def _template(kind: int, service_url: str) -> dict[str, Any]:
    acts = Activities(service_url)
    return [
        lambda: acts.channel_message(ALICE, "{bot} help", mention_bot=True),
        lambda: acts.personal_message(BOB, "help"),
        lambda: acts.members_added(ALICE, [BOB]),
        lambda: acts.reaction(BOB, "like", reply_to="1571000000000"),
        lambda: acts.card_submit(ALICE, "coffee.met", "1", reply_to="1:card"),
        lambda: acts.bot_installed_personal(ALICE),
    ][kind]()


def _mutate(body: dict[str, Any], path: tuple[str, ...], value: Any, remove: bool) -> None:
    target = body
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    if remove:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value


mutations = st.lists(st.tuples(st.sampled_from(PATHS), json_values | st.sampled_from(TYPES), st.booleans()),
                     min_size=1, max_size=4)

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(kind=st.integers(0, 5), changes=mutations)
def test_activities_with_fields_replaced_by_anything(running, kind, changes) -> None:  # noqa: ANN001
    body = copy.deepcopy(_template(kind, running.service_url))
    for path, value, remove in changes:
        _mutate(body, path, value, remove)
    token = running.bf.token(service_url=body["serviceUrl"]) if isinstance(body.get("serviceUrl"), str) else "x"
    assert running.post(json.dumps(body).encode(), {"Authorization": f"Bearer {token}"}) in ACCEPTED


@FUZZ
@given(body=json_values)
def test_any_json(running, body) -> None:  # noqa: ANN001
    assert running.post(json.dumps(body).encode(), {"Authorization": "Bearer x"}) in ACCEPTED


@FUZZ
@given(raw=st.binary(max_size=500) | st.text(max_size=500).map(str.encode)
       | st.integers(1, 20_000).map(lambda n: b"[" * n + b"]" * n)
       | st.integers(1, 20_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n)
       | st.integers(1, 3).map(lambda n: b'{"text": "' + b"x" * (n * 700_000) + b'"}'),
       authorization=st.none() | st.text(max_size=300).filter(lambda t: t.isprintable() and t.isascii()))
def test_raw_bodies_and_headers(running, raw, authorization) -> None:  # noqa: ANN001
    headers = {"Authorization": authorization} if authorization else {}
    assert running.post(raw, headers) in ACCEPTED
