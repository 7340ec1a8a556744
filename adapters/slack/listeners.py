"""The bolt AsyncApp listeners: each one only translates a Slack payload (adapters.slack.translate)
and hands the neutral event to the adapter (``accept``), which writes it to the inbox and then
runs it through the dispatcher in a background task. Bolt answers Slack when the listener
returns, so the 200 means the event is stored; no NLP, search or Slack call runs before it, and
Slack gets its answer well inside 3 seconds. A payload translate cannot read is answered 400.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from adapters.slack import translate

if TYPE_CHECKING:
    from adapters.slack import SlackAdapter

log = logging.getLogger("liaison.slack")

_ANYTHING = re.compile(r".*")


def register(bolt: AsyncApp, adapter: "SlackAdapter") -> None:
    """Attach every listener to ``bolt``. Order matters: bolt runs the first listener that
    matches, so the catch-all for unknown event types comes last."""
    _conversation_events(bolt, adapter)
    _workspace_events(bolt, adapter)
    _commands_and_buttons(bolt, adapter)

    @bolt.event(_ANYTHING)
    async def on_other_event(body: dict[str, Any]) -> None:
        log.debug("no use for a %s event; acknowledged and dropped", (body.get("event") or {}).get("type"))


def channel_changed(adapter: "SlackAdapter", body: dict[str, Any]) -> None:
    """Forget what Slack said about a channel that was renamed, archived, converted or changed
    members: the next event there asks again whether it is public."""
    channel = translate.changed_channel(body)
    ws = translate.extract_workspace(body) or adapter.workspace
    if channel and ws is not None:
        adapter.chat.forget_channel(ws, channel)


async def accept(adapter: "SlackAdapter", make: Callable[..., Any], body: dict[str, Any], *,
                 response_url: str | None = None, **context: Any) -> BoltResponse | None:
    """Translate ``body`` with ``make`` and hand the event to the adapter (400 when it cannot
    be read, bolt's 200 when there is nothing to do)."""
    try:
        event = make(body, **context)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # The gate (inbound.py) checks the fields translate reads; a payload that still
        # does not translate is refused, not half handled.
        adapter.refuse_malformed(f"{make.__name__} could not read it ({type(exc).__name__}: {exc})")
        return BoltResponse(status=400, body="")
    if event is None:
        log.debug("ignored a %s payload (nothing to do)", make.__name__)
        return None
    return await adapter.accept(event, response_url=str(response_url) if response_url else None)


def _conversation_events(bolt: AsyncApp, adapter: "SlackAdapter") -> None:
    """Messages, mentions, reactions, members joining or leaving, and channel changes."""

    @bolt.event("message")
    async def on_message(body: dict[str, Any]) -> BoltResponse | None:
        channel_changed(adapter, body)
        return await accept(adapter, translate.message_event, body, bot_user_id=adapter.bot_user_id,
                            team_url=adapter.team_url)

    @bolt.event("app_mention")
    async def on_mention(body: dict[str, Any]) -> BoltResponse | None:
        return await accept(adapter, translate.app_mention_event, body, bot_user_id=adapter.bot_user_id,
                            team_url=adapter.team_url)

    @bolt.event("reaction_added")
    async def on_reaction(body: dict[str, Any]) -> BoltResponse | None:
        return await accept(adapter, translate.reaction_event, body)

    @bolt.event("member_joined_channel")
    @bolt.event("member_left_channel")
    async def on_member(body: dict[str, Any]) -> BoltResponse | None:
        channel_changed(adapter, body)
        return await accept(adapter, translate.member_channel_event, body)

    @bolt.event("channel_rename")
    @bolt.event("channel_archive")
    @bolt.event("channel_unarchive")
    @bolt.event("channel_deleted")
    @bolt.event("channel_left")
    @bolt.event("group_rename")
    @bolt.event("group_archive")
    @bolt.event("group_unarchive")
    @bolt.event("group_deleted")
    @bolt.event("group_left")
    async def on_channel_change(body: dict[str, Any]) -> None:
        channel_changed(adapter, body)


def _workspace_events(bolt: AsyncApp, adapter: "SlackAdapter") -> None:
    """The directory (team_join, user_change), the Home tab, and the app's removal."""

    @bolt.event("team_join")
    @bolt.event("user_change")
    async def on_directory_change(body: dict[str, Any]) -> None:
        adapter.background(adapter.directory_event(body))

    @bolt.event("app_home_opened")
    async def on_home(body: dict[str, Any]) -> None:
        event = translate.home_opened(body)
        if event is not None:
            adapter.background(adapter.publish_home(event))

    @bolt.event("app_uninstalled")
    async def on_uninstalled(body: dict[str, Any]) -> None:
        adapter.background(adapter.uninstalled(body))

    @bolt.event("tokens_revoked")
    async def on_tokens_revoked(body: dict[str, Any]) -> None:
        # Only the bot token matters; a user revoking their own token changes nothing here.
        if ((body.get("event") or {}).get("tokens") or {}).get("bot"):
            adapter.background(adapter.uninstalled(body))


def _commands_and_buttons(bolt: AsyncApp, adapter: "SlackAdapter") -> None:
    """Slash commands and Block Kit buttons: acknowledged to bolt, then accepted like events."""

    @bolt.command(_ANYTHING)
    async def on_command(ack: Any, body: dict[str, Any]) -> BoltResponse | None:
        await ack()
        return await accept(adapter, translate.slash_command, body, response_url=body.get("response_url") or None)

    @bolt.action(_ANYTHING)
    async def on_action(ack: Any, body: dict[str, Any]) -> BoltResponse | None:
        await ack()
        return await accept(adapter, translate.block_action, body)
