"""Microsoft Teams: activities on POST /api/messages become neutral events; TeamsChat sends.

``build(app)`` is called by bot.app.bootstrap when Teams is configured (MICROSOFT_APP_ID, or
LIAISON_TEAMS_NO_AUTH=1 for local trials). Every botbuilder import of the project is inside this
package: botbuilder-python is archived by Microsoft (its successor is the Microsoft 365 Agents
SDK), and replacing it must not touch the core or the skills.

Authentication: with an app id, the Bot Framework JWT of every request is checked (auth.py;
401 otherwise) before botbuilder's CloudAdapter runs the turn, and outbound calls carry a token
for that app. With LIAISON_TEAMS_NO_AUTH=1 and no app id, activities are accepted without a
token, but only from this machine: ``liaison serve`` refuses to listen on another address than
a loopback one (``check_listen_address``, before binding) and each request whose peer is not a
loopback address gets 403. Such activities may add conversation references, never change one.
That mode is for trying the bot locally and for tests.

Either way, an activity's serviceUrl is used only when it is a Bot Connector endpoint of the
``[teams] allowed_service_hosts`` (trust.py): the bot never sends anywhere an activity names.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import types
from dataclasses import dataclass, field
from typing import Any, Coroutine, Mapping

from yarl import URL

from adapters.common import installations
from adapters.common.flow import Pacer, Tasks
from adapters.common.periodic import Periodic
from adapters.teams import translate
from adapters.teams.auth import SigningKeys, TokenValidator
from adapters.teams.chat import ReferenceStore, TeamsChat
from adapters.teams.connector import ConnectorClient, Credentials, TokenSource
from adapters.teams.trust import DEFAULT_SERVICE_HOSTS, ServiceUrlPolicy, is_loopback, require_https
from bot.config import ConfigError
from bot.events import Workspace
from bot.ports import ChatError

log = logging.getLogger("liaison.teams")

__all__ = ["TeamsAdapter", "TeamsChat", "TeamsSettings", "build"]


@dataclass(frozen=True)
class TeamsSettings:
    """The [teams] section of the settings (see config/default.toml)."""

    max_messages_per_second: int = 7
    max_attempts: int = 5
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 30.0
    request_timeout_seconds: float = 15.0
    roster_sync_hours: float = 24.0
    roster_page_size: int = 500
    department_field: str = ""
    team_name_as_department: bool = True
    welcome: bool = True
    reaction_names: Mapping[str, str] = field(default_factory=dict)
    allowed_service_hosts: tuple[str, ...] = DEFAULT_SERVICE_HOSTS
    openid_metadata_url: str = "https://login.botframework.com/v1/.well-known/openidconfiguration"
    token_issuer: str = "https://api.botframework.com"
    login_url: str = "https://login.microsoftonline.com/"

    def __post_init__(self) -> None:
        if self.max_messages_per_second < 1:
            raise ConfigError("teams.max_messages_per_second must be at least 1")
        if self.max_attempts < 1:
            raise ConfigError("teams.max_attempts must be at least 1")
        if not 50 <= self.roster_page_size <= 500:
            raise ConfigError("teams.roster_page_size must be between 50 and 500 (what Teams accepts)")
        if self.retry_base_seconds < 0 or self.retry_max_seconds < 0 or self.request_timeout_seconds <= 0:
            raise ConfigError("teams.retry_base_seconds, retry_max_seconds and request_timeout_seconds must be positive")
        require_https(self.openid_metadata_url, "teams.openid_metadata_url")
        try:
            login_host = URL(self.login_url).host if self.login_url.startswith("https://") else None
        except ValueError:
            login_host = None
        if not login_host:
            raise ConfigError(f"teams.login_url must be an https URL (MSAL accepts no other), not {self.login_url!r}")
        ServiceUrlPolicy(self.allowed_service_hosts)  # says which entry is wrong


class TeamsAdapter:
    """The Teams platform: web route, ChatPort, roster syncs."""

    platform = "teams"

    def __init__(self, app: Any, settings: TeamsSettings) -> None:
        from adapters.teams.handler import LiaisonActivityHandler

        self.app = app
        self.settings = settings
        secrets = app.settings.secrets
        self.app_id = secrets.microsoft_app_id
        self.auth_enabled = bool(self.app_id)
        credentials = None
        if self.auth_enabled:
            app_type = (secrets.microsoft_app_type or "MultiTenant").lower()
            tenant = secrets.microsoft_app_tenant_id if app_type == "singletenant" else None
            credentials = Credentials(self.app_id or "", secrets.microsoft_app_password or "", tenant)
        self.refs = ReferenceStore(app.db)
        self.service_urls = ServiceUrlPolicy(settings.allowed_service_hosts)
        self.tokens: TokenValidator | None = None
        if self.auth_enabled:
            keys = SigningKeys(settings.openid_metadata_url, timeout=settings.request_timeout_seconds)
            self.tokens = TokenValidator(app_id=self.app_id or "", issuer=settings.token_issuer, keys=keys)
        self.connector = ConnectorClient(
            tokens=TokenSource(credentials, timeout=settings.request_timeout_seconds, login_url=settings.login_url),
            pacer=Pacer.per_second(settings.max_messages_per_second),
            service_urls=self.service_urls,
            max_attempts=settings.max_attempts,
            retry_base=settings.retry_base_seconds,
            retry_cap=settings.retry_max_seconds,
            timeout=settings.request_timeout_seconds,
        )
        self.chat = TeamsChat(
            db=app.db,
            refs=self.refs,
            connector=self.connector,
            default_language=app.settings.bot.default_language,
            bot_app_id=self.app_id,
            roster_page_size=settings.roster_page_size,
            department_field=settings.department_field,
            team_name_as_department=settings.team_name_as_department,
        )
        self.handler = LiaisonActivityHandler(self)
        self._cloud: Any = None
        self.tasks = Tasks(log, "a Teams background task failed")
        self.rosters = Periodic("teams-roster", self.sync_all_rosters, hours=settings.roster_sync_hours, log=log,
                                failure="Teams roster sync failed: %s; will try again in %.0f h")

    # ---- web ---------------------------------------------------------------------------------

    def add_routes(self, web_app: Any) -> None:
        from adapters.teams.handler import handle_request

        async def messages(request: Any) -> Any:
            return await handle_request(self, request)

        web_app.router.add_post("/api/messages", messages)

    def cloud_adapter(self) -> Any:
        """botbuilder's CloudAdapter, built on first use (it runs the turn through the handler)."""
        if self._cloud is None:
            from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

            secrets = self.app.settings.secrets
            config = types.SimpleNamespace(
                APP_ID=self.app_id or "",
                APP_PASSWORD=secrets.microsoft_app_password or "",
                APP_TYPE=secrets.microsoft_app_type or "MultiTenant",
                APP_TENANTID=secrets.microsoft_app_tenant_id or "",
            )
            self._cloud = CloudAdapter(ConfigurationBotFrameworkAuthentication(config))
        return self._cloud

    def authenticated(self, claims: Mapping[str, Any]) -> Any:
        """What CloudAdapter.process_activity needs of a request whose token auth.py verified
        (given instead of the header, so botbuilder does not check it again with its blocking
        key fetch)."""
        from botbuilder.schema import CallerIdConstants
        from botframework.connector.auth import AuthenticateRequestResult, AuthenticationConstants, ClaimsIdentity

        identity = ClaimsIdentity(dict(claims), True)
        result = AuthenticateRequestResult()
        result.claims_identity = identity
        result.audience = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        result.caller_id = CallerIdConstants.public_azure_channel
        result.connector_factory = self.cloud_adapter().bot_framework_authentication.create_connector_factory(identity)
        return result

    # ---- events ------------------------------------------------------------------------------

    def learn(self, body: Mapping[str, Any]) -> None:
        """What an authenticated activity teaches, before it is dispatched: where the bot can
        write (conversation references), and who the sender and the people it mentions are
        (Teams mention entities carry names, so "thanks @Bob" works before Bob ever wrote).
        Storing the sender here, once per request, also keeps the dispatches of two messages
        of a new person from both trying to add them."""
        self.refs.remember(body, replace=self.auth_enabled)
        env = translate.envelope(body)
        known = [env.sender, *translate.mentioned_people(body, env.bot_id)]
        from sqlalchemy.exc import IntegrityError

        from bot import people

        for attempt in (1, 2):
            try:
                with self.app.db.session(env.workspace.key) as s:
                    for person in known:
                        people.upsert(s, person)
                return
            except IntegrityError:
                # Another request added one of them at the same moment: the second pass finds them.
                if attempt == 2:
                    raise

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        return self.tasks.spawn(coro)

    def forward(self, event: Any) -> None:
        """Hand one neutral event to the dispatcher, off the request. One conversation's events
        are handled in the order they came (answers stay in order, an edit never overtakes its
        message); other conversations go on meanwhile."""
        conv = getattr(event, "conversation", None)
        self.tasks.in_order(f"{event.workspace.key}|{conv.id if conv is not None else ''}", self._dispatch(event))

    async def _dispatch(self, event: Any) -> None:
        conv = getattr(event, "conversation", None)
        if conv is not None and conv.kind == "channel" and not conv.name:
            # Teams names a channel only in a few events; skills show it ("coffee in #design").
            name = await asyncio.to_thread(self.refs.channel_name, event.workspace.key, conv.id)
            if name:
                event = dataclasses.replace(event, conversation=dataclasses.replace(conv, name=name))
        await self.app.dispatcher.handle(event)

    async def wait_idle(self) -> None:
        """Wait until every event received so far has been handled (tests, shutdown)."""
        await self.tasks.drain()

    async def welcome(self, body: Mapping[str, Any]) -> None:
        """The bot was added to a team, chat or someone's personal scope: say hello once, and
        learn the team's roster."""
        from adapters.teams.handler import claim_once, welcome_key, welcome_reply
        from bot.i18n import normalise_locale

        env = translate.envelope(body)
        ws = env.workspace
        await asyncio.to_thread(installations.mark_active, self.app.db, ws.key)
        if self.settings.welcome:
            fresh = await asyncio.to_thread(claim_once, self.app.db, ws.key, welcome_key(env.id, env.conversation_id),
                                            self.app.clock.now())
            if fresh:
                lang = normalise_locale(body.get("locale")) or self.app.settings.bot.default_language
                try:
                    await self.chat.send(ws, welcome_reply(body, lang=lang, name=self.app.settings.bot.name))
                except Exception as exc:  # noqa: BLE001 - a failed hello must not stop the roster sync
                    log.warning("could not send the welcome in %s: %s", env.conversation_id, exc)
        if env.team_id:
            try:
                await self.chat.refresh_team(ws, env.team_id)
                await self.chat.sync_roster(ws)
            except ChatError as exc:
                log.warning("could not read team %s from Teams: %s; its roster is read again at the next sync",
                            env.team_id, exc)

    # ---- lifecycle ---------------------------------------------------------------------------

    def check_listen_address(self, host: str) -> None:
        """Called by ``liaison serve`` with the address it is about to listen on, before it
        binds: without authentication, only a loopback address is allowed."""
        if not self.auth_enabled and not is_loopback(host):
            raise ConfigError(
                f"LIAISON_TEAMS_NO_AUTH=1 accepts unauthenticated Teams activities, so the server must listen on a "
                f"loopback address, not {host!r}: use --host 127.0.0.1 (or server.host = \"127.0.0.1\"), or set "
                "MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD."
            )

    async def start(self) -> None:
        if not self.auth_enabled:
            log.warning("Teams: LIAISON_TEAMS_NO_AUTH=1: activities are NOT authenticated; only requests from this "
                        "machine are accepted (local trials only)")
        self.rosters.start()

    async def sync_all_rosters(self) -> int:
        """Sync the roster of every Teams workspace the bot knows a team of."""
        total = 0
        for key in await asyncio.to_thread(self.refs.workspaces):
            try:
                total += await self.chat.sync_roster(Workspace.from_key(key))
            except Exception as exc:  # noqa: BLE001 - one tenant failing must not stop the others
                log.warning("Teams roster sync of %s failed: %s; will try again at the next sync", key, exc)
        return total

    async def stop(self) -> None:
        await self.rosters.stop()
        await self.wait_idle()
        await self.connector.close()


def build(app: Any) -> TeamsAdapter:
    """The Teams adapter, from the [teams] settings and the MICROSOFT_APP_* environment."""
    secrets = app.settings.secrets
    if not secrets.microsoft_app_id and not secrets.teams_no_auth:
        raise ConfigError(
            "Teams needs MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD (see docs/teams.md); for a local trial "
            "without them set LIAISON_TEAMS_NO_AUTH=1 and listen on 127.0.0.1"
        )
    if secrets.microsoft_app_id and not secrets.microsoft_app_password:
        raise ConfigError("MICROSOFT_APP_ID is set but MICROSOFT_APP_PASSWORD is not; both come from the Azure bot registration")
    if secrets.microsoft_app_id and (secrets.microsoft_app_type or "").lower() == "singletenant" and not secrets.microsoft_app_tenant_id:
        raise ConfigError("MICROSOFT_APP_TYPE=SingleTenant needs MICROSOFT_APP_TENANT_ID")
    if secrets.microsoft_app_id and secrets.teams_no_auth:
        log.warning("LIAISON_TEAMS_NO_AUTH is ignored because MICROSOFT_APP_ID is set: activities are authenticated")
    return TeamsAdapter(app, app.settings.section("teams", TeamsSettings))
