"""Requests POST /slack/events must refuse: unsigned or badly signed ones (401, checked before
the body is read), signed ones whose body is not what Slack sends (400), each with one log line
and no traceback, and none of them a 500. Real web app on loopback, fake Slack Web API."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from urllib.parse import urlencode

import pytest

from tests.http.fake_slack import (
    SIGNING_SECRET, TEAM_ID, FakeSlack, channel_message, event_envelope, running_bot, slack_user,
)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


async def post_raw(bot, body: str | bytes, content_type: str, *, secret: str = SIGNING_SECRET):  # noqa: ANN001, ANN201
    """A request signed over its exact bytes, as Slack signs (the helper of fake_slack signs text)."""
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    stamp = str(int(time.time()))
    signature = "v0=" + hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}
    if content_type:
        headers["Content-Type"] = content_type
    return await bot.client.post("/slack/events", data=raw, headers=headers)


def _problems(caplog) -> list[logging.LogRecord]:  # noqa: ANN001
    return [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("liaison")]


def _no_traceback(caplog) -> None:  # noqa: ANN001
    assert not any(r.exc_info for r in caplog.records), [r.getMessage() for r in caplog.records if r.exc_info]
    assert "Traceback" not in caplog.text


async def test_a_timestamp_that_is_not_a_number_is_refused_with_401_and_one_line(make_app, sqlite_url, caplog) -> None:  # noqa: ANN001
    async with running_bot(make_app, FakeSlack(), database_url=sqlite_url) as bot:
        body = json.dumps(event_envelope(channel_message("U0CAM", "help", "1762070404.000100"), event_id="EvTs1"))
        caplog.clear()
        for stamp in ("soon", "1.5e9", "-1", "１２３", "9" * 40):
            resp = await bot.post(body, content_type=JSON, headers={"X-Slack-Request-Timestamp": stamp}, signature="v0=00")
            assert resp.status == 401, (stamp, resp.status)
        await bot.settle()
        assert bot.outcomes == []
    problems = _problems(caplog)
    assert len(problems) == 5 and all("not a number" in r.getMessage() for r in problems), [r.getMessage() for r in problems]
    _no_traceback(caplog)


async def test_the_signature_is_checked_before_the_body_is_read(make_app, sqlite_url, caplog) -> None:  # noqa: ANN001
    async with running_bot(make_app, FakeSlack(), database_url=sqlite_url) as bot:
        caplog.clear()
        bodies = [("{not json", JSON), ("payload=%7Bbroken", FORM), (b"\xff\xfe{", JSON), ("[" * 5000, JSON)]
        for body, content_type in bodies:
            resp = await post_raw(bot, body, content_type, secret="not-the-signing-secret")
            assert resp.status == 401, (body[:20], resp.status)
        await bot.settle()
        assert bot.outcomes == []
    problems = _problems(caplog)
    assert len(problems) == 4 and all("wrong signature" in r.getMessage() for r in problems)
    _no_traceback(caplog)


def _envelope(event: object, **top: object) -> str:
    body = event_envelope({"type": "message"}, event_id="EvBad1")
    body["event"] = event
    body.update(top)
    return json.dumps(body)


SIGNED_MALFORMED = [
    ("broken JSON", "{\"type\": \"event_callback\", ", JSON),
    ("a JSON list", "[1, 2, 3]", JSON),
    ("JSON nested 5,000 deep", "[" * 5000 + "]" * 5000, JSON),
    ("not UTF-8", b"{\"a\": \"\xff\xfe\"}", JSON),
    ("an unknown body type", json.dumps({"type": "event_callback_v2"}), JSON),
    ("no event", json.dumps({"type": "event_callback", "team_id": TEAM_ID, "event_id": "Ev1"}), JSON),
    ("an event that is a string", _envelope("message"), JSON),
    ("an event without a type", _envelope({"text": "hi", "channel": "C0GENERAL"}), JSON),
    ("a message whose text is a list", _envelope({"type": "message", "channel": "C0GENERAL", "user": "U0CAM",
                                                  "ts": "1762070404.000100", "text": ["hi"]}), JSON),
    ("a message whose channel is a number", _envelope({"type": "message", "channel": 12, "user": "U0CAM", "ts": "1.2"}), JSON),
    ("a message without a channel", _envelope({"type": "message", "user": "U0CAM", "ts": "1762070404.000100", "text": "x"}), JSON),
    ("authorizations that are a number", _envelope({"type": "message", "channel": "C1", "ts": "1.2"}, authorizations=3), JSON),
    ("a user that is a list", _envelope({"type": "reaction_added", "user": ["U0CAM"], "reaction": "pray"}), JSON),
    ("a team_join user without an id", _envelope({"type": "team_join", "user": {"name": "x"}}), JSON),
    ("an event id that is a number", json.dumps({**event_envelope(channel_message("U0CAM", "x", "1.2"), event_id="x"),
                                                 "event_id": 7}), JSON),
    ("a url_verification without a challenge", json.dumps({"type": "url_verification"}), JSON),
    ("a form that is no command", urlencode({"team_id": TEAM_ID, "text": "hi"}), FORM),
    ("a command without a slash", urlencode({"command": "whoknows", "team_id": TEAM_ID, "user_id": "U0CAM",
                                             "channel_id": "C0GENERAL"}), FORM),
    ("a payload that is not JSON", urlencode({"payload": "{nope"}), FORM),
    ("a payload without a type", urlencode({"payload": json.dumps({"user": {"id": "U0CAM"}})}), FORM),
    ("block_actions without actions", urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U0CAM"},
                                                                        "team": {"id": TEAM_ID}})}), FORM),
    ("block_actions whose actions are strings", urlencode({"payload": json.dumps(
        {"type": "block_actions", "user": {"id": "U0CAM"}, "team": {"id": TEAM_ID}, "actions": ["coffee.met"]})}), FORM),
    ("block_actions whose channel is a string", urlencode({"payload": json.dumps(
        {"type": "block_actions", "user": {"id": "U0CAM"}, "channel": "C0GENERAL",
         "actions": [{"action_id": "coffee.met", "value": "1"}]})}), FORM),
    ("a text/plain body", "hello", "text/plain"),
    ("no content type", "{}", ""),
]


@pytest.mark.parametrize("case", SIGNED_MALFORMED, ids=[c[0] for c in SIGNED_MALFORMED])
async def test_signed_malformed_bodies_get_400_and_one_line(make_app, sqlite_url, caplog, case) -> None:  # noqa: ANN001
    _, body, content_type = case
    async with running_bot(make_app, FakeSlack(), database_url=sqlite_url) as bot:
        caplog.clear()
        started = time.monotonic()
        resp = await post_raw(bot, body, content_type)
        elapsed = time.monotonic() - started
        assert resp.status == 400, (resp.status, await resp.text())
        await bot.settle()
        assert bot.outcomes == []
    # Bolt used to wait its 3-second ack timeout before a 404 for some of these (malformed
    # block_actions): the refusal must not wait for anything. Generous bound on a busy machine.
    assert elapsed < 2.0
    problems = _problems(caplog)
    assert len(problems) == 1 and "refused a request to /slack/events" in problems[0].getMessage()
    _no_traceback(caplog)


async def test_interactivity_the_bot_has_no_use_for_is_acknowledged_quietly(make_app, sqlite_url, caplog) -> None:  # noqa: ANN001
    async with running_bot(make_app, FakeSlack(), database_url=sqlite_url) as bot:
        caplog.clear()
        for kind in ("shortcut", "view_closed", "message_action"):
            payload = {"type": kind, "user": {"id": "U0CAM"}, "team": {"id": TEAM_ID}, "callback_id": "x"}
            resp = await bot.post(urlencode({"payload": json.dumps(payload)}), content_type=FORM)
            assert resp.status == 200
        resp = await bot.post(urlencode({"ssl_check": "1", "token": "x"}), content_type=FORM)
        assert resp.status == 200
    assert _problems(caplog) == []


async def test_a_slash_command_that_mentions_payload_is_answered(make_app, sqlite_url) -> None:  # noqa: ANN001
    # Bolt's own body parser took any form containing "payload" for an interactivity payload.
    fake = FakeSlack(users=[slack_user("U0CAM", "Camille Durand")])
    async with running_bot(make_app, fake, database_url=sqlite_url) as bot:
        resp = await bot.command("/liaison", "help payload", user="U0CAM")
        assert resp.status == 200
        await bot.settle()
    assert [o.status for o in bot.outcomes] == ["ok"]
    [answer] = fake.calls("chat.postEphemeral")
    assert answer["user"] == "U0CAM" and "Here is what you can ask me" in answer["text"]


async def test_a_flood_of_refused_requests_logs_a_bounded_number_of_lines(make_app, sqlite_url, caplog) -> None:  # noqa: ANN001
    from adapters.slack.inbound import RefusalLog

    async with running_bot(make_app, FakeSlack(), database_url=sqlite_url) as bot:
        caplog.clear()
        for i in range(60):
            resp = await bot.post(f"garbage {i}", content_type=JSON, secret="forged")
            assert resp.status == 401
    assert len(_problems(caplog)) == RefusalLog().per_minute
    _no_traceback(caplog)


def test_the_refusals_not_logged_are_counted_once_the_minute_is_over(caplog) -> None:  # noqa: ANN001
    from adapters.slack.inbound import RefusalLog

    now = [0.0]
    refusals = RefusalLog(per_minute=3, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="liaison.slack"):
        for _ in range(10):
            refusals.refused(401, "a wrong signature", "203.0.113.9")
        now[0] = 61.0
        refusals.refused(400, "the body is not JSON", "203.0.113.9")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 5
    assert lines[3] == "Slack: 7 more requests to /slack/events refused in the last minute (not logged one by one)"
    assert lines[4].endswith("203.0.113.9 with 400: the body is not JSON")


async def test_a_request_the_http_parser_refuses_is_one_line_without_traceback(make_app, sqlite_url, caplog) -> None:  # noqa: ANN001
    import asyncio

    async with running_bot(make_app, FakeSlack(), database_url=sqlite_url) as bot:
        caplog.clear()
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", bot.client.port)
            writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Slack-Signature: v0=\x0f\x01\r\n"
                         b"Content-Length: 2\r\n\r\n{}")
            await writer.drain()
            status_line = await reader.readline()
            writer.close()
            assert status_line.split()[1:2] == [b"400"], status_line
    problems = _problems(caplog) + [r for r in caplog.records if r.name == "aiohttp.server" and r.levelno >= logging.WARNING]
    assert len(problems) == 3 and all("refused a malformed HTTP request from" in r.getMessage() for r in problems)
    _no_traceback(caplog)
