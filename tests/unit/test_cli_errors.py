"""Mistakes a person can make on the command line, in the settings or in the environment: each
gets one line saying what happened and what to do, exit code 2, and no traceback. The CLI runs
as a real process, as an admin would run it, except where the mistake is in the database URL or
the settings file: those run main() in this process (what `liaison` runs, with the same exit
code and output), as each process would spend a second starting for a refusal that comes before
anything else is loaded."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app.cli import main

ROOT = Path(__file__).resolve().parents[2]


def liaison(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "LIAISON_", "DATABASE_", "PORT"))}
    environ.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", **env})
    return subprocess.run([sys.executable, "-m", "bot.app.cli", *args], cwd=tmp_path, env=environ, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def in_process(tmp_path: Path, monkeypatch, capsys):  # noqa: ANN001
    """Like ``liaison`` but through main() in this process, in the same environment."""
    for name in [k for k in os.environ if k.startswith(("SLACK_", "MICROSOFT_", "LIAISON_", "DATABASE_", "PORT"))]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)

    def run(*args: str, **env: str) -> subprocess.CompletedProcess:
        for name, value in {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", **env}.items():
            monkeypatch.setenv(name, value)
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["liaison", *args], code, out, err)

    return run


def the_one_line(done: subprocess.CompletedProcess, command: str) -> str:
    """The error line, after checking the exit code and that nothing else went wrong."""
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("liaison")]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"liaison {command}: "), lines[0]
    return lines[0]


def test_serve_on_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = liaison(tmp_path, "serve", "--host", "127.0.0.1", "--port", str(port))
    line = the_one_line(done, "serve")
    assert f"port {port} is already in use" in line and "--port" in line
    assert "nlp loaded" not in done.stderr  # refused before the seconds of loading the language pipelines


def test_chat_in_a_channel_that_does_not_exist(tmp_path: Path) -> None:
    done = liaison(tmp_path, "chat", "--as", "Priya", "--in", "nonexistent", "--say", "hello")
    line = the_one_line(done, "chat")
    assert "no channel 'nonexistent'" in line and "#general" in line
    assert "Loading the sample" not in done.stderr  # refused before loading anything


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://liaison:secret@db.internal/liaison", "names mysql, which Liaison does not run on"),
        ("postgresql+psycopg2://liaison@db.internal/liaison", "without '+psycopg2'"),
        ("db.internal:5432", "not a URL Liaison understands"),
    ],
)
def test_a_database_url_liaison_cannot_use(in_process, url: str, expected: str) -> None:  # noqa: ANN001
    line = the_one_line(in_process("db", "upgrade", DATABASE_URL=url), "db")
    assert expected in line and "sqlite:///liaison.db" in line and "secret" not in line


def test_a_database_that_does_not_answer(in_process) -> None:  # noqa: ANN001
    line = the_one_line(in_process("db", "upgrade", DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere"), "db")
    assert "cannot use the database" in line and "DATABASE_URL" in line


def test_a_settings_file_that_is_not_toml(tmp_path: Path, in_process) -> None:  # noqa: ANN001
    (tmp_path / "site.toml").write_text("[bot\nname = 'x'\n")
    line = the_one_line(in_process("db", "upgrade", LIAISON_CONFIG="site.toml"), "db")
    assert "site.toml is not valid TOML" in line and "line 1" in line and "correct that line" in line


def test_an_unknown_setting_names_the_file_that_lists_them(tmp_path: Path, in_process) -> None:  # noqa: ANN001
    (tmp_path / "site.toml").write_text("[bot]\nnmae = 'x'\n")
    line = the_one_line(in_process("db", "upgrade", LIAISON_CONFIG="site.toml"), "db")
    assert "unknown setting bot.nmae" in line
    listed = Path(re.search(r"the settings are listed in (\S+)$", line).group(1))
    assert "[bot]" in listed.read_text(encoding="utf-8")  # a file that exists where Liaison is installed


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5"}, "Slack needs SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1-2-abc"}, "Slack needs SLACK_SIGNING_SECRET"),
        ({"MICROSOFT_APP_PASSWORD": "secret"}, "Teams needs MICROSOFT_APP_ID"),
        ({"MICROSOFT_APP_ID": "eac5e5c6-ab14-4f50-80cb-49213fe51b1a"}, "MICROSOFT_APP_PASSWORD is not"),
    ],
)
def test_a_platform_with_a_missing_token(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    line = the_one_line(liaison(tmp_path, "worker", **env), "worker")
    assert expected in line and "configuration error" in line
    assert "xoxb-1-2-abc" not in line and "secret" not in line


def test_an_export_that_is_not_there(tmp_path: Path) -> None:
    line = the_one_line(liaison(tmp_path, "import", "slack-export", str(tmp_path / "nowhere.zip")), "import")
    assert "does not exist" in line and "folder or .zip" in line


def test_ask_with_a_batch_file_that_is_not_there(tmp_path: Path) -> None:
    line = the_one_line(liaison(tmp_path, "ask", "--batch", "questions.jsonl", "--json"), "ask")
    assert "cannot read questions.jsonl" in line
