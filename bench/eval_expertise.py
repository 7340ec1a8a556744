"""Answerer prediction on real Slack exports: import each export into a fresh database, ask each
later question as its asker, and score the rank of the first person who really answered it.

Prints MRR@10, Hit@1 and Hit@5 for Liaison and, computed in the same run on the same data, for
the two reference rankings the data's README describes: "most replies in others' threads" and
BM25 over each person's replies plus the questions they replied to.

    .venv/bin/python bench/eval_expertise.py [DATA_DIR] [--set expertise.KEY=VALUE ...] [--only NAME]
        [--reuse DIR] [--ranks]

DATA_DIR defaults to ../shared/data/slack-exports beside the checkout. Each export NAME is a
folder with NAME.questions.jsonl beside it. Nothing here knows any channel or person.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.bootstrap import bootstrap  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.ports import FixedClock  # noqa: E402
from bot.slack_export import SlackExport, import_export, read_export  # noqa: E402

_TOKEN = re.compile(r"[a-z0-9][a-z0-9_\-.>]*[a-z0-9]|[a-z]")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def metrics(ranks: list[int | None]) -> dict[str, float]:
    n = max(len(ranks), 1)
    return {
        "MRR@10": sum(1.0 / r for r in ranks if r is not None and r <= 10) / n,
        "Hit@1": sum(1 for r in ranks if r is not None and r <= 1) / n,
        "Hit@5": sum(1 for r in ranks if r is not None and r <= 5) / n,
    }


def first_rank(ranking: list[str], truth: set[str]) -> int | None:
    for i, u in enumerate(ranking[:10], 1):
        if u in truth:
            return i
    return None


class References:
    """The two reference rankings, from the export alone."""

    def __init__(self, export: SlackExport) -> None:
        roots = {(m.channel_id, m.ts): m for m in export.messages if m.thread_ts is None}
        self.replies: Counter[str] = Counter()
        docs: dict[str, list[str]] = defaultdict(list)
        for m in export.messages:
            if m.thread_ts is None:
                continue
            root = roots.get((m.channel_id, m.thread_ts))
            author = m.parent_user_id or (root.user_id if root else None)
            if author is None or author == m.user_id:
                continue
            self.replies[m.user_id] += 1
            docs[m.user_id].extend(tokens(m.text))
            if root is not None:
                docs[m.user_id].extend(tokens(root.text))
        self.tf = {u: Counter(d) for u, d in docs.items()}
        self.len = {u: len(d) for u, d in docs.items()}
        self.avg = sum(self.len.values()) / max(len(self.len), 1)
        df: Counter[str] = Counter()
        for c in self.tf.values():
            df.update(c.keys())
        n = len(self.tf)
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    def by_replies(self, asker: str) -> list[str]:
        return [u for u, _ in sorted(self.replies.items(), key=lambda kv: (-kv[1], kv[0])) if u != asker]

    def bm25(self, text: str, asker: str, k1: float = 1.2, b: float = 0.75) -> list[str]:
        q = set(tokens(text))
        scores = {}
        for u, tf in self.tf.items():
            if u == asker:
                continue
            s = 0.0
            for t in q:
                f = tf.get(t)
                if f:
                    s += self.idf[t] * f * (k1 + 1) / (f + k1 * (1 - b + b * self.len[u] / self.avg))
            scores[u] = s
        return [u for u, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]


def parse_overrides(items: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = defaultdict(dict)
    for item in items:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        out[section][name] = json.loads(value)
    return dict(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data" / "slack-exports"))
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=JSON", help="override a setting")
    parser.add_argument("--only", help="run only this export")
    parser.add_argument("--ranks", action="store_true", help="also print, per export, the rank of the first true "
                        "answerer for each question ('-': not in the top 10), to see where the score is lost")
    parser.add_argument("--reuse", metavar="DIR", help="keep each imported database in DIR and reuse it next time "
                        "(for tuning settings that apply at question time)")
    args = parser.parse_args()
    data = Path(args.data)
    exports = sorted(p for p in data.iterdir() if p.is_dir() and (data / f"{p.name}.questions.jsonl").exists())
    if args.only:
        exports = [p for p in exports if p.name == args.only]
    if not exports:
        print(f"no export with questions in {data}", file=sys.stderr)
        return 1
    overrides = parse_overrides(args.set)
    all_ranks: dict[str, list[int | None]] = defaultdict(list)
    started = time.perf_counter()
    for path in exports:
        export = read_export(path)
        questions = [json.loads(line) for line in (data / f"{path.name}.questions.jsonl").read_text().splitlines() if line.strip()]
        last = max(float(m.ts) for m in export.messages)
        with tempfile.TemporaryDirectory() as tmp:
            db_file = Path(args.reuse) / f"{path.name}.db" if args.reuse else Path(tmp) / "eval.db"
            reused = db_file.exists()
            settings = load_settings({"DATABASE_URL": f"sqlite:///{db_file}"}, overrides=overrides or None)
            app = bootstrap(settings, clock=FixedClock(dt.datetime.fromtimestamp(last, tz=dt.timezone.utc)), platforms=(), migrate=True)
            try:
                t0 = time.perf_counter()
                result = import_export(app, export)
                t_import = time.perf_counter() - t0
                if reused:
                    print(f"  (reused {db_file}: {result.queued} new messages)")
                refs = References(export)
                service = app.services.get("expertise")
                ranks: dict[str, list[int | None]] = defaultdict(list)
                t0 = time.perf_counter()
                with app.db.session(export.workspace.key) as s:
                    for q in questions:
                        truth = set(q["answerers"]) - {q["as"]}
                        _, experts = service.ask(s, text=q["text"], asker=q["as"], now=app.clock.now(), limit=10, details=False)
                        ranks["liaison"].append(first_rank([e.user_id for e in experts], truth))
                        ranks["replies"].append(first_rank(refs.by_replies(q["as"]), truth))
                        ranks["bm25"].append(first_rank(refs.bm25(q["text"], q["as"]), truth))
                t_ask = time.perf_counter() - t0
            finally:
                app.close()
        print(f"{path.name}: {len(questions)} questions, {result.messages} messages imported in {t_import:.1f}s, "
              f"asked in {t_ask * 1000 / max(len(questions), 1):.1f} ms/question")
        for name, r in ranks.items():
            m = metrics(r)
            print(f"  {name:8s} MRR@10 {m['MRR@10']:.3f}  Hit@1 {m['Hit@1']:.3f}  Hit@5 {m['Hit@5']:.3f}")
            if args.ranks:
                print("           ranks " + " ".join(str(x) if x is not None else "-" for x in r))
            all_ranks[name].extend(r)
    n = len(all_ranks["liaison"])
    print(f"ALL ({n} questions, {time.perf_counter() - started:.0f}s):")
    for name, r in all_ranks.items():
        m = metrics(r)
        print(f"  {name:8s} MRR@10 {m['MRR@10']:.3f}  Hit@1 {m['Hit@1']:.3f}  Hit@5 {m['Hit@5']:.3f}")
    base = metrics(all_ranks["replies"])["MRR@10"]
    print(f"  liaison / best reference MRR@10: {metrics(all_ranks['liaison'])['MRR@10'] / max(base, metrics(all_ranks['bm25'])['MRR@10'], 1e-9):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
