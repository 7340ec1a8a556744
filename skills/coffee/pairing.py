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
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

__all__ = [
    "CANDIDATES",
    "REPEAT_PENALTY",
    "TZ_PENALTY",
    "PairingResult",
    "Participant",
    "group_sizes",
    "make_groups",
    "pair_weight",
    "participants_weight",
    "tz_gap_hours",
]

# Weight scale: the preferences (team, tie, time-zone closeness) together span about 2.25 per
# pair, so a time-zone violation outweighs any amount of preference one swap could win back,
# and a repeat outweighs even many time-zone violations: meeting the same person again is what
# participants complain about first.
REPEAT_PENALTY = 1000.0
TZ_PENALTY = 50.0
CROSS_TEAM_BONUS = 1.0
UNKNOWN_TEAM_BONUS = 0.5
WEAK_TIE_BONUS = 1.0
TZ_CLOSENESS_WEIGHT = 0.25

# Candidates kept per person in the sparse graph, and how many are drawn to choose them from.
# Measured with bench/pairing.py: 10 of 30 stays within 3 % of the exact optimum at n = 300.
CANDIDATES = 10
DRAWS_PER_CANDIDATE = 3
# Below this many participants every other person is a candidate: cheap, and exact enough
# that small teams get the best grouping the local search can find.
DENSE_BELOW = 48
# Most pairs one alternating-cycle move may rotate (3 = a 3-opt move).
CHAIN_DEPTH = 4
# People in a penalised group try swaps with members of up to this many other groups.
REPAIR_GROUPS = 400
# Local search stops after this many re-examinations per person (it normally converges long
# before); a step budget rather than a time budget keeps the result deterministic.
SEARCH_STEPS_PER_PERSON = 8

_EPS = 1e-9
# Upper bound of pair_weight: the time-zone and repeat terms are never positive.
_MAX_WEIGHT = WEAK_TIE_BONUS + max(CROSS_TEAM_BONUS, UNKNOWN_TEAM_BONUS)


@dataclass(frozen=True, slots=True)
class Participant:
    """One person in the round. Unknown team or time zone is compatible with everyone."""

    id: str
    team: str | None = None
    utc_offset_hours: float | None = None


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


def tz_gap_hours(a: float | None, b: float | None) -> float | None:
    """Difference of local clock time between two UTC offsets, in hours (0..12), or None.

    Measured around the clock: UTC+14 and UTC-10 read the same time of day, so their gap is 0.
    """
    if a is None or b is None:
        return None
    gap = abs(a - b) % 24.0
    return 24.0 - gap if gap > 12.0 else gap


def pair_weight(
    *,
    same_team: bool | None,
    tie_strength: float,
    tz_gap: float | None,
    rounds_since_met: int | None,
    avoid_rounds: int = 12,
    max_tz_gap_hours: float | None = 6.0,
) -> float:
    """How good it is for two people to meet this round; the grouping maximises the sum.

    - +1.0 when they are in different teams, +0.5 when a team is unknown, 0 for teammates;
    - +1.0 - tie_strength (0..1, missing = 0): people who rarely interact gain most;
    - -0.25 * gap / 12 for a known time-zone gap (0..12 h): a mild pull towards shared hours;
    - -TZ_PENALTY * (1 + (gap - max) / 12) when the gap exceeds ``max_tz_gap_hours`` (None
      disables the limit);
    - -REPEAT_PENALTY * (1 + (avoid_rounds - rounds_since_met) / avoid_rounds) when they met
      ``rounds_since_met`` rounds ago (1 = last round) and that is within ``avoid_rounds``;
      the most recent repeats are the worst.

    Acceptable pairs weigh between -0.25 and 2.0; penalised ones are far below zero.
    """
    return _weight(
        CROSS_TEAM_BONUS
        if same_team is False
        else UNKNOWN_TEAM_BONUS
        if same_team is None
        else 0.0,
        tie_strength,
        tz_gap,
        rounds_since_met,
        avoid_rounds,
        max_tz_gap_hours,
    )


def _weight(
    team_bonus: float,
    tie: float,
    gap: float | None,
    ago: int | None,
    avoid_rounds: int,
    max_gap: float | None,
) -> float:
    # Positional core of pair_weight, so the hot loop avoids keyword-call overhead while both
    # paths share one formula.
    w = team_bonus + WEAK_TIE_BONUS - min(max(tie, 0.0), 1.0)
    if gap is not None:
        w -= TZ_CLOSENESS_WEIGHT * gap / 12.0
        if max_gap is not None and gap > max_gap:
            w -= TZ_PENALTY * (1.0 + (gap - max_gap) / 12.0)
    if ago is not None and 0 < ago <= avoid_rounds:
        w -= REPEAT_PENALTY * (1.0 + (avoid_rounds - ago) / avoid_rounds)
    return w


def _same_team(a: Participant, b: Participant) -> bool | None:
    if a.team is None or b.team is None:
        return None
    return a.team == b.team


def participants_weight(
    a: Participant,
    b: Participant,
    *,
    history: Mapping[frozenset[str], int] | None = None,
    tie_strength: Mapping[frozenset[str], float] | None = None,
    avoid_rounds: int = 12,
    max_tz_gap_hours: float | None = 6.0,
) -> float:
    """``pair_weight`` of two participants, looking their pair up in the same mappings as
    ``make_groups`` (for benchmarks and reports)."""
    key = frozenset((a.id, b.id))
    return pair_weight(
        same_team=_same_team(a, b),
        tie_strength=(tie_strength or {}).get(key, 0.0),
        tz_gap=tz_gap_hours(a.utc_offset_hours, b.utc_offset_hours),
        rounds_since_met=(history or {}).get(key),
        avoid_rounds=avoid_rounds,
        max_tz_gap_hours=max_tz_gap_hours,
    )


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
    weight = _weight_function(people, history, tie_strength, avoid_rounds, max_tz_gap_hours)
    cand = _candidates(people, rng, weight, history, avoid_rounds, max_tz_gap_hours)

    pairs, single = _match_pairs(n, rng, weight, cand)
    pairs = _chain_improve(pairs, rng, weight, cand)
    if group_size == 2:
        groups = pairs
        if single is not None:
            _attach_singles(groups, [single], {2: 1}, weight, cand)
            trio = next(g for g in groups if len(g) == 3)
            groups = _improve(groups, rng, weight, cand, start=list(trio))
    else:
        groups = _merge_into_groups(pairs, single, sizes, weight, cand)
        groups = _improve(groups, rng, weight, cand)
    groups = _repair(groups, rng, weight, cand)

    return _result(people, groups, weight, history, avoid_rounds, max_tz_gap_hours)


# --- internals: everything below works on indexes into the id-sorted participant list ---

Weight = Callable[[int, int], float]


def _weight_function(
    people: list[Participant],
    history: Mapping[frozenset[str], int] | None,
    tie_strength: Mapping[frozenset[str], float] | None,
    avoid_rounds: int,
    max_gap: float | None,
) -> Weight:
    n = len(people)
    index = {p.id: i for i, p in enumerate(people)}

    def pair_keys(mapping: Mapping[frozenset[str], object]) -> dict[int, object]:
        # Integer keys: building a frozenset per lookup would dominate the hot loop.
        out: dict[int, object] = {}
        for pair, value in mapping.items():
            if len(pair) != 2:
                continue
            a, b = pair
            i, j = index.get(a), index.get(b)
            if i is None or j is None:
                continue
            out[i * n + j if i < j else j * n + i] = value
        return out

    recent: dict[int, int] = {
        k: int(v)  # type: ignore[call-overload]
        for k, v in pair_keys(history or {}).items()
        if 0 < v <= avoid_rounds  # type: ignore[operator]
    }
    ties: dict[int, float] = {
        k: v for k, v in pair_keys(tie_strength or {}).items() if v  # type: ignore[misc]
    }
    team_codes: dict[str, int] = {}
    teams = [-1 if p.team is None else team_codes.setdefault(p.team, len(team_codes)) for p in people]

    # The hot loop evaluates millions of pairs, so the parts of _weight that depend on only a
    # few values are tabulated through _weight itself: the time-zone term per pair of distinct
    # offsets (with tie 1 and team bonus 0, _weight is exactly that term), the repeat term per
    # age. The remaining terms are plain sums, so the total equals pair_weight.
    offsets = sorted({p.utc_offset_hours for p in people if p.utc_offset_hours is not None})
    zone_of = {off: k for k, off in enumerate(offsets)}
    unknown_zone = len(offsets)
    zones = [unknown_zone if p.utc_offset_hours is None else zone_of[p.utc_offset_hours] for p in people]
    zone_terms = [
        [_weight(0.0, 1.0, tz_gap_hours(a, b), None, avoid_rounds, max_gap) for b in offsets] + [0.0]
        for a in offsets
    ] + [[0.0] * (len(offsets) + 1)]
    repeat_terms = [_weight(0.0, 1.0, None, ago, avoid_rounds, max_gap) for ago in range(avoid_rounds + 1)]
    base = WEAK_TIE_BONUS
    ties = {k: min(max(v, 0.0), 1.0) for k, v in ties.items()}
    ties_get, recent_get = ties.get, recent.get

    def weight(i: int, j: int) -> float:
        key = i * n + j if i < j else j * n + i
        w = base - ties_get(key, 0.0) + zone_terms[zones[i]][zones[j]]
        ti, tj = teams[i], teams[j]
        if ti < 0 or tj < 0:
            w += UNKNOWN_TEAM_BONUS
        elif ti != tj:
            w += CROSS_TEAM_BONUS
        ago = recent_get(key)
        if ago is not None:
            w += repeat_terms[ago]
        return w

    return weight


def _candidates(
    people: list[Participant],
    rng: random.Random,
    weight: Weight,
    history: Mapping[frozenset[str], int] | None,
    avoid_rounds: int,
    max_gap: float | None,
) -> list[list[int]]:
    """Symmetric candidate lists: for each person, the colleagues worth trying to group with."""
    n = len(people)
    if n <= DENSE_BELOW:
        return [[j for j in range(n) if j != i] for i in range(n)]

    # Recent partners are never candidates: the repair step still reaches them when a repeat
    # is unavoidable, but the search should not waste its budget on them.
    index = {p.id: i for i, p in enumerate(people)}
    recent: list[set[int]] = [set() for _ in range(n)]
    for pair, ago in (history or {}).items():
        if len(pair) == 2 and 0 < ago <= avoid_rounds:
            a, b = pair
            i, j = index.get(a), index.get(b)
            if i is not None and j is not None:
                recent[i].add(j)
                recent[j].add(i)

    # Draw mostly from compatible time zones so that a small office far from the others still
    # finds its own people among the candidates; unknown offsets are compatible with all.
    pools: dict[float | None, list[int]] = {}
    offsets = sorted({p.utc_offset_hours for p in people if p.utc_offset_hours is not None})
    everyone = list(range(n))
    if max_gap is not None and offsets:
        unknown = [i for i, p in enumerate(people) if p.utc_offset_hours is None]
        by_offset: dict[float, list[int]] = {}
        for i, p in enumerate(people):
            if p.utc_offset_hours is not None:
                by_offset.setdefault(p.utc_offset_hours, []).append(i)
        for off in offsets:
            pool = list(unknown)
            for other in offsets:
                gap = tz_gap_hours(off, other)
                if gap is not None and gap <= max_gap:
                    pool.extend(by_offset[other])
            pools[off] = pool

    draws = CANDIDATES * DRAWS_PER_CANDIDATE
    wide = max(2, draws // 5)
    chosen: list[set[int]] = [set() for _ in range(n)]
    randrange = rng.randrange
    for i, p in enumerate(people):
        pool = pools.get(p.utc_offset_hours, everyone)
        seen = {i}
        seen |= recent[i]
        scored: list[tuple[float, int]] = []
        pool_len = len(pool)
        for t in range(draws):
            j = everyone[randrange(n)] if t < wide or pool_len < 2 else pool[randrange(pool_len)]
            if j in seen:
                continue
            seen.add(j)
            # Ranked without the mild pull towards the same zone: candidates spread over all
            # compatible zones keep chains of swaps able to travel between zones, which is
            # how an odd one out in a far zone finds a compatible partner.
            gap = tz_gap_hours(p.utc_offset_hours, people[j].utc_offset_hours) or 0.0
            scored.append((weight(i, j) + TZ_CLOSENESS_WEIGHT * gap / 12.0, -j))
        for _, neg_j in heapq.nlargest(CANDIDATES, scored):
            chosen[i].add(-neg_j)
            chosen[-neg_j].add(i)
    out = []
    for i in range(n):
        lst = sorted(chosen[i])
        rng.shuffle(lst)
        out.append(lst)
    return out


def _match_pairs(
    n: int, rng: random.Random, weight: Weight, cand: list[list[int]]
) -> tuple[list[list[int]], int | None]:
    """Greedy maximum-weight matching on the candidate graph; returns pairs and the odd one out."""
    rank = list(range(n))
    rng.shuffle(rank)  # the seeded tie-break among equal weights
    edges: list[tuple[float, int, int, int]] = []
    for i in range(n):
        for j in cand[i]:
            if i < j:
                edges.append((-weight(i, j), min(rank[i], rank[j]), i, j))
    edges.sort()
    mate = [-1] * n
    pairs: list[list[int]] = []
    for _, _, i, j in edges:
        if mate[i] < 0 and mate[j] < 0:
            mate[i], mate[j] = j, i
            pairs.append([i, j])

    # Those whose candidates were all taken: pair them greedily among themselves, scanning a
    # bounded window so a large leftover (rare) stays linear; the local search tidies up.
    left = [i for i in sorted(range(n), key=rank.__getitem__) if mate[i] < 0]
    window = 64
    while len(left) >= 2:
        i = left.pop(0)
        best_k = max(range(min(window, len(left))), key=lambda k: (weight(i, left[k]), -k))
        pairs.append([i, left.pop(best_k)])
    return pairs, (left[0] if left else None)


def _attach_singles(
    groups: list[list[int]],
    singles: list[int],
    slots: dict[int, int],
    weight: Weight,
    cand: list[list[int]],
) -> None:
    """Add each single to a distinct group; ``slots`` says how many groups of each size may take one.

    Small inputs: every (single, group) combination is scored. Large: only groups holding a
    candidate of the single, then the first free eligible group.
    """
    if not singles:
        return
    group_of = {m: g for g, members in enumerate(groups) for m in members}
    offers: list[tuple[float, int, int, int]] = []
    exhaustive = len(singles) * len(groups) <= 200_000
    for order, s in enumerate(singles):
        targets = range(len(groups)) if exhaustive else sorted({group_of[c] for c in cand[s] if c in group_of})
        for g in targets:
            if slots.get(len(groups[g]), 0):
                offers.append((-sum(weight(s, m) for m in groups[g]), order, g, s))
    offers.sort()
    taken: set[int] = set()
    placed: set[int] = set()
    added: list[tuple[int, int]] = []
    for _, _, g, s in offers:
        if s in placed or g in taken or not slots.get(len(groups[g]), 0):
            continue
        slots[len(groups[g])] -= 1
        taken.add(g)
        placed.add(s)
        added.append((g, s))
    for s in singles:
        if s in placed:
            continue
        for g in range(len(groups)):
            if g not in taken and slots.get(len(groups[g]), 0):
                slots[len(groups[g])] -= 1
                taken.add(g)
                placed.add(s)
                added.append((g, s))
                break
    # Sizes change only now, so slot accounting above sees the sizes before any attachment.
    for g, s in added:
        groups[g].append(s)


def _merge_into_groups(
    pairs: list[list[int]],
    single: int | None,
    sizes: list[int],
    weight: Weight,
    cand: list[list[int]],
) -> list[list[int]]:
    """Build groups of 3..5 from the pairs: each size is made of one or two pairs plus at most
    one single (2 = P, 3 = P+S, 4 = P+P, 5 = P+P+S)."""
    need_pairs = sum(1 if s <= 3 else 2 for s in sizes)
    singles = [] if single is None else [single]
    # The weakest pairs are the cheapest to break up into singles.
    pairs = sorted(pairs, key=lambda p: -weight(p[0], p[1]))
    while len(pairs) > need_pairs:
        singles.extend(pairs.pop())
    quads_needed = sum(1 for s in sizes if s >= 4)

    # Quads: greedy matching on pairs, edges from members' candidates, weight = 4 cross pairs.
    pair_of = {m: k for k, p in enumerate(pairs) for m in p}
    edges: list[tuple[float, int, int]] = []
    seen: set[tuple[int, int]] = set()
    dense = len(pairs) <= 400
    for k, p in enumerate(pairs):
        others = range(len(pairs)) if dense else {pair_of[c] for m in p for c in cand[m] if c in pair_of}
        for q in others:
            if q <= k or (k, q) in seen:
                continue
            seen.add((k, q))
            w = sum(weight(a, b) for a in p for b in pairs[q])
            edges.append((-w, k, q))
    edges.sort()
    used = [False] * len(pairs)
    groups: list[list[int]] = []
    for _, k, q in edges:
        if len(groups) == quads_needed:
            break
        if not used[k] and not used[q]:
            used[k] = used[q] = True
            groups.append(pairs[k] + pairs[q])
    rest = [p for k, p in enumerate(pairs) if not used[k]]
    while len(groups) < quads_needed:
        groups.append(rest.pop() + rest.pop())
    groups.extend(rest)

    slots = {4: sum(1 for s in sizes if s == 5), 2: sum(1 for s in sizes if s == 3)}
    _attach_singles(groups, singles, slots, weight, cand)
    return groups


class _Search:
    """Groups under local search, with each member's summed weight to its group cached."""

    def __init__(self, groups: list[list[int]], weight: Weight) -> None:
        self.groups = groups
        self.weight = weight
        self.group_of: dict[int, int] = {m: g for g, members in enumerate(groups) for m in members}
        self.contrib: dict[int, float] = {}
        for members in groups:
            self._recount(members)

    def _recount(self, members: list[int]) -> None:
        w = self.weight
        for m in members:
            self.contrib[m] = sum(w(m, x) for x in members if x != m)

    def best_swap(self, a: int, partners: Sequence[int]) -> int | None:
        """The person whose swap with a raises the total weight most, among the groups of
        ``partners``; None when no swap helps."""
        w, groups, group_of, contrib = self.weight, self.groups, self.group_of, self.contrib
        g = group_of[a]
        mates = [x for x in groups[g] if x != a]
        a_here = contrib[a]
        # No pair weighs more than _MAX_WEIGHT, which bounds the gain of a swap from the cached
        # contributions alone: well-placed people and groups are skipped without evaluating
        # a single pair, which is most of them once the groups are good.
        d_room = len(mates) * _MAX_WEIGHT
        best_gain, best_d = _EPS, None
        tried = {g}
        for c in partners:
            h = group_of.get(c)
            if h is None or h in tried:
                continue
            tried.add(h)
            others = groups[h]
            a_room = (len(others) - 1) * _MAX_WEIGHT - a_here + d_room
            a_there: list[float] | None = None
            a_total = 0.0
            for k, d in enumerate(others):
                if a_room - contrib[d] <= best_gain:
                    continue
                if a_there is None:
                    a_there = [w(a, y) for y in others]
                    a_total = sum(a_there) - a_here
                # a takes d's place in h, d takes a's place among a's mates.
                gain = a_total - a_there[k] - contrib[d]
                for x in mates:
                    gain += w(d, x)
                if gain > best_gain:
                    best_gain, best_d = gain, d
        return best_d

    def swap(self, a: int, d: int) -> None:
        groups, group_of = self.groups, self.group_of
        g, h = group_of[a], group_of[d]
        groups[g][groups[g].index(a)] = d
        groups[h][groups[h].index(d)] = a
        group_of[a], group_of[d] = h, g
        self._recount(groups[g])
        self._recount(groups[h])

    def improve(self, cand: list[list[int]], queue: list[int]) -> None:
        """Examine ``queue`` in order, then whoever shares a group changed by a swap."""
        queue = list(dict.fromkeys(queue))
        queued = set(queue)
        budget = SEARCH_STEPS_PER_PERSON * len(self.group_of)
        head = 0
        while head < len(queue) and budget > 0:
            a = queue[head]
            head += 1
            budget -= 1
            queued.discard(a)
            # Half the (shuffled, symmetric) candidate list: a group of 3-5 costs several
            # pair weights per try, and measured quality barely moves with the other half.
            d = self.best_swap(a, cand[a][:CANDIDATES])
            if d is None:
                continue
            self.swap(a, d)
            for m in self.groups[self.group_of[a]] + self.groups[self.group_of[d]]:
                if m not in queued:
                    queued.add(m)
                    queue.append(m)


def _improve(
    groups: list[list[int]],
    rng: random.Random,
    weight: Weight,
    cand: list[list[int]],
    start: list[int] | None = None,
) -> list[list[int]]:
    """Swap local search from ``start`` (default: everyone, in seeded order)."""
    if start is None:
        queue = [m for members in groups for m in members]
        rng.shuffle(queue)
    else:
        queue = start
    _Search(groups, weight).improve(cand, queue)
    return groups


def _chain_improve(
    pairs: list[list[int]], rng: random.Random, weight: Weight, cand: list[list[int]]
) -> list[list[int]]:
    """Alternating-cycle moves on pairs, 2-opt's bigger sibling (as in Lin-Kernighan).

    A 2-opt swap fails when a badly matched person's better partners are paired with people
    who fit nobody nearby; typically the last members of a big team, left to pair with each
    other once the easy cross-team pairs are taken. Here a's partner b is dropped, a takes a
    candidate c, c's partner d takes a candidate e, ... and the last one left takes b: up to
    CHAIN_DEPTH pairs rotate at once. The classic gain criterion (every partial sum positive)
    prunes the search to the people who are matched below their candidates.
    """
    mate = [-1] * len(cand)  # the odd one out, if any, stays -1
    for a, b in pairs:
        mate[a], mate[b] = b, a
    order = [m for p in pairs for m in p]
    rng.shuffle(order)

    def search(
        u: int, b: int, gain: float, depth: int, path: list[tuple[int, int]]
    ) -> list[tuple[int, int]] | None:
        for c in cand[u]:
            d = mate[c]
            if d < 0 or c == b or d == b or any(c in e or d in e for e in path):
                continue
            partial = gain + weight(u, c)
            if partial <= _EPS:
                continue
            partial -= weight(c, d)
            if partial + weight(d, b) > _EPS:
                return path + [(u, c), (d, b)]
            if depth > 1:
                found = search(d, b, partial, depth - 1, path + [(u, c)])
                if found:
                    return found
        return None

    for _ in range(2):
        improved = False
        for a in order:
            b = mate[a]
            if b < 0:
                continue
            cycle = search(a, b, -weight(a, b), CHAIN_DEPTH - 1, [])
            if cycle:
                for x, y in cycle:
                    mate[x], mate[y] = y, x
                improved = True
        if not improved:
            break
    return [[a, mate[a]] for a in range(len(mate)) if mate[a] > a]


def _repair(
    groups: list[list[int]], rng: random.Random, weight: Weight, cand: list[list[int]]
) -> list[list[int]]:
    """Break up penalised pairs by searching beyond the candidates."""
    penalised = -(TZ_PENALTY / 2)
    search = _Search(groups, weight)
    for _ in range(3):
        bad = [
            m
            for members in groups
            for m in members
            if any(weight(m, x) < penalised for x in members if x != m)
        ]
        touched: list[int] = []
        for a in bad:
            if not any(weight(a, x) < penalised for x in groups[search.group_of[a]] if x != a):
                continue  # fixed meanwhile by an earlier swap
            if len(groups) <= REPAIR_GROUPS:
                reach = [members[0] for members in groups]
            else:
                reach = [groups[rng.randrange(len(groups))][0] for _ in range(REPAIR_GROUPS)]
            d = search.best_swap(a, reach)
            if d is not None:
                touched.extend(groups[search.group_of[a]] + groups[search.group_of[d]])
                search.swap(a, d)
        if not touched:
            break
        search.improve(cand, touched)
    return groups


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
                if _same_team(a, b) is False:
                    cross += 1
                gap = tz_gap_hours(a.utc_offset_hours, b.utc_offset_hours)
                if max_gap is not None and gap is not None and gap > max_gap:
                    tz_bad += 1
    out = sorted(tuple(sorted(people[i].id for i in members)) for members in groups)
    return PairingResult(out, repeats, cross, total, tz_bad, total_weight)
