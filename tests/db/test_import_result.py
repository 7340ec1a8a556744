"""What an import leaves in the database — the messages and evidence rows, the aggregates of the
index, the fitted ranking — is the same whatever is done to make the import faster.

A small export made by bench/import_throughput.py's generator (the bundled sample's texts, 3,000
messages by 400 people, threads, a fixed seed: enough answered questions for a learned ranking) is imported on SQLite and on PostgreSQL, and each
part is compared with a fingerprint taken of the same import by the code before the import was
made faster (the version that indexed it without freezing the garbage collector's objects and
picked each question's candidates person by person). A fingerprint is the SHA-256 of the
part's rows, sorted, with floats to 10 significant digits and times in UTC, so a change in any
row, count, sum or weight of the model shows as the part that changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from adapters.slack.export import import_export, read_export
from bench.import_throughput import generate

ROOT = Path(__file__).resolve().parents[2]

# Taken with the code before the import was made faster, on each database.
BEFORE = {
    "sqlite": {"messages": "84c57303e2efe94e", "evidence": "8bbe5c39a3c79b7b", "scores": "3242658ad1f3231e",
               "people": "b1f0fe88d9a78210", "topics": "034509b7483be2da", "counts": "59f743028da07087",
               "model": "8afdabd5af275817"},
    "postgresql": {"messages": "c54a877bc0a4cd50", "evidence": "2799c1684709c8e6", "scores": "f57374d9ab986245",
                   "people": "bbc6270b0c60b205", "topics": "034509b7483be2da", "counts": "2125da90c9fcb619",
                   "model": "8afdabd5af275817"},
}

PARTS = {
    "messages": "SELECT conversation_id, conversation_name, ts, thread_ts, parent_user_id, user_id, answer, at, "
                "permalink, question FROM expertise_messages",
    "evidence": "SELECT user_id, topic_key, kind, weight, at, conversation_id, ts, permalink, conversation_name "
                "FROM expertise_evidence",
    "scores": "SELECT user_id, topic_key, last_at, strength, wrote_n, answered_n, thanked_n, declared_n, "
              "wrote_s, answered_s, thanked_s, declared_s FROM expertise_scores",
    "people": "SELECT user_id, messages_n, answers_n, answers_s, last_at FROM expertise_people",
    "topics": "SELECT key, display, lang, people_n FROM expertise_topics",
    "counts": "SELECT people_n, last_at FROM expertise_counts",
    "model": "SELECT examples, model FROM expertise_models",
}


def _value(v: Any) -> Any:
    if isinstance(v, float):
        return float(f"{v:.10g}")
    if isinstance(v, dt.datetime):
        return (v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc).isoformat()
    if isinstance(v, str) and v.startswith("{"):
        try:
            return _value(json.loads(v))
        except ValueError:
            return v
    if isinstance(v, dict):
        return {k: _value(x) for k, x in sorted(v.items())}
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    return v


def fingerprints(app: Any) -> dict[str, str]:
    """Each part's SHA-256 (see the module's docstring)."""
    out = {}
    with app.db.engine.connect() as conn:
        for part, sql in PARTS.items():
            rows = sorted(json.dumps([_value(v) for v in row], default=str) for row in conn.execute(text(sql)))
            out[part] = hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
    return out


def small_export(folder: Path) -> Path:
    sample = json.loads((ROOT / "bot" / "sample" / "workspace.json").read_text(encoding="utf-8"))
    generate(folder, messages=3000, people=400, corpus=[m["text"] for m in sample["messages"]])
    return folder


def test_the_import_result_is_what_it_was(tmp_path: Path, make_app, database_url: str) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url)
    result = import_export(app, read_export(small_export(tmp_path / "export")))
    assert result.indexed == 3000
    with app.db.engine.connect() as conn:
        assert conn.execute(text("SELECT examples FROM expertise_models")).scalar() >= 30  # a learned ranking
    assert fingerprints(app) == BEFORE[app.db.dialect]
