"""What a skill's handler is given: ``SkillContext`` (a database session scoped to the event's
workspace, the settings, the clock, the language, the shared services), ``SyncChat``, the
platform seen from the handler's worker thread, and ``Services``, the shared services it reaches
with ``ctx.service(name)``. The dispatcher (``bot/dispatch.py``) builds them; skills import them
from here."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy.orm import Session

from bot import people
from bot.config import Settings
from bot.db.models import PersonRow
from bot.events import Button, Outbound, Person, Sent, Workspace
from bot.i18n import Catalog
from bot.ports import ChatPort, Clock, SentLookup
from bot.router import Router

log = logging.getLogger("liaison.dispatch")


class Services:
    """Shared services (the NLP pipelines, the expertise index, …), built once, on first use.
    Skills declare them in ``services(app) -> {name: factory}``; handlers get them with
    ``ctx.service(name)``. Building lazily keeps start-up fast and loads no model at import time."""

    def __init__(self) -> None:
        self._factories: dict[str, Callable[[], Any]] = {}
        self._built: dict[str, Any] = {}
        self._lock = threading.RLock()

    def register(self, name: str, factory: Callable[[], Any]) -> None:
        if name in self._factories:
            raise ValueError(f"service {name!r} is registered twice")
        self._factories[name] = factory

    def provide(self, name: str, value: Any) -> None:
        """Put a ready-made service (tests, or a value built elsewhere)."""
        with self._lock:
            self._factories.setdefault(name, lambda: value)
            self._built[name] = value

    def get(self, name: str) -> Any:
        with self._lock:
            if name not in self._built:
                try:
                    factory = self._factories[name]
                except KeyError:
                    raise LookupError(f"no service {name!r}; is the skill that provides it enabled?") from None
                self._built[name] = factory()
            return self._built[name]

    def built(self, name: str) -> bool:
        return name in self._built

    def names(self, prefix: str = "") -> list[str]:
        """The registered services whose name starts with ``prefix``, in registration order."""
        return [n for n in self._factories if n.startswith(prefix)]

    def __contains__(self, name: str) -> bool:
        return name in self._factories


class SyncChat:
    """The ChatPort seen from a handler's thread: each call runs on the event loop and waits."""

    def __init__(self, chat: ChatPort, workspace: Workspace, loop: asyncio.AbstractEventLoop, timeout: float = 120) -> None:
        self._chat, self._ws, self._loop, self._timeout = chat, workspace, loop, timeout

    def _run(self, coro) -> Any:  # noqa: ANN001
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self._timeout)

    def send(self, message: Outbound, *, heartbeat: Callable[[], None] | None = None, every: float = 20.0) -> Sent:
        """Send and wait for the platform's answer. ``heartbeat`` is called every ``every``
        seconds while the answer is awaited (a sender renewing its claim on the message)."""
        if heartbeat is None:
            return self._run(self._chat.send(self._ws, message))
        future = asyncio.run_coroutine_threadsafe(self._chat.send(self._ws, message), self._loop)
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                return future.result(max(0.0, min(every, deadline - time.monotonic())))
            except TimeoutError:
                if future.done():
                    return future.result()  # answered meanwhile, or the send itself timed out
                if time.monotonic() >= deadline:
                    future.cancel()
                    raise
                heartbeat()

    def can_find_sent(self) -> bool:
        """Whether the platform can tell if a keyed message got through (``find_sent``)."""
        return isinstance(self._chat, SentLookup)

    def find_sent(self, message: Outbound) -> Sent | None:
        if not isinstance(self._chat, SentLookup):
            raise TypeError(f"{type(self._chat).__name__} cannot tell which messages got through")
        return self._run(self._chat.find_sent(self._ws, message))

    def lookup_user(self, user_id: str) -> Person | None:
        return self._run(self._chat.lookup_user(self._ws, user_id))

    def list_members(self, conversation_id: str) -> Sequence[str]:
        return self._run(self._chat.list_members(self._ws, conversation_id))

    def list_users(self) -> Sequence[Person]:
        return self._run(self._chat.list_users(self._ws))

    def permalink(self, conversation_id: str, ts: str) -> str | None:
        return self._run(self._chat.permalink(self._ws, conversation_id, ts))

    def update(self, sent: Sent, text: str, buttons: Sequence[Button] = ()) -> None:
        """Replace a message sent earlier (see ``ChatPort.update``)."""
        return self._run(self._chat.update(self._ws, sent, text, tuple(buttons)))


@dataclass
class SkillContext:
    """Everything a handler may use. One per handled event; ``db`` is a session scoped to the
    event's workspace, committed when the handler returns and rolled back if it raises."""

    workspace: Workspace
    event: Any
    db: Session
    settings: Settings
    clock: Clock
    chat: SyncChat | None
    router: Router
    services: Services
    lang: str = "en"
    match: Mapping[str, str] = field(default_factory=dict)
    args: str = ""
    sender: PersonRow | None = None
    log: logging.Logger = log
    told: list[tuple[str, dict[str, object]]] | None = None

    def t(self, catalog: Catalog, key: str, /, **values: object) -> str:
        return catalog.get(self.lang, key, **values)

    def is_admin(self, row: PersonRow | None = None) -> bool:
        return people.is_admin(row if row is not None else self.sender, self.settings.bot.hr_admins)

    def service(self, name: str) -> Any:
        """A shared service (e.g. "nlp", "expertise"), built on first use."""
        return self.services.get(name)

    def notify(self, name: str, /, **values: object) -> None:
        """Tell the skills that listen for ``name`` (services named ``on:<name>:<skill>``, each a
        function called with a context and ``values``). Nothing happens when no enabled skill
        listens, so the teller needs no other skill. In a handler the dispatcher runs, the
        listeners run once the handler's replies are sent, in a transaction of their own
        (``told`` keeps what was told till then): bookkeeping that the answer does not need
        never holds it back. Elsewhere (``told`` is None) they run at once, in this transaction."""
        if self.told is not None:
            self.told.append((name, dict(values)))
            return
        tell_listeners(self, name, values)


def tell_listeners(ctx: SkillContext, name: str, values: Mapping[str, object]) -> None:
    """Call every listener of ``name`` with ``ctx`` and ``values``, in registration order."""
    for listener in ctx.services.names(f"on:{name}:"):
        ctx.services.get(listener)(ctx, **values)
