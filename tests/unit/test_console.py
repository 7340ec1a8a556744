"""The console: `liaison chat` and `liaison demo` round trips, through the real CLI entry point."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.app.cli import main


@pytest.fixture
def workdir(tmp_path, monkeypatch):  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'chat.db'}")
    monkeypatch.delenv("LIAISON_CONFIG", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> Path:  # noqa: ANN001
    """A database that `liaison chat`'s first run filled with the sample company, once per module:
    the tests about what is said afterwards start from a copy (loading takes seconds; the loading
    itself is what test_the_sample_is_loaded_once and the tests on a new database check)."""
    home = tmp_path_factory.mktemp("sample")
    mp = pytest.MonkeyPatch()
    mp.chdir(home)
    mp.setenv("DATABASE_URL", f"sqlite:///{home / 'chat.db'}")
    mp.delenv("LIAISON_CONFIG", raising=False)
    try:
        assert main(["chat", "--as", "Priya", "--say", "help"]) == 0
    finally:
        mp.undo()
    assert not (home / "chat.db-wal").exists() or (home / "chat.db-wal").stat().st_size == 0
    return home / "chat.db"


@pytest.fixture
def loaded(workdir, sample_db):  # noqa: ANN001, ANN201
    """``workdir`` whose database already holds the sample company."""
    shutil.copyfile(sample_db, workdir / "chat.db")
    return workdir


def test_chat_say_answers_once_in_the_speakers_language(workdir, capsys) -> None:  # noqa: ANN001
    assert main(["chat", "--as", "Claire", "--say", "aide"]) == 0
    out = capsys.readouterr().out
    assert "Liaison → you (DM): Bonjour, je suis Liaison" in out
    assert main(["chat", "--as", "Priya", "--say", "help"]) == 0
    out = capsys.readouterr().out
    assert "Hi, I'm Liaison" in out and "help" in out


def test_chat_in_a_channel_addresses_the_bot_only_when_mentioned(loaded, capsys) -> None:  # noqa: ANN001
    assert main(["chat", "--as", "Priya", "--in", "general", "--say", "@Liaison help"]) == 0
    assert "#general (in thread)" in capsys.readouterr().out
    assert main(["chat", "--as", "Priya", "--in", "general", "--say", "lunch anyone?"]) == 0
    assert "Liaison →" not in capsys.readouterr().out


def test_chat_with_an_unknown_person_says_who_exists(workdir, capsys) -> None:  # noqa: ANN001
    assert main(["chat", "--as", "Nobody", "--say", "help"]) == 2
    err = capsys.readouterr().err
    assert "nobody called 'Nobody'" in err and "Priya" in err


def test_accents_are_optional_in_names(loaded, capsys) -> None:  # noqa: ANN001
    assert main(["chat", "--as", "Elodie", "--say", "aide"]) == 0
    assert "Bonjour" in capsys.readouterr().out


def test_the_sample_is_loaded_once(workdir, capsys) -> None:  # noqa: ANN001
    from sqlalchemy import create_engine, text

    main(["chat", "--as", "Priya", "--say", "help"])
    main(["chat", "--as", "Priya", "--say", "help"])
    engine = create_engine(f"sqlite:///{workdir / 'chat.db'}")
    with engine.connect() as conn:
        people = conn.execute(text("SELECT count(*) FROM people")).scalar()
        queued = conn.execute(text("SELECT count(*) FROM ingest_queue")).scalar()
        seen = conn.execute(text("SELECT count(*) FROM events_seen WHERE key LIKE 'msg:%'")).scalar()
    engine.dispose()
    assert people == 41 and queued == 0
    assert seen > 400  # every sample message went through the dispatcher once, not twice


# A demo step as printed: "Priya Raman (Data Platform, DM to Liaison): who knows Terraform?"
DEMO_STEP = re.compile(r"^[^\s—].* \([^()]+, (?:DM to Liaison|#[\w-]+)\): \S.*$")


def test_demo_walks_through_every_skill(workdir, capsys) -> None:  # noqa: ANN001
    assert main(["demo", "--database", str(workdir / "demo.db")]) == 0
    out = capsys.readouterr().out
    assert "Liaison demo — Alderbrook Freight" in out
    exchanges: list[list[str]] = []  # each step's line, then the lines printed until the next one
    for line in out.splitlines():
        if DEMO_STEP.match(line):
            exchanges.append([line])
        elif exchanges:
            exchanges[-1].append(line)
    (said,) = re.findall(r"That was (\d+) exchanges\. Try it yourself: liaison chat --as \w+", out)
    assert len(exchanges) == int(said) >= 5
    # Every step gets an answer from the bot, before the next step is said.
    unanswered = [lines[0] for lines in exchanges if not any(line.startswith("  Liaison → ") for line in lines[1:])]
    assert unanswered == []
    # And every skill has its turn: help, who knows, thanks, coffee, the network report.
    replies = "\n".join(line for lines in exchanges for line in lines[1:])
    for skill, answer in {"help": "Bonjour, je suis Liaison", "expertise": "People who know about *Terraform*",
                          "kudos": "thanked you for: _the Kafka consumer lag fix_", "coffee": "Coffee in #coffee is set",
                          "insights": "*Network report*"}.items():
        assert answer in replies, skill
    # One routed question, from the offer to the thanks.
    assert "[ Ask them for me ]" in out and "[ I can help ]  [ Not me ]  [ Not now ]" in out
    assert "Liaison → group chat with Priya Raman, Élodie Gagnon: 🤝" in out
    assert "Liaison → Élodie Gagnon (DM): 🙏 @Priya Raman" in out


def test_two_messages_in_the_same_second_are_both_answered(loaded, capsys) -> None:  # noqa: ANN001
    assert main(["chat", "--as", "Priya", "--in", "general", "--say", "@Liaison help"]) == 0
    assert main(["chat", "--as", "Priya", "--in", "general", "--say", "@Liaison help"]) == 0
    assert capsys.readouterr().out.count("Hi, I'm Liaison") == 2


def test_who_knows_in_the_console_links_every_helper_to_their_help(loaded, capsys) -> None:  # noqa: ANN001
    assert main(["chat", "--as", "Claire", "--say", "who knows Terraform?"]) == 0
    out = capsys.readouterr().out
    people = [line for line in out.splitlines() if line.strip()[:2] in {f"{n}." for n in range(1, 6)}]
    assert len(people) >= 3
    # Each line of someone who helped carries at least one link to a message of the sample
    # company; merely writing about the topic is not help, and is not linked.
    helped = [line for line in people if "— wrote about" not in line]
    assert helped and all("(https://alderbrook.example/archives/" in line for line in helped), people


def test_a_slash_command_in_a_channel_is_answered_like_slack_answers_it(loaded, capsys) -> None:  # noqa: ANN001
    assert main(["chat", "--as", "Priya", "--in", "general", "--say", "/thanks @Lukas for the Kafka consumer fix"]) == 0
    out = capsys.readouterr().out
    assert "Liaison → Lukas Brunner (DM): 🙏 @Priya Raman thanked you for: _the Kafka consumer fix_ in #general" in out
    assert "Liaison → #general (only Priya Raman sees this): Thanks sent to @Lukas Brunner" in out
    assert main(["chat", "--as", "Camille", "--in", "general", "--say", "/nimportequoi"]) == 0
    assert "Liaison → #general (only Camille Dubois sees this): Désolé, je n'ai pas compris." in capsys.readouterr().out
