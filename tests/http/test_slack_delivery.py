"""Keyed messages on Slack's wire: a message carries its key as message metadata, and a sender
that never heard back finds it again in the group DM (conversations.history) instead of posting
it twice; the coffee intros go out keyed. Checked on what the fake Slack received and answered."""

from __future__ import annotations

import dataclasses

import pytest

from adapters.slack.chat import METADATA_EVENT, SlackChat, make_client
from bot.events import GroupMessage, Workspace
from bot.ports import ChatError
from tests.http.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack, running_bot, slack_user

WS = Workspace("slack", TEAM_ID)


def directory() -> list[dict]:
    return [
        slack_user("U0ADA", "Ada Lovelace", title="Platform", is_admin=True),
        slack_user("U0BOB", "Bob Martin", title="Sales"),
        slack_user("U0CAM", "Camille Durand", title="People"),
        slack_user("U0DAN", "Dan Brown", title="Platform"),
    ]


def new_chat(fake: FakeSlack) -> SlackChat:
    """A fresh SlackChat, as in a process that has just started (no conversation cached)."""
    return SlackChat(make_client("xoxb-test", base_url=fake.api_url, max_rate_limit_retries=0), min_seconds_between_messages=0)


async def test_a_keyed_message_carries_its_key_and_is_found_again_by_another_process() -> None:
    fake = await FakeSlack(users=directory()).start()
    try:
        intro = GroupMessage(("U0ADA", "U0BOB"), "☕ Hi <@U0ADA> and <@U0BOB>!", key="coffee.intro.7")
        sent = await new_chat(fake).send(WS, intro)
        [posted] = fake.calls("chat.postMessage")
        assert posted["metadata"] == {"event_type": METADATA_EVENT, "event_payload": {"key": "coffee.intro.7"}}
        # The two colleagues chat on: 250 messages after the intro, more than one page.
        channel = sent.conversation_id
        fake.history[channel] += [{"type": "message", "user": "U0ADA", "text": f"msg {n}", "ts": f"1762071000.{n:06d}"}
                                  for n in range(250)]

        other = new_chat(fake)
        found = await other.find_sent(WS, intro)
        assert found is not None and (found.conversation_id, found.ts) == (channel, sent.ts)
        reads = fake.calls("conversations.history")
        assert len(reads) == 2 and all(r["channel"] == channel and r["include_all_metadata"] in ("1", "true") for r in reads)
        assert await other.find_sent(WS, dataclasses.replace(intro, key="coffee.intro.8")) is None
        assert await other.find_sent(WS, dataclasses.replace(intro, user_ids=("U0CAM", "U0DAN"))) is None
        assert len(fake.calls("chat.postMessage")) == 1  # looking never posts
    finally:
        await fake.stop()


async def test_a_refused_look_is_an_error_not_a_not_found() -> None:
    fake = await FakeSlack(users=directory()).start()
    try:
        fake.fail("conversations.history", "missing_scope")
        with pytest.raises(ChatError, match="missing_scope"):
            await new_chat(fake).find_sent(WS, GroupMessage(("U0ADA", "U0BOB"), "hi", key="coffee.intro.1"))
    finally:
        await fake.stop()


async def test_coffee_intros_go_out_keyed_one_per_group(make_app, database_url) -> None:  # noqa: ANN001
    pytest.importorskip("skills.coffee")
    fake = FakeSlack(users=directory(), members={"C0COFFEE": ["U0ADA", "U0BOB", "U0CAM", "U0DAN", BOT_USER_ID]})
    async with running_bot(make_app, fake, database_url=database_url) as bot:
        await bot.command("/coffee", "cadence weekly", user="U0ADA", channel="C0COFFEE", channel_name="coffee", trigger="1")
        await bot.command("/coffee", "run now", user="U0ADA", channel="C0COFFEE", channel_name="coffee", trigger="2")
        await bot.settle()
    intros = [c for c in fake.calls("chat.postMessage") if c["channel"].startswith("G")]
    assert len(intros) == 2
    keys = [c["metadata"]["event_payload"]["key"] for c in intros]
    assert len(set(keys)) == 2 and all(k.startswith("coffee.intro.") for k in keys)
    assert sorted(u for c in intros for u in c["channel"][2:].split("-")) == ["U0ADA", "U0BOB", "U0CAM", "U0DAN"]
    assert fake.calls("conversations.history") == []  # nothing to check when nothing went wrong
