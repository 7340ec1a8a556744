"""The one aiohttp web app: GET /healthz here; the platform adapters add their routes
(POST /slack/events, POST /api/messages), and skills theirs (the insights skill's /admin).

/healthz pings the database on a thread of its own, with a time limit: under a flood of events
the shared worker threads are all busy with handlers, and a health check queued behind them
would report a live process as dead.

A request aiohttp cannot even parse (a control character in a header, a broken chunk) is
answered 400 by aiohttp itself, which logs it with its traceback at ERROR: anyone could fill the
log that way. ``MalformedHttpLog`` makes it one warning line, at most ``LogBudget.per_minute`` a
minute.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot import pages

APP_KEY = web.AppKey("liaison", object)
PING_POOL_KEY = web.AppKey("healthz_pool", ThreadPoolExecutor)
# A database that does not answer a ping within this many seconds is reported as down.
PING_TIMEOUT_SECONDS = 5.0


class LogBudget:
    """At most ``per_minute`` lines a minute for one kind of line; ``spend`` says whether this one
    may be logged and, once a minute is over, how many were left out in it (to log once)."""

    def __init__(self, per_minute: int = 20, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._window_start = clock()
        self._spent = 0
        self._left_out = 0

    def spend(self) -> tuple[bool, int]:
        now, left_out = self._clock(), 0
        if now - self._window_start >= 60:
            left_out, self._window_start, self._spent, self._left_out = self._left_out, now, 0, 0
        if self._spent >= self.per_minute:
            self._left_out += 1
            return False, left_out
        self._spent += 1
        return True, left_out


class MalformedHttpLog(logging.Filter):
    """On aiohttp's server logger: a request refused for the client's fault (4xx) is one warning
    line without traceback, within a budget; server errors are left as they are."""

    def __init__(self, budget: LogBudget | None = None) -> None:
        super().__init__()
        self.budget = budget or LogBudget()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError) or not 400 <= (exc.code or 400) < 500:
            return True
        allowed, left_out = self.budget.spend()
        if left_out:
            logging.getLogger("liaison.web").warning("%d more malformed HTTP requests refused in the last minute "
                                                     "(not logged one by one)", left_out)
        peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        text = str(exc.message or "").strip()
        reason = text.splitlines()[0][:200] if text else type(exc).__name__
        record.msg, record.args = "refused a malformed HTTP request from %s with %d: %s", (peer, exc.code or 400, reason)
        record.exc_info, record.exc_text, record.levelno, record.levelname = None, None, logging.WARNING, "WARNING"
        return allowed


_MALFORMED_HTTP_LOG = MalformedHttpLog()


async def _ping(request: web.Request) -> str | None:
    app = request.app[APP_KEY]
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(loop.run_in_executor(request.app[PING_POOL_KEY], app.db.ping), PING_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        return f"the database did not answer within {PING_TIMEOUT_SECONDS:.0f}s"


async def healthz(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    db_error = await _ping(request)
    worker = app.worker
    if worker is None:
        worker_state: dict[str, Any] = {"state": "not in this process"}
    else:
        worker_state = {
            "state": "running",
            "processed": worker.processed,
            "failed": worker.failed,
            "last_batch_seconds_ago": None if worker.last_batch_at is None else round(time.time() - worker.last_batch_at, 1),
        }
        if app.scheduler is not None:
            worker_state["scheduler"] = getattr(app.scheduler, "state_name", "running")
    body = {
        "status": "ok" if db_error is None else "degraded",
        "database": {"dialect": app.db.dialect, "ok": db_error is None, **({"error": db_error} if db_error else {})},
        "worker": worker_state,
        "platforms": sorted(app.adapters),
    }
    for name, adapter in sorted(app.adapters.items()):
        health = getattr(adapter, "health", None)
        if health is not None:
            body[name] = health()
    return web.json_response(body, status=200 if db_error is None else 503)


def build_web_app(app: Any) -> web.Application:
    logging.getLogger("aiohttp.server").addFilter(_MALFORMED_HTTP_LOG)  # once: the same filter object
    web_app = web.Application(client_max_size=1024 * 1024)
    web_app[APP_KEY] = app
    web_app[PING_POOL_KEY] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="healthz")

    async def close_pool(web_app: web.Application) -> None:
        web_app[PING_POOL_KEY].shutdown(wait=False)

    web_app.on_cleanup.append(close_pool)
    web_app.router.add_get("/healthz", healthz)
    pages.add_routes(web_app, app)  # GET /privacy and /terms
    for adapter in app.adapters.values():
        adapter.add_routes(web_app)
    # Skills serve pages through services named "web:<skill>": a function adding their routes.
    for name in app.services.names("web:"):
        app.services.get(name)(web_app)
    return web_app
