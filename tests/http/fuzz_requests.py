"""Hypothesis strategies for the fuzz suite: requests to POST /slack/events and POST /api/messages
as Slack and Teams send them, then bent: fields replaced by any JSON, removed or filled with
unicode, bodies nested thousands deep or megabytes long, invalid UTF-8, random bytes, wrong
content types, missing or forged signatures."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlencode

from hypothesis import strategies as st

from tests.http.fake_connector import Activities
from tests.http.fake_slack import BOT_USER_ID, SIGNING_SECRET, TEAM_ID, channel_message, event_envelope


@dataclass
class Request:
    path: str
    kind: str  # what the body was built from, for the counts
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        shown = self.body[:300] + (b"..." if len(self.body) > 300 else b"")
        return f"POST {self.path} kind={self.kind} headers={self.headers} body({len(self.body)} bytes)={shown!r}"


JSON_LEAF = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=40)
JSON_VALUE = st.recursive(
    JSON_LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)
# Text that looks like chat: mentions, specials, emoji, right-to-left marks, control characters.
CHAT_TEXT = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["<@U0CAM> thanks for kafka", f"<@{BOT_USER_ID}> help", "<!here> <!channel>", "who knows kafka?",
                     "merci <@U0ADA> pour terraform", "\u202e\u200b\ufeff", "🙏" * 40, "\x00\x01\x1b[31m", "\n" * 300]),
)


def _places(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a field or list item of ``value``, in a stable order."""
    out: list[tuple] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        out.append(path + (key,))
        out.extend(_places(child, path + (key,)))
    return out


def _parent(value: Any, path: tuple) -> Any:
    for key in path[:-1]:
        value = value[key]
    return value


@st.composite
def mutated(draw: Callable, template: Any) -> Any:
    """``template`` with up to four fields replaced by any JSON, removed or given odd text."""
    value = copy.deepcopy(template)
    for _ in range(draw(st.integers(0, 4))):
        places = _places(value)
        if not places:
            break
        path = draw(st.sampled_from(places))
        parent, key = _parent(value, path), path[-1]
        action = draw(st.sampled_from(["replace", "remove", "text", "empty"]))
        if action == "remove":
            del parent[key]
        elif action == "text":
            parent[key] = draw(CHAT_TEXT)
        elif action == "empty":
            parent[key] = draw(st.sampled_from([None, "", [], {}, 0, False]))
        else:
            parent[key] = draw(JSON_VALUE)
    return value


def _encode(text: str) -> bytes:
    # Lone surrogates make invalid UTF-8 on purpose.
    return text.encode("utf-8", "surrogatepass")


@st.composite
def nested(draw: Callable) -> str:
    depth = draw(st.sampled_from([50, 900, 1100, 5000, 20000]))
    opener, closer, leaf = draw(st.sampled_from([("[", "]", "1"), ('{"a":', "}", "1"), ('{"event":', "}", "{}")]))
    return opener * depth + leaf + closer * draw(st.sampled_from([depth, depth // 2]))


@st.composite
def huge_text(draw: Callable) -> str:
    """Up to about 3 MB: a drawn piece repeated (Hypothesis draws only a few KB itself)."""
    piece = draw(st.text(min_size=1, max_size=8))
    return piece * draw(st.integers(1, 3_000_000 // max(1, len(piece.encode("utf-8", "surrogatepass")))))


# ---- Slack ----------------------------------------------------------------------------------


def slack_templates() -> list[tuple[str, dict[str, Any]]]:
    ts = "1762070401.000100"
    events = {
        "message": channel_message("U0CAM", "the kafka consumer lag is fixed", ts),
        "im": channel_message("U0CAM", "help", ts, channel="D0CAM", channel_type="im"),
        "thread": channel_message("U0ADA", "restart the broker", "1762070402.000100", thread_ts=ts, parent_user_id="U0CAM"),
        "app_mention": {"type": "app_mention", "user": "U0CAM", "text": f"<@{BOT_USER_ID}> who knows kafka?", "ts": ts,
                        "channel": "C0GENERAL", "event_ts": ts},
        "changed": {"type": "message", "subtype": "message_changed", "channel": "C0GENERAL", "ts": "1762070403.000100",
                    "channel_type": "channel", "message": {"type": "message", "user": "U0CAM", "text": "kafka 2", "ts": ts},
                    "previous_message": {"type": "message", "user": "U0CAM", "text": "kafka", "ts": ts}},
        "deleted": {"type": "message", "subtype": "message_deleted", "channel": "C0GENERAL", "deleted_ts": ts,
                    "ts": "1762070404.000100", "previous_message": {"type": "message", "user": "U0CAM", "text": "x", "ts": ts}},
        "reaction": {"type": "reaction_added", "user": "U0ADA", "reaction": "pray", "item_user": "U0CAM",
                     "item": {"type": "message", "channel": "C0GENERAL", "ts": ts}, "event_ts": "1762070405.000100"},
        "joined": {"type": "member_joined_channel", "user": "U0BOB", "channel": "C0COFFEE", "channel_type": "C",
                   "team": TEAM_ID},
        "team_join": {"type": "team_join", "user": {"id": "U0NEW", "name": "new", "real_name": "New Person",
                                                    "profile": {"real_name": "New Person", "title": "Sales"}}},
        "home": {"type": "app_home_opened", "user": "U0CAM", "channel": "D0CAM", "tab": "home"},
    }
    out = [(name, event_envelope(event, event_id=f"EvFuzz{name}")) for name, event in events.items()]
    out.append(("url_verification", {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV", "type": "url_verification"}))
    return out


SLASH_COMMAND = {"token": "verification_token", "team_id": TEAM_ID, "team_domain": "acme", "channel_id": "C0GENERAL",
                 "channel_name": "general", "user_id": "U0CAM", "user_name": "camille", "command": "/whoknows",
                 "text": "kafka", "api_app_id": "A0LIAISON", "response_url": "https://hooks.slack.com/commands/T/1/x",
                 "trigger_id": "1.2.abc"}
BLOCK_ACTIONS = {
    "type": "block_actions", "user": {"id": "U0CAM", "username": "camille", "team_id": TEAM_ID},
    "api_app_id": "A0LIAISON", "token": "verification_token",
    "container": {"type": "message", "message_ts": "1762070401.000100", "channel_id": "D0CAM", "is_ephemeral": False},
    "trigger_id": "2.3.valid", "team": {"id": TEAM_ID, "domain": "acme"}, "channel": {"id": "D0CAM", "name": "directmessage"},
    "response_url": "https://hooks.slack.com/actions/T/1/x",
    "actions": [{"action_id": "coffee.met", "block_id": "b1", "value": "1", "type": "button", "action_ts": "1762070500.000100"}],
}
JSON_CT, FORM_CT = "application/json", "application/x-www-form-urlencoded"
ODD_CONTENT_TYPES = ["", "text/plain", "application/json; charset=utf-8", "multipart/form-data; boundary=x",
                     "application/xml", "application/x-www-form-urlencoded; charset=latin-1", "*/*", "ǅ/ǅ"]


@st.composite
def slack_body(draw: Callable) -> tuple[str, str, bytes]:
    """(kind, content type, body)."""
    kind = draw(st.sampled_from(["event", "event", "event", "command", "interactive", "json", "nested", "huge", "bytes"]))
    if kind == "event":
        name, template = draw(st.sampled_from(slack_templates()))
        return f"event:{name}", JSON_CT, _encode(json.dumps(draw(mutated(template)), ensure_ascii=False))
    if kind == "command":
        form = draw(mutated(SLASH_COMMAND))
        return kind, FORM_CT, _encode(urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in form.items()}))
    if kind == "interactive":
        payload = draw(st.one_of(mutated(BLOCK_ACTIONS).map(json.dumps), st.text(max_size=100), JSON_VALUE.map(json.dumps)))
        return kind, FORM_CT, _encode(urlencode({"payload": payload}))
    if kind == "json":
        return kind, JSON_CT, _encode(json.dumps(draw(JSON_VALUE), ensure_ascii=False))
    if kind == "nested":
        inner = draw(nested())
        if draw(st.booleans()):
            return kind, JSON_CT, inner.encode()
        envelope = json.dumps(event_envelope({"type": "message", "channel": "C0GENERAL", "ts": "1.2", "text": "@@"}, event_id="EvN"))
        return kind, JSON_CT, envelope.replace('"@@"', inner).encode()
    if kind == "huge":
        text = draw(huge_text())
        if draw(st.booleans()):
            return kind, FORM_CT, _encode(urlencode({**SLASH_COMMAND, "text": text}))
        return kind, JSON_CT, _encode(json.dumps(event_envelope(channel_message("U0CAM", text, "1762070406.000100"),
                                                                event_id="EvHuge"), ensure_ascii=False))
    return kind, draw(st.sampled_from([JSON_CT, FORM_CT])), draw(st.binary(max_size=3000))


def header_value(text: str) -> str:
    """Any text as the raw bytes of a header value (its UTF-8 read as Latin-1, as it goes on the
    wire), without the line breaks no HTTP client sends inside a header."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1").replace("\r", "").replace("\n", "")


def slack_signature(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    return "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode("utf-8", "surrogatepass") + b":" + body,
                            hashlib.sha256).hexdigest()


@st.composite
def slack_requests(draw: Callable) -> Request:
    kind, content_type, body = draw(slack_body())
    if draw(st.integers(0, 9)) == 0:
        content_type = draw(st.sampled_from(ODD_CONTENT_TYPES))
    auth = draw(st.sampled_from(["signed"] * 6 + ["none", "wrong secret", "odd timestamp", "stale", "garbage signature"]))
    now = str(int(time.time()))
    headers = {"Content-Type": content_type} if content_type else {}
    if auth == "signed":
        headers.update({"X-Slack-Request-Timestamp": now, "X-Slack-Signature": slack_signature(body, now)})
    elif auth == "wrong secret":
        headers.update({"X-Slack-Request-Timestamp": now, "X-Slack-Signature": slack_signature(body, now, "forged")})
    elif auth == "odd timestamp":
        stamp = draw(st.sampled_from(["soon", "1e9", "-5", " 12", "0x10", "9" * 30, "١٢٣"]))
        headers.update({"X-Slack-Request-Timestamp": header_value(stamp),
                        "X-Slack-Signature": slack_signature(body, stamp)})
    elif auth == "stale":
        old = str(int(time.time()) - 3600)
        headers.update({"X-Slack-Request-Timestamp": old, "X-Slack-Signature": slack_signature(body, old)})
    elif auth == "garbage signature":
        headers.update({"X-Slack-Request-Timestamp": now, "X-Slack-Signature": header_value(draw(st.text(max_size=80)))})
    if draw(st.integers(0, 9)) == 0:
        headers.update({"X-Slack-Retry-Num": draw(st.sampled_from(["1", "x", "-1"])), "X-Slack-Retry-Reason": "http_timeout"})
    return Request("/slack/events", f"{kind} ({auth})", body, headers)


# ---- Teams ----------------------------------------------------------------------------------


def teams_templates(service_url: str) -> list[tuple[str, dict[str, Any]]]:
    build = Activities(service_url)
    cam, ada = ("29:1-cam-aaaaaaaa", "Camille Durand"), ("29:1-ada-bbbbbbbb", "Ada Lovelace")
    return [
        ("channel message", build.channel_message(cam, "{bot} who knows kafka?")),
        ("channel post", build.channel_message(ada, "the kafka consumer lag is fixed")),
        ("personal message", build.personal_message(cam, "help")),
        ("bot added", build.bot_added_to_team(cam)),
        ("members added", build.members_added(cam, [ada])),
        ("installed", build.bot_installed_personal(cam)),
        ("reaction", build.reaction(ada, "like", reply_to="1571500000001")),
        ("card submit", build.card_submit(cam, "coffee.met", "1", reply_to="1571500000002")),
    ]


@st.composite
def teams_requests(draw: Callable, service_url: str) -> Request:
    kind = draw(st.sampled_from(["activity", "activity", "activity", "json", "nested", "huge", "bytes"]))
    content_type = "application/json; charset=utf-8"
    if kind == "activity":
        name, template = draw(st.sampled_from(teams_templates(service_url)))
        kind = f"activity:{name}"
        body = _encode(json.dumps(draw(mutated(template)), ensure_ascii=False))
    elif kind == "json":
        body = _encode(json.dumps(draw(JSON_VALUE), ensure_ascii=False))
    elif kind == "nested":
        body = draw(nested()).encode()
    elif kind == "huge":
        activity = teams_templates(service_url)[2][1]
        body = _encode(json.dumps({**activity, "text": draw(huge_text())}, ensure_ascii=False))
    else:
        body = draw(st.binary(max_size=3000))
    if draw(st.integers(0, 9)) == 0:
        content_type = draw(st.sampled_from(ODD_CONTENT_TYPES))
    headers = {"Content-Type": content_type} if content_type else {}
    if draw(st.integers(0, 9)) == 0:
        headers["Authorization"] = header_value(draw(st.sampled_from(["Bearer ", "Bearer x.y.z", "Basic YTpi"])
                                                     | st.text(max_size=60)))
        kind += " (Authorization)"
    return Request("/api/messages", kind, body, headers)
