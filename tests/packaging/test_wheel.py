"""Liaison as an admin installs it: an sdist and a wheel built from the checkout (the wheel from the
sdist, as `python -m build` does), the wheel installed in a fresh virtual environment, and the
commands run from an empty folder: `liaison --version`, `db upgrade`, `demo`, `serve` (GET
/healthz, /privacy), `teams-package`, `ask`.

Offline and quick: the build uses the setuptools already installed (no build isolation), and the
fresh environment gets only the wheel; the dependencies it needs come from the environment running
the tests, named in a .pth file (its site-packages is added to the path, but none of its .pth
files run, so an editable install of the checkout there stays invisible).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tarfile
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IGNORED = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache",
                                 "*.db", "*.db-*", "*.db.migrate-lock", "*.zip")
SHIPPED = ["config/default.toml", "config/example.env", "config/slack-manifest.yml", "config/teams-manifest/manifest.json",
           "config/teams-manifest/color.png", "config/teams-manifest/outline.png", "config/pages/privacy.fr.txt",
           "config/pages/terms.en.txt", "bot/sample/workspace.json", "bot/db/migrations/env.py",
           "bot/db/migrations/script.py.mako", "bot/db/migrations/versions/0001_core.py",
           "bot/locale/en/LC_MESSAGES/liaison.po", "bot/locale/fr/LC_MESSAGES/liaison.po"]

pytestmark = pytest.mark.packaging


def _run(args: list, *, cwd: Path, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _build(tmp: Path) -> tuple[Path, Path, str]:
    """(sdist, wheel, the build's output) from a copy of the checkout."""
    src, out = tmp / "src", tmp / "dist"
    shutil.copytree(ROOT, src, ignore=IGNORED)
    out.mkdir()
    backend = "import sys; from setuptools import build_meta as b; print(b.build_{}(sys.argv[1]))"
    sdist_build = _run([sys.executable, "-c", backend.format("sdist"), out], cwd=src)
    sdist = out / sdist_build.stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", filter="data")
    [unpacked] = (tmp / "unpacked").iterdir()
    wheel_build = _run([sys.executable, "-c", backend.format("wheel"), out], cwd=unpacked)
    wheel = out / wheel_build.stdout.strip().splitlines()[-1]
    return sdist, wheel, sdist_build.stderr + wheel_build.stderr


def _venv(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
    site = Path(_run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp).stdout.strip())
    shared = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "shared-dependencies.pth").write_text("\n".join(shared) + "\n", encoding="utf-8")
    # --ignore-installed: the shared site holds the checkout's editable install of the same
    # version, which pip would otherwise take as already installed (and the venv has no bot).
    _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet", "--no-deps", "--no-index",
          "--ignore-installed",
          wheel], cwd=tmp)
    return venv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, deadline: float) -> tuple[int, str]:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.status, resp.read().decode("utf-8")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _serve(liaison: Path, folder: Path, env: dict) -> tuple[dict, str, str]:
    """Start `liaison serve`, read /healthz and /privacy, stop it with SIGTERM."""
    port = _free_port()
    proc = subprocess.Popen([str(liaison), "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status, health = _get(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 120)
        assert status == 200
        privacy = _get(f"http://127.0.0.1:{port}/privacy", time.monotonic() + 10)[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        log = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, log
    return json.loads(health), privacy, log


def test_the_wheel_installs_and_runs_from_an_empty_folder(tmp_path: Path) -> None:
    sdist, wheel, build_output = _build(tmp_path)
    assert "Deprecat" not in build_output and "Warning" not in build_output, build_output
    with tarfile.open(sdist) as tar:
        in_sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    with zipfile.ZipFile(wheel) as z:
        in_wheel = set(z.namelist())
    assert set(SHIPPED) <= in_sdist, set(SHIPPED) - in_sdist
    assert set(SHIPPED) <= in_wheel, set(SHIPPED) - in_wheel
    assert not any(name.startswith("tests/") for name in in_wheel)

    venv = _venv(tmp_path, wheel)
    liaison = venv / "bin" / "liaison"
    folder = tmp_path / "empty"
    folder.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "DATABASE_URL", "PORT", "VIRTUAL_ENV") and not k.startswith(("LIAISON_", "SLACK_", "MICROSOFT_"))}
    where = _run([venv / "bin" / "python", "-c", "import bot, config; print(bot.__file__); print(config.__file__)"], cwd=folder, env=env)
    assert all(line.startswith(str(venv)) for line in where.stdout.split()), where.stdout  # the wheel, not the checkout

    assert _run([liaison, "--version"], cwd=folder, env=env).stdout.strip() == "liaison 0.1.0"
    upgraded = _run([liaison, "db", "upgrade"], cwd=folder, env=env)
    assert "sqlite:///liaison.db: migrated to the newest schema" in upgraded.stdout
    assert "Warning" not in upgraded.stderr, upgraded.stderr

    demo = _run([liaison, "demo"], cwd=folder, env=env)
    assert "Liaison demo — Alderbrook Freight" in demo.stdout and "Try it yourself" in demo.stdout
    assert "Warning" not in demo.stderr, demo.stderr

    health, privacy, log = _serve(liaison, folder, env)
    assert health["status"] == "ok" and health["database"] == {"dialect": "sqlite", "ok": True}
    assert "privacy notice" in privacy
    assert "Warning" not in log and log.count("Created vocabulary") == 0, log

    app_id = "eac5e5c6-ab14-4f50-80cb-49213fe51b1a"
    _run([liaison, "teams-package", "--app-id", app_id, "--domain", "liaison.example.com", "--organisation", "Acme"],
         cwd=folder, env=env)
    with zipfile.ZipFile(folder / "liaison-teams.zip") as z:
        assert json.loads(z.read("manifest.json"))["id"] == app_id

    asked = subprocess.run([str(liaison), "ask", "who knows kafka?", "--as", "U1"], cwd=folder, env=env, capture_output=True,
                           text=True, timeout=120)
    assert asked.returncode == 2 and asked.stderr.startswith("liaison ask: the database holds no workspace yet")
    assert "Warning" not in asked.stderr
