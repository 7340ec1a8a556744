""""Who knows" latency on an index the size of a 10,000-person company: one million messages'
worth of evidence, written directly in bulk (no NLP), on SQLite and on PostgreSQL.

    .venv/bin/python bench/whoknows_latency.py [--people 10000] [--messages 1000000] [--questions 400] [--passes 3]
                                               [--keep-sqlite FILE] [--keep-postgres NAME]

Before the questions, the workspace's ranking is fitted as the worker does
(``bench/fit_ranker.py``, in a process of its own: its time and peak memory are printed), and
the questions are ranked with it. Each question goes through the same call as the chat skill
(query analysis with the blank pipeline, ranking, reasons and links for the people shown). Prints p50/p99 per database, for
each pass over the same questions and the median of the passes.
PostgreSQL: LIAISON_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test); the
bench creates its own database and drops it afterwards.

Building the index takes minutes at full size: ``--keep-sqlite FILE`` / ``--keep-postgres NAME``
keep the loaded (and fitted) database and, when it is already there, ask the questions of it
again, migrated to the current schema first (so an index or table a migration adds is in place
as a deployed database would have it). Delete the file, or drop the database, to build it anew.
"""

from __future__ import annotations

import argparse
import datetime as dt
import dataclasses
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.db import Database, normalise_url  # noqa: E402
from bot.db.expertise import ExpertisePerson, ExpertiseScore, ExpertiseTopic  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import PersonRow  # noqa: E402
from skills.expertise.model import KINDS, ExpertiseSettings, growth  # noqa: E402
from skills.expertise.ask import ExpertiseService  # noqa: E402
from skills.expertise.nlp import Nlp  # noqa: E402

WS = "slack:TBENCH"
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)
SYLLABLES = "ka fo ri zu me lo pa ne vi to sa du ber gan tor lin mex qua".split()


def word(i: int) -> str:
    """A made-up, pronounceable topic word per index (stable, no digits, not a stop word)."""
    out = []
    i += 1
    while i:
        i, r = divmod(i, len(SYLLABLES))
        out.append(SYLLABLES[r])
    return "x" + "".join(out)


def synthesise(n_people: int, n_messages: int, n_topics: int, seed: int = 7):  # noqa: ANN201
    """People with Zipf-like interests; in time order, some messages open a thread with a
    question and about a third are help in a recent thread of someone else (credited with the
    thread's topics too, as the index does)."""
    rnd = random.Random(seed)
    settings = ExpertiseSettings()
    topic_weights = [1.0 / (r + 1) ** 1.05 for r in range(n_topics)]  # Zipf-like popularity
    people = [f"U{i:06d}" for i in range(n_people)]
    activity = [rnd.paretovariate(1.2) for _ in people]  # a few people write most messages
    total = sum(activity)
    per_person = [max(1, int(n_messages * a / total)) for a in activity]
    channels = [f"C{c:04d}" for c in range(200)]
    span = 2 * 365 * 86400
    drafts = []
    for u, count in zip(people, per_person):
        interests = rnd.choices(range(n_topics), weights=topic_weights, k=30)
        for _ in range(count):
            at = NOW - dt.timedelta(seconds=rnd.random() * span)
            drafts.append((at, u, [word(t) for t in set(rnd.choices(interests, k=3))]))
    drafts.sort(key=lambda d: d[0])
    evidence, messages, scores = [], [], {}
    answers: dict[str, list] = defaultdict(lambda: [0, 0, 0.0, None])
    roots: list[tuple[str, str, str, list[str]]] = []  # recent questions: channel, ts, asker, topics
    helped: set[tuple[str, str]] = set()
    for at, u, keys in drafts:
        ts = f"{at.timestamp():.6f}"
        root = rnd.choice(roots[-300:]) if roots and rnd.random() < 0.35 else None
        answer = root is not None and root[2] != u and (root[1], u) not in helped
        channel = root[0] if root is not None else rnd.choice(channels)
        question = root is None and rnd.random() < 0.3
        messages.append((WS, channel, f"#{channel}", ts, root[1] if root else None, root[2] if root else None, u, answer,
                         question, at))
        if question:
            roots.append((channel, ts, u, keys))
        if answer:
            helped.add((root[1], u))
            keys = list(dict.fromkeys(keys + root[3]))
        p = answers[u]
        p[0] += 1
        if answer:
            p[1] += 1
            p[2] += growth(at, settings.half_life_days)
        p[3] = max(p[3], at) if p[3] else at
        kind = "answered" if answer else "wrote"
        for key in keys:
            evidence.append((WS, u, key, kind, 1.0, at, channel, ts, None, f"#{channel}"))
            row = scores.setdefault((u, key), {f"{k}_n": 0 for k in KINDS} | {f"{k}_s": 0.0 for k in KINDS} | {"last_at": at})
            row[f"{kind}_n"] += 1
            row[f"{kind}_s"] += growth(at, settings.half_life_days)
            row["last_at"] = max(row["last_at"], at)
            row["strength"] = sum(row[f"{k}_s"] * settings.weight(k) for k in KINDS)
    return people, messages, evidence, scores, answers, n_topics


def load(db: Database, data) -> dict[str, int]:  # noqa: ANN001
    people, messages, evidence, scores, answers, n_topics = data
    people_n: dict[str, int] = defaultdict(int)
    for (_, key) in scores:
        people_n[key] += 1
    with db.session(None) as s:
        s.execute(insert(PersonRow), [dict(workspace=WS, user_id=u, name=f"Person {u}", team=f"Team {i % 60}") for i, u in enumerate(people)])
        s.execute(insert(ExpertiseTopic), [dict(workspace=WS, key=k, display=k, lang="en", people_n=n) for k, n in people_n.items()])
        s.execute(insert(ExpertisePerson), [dict(workspace=WS, user_id=u, messages_n=p[0], answers_n=p[1], answers_s=p[2], last_at=p[3]) for u, p in answers.items()])
        rows = [dict(workspace=WS, user_id=u, topic_key=k, **v) for (u, k), v in scores.items()]
        for i in range(0, len(rows), 50_000):
            s.execute(insert(ExpertiseScore), rows[i : i + 50_000])
    try:  # (here, and tolerated: this file is run against older code too, to compare answers)
        from skills.expertise.writer import count_again
    except ImportError:  # code from before expertise_counts
        count_again = None
    if count_again is not None:
        with db.session(WS) as s:
            count_again(s)  # what the index's writer keeps as it adds people
    cols = ("workspace", "conversation_id", "conversation_name", "ts", "thread_ts", "parent_user_id", "user_id", "answer",
            "question", "at")
    bulk(db, "expertise_messages", cols, messages)
    cols = ("workspace", "user_id", "topic_key", "kind", "weight", "at", "conversation_id", "ts", "permalink", "conversation_name")
    bulk(db, "expertise_evidence", cols, evidence)
    # What autovacuum does to a live database after a bulk load (statistics; on PostgreSQL also
    # the visibility map and hint bits, without which the first reads of each page write it).
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if db.dialect == "postgresql" else "ANALYZE"))
    return {"people": len(people), "messages": len(messages), "evidence rows": len(evidence), "score rows": len(scores), "topics": len(people_n)}


def bulk(db: Database, table: str, cols: tuple[str, ...], rows: list[tuple]) -> None:
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        if db.dialect == "postgresql":
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        else:
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            for i in range(0, len(rows), 100_000):
                cur.executemany(sql, [tuple(v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v for v in r) for r in rows[i : i + 100_000]])
        raw.commit()
    finally:
        raw.close()


def questions(people: list[str], n_topics: int, n: int) -> list[tuple[str, str]]:
    """(question, asker), the same in every run."""
    rnd = random.Random(11)
    weights = [1.0 / (r + 1) ** 1.05 for r in range(n_topics)]
    out = []
    for _ in range(n):
        topics = rnd.choices(range(n_topics), weights=weights, k=rnd.randint(1, 3))
        out.append(("who knows " + " and ".join(word(t) for t in topics) + "?", rnd.choice(people)))
    return out


def measure(db: Database, service: ExpertiseService, people: list[str], n_topics: int, n_questions: int) -> list[float]:
    times = []
    for i, (question, asker) in enumerate(questions(people, n_topics, n_questions + 20)):
        started = time.perf_counter()
        with db.session(WS) as s:
            service.ask(s, text=question, asker=asker, now=NOW, limit=20)
        if i >= 20:  # the first questions warm caches
            times.append((time.perf_counter() - started) * 1000)
    return times


def answers(db: Database, service: ExpertiseService, people: list[str], n_topics: int, n_questions: int, path: Path) -> None:
    """Write what each question shows (the first 5 people, everything about each: scores,
    reasons, counts, links) to ``path`` as JSON lines; when ``path`` is there already (written by another version
    of the code on the same index), compare instead and print how many answers differ."""
    shown = []
    for question, asker in questions(people, n_topics, n_questions):
        with db.session(WS) as s:
            _, experts = service.ask(s, text=question, asker=asker, now=NOW, limit=5)
        shown.append(json.dumps({"q": question, "asker": asker, "experts": [dataclasses.asdict(e) for e in experts]},
                                sort_keys=True, default=str))
    if not path.exists():
        path.write_text("\n".join(shown) + "\n", encoding="utf-8")
        print(f"answers to {len(shown)} questions written to {path}")
        return
    before = path.read_text(encoding="utf-8").splitlines()
    differ = [i for i, (a, b) in enumerate(zip(before, shown)) if a != b]
    print(f"answers compared with {path}: {len(shown) - len(differ)} of {len(shown)} identical"
          + (f"; first different: {before[differ[0]]} / {shown[differ[0]]}" if differ else ""))


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--topics", type=int, default=20_000)
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--passes", type=int, default=3, help="times the same questions are asked (the spread "
                        "between passes shows how steady the machine is)")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--no-fit", action="store_true", help="skip fitting the ranking before the questions")
    parser.add_argument("--answers", metavar="FILE", help="instead of timing: write the answers shown to FILE, or "
                        "compare with FILE when it exists (run once per version of the code, on a kept index)")
    parser.add_argument("--keep-sqlite", metavar="FILE", help="build the SQLite index in FILE and keep it; reuse it when there")
    parser.add_argument("--keep-postgres", metavar="NAME", help="build the PostgreSQL index in database NAME and keep it; "
                        "reuse it when there")
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    nlp = Nlp().load_all()
    service = ExpertiseService(settings=ExpertiseSettings(), nlp=nlp)
    people = [f"U{i:06d}" for i in range(args.people)]  # as synthesise names them
    data = None
    with tempfile.TemporaryDirectory() as tmp:
        targets = _targets(args, tmp)
        for label, url, pg, keep in targets:
            admin = None
            if pg is not None:
                admin = create_engine(pg[0], isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    there = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": pg[1]}).first()
                    if not there:
                        conn.execute(text(f'CREATE DATABASE "{pg[1]}"'))
            db = Database(url)
            try:
                upgrade(db)
                with db.engine.connect() as conn:
                    loaded = conn.execute(text("SELECT count(*) FROM expertise_people WHERE workspace = :ws"), {"ws": WS}).scalar()
                if loaded:
                    print(f"{label}: reusing the index kept in {pg[1] if pg else url} ({loaded:,} people)")
                else:
                    if data is None:
                        t0 = time.perf_counter()
                        data = synthesise(args.people, args.messages, args.topics)
                        print(f"synthesised in {time.perf_counter() - t0:.0f}s")
                    t0 = time.perf_counter()
                    sizes = load(db, data)
                    print(f"{label}: loaded {', '.join(f'{v:,} {k}' for k, v in sizes.items())} in {time.perf_counter() - t0:.0f}s")
                if not args.no_fit and not loaded:
                    # The worker's fit, in a process of its own (its peak memory is the fit's),
                    # while questions are not asked: they read the stored weights only.
                    t0 = time.perf_counter()
                    out = subprocess.run([sys.executable, str(ROOT / "bench" / "fit_ranker.py"), url, WS],
                                         capture_output=True, text=True, check=True).stdout
                    print(f"{label}: {out.strip()} ({time.perf_counter() - t0:.0f}s with start-up)")
                if args.answers:
                    answers(db, service, people, args.topics, args.questions, Path(f"{args.answers}.{label}"))
                    continue
                # As `liaison serve` does after start-up (bot.app.runtime.warm_up): long-lived objects
                # out of the garbage collector's full passes.
                gc.collect()
                gc.freeze()
                passes = []
                for i in range(max(1, args.passes)):
                    times = measure(db, service, people, args.topics, args.questions)
                    passes.append((pct(times, 50), pct(times, 99)))
                    print(f"{label}: who knows, pass {i + 1}, {len(times)} questions: p50 {pct(times, 50):.1f} ms, "
                          f"p99 {pct(times, 99):.1f} ms, max {max(times):.1f} ms, mean {statistics.mean(times):.1f} ms; "
                          f"load average {os.getloadavg()[0]:.2f}")
                p50s, p99s = sorted(p for p, _ in passes), sorted(p for _, p in passes)
                print(f"{label}: who knows, median of {len(passes)} passes: p50 {p50s[len(p50s) // 2]:.1f} ms, "
                      f"p99 {p99s[len(p99s) // 2]:.1f} ms (target p99 <= 50 ms)")
            finally:
                db.dispose()
                if admin is not None:
                    if not keep:
                        with admin.connect() as conn:
                            conn.execute(text(f'DROP DATABASE IF EXISTS "{pg[1]}" WITH (FORCE)'))
                    admin.dispose()
    return 0


def _targets(args: argparse.Namespace, tmp: str) -> list[tuple[str, str, tuple[str, str] | None, bool]]:
    """(label, URL, (server URL, database name) on PostgreSQL, whether to keep it) per database."""
    targets: list[tuple[str, str, tuple[str, str] | None, bool]] = []
    if args.only in (None, "sqlite"):
        path = args.keep_sqlite or f"{tmp}/bench.db"
        targets.append(("sqlite", f"sqlite:///{path}", None, bool(args.keep_sqlite)))
    if args.only in (None, "postgresql"):
        base = normalise_url(os.environ.get("LIAISON_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
        name = args.keep_postgres or f"liaison_bench_{uuid.uuid4().hex[:8]}"
        targets.append(("postgresql", make_url(base).set(database=name).render_as_string(hide_password=False), (base, name),
                        bool(args.keep_postgres)))
    return targets


if __name__ == "__main__":
    sys.exit(main())
