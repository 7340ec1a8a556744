"""Running the bot: the web app, the worker (scheduler and ingestion), or both in one process."""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import signal
import socket
from typing import Any

from aiohttp import web

from bot.ingest import IngestWorker
from bot.web import build_web_app

log = logging.getLogger("liaison")


class CannotListen(Exception):
    """The web app cannot listen where it was asked to; the message says why and what to do."""


def _listen_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (f"port {port} is already in use on {host} (another Liaison, or another server); stop that process, "
                "or choose another port with --port or PORT")
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on port {port} (ports below 1024 need privileges); choose a port above 1024 with --port or PORT"
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return f"{host} is not an address of this machine; use 0.0.0.0 (every interface), 127.0.0.1 or one of its addresses"
    return f"cannot listen on {host}:{port} ({exc.strerror or exc}); check server.host and the port"


def check_can_listen(host: str, port: int) -> None:
    """Bind the address once, as the web app will, and let it go: a port in use is reported at
    once rather than after the seconds of warm-up (the web app's own start still reports it if
    another process takes the port in between)."""
    try:
        for family, kind, proto, _, address in socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                                  flags=socket.AI_PASSIVE):
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's servers do
                if family == socket.AF_INET6:
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                probe.bind(address)
    except OSError as exc:
        raise CannotListen(_listen_problem(host, port, exc)) from None


def warm_up(app: Any) -> None:
    """Load what the first event would otherwise wait for (the language pipelines and their word
    lists), then take everything allocated so far out of the garbage collector's full passes:
    those millions of long-lived objects would otherwise be scanned again and again, a pause of
    a tenth of a second in the middle of some answers."""
    if "nlp" in app.services:
        app.services.get("nlp")
    gc.collect()
    gc.freeze()


async def start_worker(app: Any, stop: asyncio.Event) -> list[asyncio.Task]:
    """Start ingestion and the scheduler (which fires every enabled skill's jobs)."""
    app.worker = IngestWorker(app)
    tasks = [asyncio.create_task(app.worker.run_forever(stop), name="ingest")]
    app.scheduler = app.services.get("scheduler")
    await app.scheduler.start()
    return tasks


async def stop_worker(app: Any, tasks: list[asyncio.Task]) -> None:
    if app.scheduler is not None:
        await app.scheduler.stop()
    for t in tasks:
        try:
            await asyncio.wait_for(t, timeout=10)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            t.cancel()


def _install_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass


async def serve(app: Any, *, host: str, port: int, with_worker: bool = True, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    _install_signals(stop)
    check_can_listen(host, port)
    warm_up(app)
    runner = web.AppRunner(build_web_app(app), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise CannotListen(_listen_problem(host, port, exc)) from None
    log.info("listening on http://%s:%d (GET /healthz)%s", host, port, "" if with_worker else "; worker not in this process")
    tasks: list[asyncio.Task] = []
    try:
        for adapter in app.adapters.values():
            await adapter.start()
        if with_worker:
            tasks = await start_worker(app, stop)
        await stop.wait()
    finally:
        log.info("stopping")
        for adapter in app.adapters.values():
            await adapter.stop()
        await stop_worker(app, tasks)
        await runner.cleanup()


async def work(app: Any, *, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    _install_signals(stop)
    warm_up(app)
    tasks = await start_worker(app, stop)
    try:
        await stop.wait()
    finally:
        await stop_worker(app, tasks)
