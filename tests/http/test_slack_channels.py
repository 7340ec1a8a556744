"""Deciding whether a Slack channel is public (adapters.slack.channels and translate): what
conversations.info's answer means, how long it is kept, and which payloads state it themselves."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.slack import translate
from adapters.slack.channels import UNKNOWN, ChannelCache, ChannelInfo, info_from
from bot.events import ReactionAdded
from tests.http.fake_slack import event_envelope


def test_only_an_explicit_is_private_false_makes_a_channel_public() -> None:
    assert info_from({"id": "C1", "name": "general", "is_channel": True, "is_private": False}) == ChannelInfo("channel", "general")
    assert info_from({"id": "C2", "name": "payroll", "is_channel": True, "is_private": True}).kind == "private"
    assert info_from({"id": "C3", "name": "old"}).kind == "private"  # not said: not public
    assert info_from({"id": "G1", "name": "legacy", "is_group": True, "is_private": False}).kind == "private"
    assert info_from({"id": "D1", "is_im": True, "is_private": False}) == ChannelInfo("dm", None)
    assert info_from({"id": "G2", "name": "mpdm-a--b-1", "is_mpim": True, "is_private": True}).kind == "group"


class Slack:
    """Stands in for conversations.info: answers from a dict, counts the calls, can fail."""

    def __init__(self, channels: dict[str, dict[str, Any]]) -> None:
        self.channels, self.calls, self.error = channels, [], None
        self.gate: asyncio.Event | None = None

    async def info(self, channel_id: str) -> dict[str, Any]:
        self.calls.append(channel_id)
        if self.gate is not None:
            await self.gate.wait()
        if self.error:
            raise RuntimeError(self.error)
        return self.channels[channel_id]


async def test_what_slack_said_is_kept_for_the_ttl_per_workspace_and_forgotten_on_demand() -> None:
    clock = [0.0]
    slack = Slack({"C1": {"name": "general", "is_private": False}})
    cache = ChannelCache(slack.info, ttl=600, now=lambda: clock[0])

    assert await cache.get("slack:T1", "C1") == ChannelInfo("channel", "general")
    clock[0] = 599
    assert (await cache.get("slack:T1", "C1")).kind == "channel" and slack.calls == ["C1"]
    await cache.get("slack:T2", "C1")  # another workspace asks for itself
    assert slack.calls == ["C1", "C1"]
    slack.channels["C1"] = {"name": "general", "is_private": True}
    clock[0] = 601
    assert (await cache.get("slack:T1", "C1")).kind == "private" and len(slack.calls) == 3
    slack.channels["C1"] = {"name": "renamed", "is_private": False}
    cache.forget("slack:T1", "C1")
    assert await cache.get("slack:T1", "C1") == ChannelInfo("channel", "renamed")


async def test_a_failure_counts_as_private_is_reported_once_and_retried_after_a_minute() -> None:
    clock = [0.0]
    failures: list[tuple[str, str]] = []
    slack = Slack({"C1": {"name": "general", "is_private": False}})
    slack.error = "missing_scope"
    cache = ChannelCache(slack.info, ttl=900, now=lambda: clock[0],
                         on_failure=lambda channel, exc: failures.append((channel, str(exc))))

    assert await cache.get("slack:T1", "C1") == UNKNOWN and UNKNOWN.kind == "private"
    clock[0] = 59
    assert await cache.get("slack:T1", "C1") == UNKNOWN
    assert failures == [("C1", "missing_scope")] and slack.calls == ["C1"]
    slack.error = None
    clock[0] = 61
    assert (await cache.get("slack:T1", "C1")).kind == "channel" and len(slack.calls) == 2


async def test_events_arriving_together_share_one_call() -> None:
    slack = Slack({"C1": {"name": "general", "is_private": False}})
    slack.gate = asyncio.Event()
    cache = ChannelCache(slack.info, ttl=600)
    waiting = [asyncio.create_task(cache.get("slack:T1", "C1")) for _ in range(5)]
    await asyncio.sleep(0)
    slack.gate.set()
    assert {info.kind for info in await asyncio.gather(*waiting)} == {"channel"}
    assert slack.calls == ["C1"]


def body(event: dict[str, Any]) -> dict[str, Any]:
    return event_envelope(event, event_id="Ev1", team_id="T111")


@pytest.mark.parametrize(("payload", "stated"), [
    (body({"type": "message", "channel": "C1", "channel_type": "channel", "user": "U1", "ts": "1.1"}), "channel"),
    (body({"type": "message", "channel": "C1", "channel_type": "group", "user": "U1", "ts": "1.1"}), "private"),
    (body({"type": "app_mention", "channel": "C1", "user": "U1", "ts": "1.1"}), None),
    (body({"type": "app_mention", "channel": "D1", "user": "U1", "ts": "1.1"}), "dm"),
    (body({"type": "reaction_added", "user": "U1", "item": {"type": "message", "channel": "C1", "ts": "1.1"}}), None),
    (body({"type": "member_joined_channel", "user": "U1", "channel": "C1", "channel_type": "G"}), "private"),
    ({"command": "/thanks", "channel_id": "C1", "channel_name": "random"}, None),
    ({"command": "/thanks", "channel_id": "C1", "channel_name": "privategroup"}, "private"),
    ({"type": "block_actions", "channel": {"id": "C1", "name": "random"}}, None),
])
def test_which_payloads_state_their_conversation_kind(payload: dict[str, Any], stated: str | None) -> None:
    assert translate.stated_kind_of(payload) == stated


def test_with_channel_applies_slacks_answer_only_where_the_payload_was_silent() -> None:
    url = "https://acme.slack.com/"
    mention = body({"type": "app_mention", "channel": "C1", "user": "U1", "ts": "5.000100", "text": "<@U0BOT> hi"})
    m = translate.app_mention_event(mention, bot_user_id="U0BOT", team_url=url)
    assert (m.conversation.kind, m.permalink) == ("private", None)

    public = translate.with_channel(m, "channel", "general", team_url=url)
    assert (public.conversation.kind, public.conversation.name) == ("channel", "general")
    assert public.permalink == "https://acme.slack.com/archives/C1/p5000100"
    private = translate.with_channel(m, "private", "payroll", team_url=url)
    assert (private.conversation.kind, private.permalink) == ("private", None)

    # A message that says it is in a private channel stays private whatever a stale answer says.
    stated = translate.message_event(body({"type": "message", "channel": "C1", "channel_type": "group", "user": "U1",
                                           "ts": "5.000200", "text": "hi"}), bot_user_id="U0BOT", team_url=url)
    kept = translate.with_channel(stated, "channel", "payroll", team_url=url)
    assert (kept.conversation.kind, kept.conversation.name, kept.permalink) == ("private", "payroll", None)

    reaction = translate.reaction_event(body({"type": "reaction_added", "user": "U1", "reaction": "pray",
                                              "item": {"type": "message", "channel": "C1", "ts": "5.1"}}))
    assert isinstance(reaction, ReactionAdded) and reaction.conversation.kind == "private"
    assert translate.with_channel(reaction, "channel", "general").conversation.kind == "channel"


def test_renames_archives_conversions_and_member_changes_name_their_channel() -> None:
    assert translate.changed_channel(body({"type": "channel_rename", "channel": {"id": "C1", "name": "new"}})) == "C1"
    assert translate.changed_channel(body({"type": "group_archive", "channel": "C2"})) == "C2"
    assert translate.changed_channel(body({"type": "member_left_channel", "channel": "C3", "user": "U1"})) == "C3"
    assert translate.changed_channel(body({"type": "message", "subtype": "channel_convert_to_private",
                                           "channel": "C4", "channel_type": "group"})) == "C4"
    assert translate.changed_channel(body({"type": "message", "channel": "C5", "text": "hi"})) is None
    assert translate.changed_channel(body({"type": "reaction_added", "item": {"channel": "C6"}})) is None
