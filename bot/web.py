"""The one aiohttp web app: GET /healthz here; the platform adapters add their routes
(POST /slack/events, POST /api/messages).

/healthz pings the database on a thread of its own, with a time limit: under a flood of events
the shared worker threads are all busy with handlers, and a health check queued behind them
would report a live process as dead."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

APP_KEY = web.AppKey("liaison", object)
PING_POOL_KEY = web.AppKey("healthz_pool", ThreadPoolExecutor)
# A database that does not answer a ping within this many seconds is reported as down.
PING_TIMEOUT_SECONDS = 5.0


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
    web_app = web.Application(client_max_size=1024 * 1024)
    web_app[APP_KEY] = app
    web_app[PING_POOL_KEY] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="healthz")

    async def close_pool(web_app: web.Application) -> None:
        web_app[PING_POOL_KEY].shutdown(wait=False)

    web_app.on_cleanup.append(close_pool)
    web_app.router.add_get("/healthz", healthz)
    for adapter in app.adapters.values():
        adapter.add_routes(web_app)
    return web_app
