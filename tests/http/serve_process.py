"""`liaison serve` as a real process for the wire tests: started with the environment a
deployment gives it, talking to a fake Slack of the test's event loop, stopped by SIGTERM or
killed. The waits are asynchronous so the fake Slack keeps answering meanwhile."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.http.fake_slack import SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def signed_headers(body: str, content_type: str, *, secret: str = SIGNING_SECRET) -> dict[str, str]:
    ts = str(int(time.time()))
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class ServeProcess:
    """One `liaison serve` process; its output goes to a file so a long run never blocks on a pipe."""

    def __init__(self, workdir: Path, env: dict[str, str], args: tuple[str, ...] = ()) -> None:
        self.workdir, self.env, self.args = workdir, env, args
        self.port = int(env["PORT"])
        self.proc: subprocess.Popen | None = None
        self._log = tempfile.NamedTemporaryFile("w+", dir=workdir, prefix="serve-", suffix=".log", delete=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServeProcess":
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "LIAISON_"))}
        environ.update({"PYTHONPATH": str(ROOT), **self.env})
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.app.cli", "serve", "--host", "127.0.0.1", *self.args],
                                     cwd=self.workdir, env=environ, stdout=self._log, stderr=subprocess.STDOUT, text=True)
        return self

    def output(self) -> str:
        return Path(self._log.name).read_text(encoding="utf-8", errors="replace")

    async def wait_ready(self, session: aiohttp.ClientSession, *, marker: str, timeout: float = 180) -> None:
        """Until /healthz answers and the log shows ``marker`` (e.g. the Slack adapter connected)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None and self.proc.poll() is None, self.output()
            try:
                async with session.get(self.url + "/healthz", timeout=aiohttp.ClientTimeout(total=5)) as resp:
                    if resp.status == 200 and marker in self.output():
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"liaison serve did not get ready in {timeout:.0f}s:\n{self.output()}")
            await asyncio.sleep(0.2)

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        return self.proc.returncode


async def run_cli(args: list[str], env: dict[str, str], workdir: Path) -> tuple[int, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "LIAISON_"))}
    environ.update({"PYTHONPATH": str(ROOT), **env})
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.app.cli", *args, cwd=workdir, env=environ,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode("utf-8", "replace")
