"""Ingestion throughput through the whole path — the durable queue, spaCy, evidence in the
database — against raw ``nlp.pipe`` on the same texts with the same pipeline, in one run; and
the worker's peak memory with both languages loaded.

The pipeline the worker runs ends with the topic component (``liaison_topics``), so raw
``nlp.pipe`` with the same pipeline includes topic extraction. The ratio is also printed against
the pipeline without that component (tokenizer and lemmatizer only).

    .venv/bin/python bench/ingest_throughput.py [--messages 5000] [--batch-size N] [--only sqlite|postgresql] [--no-standin]

Runs on a fresh SQLite file and on a fresh PostgreSQL database (LIAISON_BENCH_POSTGRES_URL,
default postgresql://postgres@127.0.0.1:5432/test; the bench creates its own database and drops
it afterwards).

It then times the database alone storing the run's evidence rows again (an empty copy of the
table with the same indexes, the driver's bulk path, a commit per batch, no Python per row): a
lower bound of the database's share with this layout, printed beside what a ratio of 0.8 leaves
for everything but spaCy.

It also runs the whole path with a stand-in for a trained pipeline (``--no-standin``: not): the
components and network sizes that ``spacy init config`` gives for a tagger, a parser and an
entity recognizer optimised for efficiency, as spaCy's small trained pipelines are, with as many
labels as en_core_web_sm's (113), untrained weights, and the same lookup lemmas. It has a
trained small pipeline's cost per word, not its output: its tagger sets fine-grained tags only
(a trained pipeline's attribute ruler turns them into parts of speech), so the topic rules see
no parts of speech and find exactly the topics the blank pipeline finds, and the database does
the same work (the bench prints the evidence rows of each run). Trained pipelines are published
outside the Python package index, so this is how the ratio for one is measured here.

Texts: the real Slack exports beside the checkout (../shared/data/slack-exports) when present,
else the bundled sample workspace, repeated. Threads are kept, so answers are part of the work.
``--export FOLDER``: the messages of that Slack export instead (its channels, authors and
threads, in time order; bench/import_throughput.py passes the export it generated, so its
ratio compares the import with this path on the same messages); ``--path-only``: time the
whole path only (no raw ``nlp.pipe`` runs, no evidence floor; the pipelines warmed on the
first 5,000 texts only), with the CPU seconds it took (this process's and, on PostgreSQL, the
server's, which the machine's load does not change).
"""

from __future__ import annotations

import argparse
import gc
import datetime as dt
import itertools
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.app.bootstrap import bootstrap  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.db import normalise_url  # noqa: E402
from bot.events import Conversation, MessageReceived, Person, Workspace  # noqa: E402
from bot.ingest import IngestWorker  # noqa: E402
from skills.expertise.nlp import clean_markup  # noqa: E402
from bot.ports import FixedClock  # noqa: E402
from bot.app.runtime import warm_up  # noqa: E402

WS = Workspace("slack", "TBENCH")
DATA = ROOT.parent / "shared" / "data" / "slack-exports"


Row = tuple[str, str, str, "str | None", tuple[str, str]]  # user, text, ts, thread_ts, (channel id, name)
GENERAL = ("C1", "general")
WARM = 5000  # --path-only: the texts that warm the pipelines' lazy tables before the timing


def cpu_seconds(app) -> float:  # noqa: ANN001
    """CPU seconds used so far by this process and, on PostgreSQL, by the server processes serving
    its connections (read from /proc when the server runs on this machine; 0 for them
    otherwise; autovacuum and the server's background processes are left out): a measure of the
    work that the machine's load changes much less than it changes wall time."""
    total = time.process_time()
    if app.db.dialect != "postgresql":
        return total
    with app.db.engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND backend_type = 'client backend'")).scalars().all()
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def export_corpus(folder: Path) -> list[Row]:
    """Every message of a Slack export, in time order, in its own channel."""
    from adapters.slack.export import read_export

    export = read_export(folder)
    print(f"texts: {len(export.messages):,} messages of the Slack export {folder.name}")
    return [(m.user_id, m.text, m.ts, m.thread_ts, (m.channel_id, m.channel_name)) for m in export.messages]


def corpus(n: int) -> list[Row]:
    """(user, text, ts, thread_ts, channel) for n messages."""
    rows: list[tuple[str, str, str, str | None]] = []
    if DATA.is_dir():
        from adapters.slack.export import read_export

        for path in sorted(p for p in DATA.iterdir() if p.is_dir()):
            rows += [(m.user_id, m.text, m.ts, m.thread_ts) for m in read_export(path).messages]
        source = f"{len(rows):,} messages of the Slack exports in {DATA.name}"
    else:
        from adapters.console.sample import load_sample

        sample = load_sample()
        rows = [(m["user"], m["text"], m["ts"], m.get("thread_ts") if m.get("thread_ts") != m["ts"] else None) for m in sample.messages]
        source = f"{len(rows)} sample messages, repeated"
    out = []
    for i, (user, text, ts, thread) in enumerate(itertools.islice(itertools.cycle(rows), n)):
        cycle = i // len(rows)
        out.append((user, text, f"{ts}{cycle:02d}", f"{thread}{cycle:02d}" if thread else None, GENERAL))
    print(f"texts: {n:,} from {source}")
    return out


def raw_pipe(nlp, texts: list[str], *, topics: bool = True) -> float:  # noqa: ANN001
    """Seconds for raw ``nlp.pipe`` on the texts, with the same markup cleaning and language
    choice as the worker (the pipelines are already loaded); ``topics=False``: without the
    topic component. The texts go in as plain strings, so the component has no code
    identifiers to add here (the worker gives it those too)."""
    from skills.expertise.nlp import clean_markup
    from skills.expertise.topics import TOPIC_COMPONENT

    disable = [] if topics else [TOPIC_COMPONENT]
    started = time.perf_counter()
    cleaned = [clean_markup(t)[0] for t in texts]
    langs = [nlp.language(t) for t in texts]
    for lang in ("en", "fr"):
        for _ in nlp.pipeline(lang).pipe([c for c, lg in zip(cleaned, langs) if lg == lang], batch_size=256, disable=disable):
            pass
    return time.perf_counter() - started


def components(nlp, *, topics: bool = True) -> str:  # noqa: ANN001
    """The components of each language's pipeline, e.g. "en: tokenizer + lemmatizer + liaison_topics"."""
    from skills.expertise.topics import TOPIC_COMPONENT

    return ", ".join(
        f"{lang}: " + " + ".join(["tokenizer", *(n for n in nlp.pipeline(lang).pipe_names if topics or n != TOPIC_COMPONENT)])
        for lang in ("en", "fr"))


# The labels of the stand-in's output layers: as many as a trained English pipeline has.
_TAGS = ("CC CD DT EX FW IN JJ JJR JJS LS MD NN NNS NNP NNPS PDT POS PRP PRP$ RB RBR RBS RP SYM TO UH VB VBD VBG "
         "VBN VBP VBZ WDT WP WP$ WRB , . : `` '' -LRB- -RRB- HYPH NFP ADD AFX XX _SP $ #").split()
_DEPS = ("ROOT acl acomp advcl advmod agent amod appos attr aux auxpass case cc ccomp compound conj csubj csubjpass "
         "dative dep det dobj expl intj mark meta neg nmod npadvmod nsubj nsubjpass nummod oprd parataxis pcomp pobj "
         "poss preconj predet prep prt punct quantmod relcl xcomp").split()
_ENTS = ("CARDINAL DATE EVENT FAC GPE LANGUAGE LAW LOC MONEY NORP ORDINAL ORG PERCENT PERSON PRODUCT QUANTITY TIME "
         "WORK_OF_ART").split()


def standin_pipelines(folder: Path) -> dict[str, str]:
    """Build and save, per language, the stand-in for a trained small pipeline (see the module
    docstring); returns the folders to name in ``[nlp]``."""
    from spacy.cli.init_config import init_config
    from spacy.training import Example
    from spacy.util import load_model_from_config

    out = {}
    for lang in ("en", "fr"):
        config = init_config(lang=lang, pipeline=["tagger", "parser", "ner"], optimize="efficiency")
        nlp = load_model_from_config(config, auto_fill=True)
        for label in _TAGS:
            nlp.get_pipe("tagger").add_label(label)
        for label in _DEPS:
            nlp.get_pipe("parser").add_label(label)
        for label in _ENTS:
            nlp.get_pipe("ner").add_label(label)
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        example = Example.from_dict(nlp.make_doc("I like Kafka ."), {
            "tags": ["PRP", "VBP", "NNP", "."], "heads": [1, 1, 1, 1], "deps": ["nsubj", "ROOT", "dobj", "punct"],
            "entities": ["O", "O", "U-ORG", "O"]})
        nlp.initialize(lambda: [example])
        nlp.meta["name"] = f"standin_{lang}"
        nlp.to_disk(folder / f"standin-{lang}")
        out[lang] = str(folder / f"standin-{lang}")
    return out


def whole_path(label: str, url: str, rows: list[Row], batch_size: int | None,
               pipelines: dict[str, str] | None = None, *, path_only: bool = False) -> None:
    """Queue every message through the dispatcher, then time the worker draining the queue, with
    raw ``nlp.pipe`` timed just before on the same texts and pipelines. ``pipelines``: folders
    of pipelines to use instead of the configured ones (the stand-in); ``path_only``: the whole
    path's figure alone."""
    env = {"DATABASE_URL": url}
    settings = load_settings(env, overrides={"nlp": {lang: [path] for lang, path in pipelines.items()}} if pipelines else None)
    if batch_size:
        settings = settings.with_overrides(ingest={"batch_size": batch_size})
    app = bootstrap(settings, clock=FixedClock(dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)), platforms=(), migrate=True)
    try:
        nlp = app.services.get("expertise").nlp  # both languages loaded
        warm_up(app)  # as `liaison worker` does at start (long-lived objects out of the GC's way)
        texts = [t for _, t, _, _, _ in rows]
        # Steady state, as in a running worker: everything the pipelines load or cache lazily
        # (lookup tables, word lists) is warm for every timing below.
        warm = texts if pipelines is None else texts[:500]  # the stand-in has no lazy tables to warm
        if path_only:  # the import bench warms its import the same way
            warm = texts[:WARM]
        else:
            raw_pipe(nlp, warm)
            raw_pipe(nlp, warm, topics=False)
        list(nlp.topics_many(warm))
        started = time.perf_counter()
        people = {u: Person(id=u, name=u) for u, _, _, _, _ in rows}
        channels = {c: Conversation(c[0], "channel", c[1]) for *_, c in rows}
        for user, text, ts, thread, channel in rows:
            app.dispatcher.backfill(MessageReceived(
                workspace=WS, conversation=channels[channel], sender=people[user], text=text,
                ts=ts, thread_ts=thread, event_id=f"bench:{channel[0]}:{ts}"))
        enqueue = time.perf_counter() - started
        if path_only:
            cpu = cpu_seconds(app)
            started = time.perf_counter()
            done = IngestWorker(app).drain()
            whole = time.perf_counter() - started
            cpu = cpu_seconds(app) - cpu
            print(f"{label}: queue -> spaCy -> evidence: {len(texts) / whole:,.0f} messages/s ({whole:.2f}s, {done:,} indexed); "
                  f"CPU {cpu:.1f}s: {len(texts) / cpu:,.0f} messages per CPU-second")
            return
        raw = raw_pipe(nlp, texts)
        bare = raw_pipe(nlp, texts, topics=False)
        # The NLP part of the whole path alone (topics from the docs): the rest is the queue's
        # and the database's share.
        started = time.perf_counter()
        list(nlp.topics_many(texts))
        topics = time.perf_counter() - started
        worker = IngestWorker(app)
        started = time.perf_counter()
        done = worker.drain()
        whole = time.perf_counter() - started
        n = len(texts)
        described = nlp.description if pipelines is None else (
            "a stand-in for trained small pipelines (their components and sizes, untrained weights) + lookup lemmas + topics")
        words = sum(len(d) for d in nlp.pipeline("en").tokenizer.pipe(clean_markup(t)[0] for t in texts))
        print(f"{label}: pipelines: {described}; batch {app.settings.ingest.batch_size}; "
              f"raw nlp.pipe at {words / raw:,.0f} words/s")
        print(f"{label}: raw nlp.pipe, the worker's pipeline ({components(nlp)}): "
              f"{n / raw:,.0f} messages/s ({raw:.2f}s)")
        print(f"{label}: raw nlp.pipe without the topic component ({components(nlp, topics=False)}): "
              f"{n / bare:,.0f} messages/s ({bare:.2f}s)")
        print(f"{label}: queue -> spaCy -> evidence: {n / whole:,.0f} messages/s ({whole:.2f}s, {done:,} indexed)")
        print(f"{label}: ratio whole / raw with the worker's pipeline: {raw / whole:.2f} (target >= 0.8); "
              f"whole / raw without the topic component: {bare / whole:.2f}")
        print(f"{label}: of the whole path's {whole:.2f}s, topic extraction (nlp.topics_many, outside the worker) "
              f"{topics:.2f}s, the rest {max(0.0, whole - topics):.2f}s")
        print(f"{label}: enqueueing (request path, one transaction per message): {n / enqueue:,.0f} messages/s")
        floor, evidence = evidence_floor(app, app.settings.ingest.batch_size)
        print(f"{label}: the {evidence:,} evidence rows alone, inserted again by the database's own bulk path "
              f"(no Python per row, the same indexes, a commit per batch): {floor:.2f}s; at a ratio of 0.8, "
              f"everything but spaCy must fit in {raw / 0.8 - raw:.2f}s")
    finally:
        app.close()
        # A worker process holds one app; this bench builds one per database in turn: what the
        # first froze must be collectable again, or the second run's memory would count both.
        gc.unfreeze()


def evidence_floor(app, batch_size: int) -> tuple[float, int]:  # noqa: ANN001
    """Seconds for the database alone to store the evidence rows the whole path wrote, read back
    and inserted again into an empty copy of the table with the same indexes, by the driver's
    bulk path (executemany on SQLite, COPY on PostgreSQL), committing once per batch: a lower
    bound of the database's share for this layout, whatever the Python around it."""
    engine = app.db.engine
    conn = engine.raw_connection()
    try:
        cur = conn.cursor()
        cols = "workspace, user_id, topic_key, kind, weight, at, conversation_id, ts, permalink, conversation_name"
        cur.execute(f"SELECT {cols} FROM expertise_evidence ORDER BY id")
        rows = cur.fetchall()
        per_batch = max(1, len(rows) * batch_size // max(1, _messages(cur)))
        if engine.dialect.name == "postgresql":
            cur.execute("CREATE TABLE bench_evidence_copy (LIKE expertise_evidence INCLUDING ALL)")
            conn.commit()
            started = time.perf_counter()
            for i in range(0, len(rows), per_batch):
                with cur.copy(f"COPY bench_evidence_copy ({cols}) FROM STDIN") as copy:
                    for row in rows[i : i + per_batch]:
                        copy.write_row(row)
                conn.commit()
        else:
            cur.execute("SELECT sql FROM sqlite_master WHERE tbl_name = 'expertise_evidence' AND sql IS NOT NULL")
            ddl = [sql.replace("expertise_evidence", "bench_evidence_copy").replace("uq_expertise_evidence", "uq_bench_evidence_copy")
                   .replace("ix_expertise_evidence", "ix_bench_evidence_copy") for (sql,) in cur.fetchall()]
            for sql in ddl:
                cur.execute(sql)
            conn.commit()
            insert = f"INSERT INTO bench_evidence_copy ({cols}) VALUES ({', '.join('?' * 10)})"
            started = time.perf_counter()
            for i in range(0, len(rows), per_batch):
                cur.executemany(insert, rows[i : i + per_batch])
                conn.commit()
        return time.perf_counter() - started, len(rows)
    finally:
        conn.rollback()
        conn.close()


def _messages(cur) -> int:  # noqa: ANN001
    cur.execute("SELECT count(*) FROM expertise_messages")
    return int(cur.fetchone()[0])


def run_all(rows: list[Row], args: argparse.Namespace, tmp: Path,
            pipelines: dict[str, str] | None, suffix: str) -> None:
    """The whole path on a fresh SQLite file and a fresh PostgreSQL database."""
    if args.only in (None, "sqlite"):
        whole_path(f"sqlite{suffix}", f"sqlite:///{tmp}/bench{len(suffix)}.db", rows, args.batch_size, pipelines,
                   path_only=args.path_only)
    if args.only in (None, "postgresql"):
        base = normalise_url(os.environ.get("LIAISON_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
        name = f"liaison_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            whole_path(f"postgresql{suffix}", make_url(base).set(database=name).render_as_string(hide_password=False),
                       rows, args.batch_size, pipelines, path_only=args.path_only)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, help="default: ingest.batch_size of the settings")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--standin", action=argparse.BooleanOptionalAction, default=True,
                        help="also run with a stand-in for trained small pipelines (their components and sizes, "
                        "untrained weights); default: yes")
    parser.add_argument("--export", type=Path, metavar="FOLDER", help="the messages of this Slack export (all of them)")
    parser.add_argument("--path-only", action="store_true", help="time the whole path only (no raw nlp.pipe, no floor)")
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    rows = export_corpus(args.export) if args.export else corpus(args.messages)
    with tempfile.TemporaryDirectory() as tmp:
        run_all(rows, args, Path(tmp), None, "")
        # Measured before the stand-in loads its own pipelines.
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the worker with en and fr loaded: {peak_mb:,.0f} MB")
        if args.standin:
            run_all(rows, args, Path(tmp), standin_pipelines(Path(tmp)), ", stand-in")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
