"""SlackChat: the ChatPort over Slack's Web API (slack_sdk's AsyncWebClient).

- ``SLACK_API_URL`` moves the API base URL (the tests point it at a fake Slack on loopback).
- 429 answers are retried by slack_sdk's rate-limit handler after Retry-After; on top of that,
  sending is paced to about one message per second per conversation, Slack's posting limit.
- Our neutral markup is Slack mrkdwn, so text passes through; buttons become a Block Kit
  actions block.
- Files (charts) are uploaded with ``files_upload_v2`` after the message's text, in the same
  conversation and thread.
- Replies to a slash command in a conversation the bot is not part of (a DM between two people,
  a channel it was not invited to) cannot be posted with chat.postMessage; those go through the
  command's response_url instead, which Slack keeps valid for 30 minutes.
- A keyed message (``GroupMessage.key``, ``DirectMessage.key``) carries its key as message
  metadata, and ``find_sent`` looks for it in the conversation's latest messages
  (conversations.history), so a sender that stopped mid-post can tell whether it got through.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler, AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.common import paging
from adapters.common.flow import Pacer
from adapters.slack.channels import ChannelCache, ChannelInfo
from adapters.slack.translate import person_from_user
from bot.events import Button, DirectMessage, GroupMessage, Outbound, Person, Reply, Sent, Workspace
from bot.ports import ChatError

log = logging.getLogger("liaison.slack")

DEFAULT_API_URL = "https://slack.com/api/"
# Slack errors where trying again later may work.
_RETRYABLE = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})
# Errors of chat.post* meaning the bot cannot write there (but a command's response_url can).
_NOT_THERE = frozenset({"not_in_channel", "channel_not_found", "is_archived", "cannot_dm_bot", "user_not_in_channel"})
_SECTION_LIMIT = 3000  # characters of one section block's text
# The metadata event type of a keyed message, and how far back find_sent looks for one.
METADATA_EVENT = "liaison_message"
_HISTORY_PAGE = 200
_HISTORY_PAGES = 5
_RESPONSE_URL_SECONDS = 30 * 60


def make_client(token: str, *, base_url: str | None = None, max_rate_limit_retries: int = 2) -> AsyncWebClient:
    """The Web API client every Slack call goes through (SlackChat's and bolt's)."""
    url = base_url or DEFAULT_API_URL
    if not url.endswith("/"):
        url += "/"
    return AsyncWebClient(
        token=token,
        base_url=url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
            AsyncRateLimitErrorRetryHandler(max_retry_count=max_rate_limit_retries),
        ],
    )


@dataclass
class _ResponseUrl:
    url: str
    user_id: str
    expires: float


def blocks_for(text: str, buttons: Sequence[Button]) -> list[dict[str, Any]] | None:
    """Block Kit for a message with buttons (None without: plain text is enough)."""
    if not buttons:
        return None
    blocks: list[dict[str, Any]] = []
    rest = text
    while rest:
        cut = rest[:_SECTION_LIMIT]
        if len(rest) > _SECTION_LIMIT and "\n" in cut:
            cut = cut[: cut.rfind("\n")]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cut}})
        rest = rest[len(cut):].lstrip("\n")
    elements = []
    for b in buttons:
        element: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": b.label[:75], "emoji": True},
            "action_id": b.action_id,
            "value": b.value,
        }
        if b.style != "default":
            element["style"] = b.style
        elements.append(element)
    blocks.append({"type": "actions", "elements": elements})
    return blocks


class SlackChat:
    """ChatPort for one Slack workspace (the bot token's)."""

    platform = "slack"

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        team_field: str = "title",
        reply_in_thread: bool = True,
        min_seconds_between_messages: float = 1.0,
        channel_info_seconds: float = 900.0,
        pacer: Pacer | None = None,
    ) -> None:
        self.client = client
        self.team_field = team_field
        self.reply_in_thread = reply_in_thread
        self.pacer = pacer or Pacer(1, min_seconds_between_messages)
        self._dm_channels: dict[str, str] = {}
        self.channels = ChannelCache(self._conversation_info, ttl=channel_info_seconds,
                                     on_failure=_log_channel_failure)
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._top_level: OrderedDict[tuple[str, str], None] = OrderedDict()

    def note_top_level(self, channel_id: str, ts: str) -> None:
        """A message to the bot that was not in a thread (see ``reply_in_thread``)."""
        self._top_level[(channel_id, ts)] = None
        while len(self._top_level) > 10_000:
            self._top_level.popitem(last=False)

    # ---- slash command answers ----------------------------------------------------------------

    def remember_response_url(self, *, channel_id: str, user_id: str, url: str) -> None:
        """Keep a slash command's response_url for replies the bot cannot post itself."""
        now = time.monotonic()
        self._response_urls = {k: v for k, v in self._response_urls.items() if v.expires > now}
        self._response_urls[channel_id] = _ResponseUrl(url, user_id, now + _RESPONSE_URL_SECONDS)

    def _response_url(self, channel_id: str) -> _ResponseUrl | None:
        found = self._response_urls.get(channel_id)
        return found if found is not None and found.expires > time.monotonic() else None

    async def _respond(self, target: _ResponseUrl, message: Reply) -> Sent:
        webhook = AsyncWebhookClient(target.url)
        response = await webhook.send(
            text=message.text,
            blocks=blocks_for(message.text, message.buttons),
            # A DM the bot is not part of is between other people: never speak up in it.
            response_type="ephemeral" if message.ephemeral_to or message.conversation.kind == "dm" else "in_channel",
            replace_original=False,
        )
        if response.status_code != 200:
            raise ChatError(f"Slack refused the command response ({response.status_code}: {response.body})",
                            retryable=response.status_code >= 500)
        return Sent(conversation_id=message.conversation.id, ts=None)

    # ---- ChatPort -------------------------------------------------------------------------------

    async def send(self, workspace: Workspace, message: Outbound) -> Sent:
        sent = await self._send(message)
        if getattr(message, "files", ()):
            await self._upload(message, sent)
        return sent

    async def _upload(self, message: Outbound, sent: Sent) -> None:
        """A message's files, uploaded with files_upload_v2 (files.getUploadURLExternal, the upload,
        files.completeUploadExternal) beside it. Files cannot be ephemeral: an ephemeral reply's
        files go to the person's DM."""
        thread_ts = None
        if isinstance(message, Reply) and message.ephemeral_to and message.conversation.kind != "dm":
            channel = await self._open([message.ephemeral_to])
        else:
            channel = sent.conversation_id
            thread_ts = message.thread_ts if isinstance(message, Reply) else None
        uploads = [{"content": f.data, "filename": f.name, "title": f.title or f.name} for f in message.files]
        kwargs: dict[str, Any] = {"thread_ts": thread_ts} if thread_ts else {}
        async with self.pacer.turn(channel):
            await self._call("files.upload", self.client.files_upload_v2, file_uploads=uploads, channel=channel, **kwargs)

    async def _send(self, message: Outbound) -> Sent:
        if isinstance(message, Reply):
            return await self._send_reply(message)
        if isinstance(message, DirectMessage | GroupMessage):
            channel = await self._open(self._recipients(message))
            return await self._post(channel, message.text, message.buttons, key=message.key)
        raise TypeError(f"SlackChat cannot send a {type(message).__name__}")

    @staticmethod
    def _recipients(message: DirectMessage | GroupMessage) -> list[str]:
        if isinstance(message, DirectMessage):
            return [message.user_id]
        if not message.user_ids:
            raise ChatError("a group message needs at least one person")
        return list(message.user_ids)

    async def find_sent(self, workspace: Workspace, message: Outbound) -> Sent | None:
        """The keyed message already in its DM or group DM (looked for among the latest
        ``_HISTORY_PAGES * _HISTORY_PAGE`` messages), or None. Needs the ``im:history`` and
        ``mpim:history`` scopes; Slack's refusal is raised as ChatError."""
        if not isinstance(message, DirectMessage | GroupMessage) or not message.key:
            raise TypeError("only a keyed direct or group message can be looked for")
        channel = await self._open(self._recipients(message))
        history = self._pages("conversations.history", self.client.conversations_history, channel=channel,
                              limit=_HISTORY_PAGE, include_all_metadata=True)
        async for response in paging.pages(history, _next_cursor, limit=_HISTORY_PAGES):
            for m in response.get("messages") or ():
                meta = m.get("metadata") or {}
                if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("key") == message.key:
                    return Sent(conversation_id=channel, ts=m.get("ts"))
        return None

    def _pages(self, method: str, fn: Callable[..., Awaitable[Any]], **kwargs: Any) -> Callable[[str | None], Awaitable[Any]]:
        """One page of a cursor-paged Web API method (for ``adapters.common.paging``)."""

        async def page(cursor: str | None) -> Any:
            return await self._call(method, fn, **kwargs, **({"cursor": cursor} if cursor else {}))

        return page

    async def _send_reply(self, message: Reply) -> Sent:
        conv = message.conversation
        if not self.reply_in_thread and message.thread_ts and (conv.id, message.thread_ts) in self._top_level:
            # Answer beside the question rather than opening a thread under it.
            message = dataclasses.replace(message, thread_ts=None)
        try:
            if message.ephemeral_to and conv.kind != "dm":
                return await self._post(conv.id, message.text, message.buttons, thread_ts=message.thread_ts,
                                        ephemeral_to=message.ephemeral_to)
            return await self._post(conv.id, message.text, message.buttons, thread_ts=message.thread_ts)
        except _NotThere as exc:
            target = self._response_url(conv.id)
            if target is None:
                raise ChatError(f"the bot cannot post in {conv.id} ({exc.error}); invite it to the channel") from None
            return await self._respond(target, message)

    async def _post(
        self,
        channel: str,
        text: str,
        buttons: Sequence[Button] = (),
        *,
        thread_ts: str | None = None,
        ephemeral_to: str | None = None,
        key: str | None = None,
    ) -> Sent:
        kwargs: dict[str, Any] = {"channel": channel, "text": text}
        blocks = blocks_for(text, buttons)
        if blocks:
            kwargs["blocks"] = blocks
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if key:
            kwargs["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"key": key}}
        async with self.pacer.turn(channel):
            if ephemeral_to:
                response = await self._call("chat.postEphemeral", self.client.chat_postEphemeral, user=ephemeral_to, **kwargs)
                ts = response.get("message_ts")
            else:
                kwargs["unfurl_links"] = False
                response = await self._call("chat.postMessage", self.client.chat_postMessage, **kwargs)
                ts = response.get("ts")
        return Sent(conversation_id=str(response.get("channel") or channel), ts=ts)

    async def _open(self, user_ids: list[str]) -> str:
        key = ",".join(sorted(user_ids))
        if key in self._dm_channels:
            return self._dm_channels[key]
        response = await self._call("conversations.open", self.client.conversations_open, users=",".join(user_ids))
        channel = str((response.get("channel") or {}).get("id") or "")
        if not channel:
            raise ChatError("Slack opened no conversation (conversations.open answered without a channel)")
        self._dm_channels[key] = channel
        return channel

    async def lookup_user(self, workspace: Workspace, user_id: str) -> Person | None:
        try:
            response = await self._call("users.info", self.client.users_info, user=user_id, include_locale=True)
        except ChatError as exc:
            if "user_not_found" in str(exc):
                return None
            raise
        user = response.get("user")
        return person_from_user(user, team_field=self.team_field) if user else None

    async def list_members(self, workspace: Workspace, conversation_id: str) -> Sequence[str]:
        page = self._pages("conversations.members", self.client.conversations_members, channel=conversation_id, limit=1000)
        return await paging.collect(page, _next_cursor, lambda r: [str(m) for m in r.get("members") or ()])

    async def list_users(self, workspace: Workspace) -> Sequence[Person]:
        return [person_from_user(u, team_field=self.team_field) for u in await self.list_user_objects()]

    async def list_user_objects(self, *, page_size: int = 200) -> list[dict[str, Any]]:
        """Every user object of users.list, page after page (raw, so callers can filter)."""
        page = self._pages("users.list", self.client.users_list, limit=page_size, include_locale=True)
        return await paging.collect(page, _next_cursor, lambda r: r.get("members") or ())

    async def permalink(self, workspace: Workspace, conversation_id: str, ts: str) -> str | None:
        try:
            response = await self._call("chat.getPermalink", self.client.chat_getPermalink, channel=conversation_id, message_ts=ts)
        except ChatError:
            return None
        return response.get("permalink")

    async def channel_info(self, workspace: Workspace, conversation_id: str) -> ChannelInfo:
        """Whether a channel is public, and its name (conversations.info, kept a while; see
        adapters.slack.channels). Private when Slack cannot be asked."""
        return await self.channels.get(workspace.key, conversation_id)

    def forget_channel(self, workspace: Workspace, conversation_id: str) -> None:
        self.channels.forget(workspace.key, conversation_id)

    async def _conversation_info(self, conversation_id: str) -> dict[str, Any]:
        response = await self._call("conversations.info", self.client.conversations_info, channel=conversation_id)
        channel = response.get("channel")
        if not isinstance(channel, dict):
            raise ChatError("Slack conversations.info answered without a channel")
        return channel

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        await self._call("views.publish", self.client.views_publish, user_id=user_id, view=view)

    async def auth_test(self) -> dict[str, Any]:
        response = await self._call("auth.test", self.client.auth_test)
        return dict(response.data) if isinstance(response.data, dict) else {}

    # ---- errors -------------------------------------------------------------------------------

    async def _call(self, method: str, fn: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        try:
            return await fn(**kwargs)
        except SlackApiError as exc:
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            error = str(data.get("error") or f"HTTP {exc.response.status_code}")
            if method.startswith("chat.post") and error in _NOT_THERE:
                raise _NotThere(error) from None
            raise ChatError(f"Slack {method} failed: {error}", retryable=error in _RETRYABLE) from None
        except (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise ChatError(f"Slack {method} could not be reached: {type(exc).__name__}: {exc}", retryable=True) from None

    # ---- editing a sent message --------------------------------------------------------------

    async def update(self, workspace: Workspace, sent: Sent, text: str, buttons: Sequence[Button] = ()) -> None:
        """chat.update of a message the bot posted: new text, and its buttons replaced (none:
        the blocks go, so nobody can press the old ones)."""
        if not sent.ts:
            raise ChatError("Slack cannot update a message whose ts it did not answer")
        async with self.pacer.turn(sent.conversation_id):
            await self._call("chat.update", self.client.chat_update, channel=sent.conversation_id, ts=sent.ts,
                             text=text, blocks=blocks_for(text, buttons) or [])


def _next_cursor(response: Any) -> str | None:
    return (response.get("response_metadata") or {}).get("next_cursor") or None


def _log_channel_failure(conversation_id: str, exc: Exception) -> None:
    log.warning("Slack: could not tell whether channel %s is public (%s); treating it as private, so nothing "
                "said there is indexed, linked or counted as public evidence. Give the app the channels:read "
                "and groups:read scopes and check SLACK_API_URL; it asks again within a minute.", conversation_id, exc)


class _NotThere(ChatError):
    def __init__(self, error: str) -> None:
        super().__init__(f"the bot cannot post there: {error}")
        self.error = error
