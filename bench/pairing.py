"""Benchmark of the random-coffee grouping (skills.coffee.pairing.make_groups).

Run from the repository root: ``python bench/pairing.py`` (needs the "bench" extra: networkx).
``--quick`` replaces the 26 simulated rounds of history by random rounds (much faster to set up).

Companies are synthetic but shaped like real ones: teams of varied sizes (many small, a few
large), each team based mostly in one of six office time zones with some remote members and a
few unknown zones, strong ties inside teams and a few weak ones across, and 26 rounds of history
produced by running the algorithm itself round after round with about 90 % of people opting in
each week. Everything is seeded: two runs print the same figures except times and memory.

Printed:
1. speed and quality of one round for 1,000 and 10,000 people, next to a random shuffle;
2. total weight against the exact maximum-weight matching (networkx, complete graph,
   maxcardinality) on samples of 300: random samples of the 1,000-person company, and
   "departments" of a few large teams, where cross-team pairs are scarce and time zones
   force trade-offs (the hard case for a heuristic).
Weights are skills.coffee.pairing_weights.pair_weight for every method, so the totals are comparable.
"""

from __future__ import annotations

import argparse
import itertools
import random
import resource
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from skills.coffee.pairing import group_sizes, make_groups  # noqa: E402
from skills.coffee.pairing_weights import Participant, participants_weight, tz_gap_hours  # noqa: E402

# (UTC offset, share of teams based there)
OFFICES = [(-8.0, 0.12), (-5.0, 0.22), (0.0, 0.18), (1.0, 0.25), (5.5, 0.13), (8.0, 0.10)]
AVOID_ROUNDS = 12
MAX_TZ_GAP = 6.0
HISTORY_ROUNDS = 26

History = dict[frozenset[str], int]
Ties = dict[frozenset[str], float]


@dataclass
class Company:
    people: list[Participant]
    ties: Ties
    history: History
    setup_seconds: float


@dataclass
class Quality:
    weight: float
    repeats: int
    cross: int
    pairs: int
    tz_violations: int

    @property
    def cross_share(self) -> float:
        return self.cross / self.pairs if self.pairs else 0.0


def make_company(
    n: int, seed: int, *, team_size: tuple[int, int] | None = None, simulate: bool = True
) -> Company:
    """n people; team sizes Pareto-distributed (2..60) or uniform in ``team_size``."""
    rng = random.Random(seed)
    offsets, shares = zip(*OFFICES)
    people: list[Participant] = []
    team_no = 0
    while len(people) < n:
        if team_size is None:
            size = min(60, max(2, int(rng.paretovariate(1.3) * 4)))
        else:
            size = rng.randint(*team_size)
        size = min(size, n - len(people))
        home = rng.choices(offsets, shares)[0]
        for _ in range(size):
            r = rng.random()
            tz = None if r < 0.03 else home if r < 0.80 else rng.choice(offsets)
            people.append(Participant(f"u{len(people):05d}", f"team{team_no}", tz))
        team_no += 1

    ties: Ties = {}
    by_team: dict[str | None, list[str]] = {}
    for p in people:
        by_team.setdefault(p.team, []).append(p.id)
    for members in by_team.values():
        # everyone works closely with up to ~8 teammates
        p_tie = min(1.0, 8 / max(1, len(members) - 1))
        for a, b in itertools.combinations(members, 2):
            if rng.random() < p_tie:
                ties[frozenset((a, b))] = rng.uniform(0.3, 1.0)
    ids = [p.id for p in people]
    for a in ids:
        for b in rng.sample(ids, 4):
            if a != b:
                ties.setdefault(frozenset((a, b)), rng.uniform(0.05, 0.6))

    t0 = time.perf_counter()
    history: History = {}
    for r in range(HISTORY_ROUNDS):
        present = [p for p in people if rng.random() < 0.9]
        if simulate:
            groups = make_groups(
                present, seed=seed * 1000 + r, history=history, tie_strength=ties,
                avoid_rounds=AVOID_ROUNDS, max_tz_gap_hours=MAX_TZ_GAP,
            ).groups
        else:
            groups = shuffle_groups(present, rng)
        history = {pair: ago + 1 for pair, ago in history.items()}
        for group in groups:
            for a, b in itertools.combinations(group, 2):
                history[frozenset((a, b))] = 1
    return Company(people, ties, history, time.perf_counter() - t0)


def shuffle_groups(people: list[Participant], rng: random.Random) -> list[tuple[str, ...]]:
    """The baseline: shuffle and cut into groups of the same sizes as make_groups."""
    ids = [p.id for p in people]
    rng.shuffle(ids)
    groups, start = [], 0
    for size in group_sizes(len(ids), 2):
        groups.append(tuple(ids[start : start + size]))
        start += size
    return groups


def quality(groups: Iterable[tuple[str, ...]], company: Company, people: list[Participant]) -> Quality:
    by_id = {p.id: p for p in people}
    q = Quality(0.0, 0, 0, 0, 0)
    for group in groups:
        for a, b in itertools.combinations(group, 2):
            pa, pb = by_id[a], by_id[b]
            q.weight += participants_weight(
                pa, pb, history=company.history, tie_strength=company.ties,
                avoid_rounds=AVOID_ROUNDS, max_tz_gap_hours=MAX_TZ_GAP,
            )
            q.pairs += 1
            ago = company.history.get(frozenset((a, b)))
            q.repeats += ago is not None and ago <= AVOID_ROUNDS
            q.cross += pa.team != pb.team
            gap = tz_gap_hours(pa.utc_offset_hours, pb.utc_offset_hours)
            q.tz_violations += gap is not None and gap > MAX_TZ_GAP
    return q


def ours(people: list[Participant], company: Company, seed: int) -> tuple[list[tuple[str, ...]], float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = make_groups(
        people, seed=seed, history=company.history, tie_strength=company.ties,
        avoid_rounds=AVOID_ROUNDS, max_tz_gap_hours=MAX_TZ_GAP,
    )
    return result.groups, time.perf_counter() - wall, time.process_time() - cpu


def exact(people: list[Participant], company: Company) -> tuple[list[tuple[str, ...]], float]:
    import networkx as nx

    graph = nx.Graph()
    for a, b in itertools.combinations(people, 2):
        graph.add_edge(a.id, b.id, weight=participants_weight(
            a, b, history=company.history, tie_strength=company.ties,
            avoid_rounds=AVOID_ROUNDS, max_tz_gap_hours=MAX_TZ_GAP,
        ))
    t0 = time.perf_counter()
    matching = nx.max_weight_matching(graph, maxcardinality=True)
    return [tuple(pair) for pair in matching], time.perf_counter() - t0


def table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = "  ".join("{:>%d}" % w for w in widths)
    print(line.format(*header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))
    print()


def speed_section(sizes: list[int], simulate: bool) -> None:
    print(f"== One round, group size 2, {HISTORY_ROUNDS} rounds of history "
          f"({'simulated with make_groups' if simulate else 'random'}), avoid {AVOID_ROUNDS}, "
          f"max tz gap {MAX_TZ_GAP:g} h ==")
    rows = []
    for n in sizes:
        company = make_company(n, seed=n, simulate=simulate)
        groups, wall, cpu = ours(company.people, company, seed=1)
        # Memory in a separate run: tracemalloc slows Python several-fold.
        tracemalloc.start()
        ours(company.people, company, seed=1)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        q = quality(groups, company, company.people)
        s = quality(shuffle_groups(company.people, random.Random(1)), company, company.people)
        rows.append([
            f"{n:,}", f"{len(company.history):,}", f"{company.setup_seconds:.1f}", f"{wall:.2f}",
            f"{cpu:.2f}", f"{peak / 2**20:.0f}", str(q.repeats), f"{q.cross_share:.1%}",
            str(q.tz_violations), f"{q.weight / q.pairs:.3f}", str(s.repeats),
            f"{s.cross_share:.1%}", str(s.tz_violations), f"{s.weight / s.pairs:.1f}",
        ])
    table(
        ["n", "history pairs", "history s", "wall s", "cpu s", "peak MiB", "repeats",
         "cross-team", "tz viol.", "weight/pair", "shuffle rep.", "shuffle cross",
         "shuffle tz", "shuffle w/pair"],
        rows,
    )
    print(f"process peak RSS (whole benchmark so far): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB\n")


def exact_section(samples: int, sample_size: int, simulate: bool) -> None:
    print(f"== Against the exact maximum-weight matching, samples of {sample_size} ==")
    rows = []
    ratios = []
    company = make_company(1000, seed=1000, simulate=simulate)
    rng = random.Random(7)
    cases: list[tuple[str, Company, list[Participant]]] = []
    for k in range(samples):
        cases.append((f"company sample {k + 1}", company, rng.sample(company.people, sample_size)))
    for k in range(samples):
        dept = make_company(sample_size, seed=50 + k, team_size=(10, 120), simulate=simulate)
        teams = len({p.team for p in dept.people})
        cases.append((f"department {k + 1} ({teams} teams)", dept, dept.people))
    for name, comp, people in cases:
        ours_groups, wall, cpu = ours(people, comp, seed=3)
        exact_groups, exact_secs = exact(people, comp)
        q, e = quality(ours_groups, comp, people), quality(exact_groups, comp, people)
        s = quality(shuffle_groups(people, random.Random(3)), comp, people)
        ratios.append(q.weight / e.weight)
        rows.append([
            name, f"{q.weight:.2f}", f"{e.weight:.2f}", f"{q.weight / e.weight:.4f}",
            f"{s.weight / e.weight:.3f}", f"{q.repeats}/{e.repeats}/{s.repeats}",
            f"{q.cross_share:.0%}/{e.cross_share:.0%}/{s.cross_share:.0%}",
            f"{q.tz_violations}/{e.tz_violations}/{s.tz_violations}",
            f"{wall * 1000:.0f}/{cpu * 1000:.0f} ms", f"{exact_secs:.1f} s",
        ])
    table(
        ["sample", "ours", "exact", "ours/exact", "shuffle/exact", "repeats o/e/s",
         "cross o/e/s", "tz viol. o/e/s", "ours wall/cpu", "exact wall"],
        rows,
    )
    print(f"weight ratio ours/exact: min {min(ratios):.4f}, mean {sum(ratios) / len(ratios):.4f}"
          f" (target >= 0.97)\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000", help="company sizes to time")
    ap.add_argument("--samples", type=int, default=3, help="samples of each kind vs exact")
    ap.add_argument("--sample-size", type=int, default=300)
    ap.add_argument("--quick", action="store_true", help="random instead of simulated history")
    args = ap.parse_args()
    speed_section([int(x) for x in args.sizes.split(",")], simulate=not args.quick)
    exact_section(args.samples, args.sample_size, simulate=not args.quick)


if __name__ == "__main__":
    main()
