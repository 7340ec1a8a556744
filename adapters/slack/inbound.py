"""The gate of POST /slack/events: what a request must be before anything reads it.

In this order, each step on what the previous one let through:
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
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl

from bot.web import LogBudget

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
