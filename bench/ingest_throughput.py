"""Ingestion throughput through the whole path — the durable queue, spaCy, evidence in the
database — against raw ``nlp.pipe`` on the same texts with the same pipeline, in one run; and
the worker's peak memory with both languages loaded.

    .venv/bin/python bench/ingest_throughput.py [--messages 5000] [--database-url URL]

Texts: the real Slack exports beside the checkout (../shared/data/slack-exports) when present,
else the bundled sample workspace, repeated. Threads are kept, so answers are part of the work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.bootstrap import bootstrap  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.events import Conversation, MessageReceived, Person, Workspace  # noqa: E402
from bot.ingest import IngestWorker  # noqa: E402
from bot.ports import FixedClock  # noqa: E402

WS = Workspace("slack", "TBENCH")
DATA = ROOT.parent / "shared" / "data" / "slack-exports"


def corpus(n: int) -> list[tuple[str, str, str, str | None]]:
    """(user, text, ts, thread_ts) for n messages."""
    rows: list[tuple[str, str, str, str | None]] = []
    if DATA.is_dir():
        from bot.slack_export import read_export

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
        out.append((user, text, f"{ts}{cycle:02d}", f"{thread}{cycle:02d}" if thread else None))
    print(f"texts: {n:,} from {source}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    rows = corpus(args.messages)
    texts = [t for _, t, _, _ in rows]
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        settings = load_settings({"DATABASE_URL": url})
        app = bootstrap(settings, clock=FixedClock(dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)), platforms=(), migrate=True)
        try:
            service = app.services.get("expertise")
            nlp = service.nlp  # both languages loaded
            print(f"pipelines: {nlp.description}")
            # Raw nlp.pipe on the same texts, with the same pipeline and markup cleaning.
            from bot.nlp import clean_markup

            started = time.perf_counter()
            cleaned = [clean_markup(t)[0] for t in texts]
            langs = [nlp.language(t) for t in texts]
            for lang in ("en", "fr"):
                for _ in nlp.pipeline(lang).pipe([c for c, lg in zip(cleaned, langs) if lg == lang], batch_size=256):
                    pass
            raw = time.perf_counter() - started

            # The whole path: the dispatcher queues each message, then the worker drains the queue.
            started = time.perf_counter()
            people = {u: Person(id=u, name=u) for u, _, _, _ in rows}
            for user, text, ts, thread in rows:
                app.dispatcher.backfill(MessageReceived(
                    workspace=WS, conversation=Conversation("C1", "channel", "general"), sender=people[user], text=text,
                    ts=ts, thread_ts=thread, event_id=f"bench:{ts}"))
            enqueue = time.perf_counter() - started
            worker = IngestWorker(app)
            started = time.perf_counter()
            done = worker.drain()
            whole = time.perf_counter() - started
        finally:
            app.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = len(texts)
    print(f"raw nlp.pipe:            {n / raw:8,.0f} messages/s ({raw:.1f}s)")
    print(f"queue -> spaCy -> evidence: {n / whole:8,.0f} messages/s ({whole:.1f}s, {done:,} indexed)")
    print(f"ratio whole / raw:       {raw / whole:.2f} (target >= 0.8)")
    print(f"enqueueing (request path, one transaction per message): {n / enqueue:,.0f} messages/s")
    print(f"peak RSS of the worker with en and fr loaded: {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
