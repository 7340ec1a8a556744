"""A fake Slack on loopback: the Web API methods the bot calls, a response_url endpoint, and a
Socket Mode WebSocket endpoint. A real aiohttp server on an ephemeral port; it records every
request body so tests can assert on exactly what Slack would have received.

Answers are shaped like Slack's documented responses (auth.test, users.list, chat.postMessage, …).

    fake = FakeSlack(users=[slack_user("U1", "Ada Lovelace", title="Platform")])
    await fake.start()
    ... env SLACK_API_URL = fake.api_url ...
    fake.calls("chat.postMessage")  # -> [request body dicts]
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

TEAM_ID = "T0LIAISON"
BOT_USER_ID = "U0BOT"
TEAM_URL = "https://acme.slack.com/"


def slack_user(
    user_id: str,
    real_name: str,
    *,
    title: str = "",
    tz: str = "Europe/Paris",
    locale: str = "en-US",
    email: str | None = None,
    is_admin: bool = False,
    is_owner: bool = False,
    is_bot: bool = False,
    deleted: bool = False,
) -> dict[str, Any]:
    """A user object as users.list and users.info return it."""
    return {
        "id": user_id,
        "team_id": TEAM_ID,
        "name": real_name.split(" ")[0].lower(),
        "deleted": deleted,
        "real_name": real_name,
        "tz": tz,
        "tz_label": "Central European Time",
        "tz_offset": 3600,
        "locale": locale,
        "is_admin": is_admin,
        "is_owner": is_owner,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": is_bot,
        "is_app_user": False,
        "updated": 1502138686,
        "profile": {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": real_name.split(" ")[0],
            "display_name_normalized": real_name.split(" ")[0],
            "title": title,
            "email": email or f"{real_name.split(' ')[0].lower()}@acme.example",
            "team": TEAM_ID,
        },
    }


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Failure:
    error: str
    when: Callable[[dict[str, Any]], bool]
    times: int | None  # None: always


@dataclass
class Hold:
    """A stalled call (see ``FakeSlack.hold``): ``reached`` is set when it arrives."""

    method: str
    nth: int
    landed: bool
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    seen: int = 0

    def release(self) -> None:
        self.released.set()


class FakeSlack:
    def __init__(self, *, users: list[dict[str, Any]] | None = None, page_size: int = 2,
                 members: dict[str, list[str]] | None = None, channel_names: dict[str, str] | None = None,
                 private_channels: dict[str, str] | None = None) -> None:
        self.users = list(users or [])
        self.channel_names = {"C0GENERAL": "general", "C0COFFEE": "coffee", **(channel_names or {})}
        # Private channels whose ids start with C, as Slack gives them today (id -> name).
        self.private_channels = dict(private_channels or {})
        self.team_name = "Acme"  # the workspace's name, as auth.test says it
        self.page_size = page_size  # users.list pages, small so pagination is exercised
        self.members = dict(members or {})
        self.calls_: list[Call] = []
        self.responses: list[Call] = []  # bodies posted to response_url
        self.socket_acks: list[dict[str, Any]] = []
        self.uploads: dict[str, dict[str, Any]] = {}  # file id -> filename, length, bytes, title, channel
        self._failures: dict[str, list[_Failure]] = {}
        self._rate_limited: dict[str, int] = {}
        self._holds: list[Hold] = []
        self.history: dict[str, list[dict[str, Any]]] = {}  # channel -> messages posted, oldest first
        self._ts = itertools.count(1)
        self._envelopes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._ack_event = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- control ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self, name: str = "1") -> str:
        return f"{self.url}/commands/{TEAM_ID}/{name}"

    def fail(self, method: str, error: str, *, when: Callable[[dict[str, Any]], bool] = lambda body: True,
             times: int | None = None) -> None:
        """Answer ``{"ok": false, "error": error}`` to ``method`` when ``when(body)``."""
        self._failures.setdefault(method, []).append(_Failure(error, when, times))

    def rate_limit_once(self, method: str, *, retry_after: int = 0) -> None:
        """The next call of ``method`` gets 429 with Retry-After."""
        self._rate_limited[method] = retry_after

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [c.body for c in self.calls_ if c.method == method]

    def hold(self, method: str, *, nth: int = 1, landed: bool = True) -> Hold:
        """Stall the ``nth`` call of ``method`` from now until ``release()``, as when the caller
        dies waiting: with ``landed``, Slack has already done what the call asks (the message is
        in the conversation) and only the answer is missing; without, nothing happened yet."""
        held = Hold(method, nth, landed)
        self._holds.append(held)
        return held

    async def send_envelope(self, envelope: dict[str, Any]) -> None:
        """Push a Socket Mode envelope to the connected bot."""
        await self._envelopes.put(envelope)

    async def wait_for_ack(self, envelope_id: str) -> dict[str, Any]:
        while True:
            for ack in self.socket_acks:
                if ack.get("envelope_id") == envelope_id:
                    return ack
            self._ack_event.clear()
            await self._ack_event.wait()

    # ---- server -------------------------------------------------------------------------------

    async def start(self) -> "FakeSlack":
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk reads some methods with GET
        app.router.add_post("/commands/{rest:.*}", self._response_url)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for held in self._holds:
            held.release()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _body(self, request: web.Request) -> dict[str, Any]:
        # slack_sdk sends arguments as a JSON body, a form, or (some methods) the query string.
        body: dict[str, Any] = dict(request.query)
        raw = await request.text()
        if request.content_type == "application/json":
            body.update(json.loads(raw) if raw else {})
        else:
            body.update(parse_qsl(raw))
        return body

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await self._body(request)
        self.calls_.append(Call(method, body, {k.lower(): v for k, v in request.headers.items()}))
        if method in self._rate_limited:
            retry_after = self._rate_limited.pop(method)
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(retry_after)})
        for failure in self._failures.get(method, []):
            if failure.times != 0 and failure.when(body):
                if failure.times is not None:
                    failure.times -= 1
                return web.json_response({"ok": False, "error": failure.error})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        for held in self._holds:
            if held.method == method and not held.reached.is_set():
                held.seen += 1
                if held.seen == held.nth:
                    answer = handler(body) if held.landed else None
                    held.reached.set()
                    await held.released.wait()
                    return web.json_response(answer if answer is not None else handler(body))
        return web.json_response(handler(body))

    def _next_ts(self) -> str:
        return f"1762070400.{next(self._ts):06d}"

    # ---- methods ------------------------------------------------------------------------------

    def _m_auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": TEAM_URL, "team": self.team_name, "user": "liaison", "team_id": TEAM_ID,
                "user_id": BOT_USER_ID, "bot_id": "B0BOT", "is_enterprise_install": False}

    def _m_users_list(self, body: dict[str, Any]) -> dict[str, Any]:
        start = int(body.get("cursor") or 0)
        page = self.users[start:start + self.page_size]
        following = start + self.page_size
        return {"ok": True, "members": page, "cache_ts": 1498777272,
                "response_metadata": {"next_cursor": str(following) if following < len(self.users) else ""}}

    def _m_users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        for user in self.users:
            if user["id"] == body.get("user"):
                return {"ok": True, "user": user}
        return {"ok": False, "error": "user_not_found"}

    def _m_conversations_open(self, body: dict[str, Any]) -> dict[str, Any]:
        users = sorted(str(body.get("users") or "").split(","))
        prefix = "D" if len(users) == 1 else "G"
        return {"ok": True, "channel": {"id": prefix + "-" + "-".join(users)}}

    def _m_conversations_members(self, body: dict[str, Any]) -> dict[str, Any]:
        members = self.members.get(str(body.get("channel")))
        if members is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}

    def _m_conversations_info(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel") or "")
        private = channel in self.private_channels
        name = self.private_channels.get(channel) if private else self.channel_names.get(channel)
        if name is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": {"id": channel, "name": name, "name_normalized": name, "is_channel": True,
                                        "is_group": False, "is_im": False, "is_mpim": False, "is_private": private,
                                        "is_member": True, "is_archived": False, "is_general": channel == "C0GENERAL",
                                        "created": 1449252889, "creator": "U0ADMIN"}}

    def _m_chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        message = {"type": "message", "subtype": "bot_message", "text": body.get("text"), "ts": ts,
                   "bot_id": "B0BOT", "user": BOT_USER_ID}
        metadata = body.get("metadata")
        if metadata:
            message["metadata"] = json.loads(metadata) if isinstance(metadata, str) else metadata
        self.history.setdefault(str(body.get("channel")), []).append(message)
        return {"ok": True, "channel": body.get("channel"), "ts": ts, "message": message}

    def _m_conversations_history(self, body: dict[str, Any]) -> dict[str, Any]:
        """Newest first, ``limit`` per page; ``metadata`` only with include_all_metadata (as
        Slack does). ``oldest`` and ``latest`` are not applied: the fake's clock is not real."""
        channel = str(body.get("channel") or "")
        if channel not in self.history and not channel.startswith(("D", "G")):
            return {"ok": False, "error": "channel_not_found"}
        newest_first = list(reversed(self.history.get(channel, [])))
        start, limit = int(body.get("cursor") or 0), int(body.get("limit") or 100)
        page = newest_first[start:start + limit]
        if str(body.get("include_all_metadata")).lower() not in ("1", "true"):
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(newest_first)
        return {"ok": True, "messages": page, "has_more": more, "pin_count": 0,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _m_chat_postEphemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_chat_getPermalink(self, body: dict[str, Any]) -> dict[str, Any]:
        ts = str(body.get("message_ts") or "").replace(".", "")
        return {"ok": True, "channel": body.get("channel"), "permalink": f"{TEAM_URL}archives/{body.get('channel')}/p{ts}"}

    def _m_views_publish(self, body: dict[str, Any]) -> dict[str, Any]:
        view = body.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        return {"ok": True, "view": {"id": "V0HOME", "type": "home", **(view or {})}}

    def _m_files_getUploadURLExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{len(self.uploads) + 1:07d}"
        self.uploads[file_id] = {"filename": body.get("filename"), "length": int(body.get("length") or 0), "data": None}
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        files = body.get("files")
        files = json.loads(files) if isinstance(files, str) else list(files or [])
        done = []
        for f in files:
            upload = self.uploads.get(f.get("id"))
            if upload is None or upload["data"] is None:
                return {"ok": False, "error": "file_not_found"}
            upload.update(title=f.get("title"), channel=body.get("channel_id"), thread_ts=body.get("thread_ts"))
            done.append({"id": f["id"], "name": upload["filename"], "title": f.get("title"), "size": len(upload["data"])})
        return {"ok": True, "files": done}

    def _m_apps_connections_open(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}

    # ---- response_url and Socket Mode ----------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL files.getUploadURLExternal hands out: the file's bytes, as Slack takes them."""
        upload = self.uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="unknown upload")
        upload["data"] = await request.read()
        return web.Response(text=f"OK - {len(upload['data'])}")

    async def _response_url(self, request: web.Request) -> web.Response:
        self.responses.append(Call(request.path, await self._body(request)))
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1,
                            "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                            "connection_info": {"app_id": "A0LIAISON"}})

        async def pump() -> None:
            while True:
                await ws.send_json(await self._envelopes.get())

        pumping = asyncio.create_task(pump())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.socket_acks.append(json.loads(msg.data))
                    self._ack_event.set()
        finally:
            pumping.cancel()
        return ws

    def _m_chat_update(self, body: dict[str, Any]) -> dict[str, Any]:  # calls_ keeps the new text and blocks
        known = any(m["ts"] == body.get("ts") for m in self.history.get(str(body.get("channel") or ""), []))
        return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")} if known else {"ok": False, "error": "message_not_found"}


# ---- the bot under test, served on loopback -------------------------------------------------------

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def event_envelope(event: dict[str, Any], *, event_id: str, team_id: str = TEAM_ID) -> dict[str, Any]:
    """An Events API envelope (``event_callback``) around ``event``, as Slack posts it."""
    return {
        "token": "verification_token",
        "team_id": team_id,
        "api_app_id": "A0LIAISON",
        "event": {"team": team_id, **event},
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1762070400,
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": BOT_USER_ID,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }


def channel_message(user: str, text: str, ts: str, *, channel: str = "C0GENERAL", channel_type: str = "channel",
                    thread_ts: str | None = None, parent_user_id: str | None = None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": ts, "channel": channel,
                             "event_ts": ts, "channel_type": channel_type,
                             "client_msg_id": f"msg-{ts}", **extra}
    if thread_ts:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = parent_user_id or user
    return event


@dataclass
class SlackBot:
    """The production app (real bootstrap, real web app) answering on a loopback port."""

    app: Any
    adapter: Any
    client: Any  # aiohttp TestClient on a real loopback server
    fake: FakeSlack
    outcomes: list[Any] = field(default_factory=list)

    async def post(self, body: str, *, content_type: str, secret: str = SIGNING_SECRET,
                   timestamp: int | None = None, headers: dict[str, str] | None = None,
                   signature: str | None = None) -> Any:
        import time as _time

        from slack_sdk.signature import SignatureVerifier

        ts = str(int(_time.time()) if timestamp is None else timestamp)
        sig = signature if signature is not None else SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
        all_headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, **(headers or {})}
        if sig:
            all_headers["X-Slack-Signature"] = sig
        return await self.client.post("/slack/events", data=body.encode("utf-8"), headers=all_headers)

    async def event(self, event: dict[str, Any], *, event_id: str, retry_num: int | None = None, **kw: Any) -> Any:
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} if retry_num else None
        return await self.post(json.dumps(event_envelope(event, event_id=event_id)), content_type="application/json",
                               headers=headers, **kw)

    async def command(self, command: str, text: str, *, user: str, channel: str = "C0GENERAL",
                      channel_name: str = "general", trigger: str = "1") -> Any:
        from urllib.parse import urlencode

        form = {"token": "verification_token", "team_id": TEAM_ID, "team_domain": "acme", "channel_id": channel,
                "channel_name": channel_name, "user_id": user, "user_name": user.lower(), "command": command,
                "text": text, "api_app_id": "A0LIAISON", "response_url": self.fake.response_url(trigger),
                "trigger_id": f"{trigger}.111.abc"}
        return await self.post(urlencode(form), content_type="application/x-www-form-urlencoded")

    async def button(self, action_id: str, value: str, *, user: str, channel: str, message_ts: str) -> Any:
        from urllib.parse import urlencode

        payload = {
            "type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0LIAISON", "token": "verification_token",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
            "trigger_id": "222.333.valid", "team": {"id": TEAM_ID, "domain": "acme"},
            "channel": {"id": channel, "name": "directmessage" if channel.startswith("D") else "privategroup"},
            "response_url": self.fake.response_url("action"),
            "actions": [{"action_id": action_id, "block_id": "b1", "value": value, "type": "button",
                         "text": {"type": "plain_text", "text": "Button", "emoji": True},
                         "action_ts": "1762070500.000100"}],
        }
        return await self.post(urlencode({"payload": json.dumps(payload)}), content_type="application/x-www-form-urlencoded")

    async def settle(self) -> None:
        """Wait until every request received so far has been handled and answered."""
        await self.adapter.drain()


class running_bot:  # noqa: N801 - used as ``async with running_bot(...)``
    """Start the fake Slack, build the app through bootstrap with Slack on, start the adapter
    (auth.test, directory sync) and serve the web app on loopback."""

    def __init__(self, make_app: Callable[..., Any], fake: FakeSlack, *, database_url: str | None = None,
                 skills: Any = None, env: dict[str, str] | None = None, **overrides: Any) -> None:
        self.make_app, self.fake, self.database_url = make_app, fake, database_url
        self.skills, self.env, self.overrides = skills, env or {}, overrides
        self.bot: SlackBot | None = None

    async def __aenter__(self) -> SlackBot:
        from aiohttp.test_utils import TestClient, TestServer

        from bot.web import build_web_app

        await self.fake.start()
        env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SIGNING_SECRET,
               "SLACK_API_URL": self.fake.api_url, **self.env}
        overrides = {"slack": {"min_seconds_between_messages": 0.0}, **self.overrides}
        kwargs: dict[str, Any] = {"database_url": self.database_url, "platforms": ["slack"], "env": env, **overrides}
        if self.skills is not None:
            kwargs["skills"] = self.skills
        app = self.make_app(**kwargs)
        adapter = app.adapters["slack"]
        await adapter.start()
        client = TestClient(TestServer(build_web_app(app)))
        await client.start_server()
        self.bot = SlackBot(app=app, adapter=adapter, client=client, fake=self.fake)
        app.dispatcher.hooks_after.append(lambda event, outcome: self.bot.outcomes.append(outcome))  # type: ignore[union-attr]
        return self.bot

    async def __aexit__(self, *exc: Any) -> None:
        if self.bot is not None:
            await self.bot.adapter.stop()
            await self.bot.client.close()
        await self.fake.stop()
