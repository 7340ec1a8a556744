"""The Teams side of the wire, for tests: a fake Bot Connector and an activity builder.

``FakeConnector`` is a real aiohttp server on an ephemeral loopback port. It answers what
Liaison calls (POST /v3/conversations, POST /v3/conversations/{id}/activities[/{replyToId}],
GET /v3/conversations/{id}/members[/{userId}], GET /v3/conversations/{id}/pagedmembers,
GET /v3/teams/{id}) under a path prefix like Teams' own serviceUrl
(``https://smba.trafficmanager.net/amer/``), records every request with its JSON body, and can
answer an error a given number of times (429 with Retry-After, say).

``Activities`` builds inbound activities in the shape Teams posts them (channel messages with
mention entities and channelData, personal messages, conversationUpdate, messageReaction, card
submits), with their serviceUrl pointing at the fake.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import aiohttp
from aiohttp import web

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
BOT_ID = "28:eac5e5c6-ab14-4f50-80cb-49213fe51b1a"
BOT_NAME = "Liaison"
TEAM_ID = "19:097e6717fd7245bdbeba6baa13840db8@thread.skype"
CHANNEL_ID = "19:9d3c71104f8c49128368b23a5eaeb86d@thread.skype"


@dataclass
class Recorded:
    method: str
    path: str  # the path after the prefix, decoded ("/v3/conversations/19:…/activities")
    body: Any
    headers: dict[str, str]
    query: dict[str, str]
    conversation_id: str | None = None
    reply_to: str | None = None
    status: int = 200


@dataclass
class _Failure:
    status: int
    times: int
    method: str | None
    path_contains: str | None
    headers: dict[str, str] = field(default_factory=dict)


class FakeConnector:
    """A fake Bot Connector on 127.0.0.1:<ephemeral> (use as ``async with``)."""

    def __init__(self, *, prefix: str = "/amer") -> None:
        self.prefix = prefix.rstrip("/")
        self.requests: list[Recorded] = []
        self.members: dict[str, list[dict[str, Any]]] = {}  # conversation or team id -> roster
        self.teams: dict[str, dict[str, Any]] = {}  # team id -> details
        self.channels: dict[str, list[dict[str, Any]]] = {}  # team id -> [{"id", "name"}]
        self._failures: list[_Failure] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}/"

    def fail(self, status: int, *, times: int = 1, method: str | None = None, path_contains: str | None = None,
             retry_after: str | None = None) -> None:
        """Answer ``status`` to the next ``times`` matching requests."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self._failures.append(_Failure(status, times, method, path_contains, headers))

    # ---- what the tests read -------------------------------------------------------------------

    def messages(self) -> list[Recorded]:
        """Activities posted (messages), in order, that the fake accepted."""
        return [r for r in self.requests if r.method == "POST" and "/activities" in r.path and r.status < 300]

    def created(self) -> list[Recorded]:
        """Conversations created (1:1 chats opened by the bot)."""
        return [r for r in self.requests if r.method == "POST" and r.path == "/v3/conversations" and r.status < 300]

    # ---- server --------------------------------------------------------------------------------

    async def __aenter__(self) -> "FakeConnector":
        app = web.Application()
        p = self.prefix
        app.router.add_post(p + "/v3/conversations", self._create)
        app.router.add_post(p + "/v3/conversations/{conv}/activities", self._activity)
        app.router.add_post(p + "/v3/conversations/{conv}/activities/{reply}", self._activity)
        app.router.add_get(p + "/v3/conversations/{conv}/members", self._members)
        app.router.add_get(p + "/v3/conversations/{conv}/members/{user}", self._member)
        app.router.add_get(p + "/v3/conversations/{conv}/pagedmembers", self._paged)
        app.router.add_get(p + "/v3/teams/{team}", self._team)
        app.router.add_get(p + "/v3/teams/{team}/conversations", self._team_channels)
        app.router.add_put(p + "/v3/conversations/{conv}/activities/{activity}", self._update)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _record(self, request: web.Request) -> tuple[Recorded, web.Response | None]:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        path = request.path[len(self.prefix):] if request.path.startswith(self.prefix) else request.path
        rec = Recorded(
            method=request.method, path=path, body=body, headers=dict(request.headers), query=dict(request.query),
            conversation_id=request.match_info.get("conv"), reply_to=request.match_info.get("reply"),
        )
        self.requests.append(rec)
        for failure in self._failures:
            if failure.times > 0 and (failure.method in (None, request.method)) and (
                failure.path_contains is None or failure.path_contains in path
            ):
                failure.times -= 1
                rec.status = failure.status
                return rec, web.json_response({"error": {"code": "Throttled", "message": "fake failure"}},
                                              status=failure.status, headers=failure.headers)
        return rec, None

    async def _create(self, request: web.Request) -> web.Response:
        rec, failed = await self._record(request)
        if failed:
            return failed
        rec.status = 201
        return web.json_response({"id": f"a:fake-personal-{next(self._ids)}"}, status=201)

    async def _activity(self, request: web.Request) -> web.Response:
        rec, failed = await self._record(request)
        if failed:
            return failed
        rec.status = 201
        return web.json_response({"id": f"1:fake-activity-{next(self._ids)}"}, status=201)

    async def _members(self, request: web.Request) -> web.Response:
        rec, failed = await self._record(request)
        if failed:
            return failed
        return web.json_response(self.members.get(request.match_info["conv"], []))

    async def _member(self, request: web.Request) -> web.Response:
        rec, failed = await self._record(request)
        if failed:
            return failed
        for m in self.members.get(request.match_info["conv"], []):
            if m["id"] == request.match_info["user"]:
                return web.json_response(m)
        rec.status = 404
        return web.json_response({"error": {"code": "MemberNotFoundInConversation"}}, status=404)

    async def _paged(self, request: web.Request) -> web.Response:
        rec, failed = await self._record(request)
        if failed:
            return failed
        roster = self.members.get(request.match_info["conv"], [])
        size = int(request.query.get("pageSize", "500"))
        start = int(request.query.get("continuationToken", "0") or 0)
        page = roster[start:start + size]
        body: dict[str, Any] = {"members": page}
        if start + size < len(roster):
            body["continuationToken"] = str(start + size)
        return web.json_response(body)

    async def _team_channels(self, request: web.Request) -> web.Response:
        rec, failed = await self._record(request)
        if failed:
            return failed
        return web.json_response({"conversations": self.channels.get(request.match_info["team"], [])})

    async def _team(self, request: web.Request) -> web.Response:
        rec, failed = await self._record(request)
        if failed:
            return failed
        team = self.teams.get(request.match_info["team"])
        if team is None:
            rec.status = 404
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        return web.json_response(team)


# ---- inbound activities ---------------------------------------------------------------------------

    # ---- editing an activity (PUT v3/conversations/{id}/activities/{activityId}) ----------------

    async def _update(self, request: web.Request) -> web.Response:
        rec, failed = await self._record(request)
        if failed:
            return failed
        rec.reply_to = request.match_info.get("activity")  # the activity replaced
        rec.status = 200
        return web.json_response({"id": rec.reply_to}, status=200)

    def updates(self) -> list[Recorded]:
        """Activities the bot replaced (``reply_to`` holds the replaced activity's id)."""
        return [r for r in self.requests if r.method == "PUT" and r.status < 300]


def member(user_id: str, name: str, *, email: str | None = None, **extra: Any) -> dict[str, Any]:
    """A roster entry as GET …/members answers it."""
    given, _, surname = name.partition(" ")
    return {
        "id": user_id, "objectId": f"aad-{user_id[-8:]}", "name": name, "givenName": given, "surname": surname,
        "email": email or f"{given.lower()}@example.com", "userPrincipalName": email or f"{given.lower()}@example.com",
        "tenantId": TENANT, **extra,
    }


class Activities:
    """Builds activities as Teams posts them, with serviceUrl pointing at ``service_url``."""

    def __init__(self, service_url: str, *, tenant: str = TENANT, bot_id: str = BOT_ID, bot_name: str = BOT_NAME) -> None:
        self.service_url = service_url
        self.tenant = tenant
        self.bot_id = bot_id
        self.bot_name = bot_name
        self._ids = itertools.count(1571500000000)

    def next_id(self) -> str:
        return str(next(self._ids))

    def _base(self, kind: str, sender: tuple[str, str], conversation: dict[str, Any], channel_data: dict[str, Any],
              *, activity_id: str | None = None) -> dict[str, Any]:
        user_id, name = sender
        return {
            "type": kind,
            "id": activity_id or self.next_id(),
            "timestamp": "2026-11-02T09:00:00.000Z",
            "localTimestamp": "2026-11-02T10:00:00.000+01:00",
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "from": {"id": user_id, "name": name, "aadObjectId": f"aad-{user_id[-8:]}"},
            "conversation": conversation,
            "recipient": {"id": self.bot_id, "name": self.bot_name},
            "channelData": {"tenant": {"id": self.tenant}, **channel_data},
            "locale": "en-US",
            "entities": [{"locale": "en-US", "country": "US", "platform": "Windows", "type": "clientInfo"}],
        }

    def channel_message(self, sender: tuple[str, str], text: str, *, mention_bot: bool = False,
                        mentions: tuple[tuple[str, str], ...] = (), thread_root: str | None = None,
                        channel: str = CHANNEL_ID, team: str = TEAM_ID, activity_id: str | None = None) -> dict[str, Any]:
        """A post (or a reply in the thread ``thread_root``) in a team channel. ``text`` uses
        ``{bot}`` and ``{name}`` placeholders for where mentions go: ``"{bot} who knows Kafka?"``."""
        ident = activity_id or self.next_id()
        root = thread_root or ident
        conversation = {"isGroup": True, "conversationType": "channel", "tenantId": self.tenant,
                        "id": f"{channel};messageid={root}"}
        data = {"teamsChannelId": channel, "teamsTeamId": team, "channel": {"id": channel}, "team": {"id": team}}
        body = self._base("message", sender, conversation, data, activity_id=ident)
        body.update(self._text_and_mentions(text, mention_bot=mention_bot, mentions=mentions))
        body["textFormat"] = "plain"
        return body

    def personal_message(self, sender: tuple[str, str], text: str, *, conversation_id: str | None = None,
                         mentions: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
        conversation = {"conversationType": "personal", "tenantId": self.tenant,
                        "id": conversation_id or f"a:personal-{sender[0][-10:]}"}
        body = self._base("message", sender, conversation, {})
        body.update(self._text_and_mentions(text, mention_bot=False, mentions=mentions))
        body["textFormat"] = "plain"
        return body

    def _text_and_mentions(self, text: str, *, mention_bot: bool, mentions: tuple[tuple[str, str], ...]) -> dict[str, Any]:
        entities: list[dict[str, Any]] = []
        if mention_bot or "{bot}" in text:
            tag = f"<at>{self.bot_name}</at>"
            text = text.replace("{bot}", tag) if "{bot}" in text else f"{tag} {text}"
            entities.append({"mentioned": {"id": self.bot_id, "name": self.bot_name}, "text": tag, "type": "mention"})
        for user_id, name in mentions:
            tag = f"<at>{name}</at>"
            text = text.replace("{" + name + "}", tag)
            entities.append({"mentioned": {"id": user_id, "name": name}, "text": tag, "type": "mention"})
        entities.append({"locale": "en-US", "country": "US", "platform": "Windows", "type": "clientInfo"})
        return {"text": text + "\n", "entities": entities}

    def bot_added_to_team(self, by: tuple[str, str], *, team: str = TEAM_ID, team_name: str = "Engineering") -> dict[str, Any]:
        conversation = {"isGroup": True, "conversationType": "channel", "tenantId": self.tenant, "id": team}
        data = {"team": {"id": team, "name": team_name, "aadGroupId": "2c02739d-4041-4ef2-b8b8-75508bc04808"},
                "eventType": "teamMemberAdded", "settings": {"selectedChannel": {"id": team}}}
        body = self._base("conversationUpdate", by, conversation, data, activity_id=f"f:{self.next_id()}")
        body["membersAdded"] = [{"id": self.bot_id}]
        body.pop("entities")
        return body

    def members_added(self, by: tuple[str, str], added: list[tuple[str, str]], *, team: str = TEAM_ID,
                      team_name: str = "Engineering") -> dict[str, Any]:
        conversation = {"isGroup": True, "conversationType": "channel", "tenantId": self.tenant, "id": team}
        data = {"team": {"id": team, "name": team_name}, "eventType": "teamMemberAdded"}
        body = self._base("conversationUpdate", by, conversation, data, activity_id=f"f:{self.next_id()}")
        body["membersAdded"] = [{"id": uid, "aadObjectId": f"aad-{uid[-8:]}"} for uid, _ in added]
        body.pop("entities")
        return body

    def bot_installed_personal(self, user: tuple[str, str], *, conversation_id: str | None = None) -> dict[str, Any]:
        conversation = {"conversationType": "personal", "tenantId": self.tenant,
                        "id": conversation_id or f"a:personal-{user[0][-10:]}"}
        body = self._base("conversationUpdate", user, conversation, {}, activity_id=f"f:{self.next_id()}")
        body["membersAdded"] = [{"id": self.bot_id}]
        body.pop("entities")
        return body

    def reaction(self, sender: tuple[str, str], kind: str, *, reply_to: str, channel: str = CHANNEL_ID,
                 team: str = TEAM_ID) -> dict[str, Any]:
        conversation = {"isGroup": True, "conversationType": "channel", "tenantId": self.tenant,
                        "id": f"{channel};messageid={reply_to}"}
        data = {"channel": {"id": channel}, "team": {"id": team}}
        body = self._base("messageReaction", sender, conversation, data)
        body["reactionsAdded"] = [{"type": kind}]
        body["replyToId"] = reply_to
        body.pop("entities")
        return body

    def card_submit(self, sender: tuple[str, str], action_id: str, value: str, *, reply_to: str,
                    conversation_id: str | None = None) -> dict[str, Any]:
        conversation = {"conversationType": "personal", "tenantId": self.tenant,
                        "id": conversation_id or f"a:personal-{sender[0][-10:]}"}
        body = self._base("message", sender, conversation, {})
        body["value"] = {"liaison_action": action_id, "liaison_value": value}
        body["replyToId"] = reply_to
        return body


# ---- the bot's side ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """The bot's own web app (bot.web, as `liaison serve` builds it) on an ephemeral loopback
    port, with its platform adapters started and stopped as `liaison serve` does; yields the
    base URL."""
    from bot.web import build_web_app

    runner = web.AppRunner(build_web_app(app), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    started = []
    try:
        for adapter in app.adapters.values():
            await adapter.start()
            started.append(adapter)
        yield f"http://127.0.0.1:{port}"
    finally:
        for adapter in started:
            await adapter.stop()
        await runner.cleanup()


async def post(url: str, body: Any, *, headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any]:
    """POST an activity (or ``raw`` bytes); the status and the decoded answer."""
    async with aiohttp.ClientSession() as client:
        data = raw if raw is not None else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        async with client.post(url, data=data, headers=hdrs) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text) if text else None
            except ValueError:
                return resp.status, text
