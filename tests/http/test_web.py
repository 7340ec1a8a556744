"""GET /healthz on the real web app: database and worker state."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer

from bot.ingest import IngestWorker
from bot.web import build_web_app


async def test_healthz_reports_database_and_worker(make_app, database_url) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url)
    async with TestClient(TestServer(build_web_app(app))) as client:
        resp = await client.get("/healthz")
        body = await resp.json()
        assert resp.status == 200
        assert body["database"] == {"dialect": app.db.dialect, "ok": True}
        assert body["worker"]["state"] == "not in this process"
        app.worker = IngestWorker(app)
        body = await (await client.get("/healthz")).json()
        assert body["worker"]["state"] == "running" and body["worker"]["processed"] == 0


async def test_healthz_is_503_when_the_database_is_gone(make_app, pg_url) -> None:  # noqa: ANN001
    from bot.db import Database

    app = make_app(database_url=pg_url)
    app.db = Database("postgresql://postgres@127.0.0.1:1/nowhere")
    async with TestClient(TestServer(build_web_app(app))) as client:
        resp = await client.get("/healthz")
        body = await resp.json()
    assert resp.status == 503 and body["status"] == "degraded" and body["database"]["ok"] is False
    assert "error" in body["database"]
    app.db.dispose()
