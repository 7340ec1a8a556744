"""POST /api/messages: check the request, let botbuilder authenticate it, translate the activity
and hand the neutral events to the dispatcher. Nothing here decides what to answer.

Order of checks, so that a request that is refused leaves nothing behind:
1. in no-auth mode, only requests whose peer (the client) is a loopback address (403);
2. a body that is not a JSON object → 400;
3. with an app id, a request without ``Authorization`` → 401 at once;
4. an activity without type, conversation, sender or serviceUrl → 400;
5. a serviceUrl that is not a trusted Bot Connector endpoint (trust.py) → 400;
6. botbuilder's CloudAdapter checks the Bot Framework JWT (401 when it is not valid);
7. only then are conversation references stored and events dispatched.

Teams wants an answer quickly (it retries after 15 s), so events are dispatched in background
tasks and the request is answered at once; ``TeamsAdapter.wait_idle`` waits for them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from typing import TYPE_CHECKING, Any, Mapping

import jwt
from aiohttp import web
from sqlalchemy.exc import IntegrityError
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import Activity

from adapters.teams import translate
from adapters.teams.trust import is_loopback
from bot.db import Database
from bot.db.models import EventSeen
from bot.events import Reply
from bot.i18n import Catalog, normalise_locale

if TYPE_CHECKING:  # pragma: no cover
    from adapters.teams import TeamsAdapter

log = logging.getLogger("liaison.teams")

RAW_KEY = "liaison.activity"

TEXT = Catalog(
    en={
        "welcome": (
            "Hi, I'm {name}! I help colleagues find and meet each other: ask me *who knows* a topic, "
            "*thank* someone for their help, or join a random *coffee*. Mention me with *help* "
            "(or write *help* to me in a chat) to see everything I can do."
        ),
        "card_done": "Got it, thanks!",
    },
    fr={
        "welcome": (
            "Bonjour, je suis {name} ! J'aide les collègues à se trouver et à se rencontrer : "
            "demandez-moi *qui connaît* un sujet, *remerciez* quelqu'un pour son aide, ou participez "
            "à un *café* au hasard. Mentionnez-moi avec *aide* (ou écrivez-moi *aide* en privé) pour "
            "tout voir."
        ),
        "card_done": "C'est noté, merci !",
    },
)


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


async def handle_request(adapter: "TeamsAdapter", request: web.Request) -> web.Response:
    """The aiohttp view of POST /api/messages (see the module docstring)."""
    peer = peer_address(request)
    if not adapter.auth_enabled and not is_loopback(peer):
        log.warning("refused a Teams activity from %s: LIAISON_TEAMS_NO_AUTH accepts unauthenticated activities "
                    "only from this machine", peer or "an unknown address")
        return _error(403, "unauthenticated Teams activities are only accepted from a loopback address")
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "the body is not JSON")
    auth_header = request.headers.get("Authorization", "")
    if adapter.auth_enabled and not auth_header:
        return _error(401, "missing Authorization header")
    try:
        translate.validate(body)
    except translate.MalformedActivity as exc:
        log.warning("refused a malformed Teams activity: %s", exc)
        return _error(400, str(exc))
    problem = adapter.service_urls.problem(body["serviceUrl"])
    if problem is not None:
        log.warning("refused a Teams activity: %s", problem)
        return _error(400, problem)

    try:
        activity = Activity().deserialize(body)
    except Exception as exc:  # noqa: BLE001 - msrest raises several kinds on odd field types
        log.warning("refused a Teams activity botbuilder cannot read: %s", exc)
        return _error(400, f"the activity cannot be read: {type(exc).__name__}")

    async def logic(turn_context: TurnContext) -> None:
        turn_context.turn_state[RAW_KEY] = body
        try:
            await asyncio.to_thread(adapter.learn, body)
            await adapter.handler.on_turn(turn_context)
        except translate.MalformedActivity as exc:
            log.warning("ignored a Teams %s activity: %s", body.get("type"), exc)
        except Exception:  # noqa: BLE001 - a bug in one activity must not look like an auth failure
            log.exception("could not handle a Teams %s activity", body.get("type"))
            raise _HandlerFailed from None

    try:
        invoke_response = await adapter.cloud_adapter().process_activity(auth_header, activity, logic)
    except (PermissionError, jwt.PyJWTError) as exc:
        # PyJWT errors: a token that is not even a JWT (botbuilder lets them through).
        log.warning("refused a Teams activity: %s: %s", type(exc).__name__, exc)
        return _error(401, "the Bot Framework token is missing or not valid")
    except _HandlerFailed:
        return _error(500, "the activity could not be handled; see the log")
    except Exception as exc:  # noqa: BLE001 - e.g. the token keys could not be fetched
        log.error("could not authenticate a Teams activity: %s: %s", type(exc).__name__, exc)
        return _error(503, "the Bot Framework token could not be checked now; try again later")
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
