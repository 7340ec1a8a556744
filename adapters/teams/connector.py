"""A small client of the Bot Connector REST API (v3), the service Teams bots send through.

Why not botbuilder's ConnectorClient: it sends with ``requests`` in a thread pool and retries
by its own rules (not on 412, with no pacing). Teams throttles bots per conversation and asks
them to back off on 429 (and on 412, 502, 504), so sending is done here on aiohttp:
- every call is retried on 429, 412, 502, 504 and network errors, waiting ``retry_base`` seconds
  and doubling, or as long as the ``Retry-After`` header asks when that is longer;
- messages to one conversation are paced to at most ``per_second`` in any second (Teams allows
  about 7 per second per conversation before it throttles);
- a call goes out only when its serviceUrl passes ``ServiceUrlPolicy`` (trust.py): https, a
  known Bot Connector host, no credentials. A stored reference from before those rules, or one
  that slipped in any other way, is refused here, before anything is sent.

The bearer token for outbound calls comes from Microsoft's login service through MSAL (with a
timeout), only when an app id is set: with no app id (local trials and tests) calls carry no
token.
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import quote

import aiohttp

from adapters.teams.trust import ServiceUrlPolicy
from bot.ports import ChatError

log = logging.getLogger("liaison.teams")

RETRY_STATUSES = frozenset({429, 412, 502, 504})


class ConnectorError(ChatError):
    """The Bot Connector refused a call (``status``) or could not be reached (``status`` 0)."""

    def __init__(self, message: str, *, status: int, retryable: bool = False) -> None:
        super().__init__(message, retryable=retryable)
        self.status = status


class Pacer:
    """At most ``per_second`` sends per key in any one-second window.

    ``reserve`` is pure bookkeeping (no waiting), so the rule can be checked with a given
    ``now``; ``wait`` sleeps as long as ``reserve`` says.
    """

    def __init__(
        self,
        *,
        per_second: int,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if per_second < 1:
            raise ValueError("per_second must be at least 1")
        self.per_second = per_second
        self._now = now
        self._sleep = sleep
        self._slots: dict[str, collections.deque[float]] = {}

    def reserve(self, key: str) -> float:
        """Book the next free slot for ``key``; the seconds to wait before using it."""
        now = self._now()
        slots = self._slots.setdefault(key, collections.deque())
        while slots and slots[0] <= now - 1.0:
            slots.popleft()
        if len(slots) < self.per_second:
            at = now
        else:
            # The slot one second after the per_second-th latest one keeps every window legal.
            at = max(now, slots[-self.per_second] + 1.0)
        slots.append(at)
        if len(self._slots) > 10_000:
            self._forget_idle(now)
        return at - now

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._slots.items() if not v or v[-1] <= now - 1.0]:
            del self._slots[key]

    async def wait(self, key: str) -> None:
        delay = self.reserve(key)
        if delay > 0:
            await self._sleep(delay)


def retry_delay(*, attempt: int, base: float, cap: float, retry_after: str | None) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential from ``base``, or what the
    ``Retry-After`` header (seconds or an HTTP date) asks when longer; never above ``cap``."""
    delay = base * (2 ** (attempt - 1))
    if retry_after:
        asked: float | None = None
        try:
            asked = float(retry_after)
        except ValueError:
            try:
                asked = email.utils.parsedate_to_datetime(retry_after).timestamp() - time.time()
            except (TypeError, ValueError):
                asked = None  # a header we cannot read: keep our own backoff
        if asked is not None:
            delay = max(delay, asked)
    return max(0.0, min(delay, cap))


@dataclass(frozen=True)
class Credentials:
    app_id: str
    password: str
    tenant_id: str | None = None  # set for single-tenant apps


class TokenSource:
    """Bearer tokens for the Bot Connector, from Microsoft's login service with MSAL (the client
    botframework's own credentials use), built here so that its HTTP calls have a timeout: a
    login service that does not answer must not hold a worker thread forever. MSAL caches the
    token; it is synchronous, so it runs in a thread. Any failure is a one-line ConnectorError."""

    def __init__(self, credentials: Credentials | None, *, timeout: float = 15.0) -> None:
        self._credentials = credentials
        self._timeout = timeout
        self._app: Any = None

    @property
    def enabled(self) -> bool:
        return self._credentials is not None

    def _fetch(self) -> str:
        from botframework.connector.auth import AuthenticationConstants as Auth
        import msal

        c = self._credentials
        assert c is not None
        if self._app is None:
            authority = Auth.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX + (c.tenant_id or Auth.DEFAULT_CHANNEL_AUTH_TENANT)
            self._app = msal.ConfidentialClientApplication(c.app_id, client_credential=c.password, authority=authority,
                                                           timeout=self._timeout)
        answer = self._app.acquire_token_for_client(scopes=[Auth.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE + "/.default"])
        if "access_token" not in answer:
            raise PermissionError(f"{answer.get('error', 'refused')}: {answer.get('error_description', '')}".strip())
        return answer["access_token"]

    async def token(self) -> str | None:
        if self._credentials is None:
            return None
        try:
            return await asyncio.to_thread(self._fetch)
        except PermissionError as exc:
            raise ConnectorError(
                f"could not get a token for the Bot Connector: {str(exc).splitlines()[0]}. Check MICROSOFT_APP_ID, "
                "MICROSOFT_APP_PASSWORD and MICROSOFT_APP_TENANT_ID", status=401,
            ) from None
        except Exception as exc:  # noqa: BLE001 - requests, MSAL and network errors of every kind
            self._app = None  # e.g. the authority's metadata could not be read: build it again next time
            first = str(exc).splitlines()[0][:300] if str(exc) else ""
            raise ConnectorError(
                f"could not get a token for the Bot Connector from login.microsoftonline.com: {type(exc).__name__}"
                f"{': ' + first if first else ''}. Check outbound HTTPS from this host", status=0, retryable=True,
            ) from None


def conversation_path(conversation_id: str) -> str:
    return "v3/conversations/" + quote(conversation_id, safe="")


class ConnectorClient:
    """Calls to one or more Bot Connector endpoints (each activity names its serviceUrl)."""

    def __init__(
        self,
        *,
        tokens: TokenSource,
        pacer: Pacer,
        service_urls: ServiceUrlPolicy,
        max_attempts: int = 5,
        retry_base: float = 1.0,
        retry_cap: float = 30.0,
        timeout: float = 15.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.tokens = tokens
        self.pacer = pacer
        self.service_urls = service_urls
        self.max_attempts = max(1, max_attempts)
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.timeout = timeout
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def call(
        self,
        method: str,
        service_url: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        pace: str | None = None,
    ) -> Any:
        """One REST call with retries; the decoded JSON answer (None when empty).

        ``pace``: a conversation id, when the call posts a message there (paced per conversation).
        """
        what = f"{method} {path}"
        problem = self.service_urls.problem(service_url)
        if problem is not None:
            raise ConnectorError(f"refused to call the Bot Connector ({what}): {problem}. The stored conversation "
                                 "reference is not used; one from a new activity replaces it", status=0, retryable=False)
        url = service_url.rstrip("/") + "/" + path
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            if pace is not None:
                await self.pacer.wait(pace)
            headers = {"Content-Type": "application/json; charset=utf-8"}
            token = await self.tokens.token()
            if token:
                headers["Authorization"] = f"Bearer {token}"
            retry_after = None
            try:
                async with self._client().request(method, url, json=body, params=params, headers=headers) as resp:
                    status = resp.status
                    text = await resp.text()
                    retry_after = resp.headers.get("Retry-After")
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                status, text = 0, f"{type(exc).__name__}: {exc}"
            if 200 <= status < 300:
                if not text.strip():
                    return None
                try:
                    return json.loads(text)
                except ValueError:
                    return None
            last = f"{status or 'no answer'} {text[:300]}".strip()
            if status in RETRY_STATUSES or status == 0:
                if attempt < self.max_attempts:
                    delay = retry_delay(attempt=attempt, base=self.retry_base, cap=self.retry_cap, retry_after=retry_after)
                    log.warning("Teams answered %s to %s; retrying in %.1fs (attempt %d of %d)",
                                status or "nothing", what, delay, attempt + 1, self.max_attempts)
                    await self._sleep(delay)
                    continue
                raise ConnectorError(f"Teams still answers {last} to {what} after {self.max_attempts} attempts",
                                     status=status, retryable=True)
            raise ConnectorError(f"Teams answered {last} to {what}", status=status, retryable=status >= 500)
        raise ConnectorError(f"Teams answered {last} to {what}", status=0, retryable=True)  # pragma: no cover

    # ---- the calls Liaison makes -------------------------------------------------------------

    async def send_activity(self, service_url: str, conversation_id: str, activity: Mapping[str, Any],
                            *, reply_to: str | None = None) -> str | None:
        path = conversation_path(conversation_id) + "/activities"
        if reply_to:
            path += "/" + quote(reply_to, safe="")
        answer = await self.call("POST", service_url, path, body=activity, pace=conversation_id)
        return answer.get("id") if isinstance(answer, Mapping) else None

    async def create_conversation(self, service_url: str, parameters: Mapping[str, Any]) -> str:
        answer = await self.call("POST", service_url, "v3/conversations", body=parameters)
        ident = answer.get("id") if isinstance(answer, Mapping) else None
        if not ident:
            raise ConnectorError("Teams created a conversation but gave no id", status=200)
        return str(ident)

    async def paged_members(self, service_url: str, conversation_id: str, *, page_size: int) -> list[dict[str, Any]]:
        """Every member of a team or conversation, page by page."""
        members: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params = {"pageSize": str(page_size)}
            if token:
                params["continuationToken"] = token
            answer = await self.call("GET", service_url, conversation_path(conversation_id) + "/pagedmembers", params=params)
            if not isinstance(answer, Mapping):
                return members
            members.extend(m for m in answer.get("members") or () if isinstance(m, Mapping))
            token = answer.get("continuationToken")
            if not token:
                return members

    async def member(self, service_url: str, conversation_id: str, user_id: str) -> dict[str, Any] | None:
        try:
            answer = await self.call("GET", service_url, conversation_path(conversation_id) + "/members/" + quote(user_id, safe=""))
        except ConnectorError as exc:
            if exc.status in (400, 403, 404):
                return None
            raise
        return dict(answer) if isinstance(answer, Mapping) else None

    async def team_details(self, service_url: str, team_id: str) -> dict[str, Any] | None:
        try:
            answer = await self.call("GET", service_url, "v3/teams/" + quote(team_id, safe=""))
        except ConnectorError as exc:
            if exc.status in (400, 403, 404):
                return None
            raise
        return dict(answer) if isinstance(answer, Mapping) else None

    async def team_channels(self, service_url: str, team_id: str) -> list[dict[str, Any]]:
        """The channels of a team (``id`` and ``name``; the General channel has no name)."""
        try:
            answer = await self.call("GET", service_url, "v3/teams/" + quote(team_id, safe="") + "/conversations")
        except ConnectorError as exc:
            if exc.status in (400, 403, 404):
                return []
            raise
        rows = answer.get("conversations") if isinstance(answer, Mapping) else None
        return [dict(r) for r in rows or () if isinstance(r, Mapping) and r.get("id")]
