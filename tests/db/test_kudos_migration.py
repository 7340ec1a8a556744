"""The migration that stops keeping the text of thanks reasons erases the ones already kept,
on SQLite and PostgreSQL, and leaves the rest of each thanks as it was."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from bot.db import Database
from bot.db.migrate import alembic_config, upgrade


def test_existing_reasons_are_erased_and_the_thanks_kept(database_url) -> None:  # noqa: ANN001
    db = Database(database_url)
    try:
        command.upgrade(alembic_config(db), "0003_kudos")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO kudos (workspace, source_key, giver_id, receiver_id, reason, topics, topic_names, via, "
                "conversation_id, ts, weight, at) VALUES ('slack:T1', 'msg:C1:1.1', 'U1', 'U2', "
                "'the pulsarpayroll migration plan', '[\"pulsarpayroll\"]', '[\"pulsarpayroll\"]', 'message', 'C1', "
                "'1.1', 1.0, '2026-11-02 09:00:00+00:00')"))
        assert "reason" in {c["name"] for c in inspect(db.engine).get_columns("kudos")}

        upgrade(db)

        assert "reason" not in {c["name"] for c in inspect(db.engine).get_columns("kudos")}
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT giver_id, receiver_id, topics, source_key FROM kudos")).all()
        assert [(r[0], r[1], r[3]) for r in rows] == [("U1", "U2", "msg:C1:1.1")]
        assert "pulsarpayroll" in str(rows[0][2])
    finally:
        db.dispose()
