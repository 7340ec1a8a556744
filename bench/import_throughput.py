"""Backfill throughput: a generated Slack export of a large company, imported end to end
(`liaison import slack-export`: read the files, queue every message, index them) on SQLite and on
PostgreSQL, printed beside the ingestion bench's queue -> evidence figure measured in the same
run (bench/ingest_throughput.py, run as a subprocess on the same machine just before).

    .venv/bin/python bench/import_throughput.py [--messages 100000] [--people 10000] [--only sqlite|postgresql]
                                                [--profile FILE] [--no-ingest-bench] [--before CHECKOUT]

The export is laid out like a standard Slack export (users.json, channels.json, one folder of
daily files per public channel; threads with thread_ts, reply_count, replies and
parent_user_id). Its texts are those of the real Slack exports beside the checkout
(../shared/data/slack-exports) when present, else the bundled sample workspace's, spread over
--people authors (a few write a lot, most a little, as in a real workspace) and a year of days.
The target: the import's messages/s at least 0.8 of the ingestion bench's.

The two figures are of the same work: the ingestion bench runs on the generated export itself
(``--export FOLDER --path-only``: the same messages, channels, authors and threads, in the same
order, into a fresh database of the same kind, with the same pipelines, warmed the same way on
the first 5,000 texts) and reports messages/s of its queue -> spaCy -> evidence path (the
worker draining what the dispatcher queued, one message at a time, before the timing). The
import is timed from reading the files to the fitted ranking. An earlier version compared with
the ingestion bench's own corpus, 5,000 messages of a few people in one channel into an empty
index: a smaller index, fewer (person, topic) rows per batch, and no ranking to fit, so that
ratio measured the size of the export as much as the import.

Each import runs in a process of its own, as the command does. Both benches also print the CPU
seconds the work took (the bench's process and, on PostgreSQL, the server's): on a shared
machine, wall time moves with the others' load from one minute to the next, CPU time much less,
so the ratio by CPU time is the steadier of the two.

``--profile FILE`` writes a cProfile of the first database's import to FILE. ``--before CHECKOUT``
also imports the same export, right after, with the code of another checkout of the project
(a copy of an earlier commit, with this bench copied into its bench/), in a subprocess.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.app.bootstrap import bootstrap  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.db import normalise_url  # noqa: E402
from adapters.slack.export import import_export, read_export  # noqa: E402
from bench.ingest_throughput import cpu_seconds  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "slack-exports"
START = dt.datetime(2025, 1, 6, 8, tzinfo=dt.timezone.utc)


def texts() -> list[str]:
    """Real message texts, mentions removed (the generated export has its own people)."""
    found: list[str] = []
    if DATA.is_dir():
        for day in sorted(DATA.glob("*/*/*.json")):
            found += [m["text"] for m in json.loads(day.read_text(encoding="utf-8")) if m.get("text") and not m.get("subtype")]
    if not found:
        sample = json.loads((ROOT / "bot" / "sample" / "workspace.json").read_text(encoding="utf-8"))
        found = [m["text"] for m in sample["messages"]]
    return [t for t in (re.sub(r"<@[A-Z0-9]+(\|[^>]*)?>", "", t).strip() for t in found) if t]


def generate(folder: Path, *, messages: int, people: int, seed: int = 7, corpus: list[str] | None = None) -> None:
    """Write an export of ``messages`` messages by ``people`` people in 24 public channels, with
    the texts of ``corpus`` (default: ``texts()``)."""
    rnd = random.Random(seed)
    corpus = corpus or texts()
    users = [{"id": f"U{i:08X}", "name": f"person{i}", "real_name": f"Person {i}", "deleted": False, "is_bot": False,
              "tz": rnd.choice(["Europe/Paris", "Europe/Zurich", "America/New_York", "Asia/Tokyo"]),
              "profile": {"real_name": f"Person {i}", "display_name": f"person{i}", "title": f"Team {i % 40}"}}
             for i in range(people)]
    users.append({"id": "USLACKBOT", "name": "slackbot", "real_name": "Slackbot", "is_bot": False, "deleted": False, "profile": {}})
    names = ["general", "random", "dev", "ops", "data", "mobile", "design", "support", "sales", "security", "infra", "qa",
             "frontend", "backend", "ml", "docs", "release", "oncall", "payments", "growth", "hr", "finance", "legal", "dev-fr"]
    channels = [{"id": f"C{i:08X}", "name": name, "created": 1500000000 + i, "is_archived": False, "is_general": i == 0,
                 "members": []} for i, name in enumerate(names)]
    weights = [1 / (rank + 1) ** 0.8 for rank in range(people)]  # a few write a lot, most a little
    authors = rnd.choices([u["id"] for u in users[:people]], weights=weights, k=messages)
    days: dict[tuple[str, str], list[dict]] = defaultdict(list)
    open_threads: dict[str, list[dict]] = defaultdict(list)
    seconds = 365 * 24 * 3600
    for i, (author, when) in enumerate(zip(authors, sorted(rnd.randrange(seconds) for _ in range(messages)))):
        ch = channels[min(int(rnd.expovariate(0.25)), len(channels) - 1)]
        at = START + dt.timedelta(seconds=when)
        msg = {"type": "message", "user": author, "text": corpus[i % len(corpus)], "ts": f"{at.timestamp():.0f}.{i:06d}"}
        threads = open_threads[ch["id"]]
        if threads and rnd.random() < 0.4:
            root = rnd.choice(threads[-20:])
            msg.update(thread_ts=root["ts"], parent_user_id=root["user"])
            root.setdefault("replies", []).append({"user": author, "ts": msg["ts"]})
            root["reply_count"] = len(root["replies"])
        elif rnd.random() < 0.3:
            msg["thread_ts"] = msg["ts"]
            threads.append(msg)
        days[(ch["name"], at.date().isoformat())].append(msg)
    for (name, day), msgs in days.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name / f"{day}.json").write_text(json.dumps(msgs), encoding="utf-8")
    (folder / "users.json").write_text(json.dumps(users), encoding="utf-8")
    (folder / "channels.json").write_text(json.dumps(channels), encoding="utf-8")


WARM = 5000  # texts that warm the pipelines' lazy tables before the timing, as in the ingestion bench


def ingest_bench_rate(label: str, folder: Path) -> tuple[float, float]:
    """Messages/s of bench/ingest_throughput.py's queue -> spaCy -> evidence on ``label``, on the
    messages of the export in ``folder``."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "ingest_throughput.py"), "--export", str(folder),
                           "--path-only", "--only", label, "--no-standin"],
                          capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    found = re.search(rf"^{label}: queue -> spaCy -> evidence: ([\d,]+) messages/s.*CPU [\d.]+s: ([\d,]+) messages per",
                      done.stdout, re.MULTILINE)
    assert found, done.stdout
    return float(found.group(1).replace(",", "")), float(found.group(2).replace(",", ""))


def import_rate(checkout: Path, label: str, folder: Path, profile: str | None = None) -> tuple[float, float]:
    """Messages/s and messages per CPU-second of the import with a checkout's code (this one, or
    ``--before``), in a process of its own: like `liaison import slack-export`, each import
    loads what it uses (scikit-learn for the fit among them)."""
    done = subprocess.run([sys.executable, str(checkout / "bench" / "import_throughput.py"), "--import-only", str(folder),
                           "--only", label, *(["--profile", profile] if profile else [])], capture_output=True, text=True,
                          check=True, env=dict(os.environ, PYTHONPATH=str(checkout)), cwd=checkout)
    print(done.stdout.strip().replace(f"{label}:", f"{label} ({'this code' if checkout == ROOT else checkout.name}):", 1))
    found = re.search(r"end to end in [\d.]+s: ([\d,]+) messages/s.*CPU [\d.]+s: ([\d,]+) messages per", done.stdout)
    assert found, done.stdout
    return float(found.group(1).replace(",", "")), float(found.group(2).replace(",", ""))


def import_once(label: str, url: str, folder: Path, profile: str | None) -> float:
    """Import the export into a fresh database, as `liaison import slack-export` does; messages/s."""
    app = bootstrap(load_settings({"DATABASE_URL": url}), platforms=(), migrate=True)
    try:
        nlp = app.services.get("expertise").nlp
        nlp.load_all()  # as the worker at start: pipelines are not the import's cost
        list(nlp.topics_many([m.text for m in read_export(folder).messages[:WARM]]))
        profiler = cProfile.Profile() if profile else None
        cpu = cpu_seconds(app)
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        export = read_export(folder)
        read = time.perf_counter() - started
        phases: dict[str, float] = {}

        def progress(name: str):  # noqa: ANN202
            phase_start = time.perf_counter()

            def show(done: int, total: int) -> None:
                phases[name] = time.perf_counter() - phase_start

            return show

        result = import_export(app, export, progress=progress)
        whole = time.perf_counter() - started
        cpu = cpu_seconds(app) - cpu
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
        n = len(export.messages)
        rest = whole - read - phases.get("messages", 0) - phases.get("indexing", 0)
        print(f"{label}: imported {n:,} messages of {len(export.people):,} people end to end in {whole:.1f}s: "
              f"{n / whole:,.0f} messages/s (reading {read:.1f}s, queueing {phases.get('messages', 0):.1f}s, "
              f"indexing {phases.get('indexing', 0):.1f}s, the rest {rest:.1f}s: the directory and fitting the "
              f"ranking; {result.indexed:,} indexed); CPU {cpu:.1f}s: {n / cpu:,.0f} messages per CPU-second")
        return n / whole
    finally:
        app.close()


def on_postgres(label: str, run) -> float:  # noqa: ANN001
    base = normalise_url(os.environ.get("LIAISON_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    name = f"liaison_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        return run(make_url(base).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the first import to FILE")
    parser.add_argument("--no-ingest-bench", action="store_true", help="import only (to profile): no ratio")
    parser.add_argument("--before", metavar="CHECKOUT", type=Path,
                        help="also import the same export with the code of another checkout (this bench copied into it)")
    parser.add_argument("--import-only", metavar="FOLDER", type=Path, help=argparse.SUPPRESS)  # what --before runs
    args = parser.parse_args()
    if args.import_only:
        with tempfile.TemporaryDirectory() as tmp:
            if args.only == "sqlite":
                import_once("sqlite", f"sqlite:///{tmp}/import.db", args.import_only, args.profile)
            else:
                on_postgres("postgresql", lambda url: import_once("postgresql", url, args.import_only, args.profile))
        return 0
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "export"
        started = time.perf_counter()
        generate(folder, messages=args.messages, people=args.people)
        print(f"generated an export of {args.messages:,} messages by {args.people:,} people in "
              f"{time.perf_counter() - started:.1f}s")
        profile = args.profile
        for label in ("sqlite", "postgresql"):
            if args.only not in (None, label):
                continue
            bench = None if args.no_ingest_bench else ingest_bench_rate(label, folder)
            rate = import_rate(ROOT, label, folder, profile)
            profile = None
            if bench is None:
                continue
            old = import_rate(args.before, label, folder) if args.before else None
            for name, (wall, cpu) in (("this code", rate), *(((args.before.name, old),) if old else ())):
                print(f"{label}: import ({name}) {wall:,.0f} messages/s, {cpu:,.0f} per CPU-second; ingestion bench "
                      f"(queue -> spaCy -> evidence, the same {args.messages:,} messages, same run) {bench[0]:,.0f} "
                      f"messages/s, {bench[1]:,.0f} per CPU-second; ratio {wall / bench[0]:.2f} by wall time, "
                      f"{cpu / bench[1]:.2f} by CPU time (target >= 0.8)")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
