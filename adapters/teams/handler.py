"""POST /api/messages: check the request, authenticate it, translate the activity and hand the
neutral events to the dispatcher. Nothing here decides what to answer.

Order of checks, so that a request that is refused leaves nothing behind and costs little:
1. in no-auth mode, only requests whose peer (the client) is a loopback address (403);
2. a body that is not a JSON object, or is nested more than ``MAX_DEPTH`` deep → 400;
3. with an app id, a request without ``Authorization`` → 401 at once;
4. an activity without type, conversation, sender or serviceUrl → 400;
5. a serviceUrl that is not a trusted Bot Connector endpoint (trust.py) → 400;
6. with an app id, the Bot Framework JWT (auth.py; keys fetched without blocking) → 401;
7. only then are conversation references stored and events dispatched (botbuilder's
   CloudAdapter runs the turn through ``LiaisonActivityHandler``).

Every refusal is one log line (no traceback) saying why, and who asked.

Teams wants an answer quickly (it retries after 15 s), so events are dispatched in background
tasks and the request is answered at once; ``TeamsAdapter.wait_idle`` waits for them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from typing import TYPE_CHECKING, Any, Mapping

from aiohttp import web
from sqlalchemy.exc import IntegrityError
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import Activity

from adapters.teams import translate
from adapters.teams.auth import InvalidToken
from adapters.teams.trust import is_loopback
from bot.db import Database
from bot.db.models import EventSeen
from bot.events import Reply
from bot.i18n import Catalog, normalise_locale

if TYPE_CHECKING:  # pragma: no cover
    from adapters.teams import TeamsAdapter

log = logging.getLogger("liaison.teams")

RAW_KEY = "liaison.activity"
# Real activities are nested less than 10 deep (an Adaptive Card's data a few more); deeper
# bodies are refused before anything walks them recursively.
MAX_DEPTH = 64
INLINE_BYTES = 64 * 1024

TEXT = Catalog("teams.handler")


class LiaisonActivityHandler(ActivityHandler):
    """Routes each activity type to its translation and forwards the events."""

    def __init__(self, adapter: "TeamsAdapter") -> None:
        self.adapter = adapter

    @staticmethod
    def _raw(turn_context: TurnContext) -> Mapping[str, Any]:
        return turn_context.turn_state[RAW_KEY]

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        self.adapter.forward(translate.message(self._raw(turn_context)))

    async def on_message_update_activity(self, turn_context: TurnContext) -> None:
        event = translate.message_update(self._raw(turn_context))
        if event is not None:
            self.adapter.forward(event)

    async def on_message_delete_activity(self, turn_context: TurnContext) -> None:
        event = translate.message_update(self._raw(turn_context))
        if event is not None:
            self.adapter.forward(event)

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        raw = self._raw(turn_context)
        change = translate.members_change(raw)
        for event in (*change.joined, *change.left):
            self.adapter.forward(event)
        if change.bot_added:
            self.adapter.spawn(self.adapter.welcome(raw))

    async def on_message_reaction_activity(self, turn_context: TurnContext) -> None:
        for event in translate.reactions(self._raw(turn_context), self.adapter.settings.reaction_names):
            self.adapter.forward(event)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        """``adaptiveCard/action`` (an ``Action.Execute`` button): forwarded like a submit and
        acknowledged in the HTTP answer, as Teams requires; other invokes are not supported."""
        raw = self._raw(turn_context)
        if raw.get("name") != "adaptiveCard/action":
            return InvokeResponse(status=501)
        self.adapter.forward(translate.action(raw))
        lang = normalise_locale(raw.get("locale")) or self.adapter.app.settings.bot.default_language
        # Built by hand: botbuilder's model types "value" as an object, Teams wants a string here.
        return InvokeResponse(status=200, body={
            "statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": TEXT.get(lang, "card_done"),
        })


class _HandlerFailed(Exception):
    """Handling a (well-formed, authenticated) activity failed: a bug, logged where it happened."""


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def peer_address(request: web.Request) -> str | None:
    """The client's address, as the socket says (never a header a client could set)."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return str(peer[0]) if isinstance(peer, tuple) and peer else None


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether a decoded JSON value nests lists and objects more than ``limit`` deep (walked
    level by level, without recursion, looking only at containers)."""
    level = [value] if isinstance(value, (dict, list)) else []
    for _ in range(limit):
        below: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            below.extend(child for child in children if isinstance(child, (dict, list)))
        if not below:
            return False
        level = below
    return True


def _refuse(status: int, why: str, peer: str | None, *, answer: str | None = None) -> web.Response:
    log.warning("refused a Teams activity from %s (%d): %s", peer or "an unknown address", status, why)
    return _error(status, answer or why)


def decode(raw: bytes) -> Any:
    """The decoded body; ValueError with a one-line reason when it is not usable JSON."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise ValueError(f"the body is nested more than {MAX_DEPTH} levels deep") from None
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the body is not JSON") from None
    if too_deep(body):
        raise ValueError(f"the body is nested more than {MAX_DEPTH} levels deep")
    return body


async def _read_activity(request: web.Request) -> Any:
    raw = await request.read()
    # A real activity is a few kilobytes; a big body (up to the web app's 1 MiB) is decoded in a
    # thread, so that it cannot hold up the other requests.
    return decode(raw) if len(raw) <= INLINE_BYTES else await asyncio.to_thread(decode, raw)


async def handle_request(adapter: "TeamsAdapter", request: web.Request) -> web.Response:
    """The aiohttp view of POST /api/messages (see the module docstring)."""
    peer = peer_address(request)
    if not adapter.auth_enabled and not is_loopback(peer):
        return _refuse(403, "LIAISON_TEAMS_NO_AUTH accepts unauthenticated activities only from this machine", peer,
                       answer="unauthenticated Teams activities are only accepted from a loopback address")
    try:
        body = await _read_activity(request)
    except ValueError as exc:
        return _refuse(400, str(exc), peer)
    auth_header = request.headers.get("Authorization", "")
    if adapter.auth_enabled and not auth_header:
        return _refuse(401, "missing Authorization header", peer)
    try:
        translate.validate(body)
    except translate.MalformedActivity as exc:
        return _refuse(400, str(exc), peer)
    problem = adapter.service_urls.problem(body["serviceUrl"])
    if problem is not None:
        return _refuse(400, problem, peer)
    try:
        activity = Activity().deserialize(body)
    except Exception as exc:  # noqa: BLE001 - msrest raises several kinds on odd field types
        return _refuse(400, f"the activity cannot be read: {type(exc).__name__}", peer)
    auth: Any = ""  # no app id: botbuilder's anonymous identity
    if adapter.tokens is not None:
        try:
            claims = await adapter.tokens.validate(auth_header, channel_id=str(body.get("channelId") or ""),
                                                   service_url=body["serviceUrl"])
        except InvalidToken as exc:
            return _refuse(401, str(exc), peer, answer="the Bot Framework token is missing or not valid")
        auth = adapter.authenticated(claims)
    return await _run_turn(adapter, auth, activity, body)


async def _run_turn(adapter: "TeamsAdapter", auth: Any, activity: Activity, body: Mapping[str, Any]) -> web.Response:
    async def logic(turn_context: TurnContext) -> None:
        turn_context.turn_state[RAW_KEY] = body
        try:
            await asyncio.to_thread(adapter.learn, body)
            await adapter.handler.on_turn(turn_context)
        except translate.MalformedActivity as exc:
            log.warning("ignored a Teams %s activity: %s", body.get("type"), exc)
        except Exception:  # noqa: BLE001 - a bug in one activity must not look like a bad request
            log.exception("could not handle a Teams %s activity", body.get("type"))
            raise _HandlerFailed from None

    try:
        invoke_response = await adapter.cloud_adapter().process_activity(auth, activity, logic)
    except _HandlerFailed:
        return _error(500, "the activity could not be handled; see the log")
    except Exception:  # noqa: BLE001 - botbuilder failing on an authenticated, well-formed activity: a bug
        log.exception("botbuilder could not run a Teams %s activity", body.get("type"))
        return _error(500, "the activity could not be handled; see the log")
    if invoke_response is not None:
        return web.json_response(invoke_response.body, status=invoke_response.status)
    return web.Response(status=200)


def welcome_text(lang: str, name: str) -> str:
    return TEXT.get(lang, "welcome", name=name)


def welcome_key(activity_id: str, conversation_id: str) -> str:
    return f"teams:welcome:{conversation_id}:{activity_id}"[:255]


def claim_once(db: Database, workspace: str, key: str, now: dt.datetime) -> bool:
    """Record ``key`` in events_seen; False when it was already there (a redelivery)."""
    try:
        with db.session(workspace) as s:
            s.add(EventSeen(workspace=workspace, key=key, seen_at=now))
        return True
    except IntegrityError:
        return False


def welcome_reply(body: Mapping[str, Any], *, lang: str, name: str) -> Reply:
    env = translate.envelope(body)
    return Reply(conversation=translate.conversation_of(env), text=welcome_text(lang, name))
