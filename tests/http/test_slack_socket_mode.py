"""Socket Mode against a fake WebSocket endpoint: apps.connections.open hands out the fake's
ws:// URL, the fake pushes an events_api envelope, and the bot must ack it and answer."""

from __future__ import annotations

import asyncio

from tests.http.fake_slack import FakeSlack, channel_message, event_envelope, running_bot, slack_user


async def test_socket_mode_acks_envelopes_and_answers(make_app, sqlite_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=[slack_user("U0CAM", "Camille Durand")])
    async with running_bot(make_app, fake, database_url=sqlite_url, env={"SLACK_APP_TOKEN": "xapp-1-test"}) as bot:
        [opened] = [c for c in fake.calls_ if c.method == "apps.connections.open"]
        assert opened.headers["authorization"] == "Bearer xapp-1-test"  # the app token, not the bot token
        envelope = {
            "envelope_id": "08cfc559-d933-402e-a5c1-79e135afaae4",
            "payload": event_envelope(channel_message("U0CAM", "help", "1762070900.000100", channel="D0CAM",
                                                      channel_type="im"), event_id="EvS1"),
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        await fake.send_envelope(envelope)
        ack = await asyncio.wait_for(fake.wait_for_ack(envelope["envelope_id"]), timeout=30)
        assert ack == {"envelope_id": envelope["envelope_id"]}

        # Slack redelivers when an ack is late: the retry is acknowledged and not answered twice.
        retry = {**envelope, "envelope_id": "1f0e0c6b-retry", "retry_attempt": 1, "retry_reason": "timeout"}
        await fake.send_envelope(retry)
        await asyncio.wait_for(fake.wait_for_ack(retry["envelope_id"]), timeout=30)
        await bot.settle()
    [answer] = fake.calls("chat.postMessage")
    assert answer["channel"] == "D0CAM" and "Here is what you can ask me" in answer["text"]
    assert [o.status for o in bot.outcomes] == ["ok", "duplicate"]


async def test_socket_mode_without_a_signing_secret_mounts_no_http_path(make_app, sqlite_url) -> None:  # noqa: ANN001
    fake = FakeSlack(users=[slack_user("U0CAM", "Camille Durand")])
    async with running_bot(make_app, fake, database_url=sqlite_url,
                           env={"SLACK_APP_TOKEN": "xapp-1-test", "SLACK_SIGNING_SECRET": ""}) as bot:
        resp = await bot.post('{"type": "url_verification", "challenge": "x"}', content_type="application/json")
        assert resp.status in (404, 405)  # nothing listens on /slack/events
