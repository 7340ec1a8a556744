"""`liaison serve` with LIAISON_TEAMS_NO_AUTH=1, as a real process: the address checked is the one
it would listen on (``--host`` first, then server.host), and the check comes before it listens."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

from tests.http.fake_connector import Activities
from tests.http.test_serve import _free_port, _get, _start

NO_AUTH = {"LIAISON_TEAMS_NO_AUTH": "1"}


def test_no_auth_serve_on_all_addresses_is_refused_before_it_listens(tmp_path: Path) -> None:
    config = tmp_path / "loopback.toml"
    config.write_text('[server]\nhost = "127.0.0.1"\n', encoding="utf-8")
    port = _free_port()
    proc = _start(["serve", "--host", "0.0.0.0", "--port", str(port)], tmp_path, LIAISON_CONFIG=str(config), **NO_AUTH)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, out
    refusals = [line for line in out.splitlines() if "LIAISON_TEAMS_NO_AUTH" in line]
    assert len(refusals) == 1 and refusals[0].startswith("liaison serve: configuration error:")
    assert "'0.0.0.0'" in refusals[0] and "--host 127.0.0.1" in refusals[0]
    assert "Traceback" not in out and "listening on" not in out


def test_no_auth_serve_on_loopback_starts_whatever_the_settings_file_says(tmp_path: Path) -> None:
    # config/default.toml says host = "0.0.0.0"; --host 127.0.0.1 is what is listened on.
    port = _free_port()
    proc = _start(["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)], tmp_path, **NO_AUTH)
    try:
        body = _get(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 120)
        activity = Activities("https://smba.trafficmanager.net/amer/").channel_message(
            ("29:1bob-Zy_bobbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "Bob Durand"), "Morning all")
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/messages", data=json.dumps(activity).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=30) as resp:
            status = resp.status
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert body["platforms"] == ["teams"] and status == 200
    assert proc.returncode == 0, out
    assert f"listening on http://127.0.0.1:{port}" in out and "NOT authenticated" in out
