"""Reading and importing a Slack export: folders and zips, public channels only, idempotent
imports, and broken exports reported clearly with nothing imported."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app.cli import main
from bot.db.expertise import ExpertiseEvidence, ExpertiseMessage, ExpertiseModel
from bot.db.models import IngestItem, PersonRow
from adapters.slack.export import ExportError, import_export, read_export

ROOT = Path(__file__).resolve().parents[2]

USERS = [
    {"id": "U1", "name": "ana", "real_name": "Ana Silva", "profile": {"real_name": "Ana Silva"}, "tz": "Europe/Lisbon"},
    {"id": "U2", "name": "ben", "profile": {"real_name": "Ben Ode"}},
    {"id": "U3", "name": "cy", "profile": {"real_name": "Cy Vo"}},
    {"id": "B1", "name": "bot", "is_bot": True, "profile": {"real_name": "Deploy Bot"}},
]
CHANNELS = [{"id": "C1", "name": "dev"}, {"id": "C2", "name": "ops"}]
DAYS = {
    "dev/2024-03-01.json": [
        {"type": "message", "user": "U1", "text": "How do I pin Kafka consumer offsets?", "ts": "1709280000.000100",
         "thread_ts": "1709280000.000100", "reply_count": 1},
        {"type": "message", "user": "U2", "text": "Kafka offsets: commit them manually after processing", "ts": "1709280100.000200",
         "thread_ts": "1709280000.000100", "parent_user_id": "U1"},
        {"type": "message", "subtype": "channel_join", "user": "U3", "text": "<@U3> has joined the channel", "ts": "1709280200.000300"},
    ],
    "dev/2024-03-02.json": [
        {"type": "message", "user": "B1", "bot_id": "BB1", "text": "Deploy finished", "ts": "1709366400.000100"},
    ],
    "ops/2024-03-02.json": [
        {"type": "message", "user": "U3", "text": "Terraform state lives in the ops bucket", "ts": "1709366500.000100"},
    ],
}
PRIVATE = {
    "groups.json": [{"id": "G1", "name": "secret-plans"}],
    "secret-plans/2024-03-01.json": [{"type": "message", "user": "U1", "text": "Zookeeper secrets", "ts": "1709280000.000900"}],
}


def write_export(root: Path, files: dict[str, object] | None = None, *, skip: tuple[str, ...] = ()) -> Path:
    content = {"users.json": USERS, "channels.json": CHANNELS, **DAYS, **PRIVATE, **(files or {})}
    for rel, data in content.items():
        if rel in skip:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return root


def test_read_a_folder_export(tmp_path: Path) -> None:
    export = read_export(write_export(tmp_path / "acme-export"))
    assert export.workspace.key == "slack:export-C1"  # no team id in the files: from the oldest channel
    assert [m.text for m in export.messages] == [
        "How do I pin Kafka consumer offsets?",
        "Kafka offsets: commit them manually after processing",
        "Terraform state lives in the ops bucket",
    ]
    reply = export.messages[1]
    assert (reply.thread_ts, reply.parent_user_id) == ("1709280000.000100", "U1")
    assert export.messages[0].thread_ts is None  # a thread's root is not a reply
    assert export.skipped == 2  # the join and the bot
    assert not any("Zookeeper" in m.text for m in export.messages)  # private channels are never read


def test_team_id_names_the_workspace_and_a_zip_reads_the_same(tmp_path: Path) -> None:
    users = [dict(u, team_id="T0ACME") for u in USERS]
    folder = write_export(tmp_path / "x", {"users.json": users})
    buf = tmp_path / "export.zip"
    with zipfile.ZipFile(buf, "w") as z:
        for p in folder.rglob("*.json"):
            z.write(p, f"Acme Slack export/{p.relative_to(folder)}")
    from_zip = read_export(buf)
    assert from_zip.workspace.key == "slack:T0ACME"
    assert from_zip.messages == read_export(folder).messages


def test_an_export_without_team_id_is_one_workspace_under_any_folder_name(tmp_path: Path) -> None:
    channels = [{"id": "C2", "name": "ops", "created": 1500000200}, {"id": "C1", "name": "dev", "created": 1500000100}]
    first = read_export(write_export(tmp_path / "slack-export-march", {"channels.json": channels}))
    second = read_export(write_export(tmp_path / "Acme Slack (copy)", {"channels.json": channels}))
    assert first.workspace.key == second.workspace.key == "slack:export-C1"  # the oldest channel
    general = [dict(c, is_general=c["id"] == "C2") for c in channels]
    assert read_export(write_export(tmp_path / "g", {"channels.json": general})).workspace.key == "slack:export-C2"


def test_the_team_id_can_be_given_for_an_export_that_lacks_it(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "acme")
    assert read_export(folder, workspace="T0ACME").workspace.key == "slack:T0ACME"
    with pytest.raises(ExportError, match="not a Slack team id"):
        read_export(folder, workspace="acme corp!")
    with_team = write_export(tmp_path / "t", {"users.json": [dict(u, team_id="T0ACME") for u in USERS]})
    with pytest.raises(ExportError, match="belongs to the Slack team T0ACME, not T0OTHER"):
        read_export(with_team, workspace="T0OTHER")


@pytest.mark.parametrize(
    ("files", "skip", "message"),
    [
        ({}, ("users.json",), "users.json is missing"),
        ({}, ("channels.json",), "channels.json is missing"),
        ({"dev/2024-03-01.json": '[{"user": "U1", "text": "hi", "ts": "1.0"},'}, (), "dev/2024-03-01.json is not valid JSON (line 1"),
        ({"users.json": {"not": "a list"}}, (), "users.json must be a list of users"),
        ({"ops/2024-03-02.json": [{"user": "U9", "text": "who am I", "ts": "1709366600.1"}]}, (), "1 user(s) write messages but are not in users.json: U9"),
        ({"ops/2024-03-02.json": [{"user": "U1", "text": "no ts"}]}, (), "message 1 has no ts"),
    ],
)
def test_broken_exports_are_reported_clearly(tmp_path: Path, files: dict, skip: tuple, message: str) -> None:
    with pytest.raises(ExportError) as err:
        read_export(write_export(tmp_path / "bad", files, skip=skip))
    assert message in str(err.value)


def test_not_an_export_at_all(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="does not exist"):
        read_export(tmp_path / "nowhere")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ExportError, match="neither a folder nor a valid .zip"):
        read_export(junk)


def test_unknown_users_can_be_skipped_on_request(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "e", {"ops/2024-03-02.json": [{"user": "U9", "text": "ghost", "ts": "1709366600.1"}]})
    export = read_export(folder, allow_unknown_users=True)
    assert all(m.user_id != "U9" for m in export.messages)


def test_import_twice_changes_nothing(tmp_path: Path, make_app, database_url: str) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url)
    export = read_export(write_export(tmp_path / "acme"))
    first = import_export(app, export)
    assert (first.queued, first.indexed) == (3, 3)

    def snapshot() -> tuple:
        with app.db.session(export.workspace.key) as s:
            return (
                s.scalar(select(func.count()).select_from(ExpertiseMessage)),
                sorted(s.execute(select(ExpertiseEvidence.user_id, ExpertiseEvidence.topic_key, ExpertiseEvidence.kind)).all()),
                s.scalar(select(func.count()).select_from(PersonRow)),
                s.scalar(select(func.count()).select_from(IngestItem)),
            )

    before = snapshot()
    second = import_export(app, export)
    assert (second.queued, second.indexed) == (0, 0)
    assert snapshot() == before
    assert before[0] == 3 and before[3] == 0
    assert ("U2", "kafka", "answered") in before[1]  # the reply in Ana's thread is an answer
    with app.db.session(export.workspace.key) as s:
        # The import ended with a fit of the workspace's ranking (too little history: the default).
        assert s.scalar(select(func.count()).select_from(ExpertiseModel)) == 1
    with app.db.session(export.workspace.key) as s:
        _, experts = app.services.get("expertise").ask(s, text="kafka offsets", asker="U1", now=app.clock.now())
    assert experts[0].user_id == "U2" and "U1" not in [e.user_id for e in experts]


def test_cli_import_and_ask(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    """`liaison import slack-export` then `liaison ask`, as main() runs them for the `liaison`
    command: exit codes, stdout and stderr. They run in this process (a new process would load
    spaCy's pipelines again for each command, seconds each); the one that must fail cleanly runs as
    a real process, so that its exit code and its stderr are those an admin sees. (A real process
    answering from a real database: tests/packaging/test_wheel.py runs `liaison demo`.)"""
    folder = write_export(tmp_path / "acme")
    for name in [k for k in os.environ if k.startswith(("LIAISON_", "DATABASE_", "SLACK_", "MICROSOFT_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.chdir(tmp_path)

    def liaison(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = liaison("import", "slack-export", str(folder))
    assert code == 0, err
    assert "3 new messages queued, 3 indexed" in out
    _, again, _ = liaison("import", "slack-export", str(folder))
    assert "0 new messages queued" in again and "nothing changed" in again

    code, out, err = liaison("ask", "who knows kafka?", "--as", "U1", "--json")
    assert code == 0, err
    answer = json.loads(out)
    top = answer["experts"][0]
    assert (top["user"], top["name"]) == ("U2", "Ben Ode")
    assert top["reasons"] == ["answered 1 question about Kafka in #dev, last in March 2024"]
    assert top["evidence"] == ["#dev 1709280100.000200"]
    assert set(top) >= {"user", "name", "score", "reasons", "evidence"}

    batch = '{"as": "U2", "text": "anyone familiar with terraform state?"}\nnot json\n{"as": "U3", "text": "kafka offsets"}\n'
    _, out, err = liaison("ask", "--batch", "-", "--json", stdin=batch)
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 3
    assert lines[0]["experts"][0]["user"] == "U3"
    assert lines[1]["experts"] == [] and "line 2" in err
    assert lines[2]["experts"][0]["user"] == "U2"

    broken = write_export(tmp_path / "broken", {"dev/2024-03-01.json": "{oops"})
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "PATH": "/usr/bin:/bin"}
    bad = subprocess.run([sys.executable, "-m", "bot.app.cli", "import", "slack-export", str(broken)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "is not valid JSON" in bad.stderr and "Traceback" not in bad.stderr
    # The broken export left nothing behind: only the first workspace is known.
    code, out, _ = liaison("ask", "kafka", "--as", "U1")
    assert code == 0 and "Ben Ode" in out


def test_the_import_queues_as_the_live_path_does(tmp_path: Path, make_app, database_url: str) -> None:  # noqa: ANN001
    """Nothing from someone who opted out of indexing or whom the directory knows as a bot, and
    every message marked seen, so the live bot meeting the same message later adds nothing."""
    from bot import people
    from bot.db.models import EventSeen
    from bot.events import Person

    app = make_app(database_url=database_url)
    export = read_export(write_export(tmp_path / "acme"))
    with app.db.session(export.workspace.key) as s:
        people.upsert(s, Person(id="U3", name="Cy Vo")).indexing_opt_out = True
    result = import_export(app, export)
    assert (result.queued, result.indexed) == (3, 2)
    with app.db.session(export.workspace.key) as s:
        authors = set(s.scalars(select(ExpertiseMessage.user_id)))
        seen = set(s.scalars(select(EventSeen.key)))
    assert authors == {"U1", "U2"}  # Cy's message about Terraform was not indexed
    assert {f"msg:{m.channel_id}:{m.ts}" for m in export.messages} <= seen


def test_the_import_queues_nothing_when_ingestion_is_off(tmp_path: Path, make_app) -> None:  # noqa: ANN001
    app = make_app(ingest={"enabled": False})
    result = import_export(app, read_export(write_export(tmp_path / "acme")))
    assert (result.queued, result.indexed) == (3, 0)
