"""How long the network report takes, and how much memory, for a large company: generated data
for ``--people`` people over ``--months`` months (a weekly coffee programme with most people in
it and their answers, threads in public channels, thanks), then the report's figures and its two
charts, as the monthly job and the admin page build them, on SQLite or PostgreSQL.

    python bench/insights_report.py [--people 10000] [--months 12] [--database-url URL]

Prints the rows generated, then the seconds (an untraced run) and the peak memory (Python
allocations, a second run traced) of the figures and of the charts, and the process's peak resident size. Not part of the test run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from sqlalchemy import insert

from bot.app.bootstrap import bootstrap
from bot.config import load_settings
from bot.db.coffee import CoffeeGroup, CoffeeGroupMember, CoffeeProgramme, CoffeeRound
from bot.db.expertise import ExpertiseMessage
from bot.db.kudos import KudosRow
from bot.db.models import PersonRow
from bot.ports import FixedClock
from skills.insights import charts
from skills.insights.figures import build_report

WS = "console:bench"
UTC = dt.timezone.utc


def generate(app, people: int, months: int, now: dt.datetime, rng: random.Random) -> dict[str, int]:  # noqa: ANN001
    """People in teams of 2 to 400, weekly rounds of pairs, threads and thanks over the months."""
    ids = [f"U{n:06d}" for n in range(people)]
    teams, left = [], people
    while left > 0:
        size = min(left, rng.choice((2, 3, 4, 40, 120, 250, 400)))
        teams.extend([f"Team {len(set(teams)) + 1}"] * size)
        left -= size
    team_of = dict(zip(ids, teams))
    start = now - dt.timedelta(days=31 * months)
    counts = {"people": people, "rounds": 0, "group members": 0, "messages": 0, "thanks": 0}
    with app.db.session(WS) as s:
        s.execute(insert(PersonRow), [{"workspace": WS, "user_id": u, "name": u, "team": team_of[u]} for u in ids])
        programme = CoffeeProgramme(channel_id="C0COFFEE", channel_name="coffee")
        s.add(programme)
        s.flush()
        at, seq, group_id = start, 0, 0
        while at < now:
            seq += 1
            rnd = CoffeeRound(programme_id=programme.id, period=f"w{seq}", seq=seq, scheduled_for=at, started_at=at,
                              followup_due_at=at + dt.timedelta(days=3))
            s.add(rnd)
            s.flush()
            taking_part = rng.sample(ids, int(people * 0.6) // 2 * 2)
            groups = [{"workspace": WS, "id": group_id + n + 1, "round_id": rnd.id, "number": n + 1}
                      for n in range(len(taking_part) // 2)]
            s.execute(insert(CoffeeGroup), groups)
            group_id += len(groups)
            rows = []
            for n, g in enumerate(groups):
                answer = rng.random()
                for u in taking_part[2 * n:2 * n + 2]:
                    rows.append({"workspace": WS, "group_id": g["id"], "round_id": rnd.id, "user_id": u,
                                 "team": team_of[u], "met": None if answer < 0.4 else answer > 0.55})
            s.execute(insert(CoffeeGroupMember), rows)
            counts["rounds"] += 1
            counts["group members"] += len(rows)
            at += dt.timedelta(days=7)
        messages, thanks = [], []
        span = (now - start).total_seconds()
        for n in range(people * 20 // 4):  # threads of four messages: 20 messages a person
            root = start + dt.timedelta(seconds=rng.random() * span)
            writers = rng.sample(ids, 4)
            for k, u in enumerate(writers):
                messages.append({"workspace": WS, "conversation_id": f"C{n % 300:04d}", "ts": f"{n}.{k}",
                                 "thread_ts": None if k == 0 else f"{n}.0", "parent_user_id": None if k == 0 else writers[0],
                                 "user_id": u, "answer": k > 0 and u != writers[0], "at": root + dt.timedelta(minutes=k)})
        for n in range(people * 3):
            g, r = rng.sample(ids, 2)
            thanks.append({"workspace": WS, "source_key": f"b{n}", "giver_id": g, "receiver_id": r,
                           "at": start + dt.timedelta(seconds=rng.random() * span), "topics": [], "topic_names": []})
        for chunk in range(0, len(messages), 20_000):
            s.execute(insert(ExpertiseMessage), messages[chunk:chunk + 20_000])
        s.execute(insert(KudosRow), thanks)
        counts["messages"], counts["thanks"] = len(messages), len(thanks)
    return counts


def measured(label: str, fn):  # noqa: ANN001, ANN201
    """Time one run untraced (tracing slows Python down several times), then trace the
    allocations of a second run for the peak."""
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<28} {seconds:7.2f} s   peak {peak / 2**20:7.1f} MiB (Python allocations, second run traced)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        app = bootstrap(load_settings({"DATABASE_URL": url}), clock=FixedClock(now), platforms=[], migrate=True)
        try:
            started = time.perf_counter()
            counts = generate(app, args.people, args.months, now, random.Random(args.seed))
            print(f"generated in {time.perf_counter() - started:.1f} s on {app.db.dialect}: "
                  + ", ".join(f"{v:,} {k}" for k, v in counts.items()))

            def figures():  # noqa: ANN202
                with app.db.session(WS) as s:
                    return build_report(s, now, months=args.months, min_group=5)

            report = measured(f"figures ({args.months} months)", figures)
            files = measured("charts (2 PNG)", lambda: charts.attachments(report, "en"))
            print(f"teams shown {len(report.teams)}, merged into other {report.merged_teams}; "
                  f"last month: {report.latest.participants} people, {report.latest.new_ties} new ties; "
                  f"charts {', '.join(f'{len(f.data) // 1024} KiB' for f in files)}")
            print(f"process peak resident size {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        finally:
            app.close()


if __name__ == "__main__":
    main()
