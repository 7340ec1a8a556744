"""Random-coffee grouping: who meets whom this round.

Given the people who opted in, the pairs that met in recent rounds and how strongly each pair
already interacts, ``make_groups`` splits everyone into small groups (pairs by default) so that
colleagues meet people they would not otherwise meet: preferably from another team, with a weak
tie, in a time zone where a shared coffee is practical, and never someone they met in the last
``avoid_rounds`` rounds unless no other grouping allows it.

This module is a pure function of its inputs and a seed: no database, no clock, no I/O, standard
library only, so the scheduler can persist and replay a round and the tests can check properties.

How it works (n people, group size s):

1. Sparse candidate graph. Everyone draws ``DRAWS_PER_CANDIDATE * CANDIDATES`` random
   colleagues (most from time zones within ``max_tz_gap_hours``, a few from anywhere), drops
   the ones met within the avoid window and keeps the ``CANDIDATES`` best by ``pair_weight``.
   That is O(n * k) edges instead of the n^2 / 2 of a complete graph, on which an exact
   maximum-weight matching would cost O(n^3).
2. Pairs. Greedy maximum-weight matching on the candidate edges (heaviest first, seeded
   tie-break); the few people whose candidates were all taken are paired among themselves.
3. Local improvement of the pairs by alternating cycles, as in Lin-Kernighan: a drops partner
   b for a candidate c, c's partner d takes a candidate e, ..., and the last one left takes
   b; up to ``CHAIN_DEPTH`` pairs rotate in one move (2 pairs = the classic 2-opt swap), with
   the usual positive-partial-gain pruning. This is what lifts the greedy matching from 93-96 % to
   over 99 % of the exact optimum on hard samples (bench/pairing.py).
4. Groups of 3 or 4 are built from the pairs: the weakest surplus pairs are split into
   singles, pairs are merged into quads greedily by the summed weight of their four cross
   pairs, and singles join the pair or quad they fit best (sizes from ``group_sizes``). Then a
   swap search: a person trades places with a member of a candidate's group whenever that
   raises the total weight, until no swap helps (or a step budget runs out).
5. Repair: anyone still in a group with a penalised pair (a recent repeat, or a time-zone gap
   above the limit) tries swaps with members of many more groups than their candidates, so
   such a pair survives only when the search finds no grouping without it.

Determinism: participants are sorted by id before anything random happens, and every random
choice comes from ``random.Random(seed)``, so the same input and seed give the same groups
whatever the input order. The output is canonical: members sorted by id within a group, groups
sorted by their first member.

Where: the participants and the weight of a pair are in ``pairing_weights.py``; the candidate
graph, the matching and the local searches (steps 1-5) in ``pairing_search.py``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Mapping, Sequence

from skills.coffee.pairing_search import (
    attach_singles,
    candidates,
    chain_improve,
    improve,
    match_pairs,
    merge_into_groups,
    repair,
)
from skills.coffee.pairing_weights import Participant, Weight, in_same_team, weight_function, tz_gap_hours

__all__ = ["PairingResult", "group_sizes", "make_groups"]


@dataclass(frozen=True, slots=True)
class PairingResult:
    """The groups of one round and how good they are.

    ``repeats`` counts pairs inside groups that met within the avoid window, ``tz_violations``
    pairs whose time-zone gap exceeds the limit; both are non-zero only when the search found no
    grouping without them. ``weight`` is the sum of ``pair_weight`` over all pairs in groups.
    """

    groups: list[tuple[str, ...]]
    repeats: int
    cross_team_pairs: int
    total_pairs: int
    tz_violations: int
    weight: float


def group_sizes(n: int, group_size: int) -> list[int]:
    """Sizes of the groups for n people, largest first.

    n // group_size groups, the remainder spread one extra person per group (at most
    group_size + 1). When the remainder exceeds the number of groups (e.g. 7 people in groups of
    4) there is one more group and sizes are as even as possible (4 + 3), so sizes stay within
    group_size - 1 .. group_size + 1. Fewer than group_size people (but at least 2) form one
    group; 0 or 1 person gives no group, since a lone person has nobody to meet.
    """
    if n < 2:
        return []
    groups, remainder = divmod(n, group_size)
    if 0 < groups and remainder <= groups:
        return [group_size + 1] * remainder + [group_size] * (groups - remainder)
    groups += 1
    base, extra = divmod(n, groups)
    return [base + 1] * extra + [base] * (groups - extra)


def make_groups(
    participants: Sequence[Participant],
    *,
    seed: int,
    group_size: int = 2,
    history: Mapping[frozenset[str], int] | None = None,
    tie_strength: Mapping[frozenset[str], float] | None = None,
    avoid_rounds: int = 12,
    max_tz_gap_hours: float | None = 6.0,
) -> PairingResult:
    """Split participants into groups of ``group_size`` (2, 3 or 4) maximising ``pair_weight``.

    ``history`` maps a pair of ids to how many rounds ago they last met (1 = last round);
    ``tie_strength`` maps a pair to how much they already interact (0..1, clamped). Pairs
    absent from either mapping never met / do not interact; pairs naming ids not among the
    participants, and history ages below 1, are ignored.
    Everyone lands in exactly one group, sized as ``group_sizes`` says; a single participant
    gets no group. Raises ValueError for duplicate ids or an unsupported group size.
    """
    if group_size not in (2, 3, 4):
        raise ValueError(f"group_size must be 2, 3 or 4, not {group_size}")
    if avoid_rounds < 0:
        raise ValueError("avoid_rounds must be >= 0")
    people = sorted(participants, key=lambda p: p.id)
    for a, b in zip(people, people[1:]):
        if a.id == b.id:
            raise ValueError(f"duplicate participant id {a.id!r}")
    n = len(people)
    sizes = group_sizes(n, group_size)
    if not sizes:
        return PairingResult([], 0, 0, 0, 0, 0.0)

    rng = random.Random(seed)
    weight = weight_function(people, history, tie_strength, avoid_rounds, max_tz_gap_hours)
    cand = candidates(people, rng, weight, history, avoid_rounds, max_tz_gap_hours)

    pairs, single = match_pairs(n, rng, weight, cand)
    pairs = chain_improve(pairs, rng, weight, cand)
    if group_size == 2:
        groups = pairs
        if single is not None:
            attach_singles(groups, [single], {2: 1}, weight, cand)
            trio = next(g for g in groups if len(g) == 3)
            groups = improve(groups, rng, weight, cand, start=list(trio))
    else:
        groups = merge_into_groups(pairs, single, sizes, weight, cand)
        groups = improve(groups, rng, weight, cand)
    groups = repair(groups, rng, weight, cand)

    return _result(people, groups, weight, history, avoid_rounds, max_tz_gap_hours)


def _result(
    people: list[Participant],
    groups: list[list[int]],
    weight: Weight,
    history: Mapping[frozenset[str], int] | None,
    avoid_rounds: int,
    max_gap: float | None,
) -> PairingResult:
    history = history or {}
    repeats = cross = total = tz_bad = 0
    total_weight = 0.0
    for members in groups:
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                a, b = people[i], people[j]
                total += 1
                total_weight += weight(i, j)
                ago = history.get(frozenset((a.id, b.id)))
                if ago is not None and 0 < ago <= avoid_rounds:
                    repeats += 1
                if in_same_team(a, b) is False:
                    cross += 1
                gap = tz_gap_hours(a.utc_offset_hours, b.utc_offset_hours)
                if max_gap is not None and gap is not None and gap > max_gap:
                    tz_bad += 1
    out = sorted(tuple(sorted(people[i].id for i in members)) for members in groups)
    return PairingResult(out, repeats, cross, total, tz_bad, total_weight)
