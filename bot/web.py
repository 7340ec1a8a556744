"""The one aiohttp web app: GET /healthz here; the platform adapters add their routes
(POST /slack/events, POST /api/messages)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from bot import pages

APP_KEY = web.AppKey("liaison", object)


async def healthz(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    db_error = await asyncio.to_thread(app.db.ping)
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
    return web.json_response(body, status=200 if db_error is None else 503)


def build_web_app(app: Any) -> web.Application:
    web_app = web.Application(client_max_size=1024 * 1024)
    web_app[APP_KEY] = app
    web_app.router.add_get("/healthz", healthz)
    pages.add_routes(web_app, app)  # GET /privacy and /terms
    for adapter in app.adapters.values():
        adapter.add_routes(web_app)
    return web_app
