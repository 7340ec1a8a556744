"""The order the tests run in, so that `make test` (pytest-xdist, ``--dist worksteal``) ends soon.

Worksteal first gives each worker an equal, contiguous share of the collected tests, then lets a
worker that has run out take the tail of another's queue. A test already started cannot move, so
the slow ones (real processes, a wheel build, a browser, kill -9 and restart) go first, spread
over the shares so that no worker gets two of them while another gets none: each starts early
and never becomes the last thing the run waits for. The others keep their collected order
(module fixtures stay together). Without xdist there is one share: the slow tests first.

The CLI tests that run main() in this process stay where they are, last: main() sets up logging
for the process, and tests that read their own log lines (tests/db/test_inbox.py) must run first.

SLOW lists node id prefixes with a weight: about half their time in seconds in one run of the
whole suite (``pytest -n auto --dist worksteal --durations=40`` on a busy 2-core machine, load 3
to 9); only the order depends on it, never what a test does.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")

SLOW: dict[str, float] = {
    "tests/packaging/test_wheel.py": 44,  # builds the wheel, installs it in a fresh venv, runs it
    "tests/http/test_crash_durable.py": 37,  # 300 messages, kill -9, a second process
    "tests/http/test_serve.py::test_serve_without_worker_and_the_worker_alone": 22,  # two processes
    "tests/db/test_erasure.py::test_forget_me_during_ingestion": 20,
    "tests/http/test_fuzz_http.py": 12,  # a `liaison serve` process, then Hypothesis
    "tests/http/test_serve.py": 10,  # `liaison serve` processes
    "tests/http/test_teams_serve.py": 8,
    "tests/db/test_coffee_failover.py": 7,  # worker processes killed mid-post
    "tests/db/test_scheduler_failover.py": 5,
    "tests/db/test_expertise_fit.py": 5,
    "tests/http/test_insights_admin.py::test_the_admin_page_in_a_real_browser": 5,
    "tests/http/test_teams_fuzz.py": 4,
}


def weight(nodeid: str) -> float:
    """The listed time of a test (the longest prefix that matches), else 0."""
    best = ""
    for prefix in SLOW:
        if nodeid.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return SLOW.get(best, 0.0)


def worker_count() -> int:
    """The number of xdist workers this run has (set in each worker), 1 without xdist."""
    try:
        return max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    except ValueError:
        return 1


def share_sizes(total: int, workers: int) -> list[int]:
    """How worksteal splits ``total`` pending tests among idle workers at the start."""
    sizes, left = [], total
    for i in range(workers):
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    return sizes


def arrange(items: Sequence[T], nodeid: Callable[[T], str], workers: int) -> list[T]:
    """``items`` reordered: per share, its slow tests (slowest first), then its part of the rest."""
    slow = sorted((it for it in items if weight(nodeid(it)) > 0), key=lambda it: -weight(nodeid(it)))
    if not slow:
        return list(items)
    sizes = share_sizes(len(items), workers)
    shares: list[list[T]] = [[] for _ in sizes]
    load = [0.0] * len(sizes)
    for it in slow:  # longest first, each to the share with the least slow time so far
        candidates = [i for i in range(len(sizes)) if len(shares[i]) < sizes[i]]
        i = min(candidates, key=lambda k: load[k])
        shares[i].append(it)
        load[i] += weight(nodeid(it))
    chosen = {id(it) for it in slow}
    rest = iter([it for it in items if id(it) not in chosen])
    out: list[T] = []
    for share, size in zip(shares, sizes):
        out.extend(share)
        out.extend(next(rest) for _ in range(size - len(share)))
    return out
