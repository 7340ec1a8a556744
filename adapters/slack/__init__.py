"""The Slack adapter: a Slack app over HTTP (POST /slack/events) or Socket Mode, built on
slack-bolt's AsyncApp.

``build(app)`` is called by bootstrap when ``SLACK_BOT_TOKEN`` is set. The adapter:
- checks every request before reading it (``inbound.py``: signature, then body, then shape;
  401 or 400 otherwise, one log line), hands the parsed payload to bolt, whose listeners
  translate it and write the neutral event to the inbox (``bot/inbox.py``) before the 200: an
  acknowledged event survives a crash. Then the event runs through ``app.dispatcher.handle`` in
  a background task it keeps (``drain()`` waits for them: tests and shutdown); events left in
  the inbox by a process that died are handled at start, stalled ones after
  ``slack.inbox_replay_seconds``;
- learns its own user id and the workspace from auth.test at start, syncs the directory from
  users.list at start and every ``slack.directory_sync_hours``;
- publishes a Home tab when someone opens it;
- on app_uninstalled / tokens_revoked marks the installation inactive and, when
  ``slack.delete_data_on_uninstall`` is on, erases the workspace's data.

Socket Mode is used when ``SLACK_APP_TOKEN`` is set (for bots behind a firewall); the HTTP path is
mounted whenever ``SLACK_SIGNING_SECRET`` is set.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Callable, Coroutine, Sequence

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from sqlalchemy.exc import SQLAlchemyError

from adapters.common import installations
from adapters.common.flow import Tasks
from adapters.common.periodic import Periodic
from adapters.slack import directory, inbound, translate
from adapters.slack.chat import SlackChat, make_client
from bot import people
from bot.config import ConfigError
from bot.db.models import utcnow
from bot.events import CommandInvoked, HomeOpened, MessageReceived, Workspace
from bot.i18n import Catalog, normalise_locale
from bot.inbox import Inbox, InboxUnavailable
from bot.ports import ChatError

log = logging.getLogger("liaison.slack")

HOME = Catalog("slack.home")


@dataclass(frozen=True)
class SlackSettings:
    """The [slack] section of the settings (see config/default.toml for each key)."""

    team_field: str = "title"
    directory_sync_hours: float = 24.0
    delete_data_on_uninstall: bool = False
    reply_in_thread: bool = True
    min_seconds_between_messages: float = 1.0
    rate_limit_retries: int = 2
    home_tab: bool = True
    channel_info_minutes: float = 15.0
    inbox_replay_seconds: float = 60.0


class SlackAdapter:
    """One Slack workspace, reached with one bot token (implements bootstrap's PlatformAdapter)."""

    platform = "slack"

    def __init__(self, app: Any, *, settings: SlackSettings, token: str, signing_secret: str | None,
                 app_token: str | None, api_url: str | None) -> None:
        self.app = app
        self.settings = settings
        self.signing_secret = signing_secret
        self.app_token = app_token
        self.client = make_client(token, base_url=api_url, max_rate_limit_retries=settings.rate_limit_retries)
        self.chat = SlackChat(self.client, team_field=settings.team_field, reply_in_thread=settings.reply_in_thread,
                              min_seconds_between_messages=settings.min_seconds_between_messages,
                              channel_info_seconds=settings.channel_info_minutes * 60)
        # The signature of HTTP requests is checked in handle_http, before the body is read, so
        # bolt gets parsed payloads only (as its Socket Mode adapter hands them over). An empty
        # secret (not None) stops bolt from reading SLACK_SIGNING_SECRET by itself. Listeners
        # run before the response: they write the event to the inbox, then answer.
        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=signing_secret or "",
            name="liaison",
            logger=logging.getLogger("liaison.slack.bolt"),
            process_before_response=True,
            request_verification_enabled=False,
        )
        inbound.register(self.bolt, self)
        self.inbox = Inbox(app.db)
        self._in_flight: set[int] = set()  # inbox rows being handled in this process
        self._refusals = inbound.RefusalLog()
        self._replay_task: asyncio.Task | None = None
        self.bot_user_id: str | None = None
        self.team_url: str | None = None
        self.workspace: Workspace | None = None
        self.socket: Any = None
        self.tasks = Tasks(log, "Slack: handling an event failed")
        # The first sync is part of start (awaited); the loop runs the next ones.
        self.directory_sync = Periodic("slack-directory", self.sync_directory_safely, immediately=False,
                                       hours=settings.directory_sync_hours, log=log,
                                       failure="Slack: the directory sync failed (%s); trying again in %.0f h")

    # ---- PlatformAdapter ---------------------------------------------------------------------

    def add_routes(self, web_app: web.Application) -> None:
        if self.signing_secret:
            web_app.router.add_post("/slack/events", self.handle_http)

    async def start(self) -> None:
        """Who am I (auth.test), the directory, then Socket Mode when an app token is set."""
        try:
            auth = await self.chat.auth_test()
        except ChatError as exc:
            raise ChatError(f"Slack refused the bot token ({exc}); check SLACK_BOT_TOKEN and SLACK_API_URL") from None
        self.bot_user_id = auth.get("user_id")
        self.team_url = auth.get("url")
        self.workspace = Workspace("slack", str(auth.get("team_id") or ""))
        await asyncio.to_thread(installations.mark_active, self.app.db, self.workspace.key, name=auth.get("team"))
        log.info("Slack: connected to %s as %s", auth.get("team") or self.workspace.id, auth.get("user") or self.bot_user_id)
        self._replay_task = asyncio.create_task(self._replay_forever(), name="slack-inbox")
        if self.app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            # Connected before the directory sync, which may take a while in a large workspace.
            self.socket = AsyncSocketModeHandler(self.bolt, self.app_token, web_client=self.client,
                                                 logger=logging.getLogger("liaison.slack.socket"))
            await self.socket.connect_async()
            log.info("Slack: Socket Mode connected")
        await self.sync_directory_safely()
        self.directory_sync.start()

    async def stop(self) -> None:
        self.directory_sync.cancel()
        if self._replay_task is not None:
            self._replay_task.cancel()
            self._replay_task = None
        if self.socket is not None:
            await self.socket.close_async()
            self.socket = None
        await self.drain()
        self.inbox.close()

    def health(self) -> dict[str, Any]:
        """For /healthz: events acknowledged and not yet handled in this process."""
        return {"events_in_progress": len(self._in_flight)}

    # ---- inbound -----------------------------------------------------------------------------

    async def handle_http(self, request: web.Request) -> web.Response:
        """POST /slack/events: events, slash commands and interactivity alike. The gate first
        (``inbound.check``: signature before anything reads the body), then bolt, whose
        listeners answer once the event is in the inbox."""
        raw = await request.read()  # aiohttp answers 413 beyond the web app's client_max_size
        verdict = inbound.check(self.signing_secret or "", request.headers, raw, request.content_type)
        if verdict.refused:
            self._refusals.refused(verdict.status, verdict.reason, request.remote)
            return web.json_response({"ok": False, "error": verdict.reason}, status=verdict.status)
        if verdict.answer is not None:
            return web.json_response(verdict.answer)
        headers = {name: value for name, value in request.headers.items()}
        bolt_request = AsyncBoltRequest(body=verdict.payload, headers=headers, mode="socket_mode")
        return await to_aiohttp_response(await self.bolt.async_dispatch(bolt_request))

    async def accept(self, event: Any, *, response_url: str | None = None) -> BoltResponse | None:
        """Write ``event`` to the inbox, then handle it in the background; the listener's answer
        (None: bolt's 200) comes after the write. 503 when it cannot be written: Slack delivers
        the event again."""
        if event is None:
            return None
        meta = {"response_url": response_url} if response_url else None
        try:
            inbox_id = await self.inbox.put(event, meta)
        except InboxUnavailable as exc:
            self._refusals.refused(503, f"the event could not be recorded ({exc}); check DATABASE_URL and "
                                        "that the database is running (Slack delivers it again)", None)
            return BoltResponse(status=503, body="")
        self._start(event, inbox_id, meta)
        return None

    def refuse_malformed(self, reason: str) -> None:
        self._refusals.refused(400, reason[:300], None)

    def _start(self, event: Any, inbox_id: int, meta: dict[str, Any] | None) -> None:
        if isinstance(event, MessageReceived):
            self.note_inbound(event)
        url = (meta or {}).get("response_url")
        before = None
        if url and isinstance(event, CommandInvoked):
            # Remembered when the command's turn comes, so that of two commands in one
            # conversation each answer uses its own command's response_url.
            def before() -> None:
                self.chat.remember_response_url(channel_id=event.conversation.id, user_id=event.sender.id, url=str(url))
        self._in_flight.add(inbox_id)
        self.forward(event, before=before, inbox_id=inbox_id)

    async def replay(self, *, before: dt.datetime) -> int:
        """Handle again the inbox's Slack events received before ``before`` that no task of
        this process is handling: left by a process that died, or stalled. Returns how many."""
        handed: set[int] = set()  # each row once per call, even if its handling fails at once
        while True:
            pending = await asyncio.to_thread(self.inbox.due, "slack:", before=before, exclude=self._in_flight | handed)
            for item in pending:
                handed.add(item.id)
                self._start(item.event, item.id, item.meta)
            if not pending:
                break
        total = len(handed)
        if total:
            log.warning("Slack: handling %d acknowledged events again that a previous run (or a failed "
                        "attempt) left unhandled", total)
        return total

    async def _replay_forever(self) -> None:
        delay = max(self.settings.inbox_replay_seconds, 1.0)
        before = utcnow()
        while True:
            try:
                await self.replay(before=before)
            except Exception as exc:  # noqa: BLE001 - the database may be away; try again later
                log.error("Slack: could not read the inbox (%s: %s); trying again in %.0fs",
                          type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "", delay)
            await asyncio.sleep(delay / 2)
            before = utcnow() - dt.timedelta(seconds=delay)

    def forward(self, event: Any, *, before: Callable[[], None] | None = None, inbox_id: int | None = None) -> None:
        """Hand a neutral event to the dispatcher (None: nothing to do).

        Events of one conversation are handled in the order they arrived (an edit after the
        message it edits, a deletion last); different conversations run side by side. ``before``
        runs just before the event's turn (a slash command's response_url is its to use then)."""
        if event is None:
            return
        conversation = getattr(event, "conversation", None)
        key = f"{event.workspace.key}/{conversation.id}" if conversation is not None else None
        self.tasks.in_order(key, self._turn(before, event, inbox_id))

    async def _turn(self, before: Callable[[], None] | None, event: Any, inbox_id: int | None) -> Any:
        try:
            if before is not None:
                before()
            return await self.app.dispatcher.handle(await self.resolve_conversation(event), inbox_id=inbox_id)
        finally:
            self._in_flight.discard(inbox_id)  # type: ignore[arg-type]

    async def resolve_conversation(self, event: Any) -> Any:
        """Events carry channel ids only. Ask Slack (conversations.info, kept a while) what the
        channel is: its name makes answers and evidence read "in #kafka" rather than "in C0123",
        and for events that do not say whether the channel is public (app_mention, reactions,
        commands) it decides that, failing closed, before anything is stored or queued."""
        conv = getattr(event, "conversation", None)
        if conv is None or conv.kind not in ("channel", "private"):
            return event
        if conv.name and translate.stated_kind_of(event.raw or {}) is not None:
            return event  # nothing left to ask
        info = await self.chat.channel_info(event.workspace, conv.id)
        return translate.with_channel(event, info.kind, info.name, team_url=self.team_url)

    def background(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        return self.tasks.spawn(coro)

    async def drain(self) -> None:
        """Wait until every event received so far has been handled."""
        await self.tasks.drain()

    def note_inbound(self, event: MessageReceived) -> None:
        """Remember top-level channel messages to the bot, so that with reply_in_thread off the
        answer goes to the channel instead of opening a thread under them."""
        if event.addressed and event.thread_ts is None and event.conversation.kind != "dm":
            self.chat.note_top_level(event.conversation.id, event.ts)

    # ---- directory ---------------------------------------------------------------------------

    async def sync_directory(self) -> int:
        """users.list, page by page, into the people table: humans only; deleted accounts are
        marked deleted; someone who cannot be stored is left out with one log line (see
        adapters.slack.directory). Returns how many people were synced."""
        if self.workspace is None:
            raise ChatError("the directory cannot be synced before auth.test (start the adapter first)")
        users = await self.chat.list_user_objects()
        result = await asyncio.to_thread(directory.apply_users, self.app.db, self.workspace.key, users,
                                         team_field=self.settings.team_field)
        log.info("Slack: directory synced (%d people, %d deactivated accounts)", result.synced, result.deactivated)
        directory.log_left_out(result.failed, len(users))
        return result.synced

    async def sync_directory_safely(self) -> None:
        """The directory sync at start and every ``directory_sync_hours``: a failure is one log
        line, never a failed start."""
        try:
            await self.sync_directory()
        except ChatError as exc:
            log.error("Slack: could not sync the directory (%s); the app needs the users:read scope "
                      "(and users:read.email for e-mail addresses). Retrying at the next sync.", exc)
        except SQLAlchemyError as exc:
            log.error("Slack: could not store the directory (%s); check DATABASE_URL and that the database is "
                      "running. Retrying at the next sync.", directory.first_line(exc))

    async def directory_event(self, body: dict[str, Any]) -> None:
        """team_join / user_change: one person added, changed or deactivated."""
        user = (body.get("event") or {}).get("user")
        ws = translate.extract_workspace(body) or self.workspace
        if not isinstance(user, dict) or not user.get("id") or ws is None:
            return

        def apply() -> None:
            with self.app.db.session(ws.key) as s:
                directory.apply_user(s, user, team_field=self.settings.team_field, bots_leave=True)

        try:
            await asyncio.to_thread(apply)
        except (ValueError, TypeError, AttributeError, SQLAlchemyError) as exc:
            log.warning("Slack: %s of %s could not be stored (%s); the next directory sync tries again",
                        (body.get("event") or {}).get("type"), directory.user_id_of(user), directory.first_line(exc))

    # ---- home tab ----------------------------------------------------------------------------

    async def publish_home(self, event: HomeOpened) -> None:
        """Run the skills' home sections for this person and publish the Home tab."""
        if not self.settings.home_tab:
            return
        outcome = await self.app.dispatcher.handle(event)
        if outcome.status == "duplicate":
            return
        user_id = event.sender.id

        def locale() -> str | None:
            with self.app.db.session(event.workspace.key) as s:
                row = people.get(s, user_id)
                return row.locale if row is not None else None

        lang = normalise_locale(await asyncio.to_thread(locale)) or self.app.settings.bot.default_language
        await self.chat.publish_home(user_id, home_view(self.app, lang, sections=outcome.sections))

    # ---- uninstall ---------------------------------------------------------------------------

    async def uninstalled(self, body: dict[str, Any]) -> None:
        ws = translate.extract_workspace(body) or self.workspace
        if ws is None:
            return
        erase = self.settings.delete_data_on_uninstall

        def apply() -> dict[str, int] | None:
            counts = None
            if erase:
                from bot.privacy import erase_workspace

                try:
                    counts = erase_workspace(self.app.db, ws.key)
                except Exception:  # noqa: BLE001 - the installation is still marked inactive below
                    log.exception("Slack: erasing the data of %s failed; run the erasure again by hand", ws.key)
            installations.mark_inactive(self.app.db, ws.key)  # kept even after an erasure
            return counts

        counts = await asyncio.to_thread(apply)
        self.directory_sync.cancel()
        if not erase:
            log.warning("Slack: the app was removed from %s; its data is kept (slack.delete_data_on_uninstall is off)", ws.key)
        elif counts is None:
            pass  # the failure is logged above
        else:
            log.warning("Slack: the app was removed from %s; its data was erased (%d rows)", ws.key, sum(counts.values()))


def home_view(app: Any, lang: str, *, sections: Sequence[str] = ()) -> dict[str, Any]:
    """The Home tab: who the bot is, the skills' sections about this person (what the bot knows
    about them, their coffee status, …), what one can ask, and the privacy note."""
    name = app.settings.bot.name
    help_lines = "\n".join(app.router.help_lines(lang)) or "—"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": HOME.get(lang, "title", name=name)[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": HOME.get(lang, "intro")}},
    ]
    # Slack allows 100 blocks in a view; keep room for the fixed ones.
    for section in list(sections)[:40]:
        blocks.append({"type": "divider"})
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": section[:3000]}})
    blocks += [
        {"type": "divider"},
        {"type": "section", "text": {"type": "mrkdwn", "text": (HOME.get(lang, "what") + "\n" + help_lines)[:3000]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": HOME.get(lang, "privacy")}]},
    ]
    return {"type": "home", "blocks": blocks}


def build(app: Any) -> SlackAdapter:
    """The Slack adapter for ``app`` (bootstrap calls this when SLACK_BOT_TOKEN is set)."""
    secrets = app.settings.secrets
    if not secrets.slack_bot_token:
        raise ConfigError("Slack needs SLACK_BOT_TOKEN (the bot token, xoxb-…); see config/example.env")
    if not secrets.slack_signing_secret and not secrets.slack_app_token:
        raise ConfigError(
            "Slack needs SLACK_SIGNING_SECRET (to receive requests over HTTP) or SLACK_APP_TOKEN "
            "(Socket Mode); see docs/slack.md"
        )
    return SlackAdapter(
        app,
        settings=app.settings.section("slack", SlackSettings),
        token=secrets.slack_bot_token,
        signing_secret=secrets.slack_signing_secret,
        app_token=secrets.slack_app_token,
        api_url=secrets.slack_api_url,
    )
