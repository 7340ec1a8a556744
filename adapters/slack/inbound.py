"""From POST /slack/events to the inbox: the gate a request goes through before anything reads
it, then bolt's listeners, which translate the payload and hand the event to the adapter.

The gate (``check``), in this order, each step on what the previous one let through:
1. the signature (``X-Slack-Signature`` over the raw bytes, with ``X-Slack-Request-Timestamp``
   a number at most five minutes off), before the body is parsed: anyone can post here, and a
   request that is not Slack's costs one HMAC and one log line (401);
2. the body: UTF-8, JSON for the Events API, a form for slash commands, a form carrying a JSON
   ``payload`` for interactivity (400 otherwise);
3. its shape: the fields the bot and bolt read have the types Slack documents (400 otherwise),
   so nothing downstream meets a list where it expects a string.

``check`` returns a ``Verdict``: refuse (status and reason), answer at once (url_verification,
ssl_check, rate-limit notices, interactivity the bot has no use for) or hand the parsed payload
to bolt. Refusals are logged one line each, at most ``RefusalLog.per_minute`` a minute; the rest
are counted and the count is logged when the minute is over.

The listeners (``register``) only translate a Slack payload (``translate.py``) and hand the
neutral event to the adapter (``SlackAdapter.accept``), which writes it to the inbox and then
runs it through the dispatcher in a background task. Bolt answers Slack when the listener
returns, so the 200 means the event is stored; no NLP, search or Slack call runs before it, and
Slack gets its answer well inside 3 seconds. A payload translate cannot read is answered 400.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import parse_qsl

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from adapters.slack import translate
from bot.web import LogBudget

if TYPE_CHECKING:
    from adapters.slack import SlackAdapter

log = logging.getLogger("liaison.slack")

MAX_CLOCK_SKEW_SECONDS = 300
FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Verdict:
    """What to do with a request: ``status`` != 200 refuses it; ``answer`` is a body to send at
    once; otherwise ``payload`` goes to bolt."""

    status: int = 200
    reason: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    answer: dict[str, Any] | None = None

    @property
    def refused(self) -> bool:
        return self.status != 200


class Malformed(ValueError):
    """The body is not what Slack sends; the message says what is wrong, in one line."""


# ---- 1. the signature -----------------------------------------------------------------------


def signature_problem(secret: str, headers: Mapping[str, str], raw: bytes, now: float) -> str | None:
    """None when Slack signed ``raw``; otherwise what is wrong, for the log line."""
    timestamp = headers.get("X-Slack-Request-Timestamp") or ""
    signature = headers.get("X-Slack-Signature") or ""
    if not timestamp or not signature:
        return "no X-Slack-Signature or X-Slack-Request-Timestamp header"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "an X-Slack-Request-Timestamp that is not a number of seconds"
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        return "an X-Slack-Request-Timestamp more than five minutes off (replayed, or this server's clock is wrong)"
    digest = hmac.new(secret.encode("utf-8"), b"v0:" + timestamp.encode("ascii") + b":" + raw, hashlib.sha256)
    expected = ("v0=" + digest.hexdigest()).encode("ascii")
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        return "a wrong signature (check SLACK_SIGNING_SECRET)"
    return None


# ---- 2. the body ----------------------------------------------------------------------------


def parse_body(raw: bytes, content_type: str) -> tuple[str, dict[str, Any]]:
    """("json", events payload), ("form", slash command or ssl_check) or ("interactive", payload)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("the body is not UTF-8") from None
    if content_type == JSON_TYPE:
        return "json", _json_object(text, "the body")
    if content_type == FORM:
        form = dict(parse_qsl(text, keep_blank_values=True))
        if "payload" in form:
            return "interactive", _json_object(form["payload"], "the payload field")
        return "form", form
    raise Malformed(f"a {content_type or 'missing'} Content-Type (Slack sends {JSON_TYPE} or {FORM})")


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except RecursionError:
        raise Malformed(f"{what} is nested too deeply") from None
    except ValueError as exc:
        raise Malformed(f"{what} is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise Malformed(f"{what} is a JSON {type(value).__name__}, not an object")
    return value


# ---- 3. the shape ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """An object's fields: each either a tuple of accepted types, a nested Shape, ListOf or
    MapOf. Every field may be absent or null unless ``required`` names it."""

    fields: Mapping[str, Any]
    required: frozenset[str] = frozenset()

    def extend(self, required: tuple[str, ...] = (), **fields: Any) -> "Shape":
        return Shape({**self.fields, **fields}, self.required | frozenset(required))


@dataclass(frozen=True)
class ListOf:
    item: Any


@dataclass(frozen=True)
class MapOf:
    value: Any


STR = (str,)
BOOL = (bool,)
ANY_OBJECT = Shape({})
AUTHORIZATION = Shape({"enterprise_id": STR, "team_id": STR, "user_id": STR, "is_bot": BOOL,
                       "is_enterprise_install": BOOL})
# What bolt's own helpers read anywhere in a payload (team, user and channel ids, …): strings
# or objects, lists of objects.
BOLT = Shape({
    "user": (str, dict), "team": (str, dict), "channel": (str, dict), "enterprise": (str, dict),
    "authorizations": ListOf(AUTHORIZATION), "response_urls": ListOf(ANY_OBJECT),
    "event": ANY_OBJECT, "message": ANY_OBJECT, "previous_message": ANY_OBJECT, "item": ANY_OBJECT,
    "view": ANY_OBJECT, "assistant_thread": ANY_OBJECT, "function_data": ANY_OBJECT,
})
INNER_MESSAGE = BOLT.extend(
    type=STR, subtype=STR, user=STR, text=STR, ts=STR, thread_ts=STR, parent_user_id=STR, bot_id=STR,
    team=STR, bot_profile=ANY_OBJECT, edited=ANY_OBJECT, blocks=(list,), files=(list,), attachments=(list,),
)
MESSAGE = INNER_MESSAGE.extend(
    ("channel",), channel=STR, channel_type=STR, event_ts=STR, deleted_ts=STR, user_team=STR, hidden=BOOL,
    message=INNER_MESSAGE, previous_message=INNER_MESSAGE,
)
PROFILE = Shape({"real_name": STR, "display_name": STR, "email": STR, "title": STR,
                 "fields": MapOf(Shape({"value": STR}))})
USER_OBJECT = Shape(
    {"id": STR, "name": STR, "real_name": STR, "tz": STR, "locale": STR, "team_id": STR, "profile": PROFILE,
     "deleted": BOOL, "is_bot": BOOL, "is_app_user": BOOL, "is_admin": BOOL, "is_owner": BOOL,
     "is_primary_owner": BOOL},
    frozenset({"id"}),
)
EVENTS: dict[str, Shape] = {
    "message": MESSAGE,
    "app_mention": MESSAGE.extend(("user", "ts")),
    "reaction_added": BOLT.extend(user=STR, reaction=STR, item_user=STR, event_ts=STR,
                                  item=Shape({"type": STR, "channel": STR, "ts": STR, "file": STR})),
    "member_joined_channel": BOLT.extend(("user", "channel"), user=STR, channel=STR, channel_type=STR, team=STR,
                                         inviter=STR),
    "team_join": BOLT.extend(("user",), user=USER_OBJECT),
    "user_change": BOLT.extend(("user",), user=USER_OBJECT),
    "app_home_opened": BOLT.extend(("user",), user=STR, tab=STR, channel=STR),
    "tokens_revoked": BOLT.extend(tokens=Shape({"oauth": ListOf(STR), "bot": ListOf(STR)})),
}
EVENTS["member_left_channel"] = EVENTS["member_joined_channel"]
EVENTS["reaction_removed"] = EVENTS["reaction_added"]
EVENT_CALLBACK = BOLT.extend(
    ("event", "event_id"), type=STR, event_id=STR, team_id=STR, api_app_id=STR, token=STR, enterprise_id=STR,
    event_time=(int, float), authed_users=(list,), is_ext_shared_channel=BOOL, event_context=STR,
    context_team_id=STR, context_enterprise_id=STR,
)
ACTION = Shape({"action_id": STR, "block_id": STR, "value": STR, "type": STR, "action_ts": STR,
                "text": ANY_OBJECT, "selected_option": Shape({"value": STR})}, frozenset({"action_id"}))
BLOCK_ACTIONS = BOLT.extend(
    ("user", "actions"), type=STR, api_app_id=STR, token=STR, trigger_id=STR, response_url=STR,
    is_enterprise_install=BOOL, state=ANY_OBJECT,
    user=Shape({"id": STR, "username": STR, "name": STR, "team_id": STR}, frozenset({"id"})),
    team=Shape({"id": STR, "domain": STR, "enterprise_id": STR, "enterprise_name": STR}),
    channel=Shape({"id": STR, "name": STR}),
    container=Shape({"type": STR, "message_ts": STR, "channel_id": STR, "is_ephemeral": BOOL}),
    message=INNER_MESSAGE, actions=ListOf(ACTION),
)
COMMAND_FIELDS = ("command", "team_id", "user_id", "channel_id")


def check_shape(value: Any, shape: Any, path: str) -> None:
    """Raise Malformed, naming the first field that does not fit ``shape``."""
    if isinstance(shape, Shape):
        if not isinstance(value, dict):
            raise Malformed(f"{path} is a {_json_type(value)}, not an object")
        for name in shape.required:
            if value.get(name) in (None, "", [], {}):
                raise Malformed(f"{path}.{name} is missing")
        for name, rule in shape.fields.items():
            if value.get(name) is not None:
                check_shape(value[name], rule, f"{path}.{name}")
    elif isinstance(shape, ListOf):
        if not isinstance(value, list):
            raise Malformed(f"{path} is a {_json_type(value)}, not a list")
        for i, item in enumerate(value):
            check_shape(item, shape.item, f"{path}[{i}]")
    elif isinstance(shape, MapOf):
        if not isinstance(value, dict):
            raise Malformed(f"{path} is a {_json_type(value)}, not an object")
        for key, item in value.items():
            if item is not None:
                check_shape(item, shape.value, f"{path}.{key}")
    elif not isinstance(value, shape) or (bool not in shape and isinstance(value, bool)):
        expected = " or ".join(_json_type(t()) for t in shape)
        raise Malformed(f"{path} is a {_json_type(value)}, not a {expected}")


def _json_type(value: Any) -> str:
    return {str: "string", bool: "boolean", int: "number", float: "number", list: "list", dict: "object",
            type(None): "null"}.get(type(value), type(value).__name__)


def check_events_payload(body: dict[str, Any]) -> Verdict:
    kind = body.get("type")
    if kind == "url_verification":
        challenge = body.get("challenge")
        if not isinstance(challenge, str) or not challenge:
            raise Malformed("a url_verification without a challenge")
        return Verdict(answer={"challenge": challenge})
    if kind == "app_rate_limited":
        log.warning("Slack: Slack held back event deliveries for this app (app_rate_limited, minute %s); "
                    "events of that minute will not come", body.get("minute_rate_limited"))
        return Verdict(answer={})
    if kind != "event_callback":
        raise Malformed(f"an Events API body of type {str(kind)[:40]!r} (expected event_callback or url_verification)")
    check_shape(body, EVENT_CALLBACK, "body")
    event = body["event"]
    event_type = event.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise Malformed("body.event.type is missing")
    check_shape(event, EVENTS.get(event_type, BOLT), "body.event")
    return Verdict(payload=body)


def check_command(form: dict[str, str]) -> Verdict:
    if form.get("ssl_check") == "1":
        return Verdict(answer={})
    missing = [name for name in COMMAND_FIELDS if not form.get(name)]
    if missing:
        raise Malformed(f"a form that is neither a slash command nor an interactivity payload (no {', '.join(missing)})")
    if not form["command"].startswith("/"):
        raise Malformed("a slash command that does not start with /")
    return Verdict(payload=form)


def check_interactive(payload: dict[str, Any]) -> Verdict:
    kind = payload.get("type")
    if not isinstance(kind, str) or not kind:
        raise Malformed("an interactivity payload without a type")
    if kind != "block_actions":
        # Shortcuts, modals, menus: the bot publishes none, so it has nothing to do with them.
        log.debug("Slack: no use for a %s interactivity payload; acknowledged", kind[:40])
        return Verdict(answer={})
    check_shape(payload, BLOCK_ACTIONS, "payload")
    return Verdict(payload=payload)


def check(secret: str, headers: Mapping[str, str], raw: bytes, content_type: str, *, now: float | None = None) -> Verdict:
    """The whole gate: signature, body, shape."""
    problem = signature_problem(secret, headers, raw, time.time() if now is None else now)
    if problem is not None:
        return Verdict(status=401, reason=problem)
    try:
        kind, body = parse_body(raw, content_type)
        if kind == "json":
            return check_events_payload(body)
        if kind == "form":
            return check_command(body)
        return check_interactive(body)
    except Malformed as exc:
        return Verdict(status=400, reason=str(exc)[:300])


class RefusalLog:
    """One warning line per refused request, at most ``per_minute`` a minute; the others are
    counted and their number logged once the minute is over (a flood cannot fill the log)."""

    def __init__(self, per_minute: int = 20, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._budget = LogBudget(per_minute, clock)

    def refused(self, status: int, reason: str, peer: str | None) -> None:
        allowed, left_out = self._budget.spend()
        if left_out:
            log.warning("Slack: %d more requests to /slack/events refused in the last minute (not logged one by one)",
                        left_out)
        if allowed:
            log.warning("Slack: refused a request to /slack/events from %s with %d: %s", peer or "?", status, reason)


# ---- the listeners ---------------------------------------------------------------------------

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
