"""The layers hold: import-linter checks the contracts of pyproject.toml ([tool.importlinter]) —
the core imports no skill and no adapter, nothing imports the composition root, skills and
adapters ignore each other, skills meet only through their ``api`` modules, platforms are
independent. Each contract is also shown to fail: a copy of the code with one deliberate bad
import is linted, and the contract it breaks is reported broken.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]


def lint(where: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(where), COLUMNS="400")
    return subprocess.run([*LINT, "--no-cache"], cwd=where, env=env, capture_output=True, text=True, timeout=300)


def contract_names() -> dict[str, str]:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {c["id"]: c["name"] for c in config["contracts"]}


def verdicts(output: str) -> dict[str, str]:
    """Contract id -> "KEPT" or "BROKEN", read from lint-imports' summary."""
    flat = " ".join(output.split())
    found = {}
    for key, name in contract_names().items():
        m = re.search(re.escape(" ".join(name.split())) + r" (KEPT|BROKEN)\b", flat)
        if m:
            found[key] = m.group(1)
    return found


def test_every_contract_is_kept() -> None:
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert verdicts(done.stdout) == {k: "KEPT" for k in ("core", "root", "sides", "skills", "platforms")}, done.stdout


# (file to edit, the import added to it, the contract it breaks)
VIOLATIONS = [
    ("bot/events.py", "import skills.kudos", "core"),
    ("bot/router.py", "from adapters.slack import translate", "core"),
    ("bot/dispatch.py", "import bot.app.bootstrap", "root"),
    ("skills/help.py", "import adapters.console.chat", "sides"),
    ("skills/kudos/__init__.py", "import skills.coffee", "skills"),
    ("adapters/teams/render.py", "import adapters.slack.translate", "platforms"),
]


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the three packages and the contracts, edited one bad import at a time."""
    where = tmp_path_factory.mktemp("layers")
    for package in ("bot", "skills", "adapters"):
        shutil.copytree(ROOT / package, where / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", where / "pyproject.toml")
    return where


@pytest.mark.parametrize(("path", "line", "contract"), VIOLATIONS, ids=[v[2] + ":" + v[0] for v in VIOLATIONS])
def test_a_deliberate_bad_import_breaks_its_contract(copy: Path, path: str, line: str, contract: str) -> None:
    target = copy / path
    original = target.read_text(encoding="utf-8")
    target.write_text(original + f"\n{line}  # deliberately against the layers\n", encoding="utf-8")
    try:
        done = lint(copy)
    finally:
        target.write_text(original, encoding="utf-8")
    assert done.returncode == 1, done.stdout + done.stderr
    found = verdicts(done.stdout)
    assert len(found) == 5, done.stdout
    assert found[contract] == "BROKEN", done.stdout  # (a chain through the core may break others too)
