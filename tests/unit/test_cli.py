"""The `liaison` command as an admin meets it: --version, teams-package, a quiet `ask`, spaCy's
start-up lines, and the console that keeps the sample company out of a real workspace's database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from bot.app.cli import main

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "eac5e5c6-ab14-4f50-80cb-49213fe51b1a"


@pytest.fixture
def workdir(tmp_path, monkeypatch):  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'chat.db'}")
    monkeypatch.delenv("LIAISON_CONFIG", raising=False)
    return tmp_path


def test_version(capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"liaison {version('liaison-bot')}"


def test_teams_package_builds_the_zip_from_the_installed_template(workdir, capsys) -> None:  # noqa: ANN001
    assert main(["teams-package", "--app-id", APP_ID, "--domain", "liaison.example.com", "--organisation", "Acme"]) == 0
    with zipfile.ZipFile(workdir / "liaison-teams.zip") as z:
        manifest = json.loads(z.read("manifest.json"))
        assert sorted(z.namelist()) == ["color.png", "manifest.json", "outline.png"]
    assert manifest["developer"]["privacyUrl"] == "https://liaison.example.com/privacy"
    assert main(["teams-package", "--app-id", "my-bot", "--domain", "liaison.example.com", "--organisation", "Acme",
                 "--out", "other.zip"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("liaison teams-package: the app id must be the GUID") and not (workdir / "other.zip").exists()


def _python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LIAISON_", "DATABASE_"))}
    return subprocess.run([sys.executable, *code.split("\0")], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**environ, "PYTHONPATH": str(ROOT), **env})


def test_ask_prints_no_warning(tmp_path: Path) -> None:
    done = _python("-m\0bot.app.cli\0ask\0who knows kafka?\0--as\0U1", tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'a.db'}")
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["liaison ask: the database holds no workspace yet; import one first "
                                        "(liaison import slack-export PATH)"]


def test_spacy_start_up_lines_are_not_printed_twice(tmp_path: Path) -> None:
    code = ("import logging, spacy\n"
            "from bot.app.cli import setup_logging\n"
            "setup_logging('INFO')\n"
            "nlp = spacy.blank('en'); nlp.add_pipe('lemmatizer', config={'mode': 'lookup'}); nlp.initialize()\n"
            "logging.getLogger('spacy').warning('a warning of spacy')\n")
    done = _python(f"-c\0{code}", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("Created vocabulary") == 0  # info lines of spaCy's own: ours say which pipeline loads
    assert done.stderr.count("a warning of spacy") == 1


def _a_real_workspace(url: str) -> None:
    from bot import people
    from bot.app.bootstrap import bootstrap
    from bot.config import load_settings
    from bot.events import Person

    app = bootstrap(load_settings({"DATABASE_URL": url}), platforms=(), migrate=True)
    try:
        with app.db.session("slack:T0REAL") as s:
            people.upsert(s, Person(id="U0ALICE", name="Alice Real"))
    finally:
        app.close()


def test_chat_keeps_the_sample_out_of_a_real_workspace_unless_told(workdir, capsys) -> None:  # noqa: ANN001
    _a_real_workspace(f"sqlite:///{workdir / 'chat.db'}")
    assert main(["chat", "--as", "Priya", "--say", "help"]) == 2
    err = capsys.readouterr().err
    assert f"the database sqlite:///{workdir / 'chat.db'} holds slack:T0REAL" in err and "--sample-into-existing" in err
    assert "Liaison →" not in capsys.readouterr().out

    assert main(["chat", "--as", "Priya", "--say", "help", "--sample-into-existing"]) == 0
    captured = capsys.readouterr()
    assert "Hi, I'm Liaison" in captured.out
    assert f"Loading the sample company Alderbrook Freight into sqlite:///{workdir / 'chat.db'}" in captured.err


def test_demo_does_not_replace_a_file_that_holds_a_real_workspace(workdir, capsys) -> None:  # noqa: ANN001
    path = workdir / "liaison.db"
    _a_real_workspace(f"sqlite:///{path}")
    before = path.read_bytes()
    assert main(["demo", "--database", str(path)]) == 2
    assert "holds slack:T0REAL" in capsys.readouterr().err
    assert path.read_bytes() == before
