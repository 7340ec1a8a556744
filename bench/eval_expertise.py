"""Answerer prediction on real Slack exports: import each export into a fresh database, ask each
later question as its asker, and score the rank of the first person who really answered it.

Scores the list a person sees (5 people: MRR@5, Hit@1, Hit@5) and, asking for 10, MRR@10, per
export and in total, for Liaison and, in the same run on the same questions, for three
reference rankings: "most messages written", "most replies in others' threads", and BM25 over
each person's replies plus the questions they replied to; with a paired bootstrap 95 % interval
of Liaison minus each reference (MRR@5).

Each export's ranking is learned from its own history at import (the worker's fit). With
--loo, the fit's constant (the regularisation, ``expertise.fit_c``) is chosen leave-one-export-
out: for each export, from the MRR@5 of each value on the other exports (the most regularised
value within one standard error of the best there, ``choose``), then evaluated on it; the
figures printed are those held-out ones (and, for comparison, the total with the best value on
the others).

    .venv/bin/python bench/eval_expertise.py [DATA_DIR] [--set expertise.KEY=VALUE ...] [--only NAME]
        [--reuse DIR] [--ranks] [--loo]

DATA_DIR defaults to ../shared/data/slack-exports beside the checkout. Each export NAME is a
folder with NAME.questions.jsonl beside it. Nothing here knows any channel or person.
"""

from __future__ import annotations

import argparse
import dataclasses
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

from bot.app.bootstrap import bootstrap  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.ports import FixedClock  # noqa: E402
from adapters.slack.export import SlackExport, import_export, read_export  # noqa: E402

_TOKEN = re.compile(r"[a-z0-9][a-z0-9_\-.>]*[a-z0-9]|[a-z]")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def metrics(ranks: list[int | None], ranks10: list[int | None] | None = None) -> dict[str, float]:
    """MRR@5, Hit@1, Hit@5 of the list of 5; MRR@10 of the list of 10 (``ranks10``)."""
    n = max(len(ranks), 1)
    r10 = ranks if ranks10 is None else ranks10
    return {
        "MRR@5": sum(1.0 / r for r in ranks if r is not None and r <= 5) / n,
        "Hit@1": sum(1 for r in ranks if r is not None and r <= 1) / n,
        "Hit@5": sum(1 for r in ranks if r is not None and r <= 5) / n,
        "MRR@10": sum(1.0 / r for r in r10 if r is not None and r <= 10) / n,
    }


def rr5(r: int | None) -> float:
    return 1.0 / r if r is not None and r <= 5 else 0.0


def paired_bootstrap(a: list[int | None], b: list[int | None], *, rounds: int = 10000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of MRR@5(a) − MRR@5(b) over the same questions, and its paired bootstrap 95 % interval
    (questions resampled with replacement)."""
    import random

    d = [rr5(x) - rr5(y) for x, y in zip(a, b)]
    rng = random.Random(seed)
    n = len(d)
    means = sorted(sum(d[rng.randrange(n)] for _ in range(n)) / n for _ in range(rounds))
    return sum(d) / n, means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]


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
        self.messages: Counter[str] = Counter(m.user_id for m in export.messages)
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

    def by_messages(self, asker: str) -> list[str]:
        return [u for u, _ in sorted(self.messages.items(), key=lambda kv: (-kv[1], kv[0])) if u != asker]

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


REFERENCES = ("messages", "replies", "bm25")
# The choices made leave-one-export-out: the fit's regularisation, and whether it may use the
# threads answered in the last week besides those of the last 30 days.
C_GRID = (0.0001, 0.001, 0.01, 0.1, 1.0)
DROPS = (("recent_week",), ())
GRID = tuple((c, drop) for drop in DROPS for c in C_GRID)


def ask_all(app, export, questions, refs, *, with_refs: bool) -> dict[str, list[int | None]]:  # noqa: ANN001
    """The rank of the first true answerer of each question: Liaison's list of 5 and of 10, and
    the references'."""
    service = app.services.get("expertise")
    ranks: dict[str, list[int | None]] = defaultdict(list)
    with app.db.session(export.workspace.key) as s:
        for q in questions:
            truth = set(q["answerers"]) - {q["as"]}
            for limit, name in ((5, "liaison"), (10, "liaison@10")):
                _, experts = service.ask(s, text=q["text"], asker=q["as"], now=app.clock.now(), limit=limit, details=False)
                ranks[name].append(first_rank([e.user_id for e in experts], truth))
            if with_refs:
                ranks["messages"].append(first_rank(refs.by_messages(q["as"]), truth))
                ranks["replies"].append(first_rank(refs.by_replies(q["as"]), truth))
                ranks["bm25"].append(first_rank(refs.bm25(q["text"], q["as"]), truth))
    return ranks


def refit(app, export, choice: tuple, data: list) -> None:  # noqa: ANN001
    """Store the export's ranking fitted with ``choice`` (c, features left out) on its examples
    (computed once)."""
    from skills.expertise.model import DEFAULT, fit, store

    service = app.services.get("expertise")
    c, drop = choice
    model = fit(data, c=c, drop=drop) if len(data) >= service.settings.fit_min_examples else DEFAULT
    with app.db.session(export.workspace.key) as s:
        store(s, model, now=app.clock.now())
    # Forget the kept snapshot (not just expire it): an expired one is read again in the
    # background while the kept copy answers, so the first questions would be ranked with the
    # previous choice's model.
    service._snapshots.pop(export.workspace.key, None)


def choose(by_c: dict, others: list[str]) -> tuple[tuple, tuple]:
    """The choice for an export held out, from the ``others``' questions: the most regularised
    (features left out first, then the smallest c) whose MRR@5 there is within one standard
    error of the best one's (the one-standard-error rule: on a hundred questions, differences
    smaller than that are noise, and the simpler model is the safer bet); and the best one."""
    rr = {g: [rr5(r) for o in others for r in by_c[g][o]["liaison"]] for g in GRID}
    mean = {g: sum(v) / max(len(v), 1) for g, v in rr.items()}
    best = max(GRID, key=lambda g: (mean[g], len(g[1]), -g[0]))
    v = rr[best]
    se = (sum((x - mean[best]) ** 2 for x in v) / max(len(v) - 1, 1) / max(len(v), 1)) ** 0.5
    chosen = min((g for g in GRID if mean[g] >= mean[best] - se), key=lambda g: (-len(g[1]), g[0]))
    return chosen, best


def label(choice: tuple) -> str:
    c, drop = choice
    return f"c={c}" + (" without " + ",".join(drop) if drop else " all features")


def print_rows(label: str, ranks: dict[str, list[int | None]], names: list[str]) -> None:
    print(label)
    for name in names:
        m = metrics(ranks[name], ranks.get(f"{name}@10") if name == "liaison" else None)
        print(f"  {name:8s} MRR@5 {m['MRR@5']:.3f}  Hit@1 {m['Hit@1']:.3f}  Hit@5 {m['Hit@5']:.3f}  MRR@10 {m['MRR@10']:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data" / "slack-exports"))
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=JSON", help="override a setting")
    parser.add_argument("--only", help="run only this export")
    parser.add_argument("--ranks", action="store_true", help="also print, per export, the rank of the first true "
                        "answerer for each question ('-': not in the top 10), to see where the score is lost")
    parser.add_argument("--reuse", metavar="DIR", help="keep each imported database in DIR and reuse it next time "
                        "(for tuning settings that apply at question time)")
    parser.add_argument("--loo", action="store_true", help="choose the fit's regularisation (among "
                        f"{', '.join(map(str, C_GRID))}) and whether it uses the last week's help, leave-one-export-out, "
                        "and report the held-out figures")
    args = parser.parse_args()
    data = Path(args.data)
    exports = sorted(p for p in data.iterdir() if p.is_dir() and (data / f"{p.name}.questions.jsonl").exists())
    if args.only:
        exports = [p for p in exports if p.name == args.only]
    if not exports:
        print(f"no export with questions in {data}", file=sys.stderr)
        return 1
    overrides = parse_overrides(args.set)
    per_export: dict[str, dict[str, list[int | None]]] = {}
    by_c: dict[tuple, dict[str, dict[str, list[int | None]]]] = defaultdict(dict)
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
                t0 = time.perf_counter()
                ranks = ask_all(app, export, questions, refs, with_refs=True)
                t_ask = time.perf_counter() - t0
                if args.loo:
                    from skills.expertise.ranker_fit import examples

                    fs = app.services.get("expertise").fit_settings()
                    with app.db.session(export.workspace.key) as s:
                        train = examples(s, fs)
                    for choice in GRID:
                        refit(app, export, choice, train)
                        by_c[choice][path.name] = ask_all(app, export, questions, refs, with_refs=False)
            finally:
                app.close()
        per_export[path.name] = ranks
        print(f"{path.name}: {len(questions)} questions, {result.messages} messages imported in {t_import:.1f}s, "
              f"asked (with the references' rankings) in {t_ask:.1f}s")
    argmax_ranks: list[int | None] = []
    if args.loo:
        for name in per_export:
            others = [o for o in per_export if o != name]
            chosen, best = choose(by_c, others) if others else (GRID[0], GRID[0])
            count = sum(len(per_export[o]["liaison"]) for o in others) or 1
            score = lambda g: sum(rr5(r) for o in others for r in by_c[g][o]["liaison"])  # noqa: E731
            tried = ", ".join(f"{label(g)}: {score(g) / count:.3f}" for g in GRID)
            print(f"  {name}: {label(chosen)} chosen on {', '.join(others) or 'nothing'} (the best there: {label(best)}; "
                  f"their MRR@5: {tried})")
            per_export[name]["liaison"] = by_c[chosen][name]["liaison"]
            per_export[name]["liaison@10"] = by_c[chosen][name]["liaison@10"]
            argmax_ranks += by_c[best][name]["liaison"]
    names = ["liaison", *REFERENCES]
    all_ranks: dict[str, list[int | None]] = defaultdict(list)
    for name, ranks in per_export.items():
        print_rows(f"{name} ({len(ranks['liaison'])} questions){' held out' if args.loo else ''}:", ranks, names)
        if args.ranks:
            for n in names:
                print(f"  {n:8s} ranks " + " ".join(str(x) if x is not None else "-" for x in ranks[n]))
        for n, r in ranks.items():
            all_ranks[n].extend(r)
    n = len(all_ranks["liaison"])
    print_rows(f"ALL ({n} questions, {time.perf_counter() - started:.0f}s):", all_ranks, names)
    if argmax_ranks:
        print(f"  (with the best choice of each held-out export's others instead: MRR@5 {metrics(argmax_ranks)['MRR@5']:.3f})")
    base = metrics(all_ranks["liaison"])["MRR@5"]
    for ref in REFERENCES:
        m = metrics(all_ranks[ref])["MRR@5"]
        diff, lo, hi = paired_bootstrap(all_ranks["liaison"], all_ranks[ref])
        print(f"  liaison vs {ref:8s} MRR@5 {base / max(m, 1e-9):.2f}x, difference {diff:+.3f} (95 % CI {lo:+.3f} to {hi:+.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
