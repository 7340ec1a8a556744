"""The search behind ``pairing.make_groups``: the sparse candidate graph, the greedy matching of
pairs, alternating-cycle moves on pairs, building groups of 3 or 4 from pairs, the swap local
search and the repair of penalised pairs (steps 1-5 of ``pairing.py``'s description).

Everything here works on indexes into the id-sorted participant list, with ``Weight`` the pair
weight of two indexes (``pairing_weights._weight_function``).
"""

from __future__ import annotations

import heapq
import random
from typing import Mapping, Sequence

from skills.coffee.pairing_weights import MAX_WEIGHT, TZ_CLOSENESS_WEIGHT, TZ_PENALTY, Participant, Weight, tz_gap_hours

__all__ = ["CANDIDATES", "attach_singles", "candidates", "chain_improve", "improve", "match_pairs", "merge_into_groups",
           "repair"]

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


def candidates(
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

    recent = _recent_partners(people, history, avoid_rounds)
    pools = _zone_pools(people, max_gap)
    everyone = list(range(n))

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


def _recent_partners(
    people: list[Participant], history: Mapping[frozenset[str], int] | None, avoid_rounds: int
) -> list[set[int]]:
    """Each person's partners within the avoid window. They are never candidates: the repair
    step still reaches them when a repeat is unavoidable, but the search should not waste its
    budget on them."""
    n = len(people)
    index = {p.id: i for i, p in enumerate(people)}
    recent: list[set[int]] = [set() for _ in range(n)]
    for pair, ago in (history or {}).items():
        if len(pair) == 2 and 0 < ago <= avoid_rounds:
            a, b = pair
            i, j = index.get(a), index.get(b)
            if i is not None and j is not None:
                recent[i].add(j)
                recent[j].add(i)
    return recent


def _zone_pools(people: list[Participant], max_gap: float | None) -> dict[float | None, list[int]]:
    """Per UTC offset, the people in a compatible time zone (unknown offsets are compatible
    with all). Candidates are drawn mostly from there, so that a small office far from the
    others still finds its own people among them. Empty when there is no limit."""
    pools: dict[float | None, list[int]] = {}
    offsets = sorted({p.utc_offset_hours for p in people if p.utc_offset_hours is not None})
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
    return pools


def match_pairs(
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


def attach_singles(
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


def merge_into_groups(
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
    attach_singles(groups, singles, slots, weight, cand)
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
        # No pair weighs more than MAX_WEIGHT, which bounds the gain of a swap from the cached
        # contributions alone: well-placed people and groups are skipped without evaluating
        # a single pair, which is most of them once the groups are good.
        d_room = len(mates) * MAX_WEIGHT
        best_gain, best_d = _EPS, None
        tried = {g}
        for c in partners:
            h = group_of.get(c)
            if h is None or h in tried:
                continue
            tried.add(h)
            others = groups[h]
            a_room = (len(others) - 1) * MAX_WEIGHT - a_here + d_room
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


def improve(
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


def chain_improve(
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


def repair(
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
