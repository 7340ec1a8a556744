"""`liaison serve` and `liaison worker` as a deployment runs them: real processes, a real port,
stopped by SIGTERM; and the log never shows a secret."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], tmp_path: Path, **env: str) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "LIAISON_"))}
    environ.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "PYTHONPATH": str(ROOT), **env})
    return subprocess.Popen([sys.executable, "-m", "bot.app.cli", *args], cwd=tmp_path, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _get(url: str, deadline: float) -> dict:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return json.loads(resp.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_serve_answers_healthz_and_stops_on_sigterm(tmp_path) -> None:  # noqa: ANN001
    port = _free_port()
    proc = _start(["serve", "--host", "127.0.0.1"], tmp_path, PORT=str(port))
    try:
        body = _get(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 120)
        assert body["status"] == "ok" and body["database"]["ok"] is True
        assert body["worker"]["state"] == "running"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert f"listening on http://127.0.0.1:{port}" in out and "stopping" in out
    # The pipelines are loaded at start, before the first question, and the log says which.
    assert "nlp loaded: en: blank + lookup lemmas" in out
    assert out.index("nlp loaded") < out.index("listening on")
    assert (tmp_path / "serve.db").exists()  # a fresh SQLite file is migrated by itself


def test_serve_without_worker_and_the_worker_alone(tmp_path) -> None:  # noqa: ANN001
    port = _free_port()
    web = _start(["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)], tmp_path)
    worker = _start(["worker"], tmp_path)
    try:
        body = _get(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 120)
        assert body["worker"]["state"] == "not in this process"
        time.sleep(2)
        assert worker.poll() is None  # the worker keeps running
    finally:
        for p in (web, worker):
            p.send_signal(signal.SIGTERM)
        outs = [p.communicate(timeout=60)[0] for p in (web, worker)]
    assert web.returncode == 0 and worker.returncode == 0, outs
    assert "ingestion worker started" in outs[1]
    assert outs[1].index("nlp loaded") < outs[1].index("ingestion worker started")


def test_a_postgres_database_that_is_behind_stops_the_start(tmp_path, pg_url) -> None:  # noqa: ANN001
    proc = _start(["serve", "--port", str(_free_port())], tmp_path, DATABASE_URL=pg_url)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "run `liaison db upgrade` first" in out and "postgres" in out
    upgrade = _start(["db", "upgrade"], tmp_path, DATABASE_URL=pg_url)
    out, _ = upgrade.communicate(timeout=60)
    assert upgrade.returncode == 0 and "migrated to the newest schema" in out


def test_tokens_never_reach_the_log(capsys) -> None:  # noqa: ANN001
    from bot.app.cli import setup_logging

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    setup_logging("INFO")
    try:
        logging.getLogger("liaison.test").warning("calling with xoxb-1234-5678-abcdef and Bearer eyJhbGciOi.abc.def")
        err = capsys.readouterr().err
        assert "xoxb-1234" not in err and "eyJhbGciOi" not in err and "[redacted]" in err
    finally:
        # The root logger as it was: left at INFO, later tests in this process would capture
        # lines they do not expect (tests/db/test_inbox.py counts its own).
        root.handlers[:] = handlers
        root.setLevel(level)
