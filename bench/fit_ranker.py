"""Fit one workspace's who-knows ranking, as the worker does, and print how long it took, how
much memory the process needed at its peak, and the weights it learned.

    .venv/bin/python bench/fit_ranker.py DATABASE_URL WORKSPACE [--max-examples N] [--c C]

``bench/whoknows_latency.py`` runs it in a process of its own on its large index, so the peak
memory printed is the fit's (with the interpreter and the libraries it loads).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db import Database  # noqa: E402
from skills.expertise.model import FEATURES  # noqa: E402
from skills.expertise.ranker_fit import FitSettings, examples, store  # noqa: E402


def peak_rss_mb() -> float:
    """The peak resident size of this process alone. On Linux from /proc (VmHWM): the
    ``ru_maxrss`` of a process started by another one counts the parent's resident size at the
    fork, so a fit started by ``bench/whoknows_latency.py`` would report the bench's own memory
    (the generated workspace) as its own."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database")
    parser.add_argument("workspace")
    parser.add_argument("--max-examples", type=int, default=FitSettings.max_examples)
    parser.add_argument("--c", type=float, default=FitSettings.c)
    args = parser.parse_args()
    from skills.expertise.model import fit

    settings = FitSettings(max_examples=args.max_examples, c=args.c)
    db = Database(args.database)
    try:
        started = time.perf_counter()
        with db.session(args.workspace) as s:
            data = examples(s, settings)
        t_examples = time.perf_counter() - started
        model = fit(data, c=settings.c, negatives=settings.negatives)
        t_fit = time.perf_counter() - started - t_examples
        with db.session(args.workspace) as s:
            store(s, model, now=dt.datetime.now(dt.timezone.utc))
    finally:
        db.dispose()
    peak_mb = peak_rss_mb()
    rows = sum(len(xs) for xs, _ in data)
    print(f"fit: {len(data)} answered questions, {rows} candidate rows: examples in {t_examples:.1f}s, "
          f"regression in {t_fit:.1f}s, peak memory {peak_mb:.0f} MB")
    print("weights: " + ", ".join(f"{f} {w:+.2f}" for f, w in zip(FEATURES, model.weights)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
