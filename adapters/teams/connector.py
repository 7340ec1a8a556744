"""A small client of the Bot Connector REST API (v3), the service Teams bots send through.

Why not botbuilder's ConnectorClient: it sends with ``requests`` in a thread pool and retries
by its own rules (not on 412, with no pacing). Teams throttles bots per conversation and asks
them to back off on 429 (and on 412, 502, 504), so sending is done here on aiohttp:
- every call is retried on 429, 412, 502, 504 and network errors, waiting ``retry_base`` seconds
  and doubling, or as long as the ``Retry-After`` header asks when that is longer
  (``adapters.common.retry``, on tenacity);
- messages to one conversation are paced (``adapters.common.flow``, on aiolimiter: Teams
  allows about 7 per second per conversation before it throttles);
- a call goes out only when its serviceUrl passes ``ServiceUrlPolicy`` (trust.py): https, a
  known Bot Connector host, no credentials. A stored reference from before those rules, or one
  that slipped in any other way, is refused here, before anything is sent.

The bearer token for outbound calls comes from Microsoft's login service (``[teams] login_url``)
through MSAL (with a timeout), only when an app id is set: with no app id (local trials) calls
carry no token.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import quote

import aiohttp
from yarl import URL

from adapters.common import paging
from adapters.common.flow import Pacer
from adapters.common.retry import retrying
from adapters.teams.trust import ServiceUrlPolicy
from bot.ports import ChatError

log = logging.getLogger("liaison.teams")

RETRY_STATUSES = frozenset({429, 412, 502, 504})


class ConnectorError(ChatError):
    """The Bot Connector refused a call (``status``) or could not be reached (``status`` 0)."""

    def __init__(self, message: str, *, status: int, retryable: bool = False) -> None:
        super().__init__(message, retryable=retryable)
        self.status = status


class _Answered(ConnectorError):
    """One attempt's failure: what Teams answered (``status`` 0: nothing), and its Retry-After."""

    def __init__(self, what: str, *, status: int, text: str, retry_after: str | None) -> None:
        self.last = f"{status or 'no answer'} {text[:300]}".strip()
        super().__init__(f"Teams answered {self.last} to {what}", status=status, retryable=status >= 500)
        self.retry_after = retry_after

    @property
    def worth_retrying(self) -> bool:
        return self.status in RETRY_STATUSES or self.status == 0


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

    def __init__(self, credentials: Credentials | None, *, timeout: float = 15.0,
                 login_url: str = "https://login.microsoftonline.com/") -> None:
        self._credentials = credentials
        self._timeout = timeout
        self._login_url = login_url.rstrip("/") + "/"
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
            authority = self._login_url + (c.tenant_id or Auth.DEFAULT_CHANNEL_AUTH_TENANT)
            # No instance discovery: the login service is the one configured (MSAL skips it
            # anyway for Microsoft's own hosts, the default included).
            self._app = msal.ConfidentialClientApplication(c.app_id, client_credential=c.password, authority=authority,
                                                           timeout=self._timeout, instance_discovery=False)
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
                f"could not get a token for the Bot Connector from {URL(self._login_url).host}: {type(exc).__name__}"
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

        def before_wait(failure: BaseException, attempt: int, delay: float) -> None:
            log.warning("Teams answered %s to %s; retrying in %.1fs (attempt %d of %d)",
                        getattr(failure, "status", 0) or "nothing", what, delay, attempt, self.max_attempts)

        try:
            async for attempt in retrying(
                attempts=self.max_attempts, base=self.retry_base, cap=self.retry_cap, sleep=self._sleep,
                should_retry=lambda exc: isinstance(exc, _Answered) and exc.worth_retrying,
                retry_after=lambda exc: getattr(exc, "retry_after", None), before_wait=before_wait,
            ):
                with attempt:
                    return await self._attempt(method, url, what, body=body, params=params, pace=pace)
        except _Answered as exc:
            if exc.worth_retrying:
                raise ConnectorError(f"Teams still answers {exc.last} to {what} after {self.max_attempts} attempts",
                                     status=exc.status, retryable=True) from None
            raise ConnectorError(str(exc), status=exc.status, retryable=exc.retryable) from None
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    async def _attempt(self, method: str, url: str, what: str, *, body: Mapping[str, Any] | None,
                       params: Mapping[str, str] | None, pace: str | None) -> Any:
        """One request: the decoded JSON answer (None when empty), or _Answered."""
        headers = {"Content-Type": "application/json; charset=utf-8"}
        token = await self.tokens.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        retry_after = None
        try:
            if pace is not None:
                async with self.pacer.turn(pace):
                    status, text, retry_after = await self._request(method, url, body, params, headers)
            else:
                status, text, retry_after = await self._request(method, url, body, params, headers)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            status, text = 0, f"{type(exc).__name__}: {exc}"
        if not 200 <= status < 300:
            raise _Answered(what, status=status, text=text, retry_after=retry_after)
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            return None

    async def _request(self, method: str, url: str, body: Mapping[str, Any] | None, params: Mapping[str, str] | None,
                       headers: Mapping[str, str]) -> tuple[int, str, str | None]:
        async with self._client().request(method, url, json=body, params=params, headers=headers) as resp:
            return resp.status, await resp.text(), resp.headers.get("Retry-After")

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
        path = conversation_path(conversation_id) + "/pagedmembers"

        async def page(token: str | None) -> Any:
            params = {"pageSize": str(page_size), **({"continuationToken": token} if token else {})}
            return await self.call("GET", service_url, path, params=params)

        def cursor(answer: Any) -> str | None:
            return answer.get("continuationToken") if isinstance(answer, Mapping) else None

        def members(answer: Any) -> list[dict[str, Any]]:
            rows = answer.get("members") if isinstance(answer, Mapping) else None
            return [m for m in rows or () if isinstance(m, Mapping)]

        return await paging.collect(page, cursor, members)

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
