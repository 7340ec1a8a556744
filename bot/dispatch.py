"""From a neutral event to the messages it causes: the one place for idempotency, the ingestion
queue, routing, admin checks, error replies and the log line of every handled event.

The flow of one event:
1. record its key in ``events_seen`` (a unique key): a retried delivery stops here; an event the
   adapter wrote to the inbox before acknowledging it leaves the inbox in the same transaction;
2. refresh the sender in the directory;
3. a message in a public channel goes to the durable ingestion queue (the worker analyses it
   later, off the request path);
4. the router picks the handler; admin-only routes refuse non-admins;
5. the handler runs in a worker thread with a ``SkillContext`` and returns what to send;
6. the replies go out through the platform's ChatPort.

Handlers are synchronous: database and NLP work run in a thread, never on the event loop. When a
handler needs an answer from the platform in the middle of its work (opening a group chat, say),
``ctx.chat`` calls the async ChatPort on the loop and waits for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets as pysecrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError, InterfaceError
from sqlalchemy.orm import Session

from bot import people
from bot.config import Settings
from bot.db import Database
from bot.db.models import EventSeen, InboxItem, IngestItem, PersonRow
from bot.events import (
    CommandInvoked,
    Conversation,
    DirectMessage,
    GroupMessage,
    HomeOpened,
    MemberJoined,
    MemberLeft,
    MessageReceived,
    Outbound,
    Person,
    ReactionAdded,
    Reply,
    ScheduledTick,
    Sent,
    Workspace,
)
from bot.i18n import Catalog, guess_language, normalise_locale
from bot.ports import ChatError, ChatPort, Clock
from bot.router import MAX_MATCH_CHARS, Match, Router
from bot.context import Services, SkillContext, SyncChat, tell_listeners

log = logging.getLogger("liaison.dispatch")

# Longer messages to the bot get a polite refusal instead of a search (they are still indexed,
# cut to ingest.max_text_chars, when posted in a public channel); the router matches no longer text.
MAX_ADDRESSED_CHARS = MAX_MATCH_CHARS

MESSAGES = Catalog("dispatch")


@dataclass
class Outcome:
    """What became of one event: for the log line and for tests."""

    kind: str
    status: str = "ok"  # ok, duplicate, ignored, refused, error, db_error, unknown
    route: str | None = None
    sent: list[Sent] = field(default_factory=list)
    outbound: list[Outbound] = field(default_factory=list)
    queued: bool = False
    error: str | None = None
    sections: list[str] = field(default_factory=list)  # HomeOpened: the skills' text sections


def event_key(event: Any) -> str | None:
    """The idempotency key of an event. Messages are keyed by (conversation, ts) as well as by
    event id, because platforms also redeliver the same message under a new event id."""
    if isinstance(event, MessageReceived):
        suffix = ""
        if event.deleted:
            suffix = ":deleted"
        elif event.edited:
            suffix = ":edit:" + hashlib.sha1(event.text.encode("utf-8", "replace")).hexdigest()[:16]
        return f"msg:{event.conversation.id}:{event.ts}{suffix}"
    if isinstance(event, ReactionAdded):
        return f"reaction:{event.conversation.id}:{event.item_ts}:{event.sender.id}:{event.reaction}"
    if isinstance(event, ScheduledTick):
        return None  # scheduled jobs carry their own idempotency (unique rounds, digests)
    return f"event:{event.event_id}" if event.event_id else None


def event_kind(event: Any) -> str:
    return type(event).__name__


def _sender_of(event: Any) -> Person | None:
    if isinstance(event, MemberJoined | MemberLeft):
        return event.person
    return getattr(event, "sender", None)


class Dispatcher:
    def __init__(
        self,
        *,
        router: Router,
        db: Database,
        chats: Mapping[str, ChatPort],
        clock: Clock,
        settings: Settings,
        services: Services | None = None,
    ) -> None:
        self.router = router
        self.db = db
        self.chats = dict(chats)
        self.clock = clock
        self.settings = settings
        self.services = services if services is not None else Services()
        self.hooks_after: list[Callable[[Any, Outcome], None]] = []

    # ---- public -----------------------------------------------------------------------------

    async def handle(self, event: Any, *, inbox_id: int | None = None) -> Outcome:
        """Handle one inbound event end to end and log one line about it. ``inbox_id``: the
        event's row in the inbox (``bot/inbox.py``), deleted when the event is recorded."""
        started = time.perf_counter()
        outcome = Outcome(kind=event_kind(event))
        try:
            await self._handle(event, outcome, inbox_id)
        except (OperationalError, InterfaceError) as exc:
            outcome.status, outcome.error = "db_error", _first_line(exc)
            log.error(
                "database unavailable while handling %s in %s: %s. Check DATABASE_URL and that the "
                "database is running; the event was not processed and the platform may retry it.",
                outcome.kind, event.workspace.key, outcome.error,
            )
            await self._send_safely(event, outcome, [self._reply_to(event, MESSAGES.get(self._lang_hint(event), "db_down"), private=True)])
        finally:
            ms = (time.perf_counter() - started) * 1000
            log.info(
                "event workspace=%s kind=%s route=%s outcome=%s sent=%d duration_ms=%.1f%s",
                event.workspace.key, outcome.kind, outcome.route or "-", outcome.status, len(outcome.sent), ms,
                f" error={outcome.error!r}" if outcome.error else "",
            )
            for hook in self.hooks_after:
                hook(event, outcome)
        return outcome

    # ---- steps -------------------------------------------------------------------------------

    async def _handle(self, event: Any, outcome: Outcome, inbox_id: int | None) -> None:
        ws = event.workspace
        sender = _sender_of(event)
        if sender is not None and not sender.name and not sender.is_bot:
            sender = await self._enrich(ws, sender)
        fresh = await asyncio.to_thread(self._record, event, sender, outcome, inbox_id)
        if not fresh:
            outcome.status = "duplicate"
            return

        if isinstance(event, MessageReceived) and event.addressed and not event.deleted:
            text = event.text.strip()
            if len(text) > MAX_ADDRESSED_CHARS:
                lang = self._lang_hint(event)
                await self._send_safely(event, outcome, [self._reply_to(event, MESSAGES.get(lang, "too_long", length=len(text)), private=True)])
                outcome.status = "refused"
                return
            if not text:
                await self._send_safely(event, outcome, [self._reply_to(event, MESSAGES.get(self._lang_hint(event), "empty"))])
                return

        if isinstance(event, MessageReceived):
            # Matching a message's text runs in a thread, like the handlers: the loop keeps acking.
            matches = await asyncio.to_thread(self.router.match, event)
        else:
            matches = self.router.match(event)
        if not matches:
            if isinstance(event, (MessageReceived, CommandInvoked)) and (
                isinstance(event, CommandInvoked) or event.addressed
            ) and not event.sender.is_bot and not getattr(event, "deleted", False):
                outcome.status = "unknown"
                # A command nobody else saw (a slash command) gets its answer privately too.
                unknown = MESSAGES.get(self._lang_hint(event), "unknown")
                await self._send_safely(event, outcome, [self._reply_to(event, unknown, private=isinstance(event, CommandInvoked))])
            elif not outcome.queued:
                outcome.status = "ignored"
            return

        for match in matches:
            outcome.route = f"{match.route.skill}.{match.route.handler.__name__}"
            told: list[tuple[str, dict[str, object]]] = []
            outbound = await self._run_handler(event, match, outcome, told)
            if isinstance(event, HomeOpened):
                # Home sections are rendered by the adapter, not sent.
                outcome.sections.extend(x for x in outbound if isinstance(x, str) and x.strip())
            else:
                await self._send_safely(event, outcome, outbound)
            if told:
                await asyncio.to_thread(self._tell, event, match, outcome, told)

    async def _enrich(self, ws: Workspace, sender: Person) -> Person:
        """Ask the platform who an unknown sender is (Slack events carry only the user id)."""
        chat = self.chats.get(ws.platform)
        if chat is None:
            return sender
        known = await asyncio.to_thread(self._known_person, ws, sender.id)
        if known:
            return sender
        try:
            found = await chat.lookup_user(ws, sender.id)
        except ChatError as exc:
            log.warning("could not look up user %s in %s: %s", sender.id, ws.key, exc)
            return sender
        return found or sender

    def backfill(self, event: MessageReceived) -> bool:
        """Record and queue one message of history (an export), without routing it: old
        messages are indexed, never answered. False when that message was already seen."""
        return self._record(event, event.sender, Outcome(kind=event_kind(event)))

    def _known_person(self, ws: Workspace, user_id: str) -> bool:
        with self.db.session(ws.key) as s:
            row = people.get(s, user_id)
            return row is not None and bool(row.name) and row.name != row.user_id

    def _record(self, event: Any, sender: Person | None, outcome: Outcome, inbox_id: int | None = None) -> bool:
        """Mark the event seen, refresh the sender and queue indexable messages, in one
        transaction: a retried delivery finds the key and stops, and nothing is queued twice.
        The event's inbox row goes in the same transaction: after a crash it is either still
        in the inbox or recorded, never both and never neither."""
        ws = event.workspace.key
        key = event_key(event)
        with self.db.session(ws) as s:
            if inbox_id is not None:
                s.execute(delete(InboxItem).where(InboxItem.id == inbox_id))
            if key is not None:
                try:
                    with s.begin_nested():
                        s.add(EventSeen(workspace=ws, key=key[:255], user_id=sender.id if sender else None, seen_at=self.clock.now()))
                        s.flush()
                except IntegrityError:
                    return False
                if isinstance(event, MessageReceived) and event.event_id:
                    # The same delivery under its event id too (Slack retries keep the id).
                    try:
                        with s.begin_nested():
                            s.add(EventSeen(workspace=ws, key=f"event:{event.event_id}"[:255], user_id=event.sender.id, seen_at=self.clock.now()))
                            s.flush()
                    except IntegrityError:
                        pass
            row = people.upsert(s, sender) if sender is not None else None
            if isinstance(event, MessageReceived):
                outcome.queued = self._enqueue(s, event, row)
        return True

    def _enqueue(self, s: Session, event: MessageReceived, row: PersonRow | None) -> bool:
        # Privacy: only public channels are indexed; never DMs, group DMs or private channels.
        if event.conversation.kind != "channel" or not self.settings.ingest.enabled:
            return False
        if event.sender.is_bot or (row is not None and (row.is_bot or row.indexing_opt_out)):
            return False
        if event.addressed and not event.deleted:
            return False  # questions to the bot are not evidence of expertise
        ws = event.workspace.key
        values = dict(
            workspace=ws,
            op="delete" if event.deleted else "upsert",
            conversation_id=event.conversation.id,
            conversation_name=event.conversation.name,
            ts=event.ts,
            thread_ts=event.thread_ts,
            parent_user_id=event.parent_user_id,
            user_id=event.sender.id,
            text="" if event.deleted else event.text[: self.settings.ingest.max_text_chars],
            mentions=list(event.mentions),
            permalink=event.permalink,
            message_time=event.time,
            enqueued_at=self.clock.now(),
            attempts=0,
            last_error=None,
        )
        insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        stmt = insert(IngestItem).values(**values)
        update = {k: stmt.excluded[k] for k in ("op", "text", "mentions", "thread_ts", "parent_user_id", "enqueued_at", "attempts", "last_error")}
        if event.deleted:
            update = {"op": stmt.excluded.op, "text": stmt.excluded.text, "attempts": stmt.excluded.attempts}
        s.execute(stmt.on_conflict_do_update(index_elements=["workspace", "conversation_id", "ts"], set_=update))
        return True

    def _context(self, event: Any, match: Match, s: Session, chat: SyncChat | None) -> SkillContext:
        sender = _sender_of(event)
        row = people.get(s, sender.id) if sender is not None else None
        return SkillContext(
            workspace=event.workspace,
            event=event,
            db=s,
            settings=self.settings,
            clock=self.clock,
            chat=chat,
            router=self.router,
            services=self.services,
            lang=self._language(event, match, row),
            match=match.groups,
            args=match.args,
            sender=row,
            log=logging.getLogger(f"liaison.skills.{match.route.skill}"),
        )

    async def _run_handler(self, event: Any, match: Match, outcome: Outcome,
                           told: list[tuple[str, dict[str, object]]]) -> list[Outbound]:
        """Run the handler in a thread, in one transaction; what it tells (``ctx.notify``) is
        added to ``told``, for ``_tell`` once its replies are sent."""
        loop = asyncio.get_running_loop()
        chat = self.chats.get(event.workspace.platform)
        sync_chat = SyncChat(chat, event.workspace, loop) if chat is not None else None

        def run() -> list[Outbound]:
            with self.db.session(event.workspace.key) as s:
                ctx = self._context(event, match, s, sync_chat)
                if match.route.admin and not ctx.is_admin():
                    outcome.status = "refused"
                    return [self._reply_to(event, MESSAGES.get(ctx.lang, "not_admin"), private=True)]
                ctx.told = []
                result = _as_list(match.route.handler(event, ctx))
            told.extend(ctx.told)  # committed: what it told holds
            return result

        try:
            return await asyncio.to_thread(run)
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:  # noqa: BLE001 - one place turns handler failures into a reply
            ref = pysecrets.token_hex(3)
            outcome.status, outcome.error = "error", f"{type(exc).__name__}: {exc} (ref {ref})"
            log.exception("handler %s failed on %s in %s (ref %s); nothing was saved for this event",
                          outcome.route, outcome.kind, event.workspace.key, ref)
            key = "error_ref" if self.settings.bot.error_reference else "error"
            if isinstance(event, ScheduledTick):
                return []
            return [self._reply_to(event, MESSAGES.get(self._lang_hint(event), key, ref=ref), private=True)]

    def _tell(self, event: Any, match: Match, outcome: Outcome, told: list[tuple[str, dict[str, object]]]) -> None:
        """After the replies: the listeners of what the handler told, in one transaction. A
        failure is logged; the answer has gone already."""
        try:
            with self.db.session(event.workspace.key) as s:
                ctx = self._context(event, match, s, None)
                for name, values in told:
                    tell_listeners(ctx, name, values)
        except Exception as exc:  # noqa: BLE001 - the event is handled; only this bookkeeping is lost
            outcome.error = f"after the answer: {type(exc).__name__}: {exc}"
            log.exception("%s in %s was answered, but recording what it told (%s) failed; those records (e.g. "
                          "the question count of the network report) miss this event. Check the database and "
                          "the listening skill's log.", outcome.route, event.workspace.key,
                          ", ".join(name for name, _ in told))

    async def _send_safely(self, event: Any, outcome: Outcome, outbound: Iterable[Outbound]) -> None:
        chat = self.chats.get(event.workspace.platform)
        for message in outbound:
            if message is None:
                continue
            outcome.outbound.append(message)
            if chat is None:
                log.warning("no chat for platform %s; dropping a %s", event.workspace.platform, type(message).__name__)
                continue
            try:
                outcome.sent.append(await chat.send(event.workspace, message))
            except ChatError as exc:
                outcome.error = f"send failed: {exc}"
                log.error("could not send a %s in %s: %s%s", type(message).__name__, event.workspace.key, exc,
                          " (will not retry)" if not exc.retryable else "")

    # ---- helpers -----------------------------------------------------------------------------

    def _language(self, event: Any, match: Match, row: PersonRow | None) -> str:
        if match.lang:
            return match.lang
        if row is not None and normalise_locale(row.locale):
            return normalise_locale(row.locale)  # type: ignore[return-value]
        return self._lang_hint(event)

    def _lang_hint(self, event: Any) -> str:
        default = self.settings.bot.default_language
        sender = _sender_of(event)
        if sender is not None and normalise_locale(sender.locale):
            return normalise_locale(sender.locale)  # type: ignore[return-value]
        text = getattr(event, "text", "") or ""
        return guess_language(text, default) if text else default

    def _reply_to(self, event: Any, text: str, *, private: bool = False) -> Outbound | None:
        return reply_to(event, text, private=private) if getattr(event, "conversation", None) else None


def reply_to(event: Any, text: str, *, private: bool = False, buttons: Iterable = (), files: Iterable = ()) -> Reply:
    """An answer in the conversation an event came from: in its thread (a message in a public
    or private channel starts one), and visible to the sender only when ``private`` (errors and
    refusals), where the platform can do that. ``files`` (``Attachment``) go with it."""
    conv: Conversation = event.conversation
    thread = getattr(event, "thread_ts", None)
    if isinstance(event, MessageReceived) and conv.kind in ("channel", "private"):
        thread = event.thread_ts or event.ts
    sender = _sender_of(event)
    ephemeral = sender.id if (private and sender is not None and conv.kind != "dm") else None
    return Reply(conversation=conv, text=text, thread_ts=thread, ephemeral_to=ephemeral, buttons=tuple(buttons),
                 files=tuple(files))


def reply(ctx: SkillContext, text: str, *, private: bool = False, buttons: Iterable = (), files: Iterable = ()) -> Reply:
    """The usual answer of a handler (see ``reply_to``)."""
    return reply_to(ctx.event, text, private=private, buttons=buttons, files=files)


def _as_list(result: Any) -> list[Outbound]:
    if result is None:
        return []
    if isinstance(result, (Reply, DirectMessage, GroupMessage, str)):
        return [result]
    return [r for r in result if r is not None]


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__
