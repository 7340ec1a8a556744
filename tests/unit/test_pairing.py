"""Properties of the random-coffee grouping (skills.coffee.pairing)."""

from __future__ import annotations

import itertools
import random

import pytest

from skills.coffee.pairing import group_sizes, make_groups
from skills.coffee.pairing_weights import Participant, pair_weight, participants_weight, tz_gap_hours


def people(n: int, teams: int = 5, seed: int = 0) -> list[Participant]:
    rng = random.Random(seed)
    return [Participant(f"p{i:04d}", f"team{rng.randrange(teams)}") for i in range(n)]


def pairs_of(groups: list[tuple[str, ...]]) -> list[frozenset[str]]:
    return [frozenset(p) for g in groups for p in itertools.combinations(g, 2)]


@pytest.mark.parametrize("size", [2, 3, 4])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 6, 7, 9, 11, 13, 50, 100, 101])
def test_everyone_in_exactly_one_group_of_the_planned_size(n: int, size: int) -> None:
    ps = people(n)
    result = make_groups(ps, seed=1, group_size=size)
    members = [m for g in result.groups for m in g]
    if n < 2:
        assert result.groups == []
        return
    assert sorted(members) == sorted(p.id for p in ps)
    assert sorted(map(len, result.groups), reverse=True) == group_sizes(n, size)
    assert result.total_pairs == sum(len(g) * (len(g) - 1) // 2 for g in result.groups)


def test_group_sizes_spread_the_remainder() -> None:
    assert group_sizes(0, 2) == [] and group_sizes(1, 2) == []
    assert group_sizes(2, 2) == [2]
    assert group_sizes(3, 2) == [3]
    assert group_sizes(7, 2) == [3, 2, 2]
    assert group_sizes(7, 3) == [4, 3]
    assert group_sizes(8, 3) == [4, 4]
    assert group_sizes(5, 3) == [3, 2]  # remainder 2 > one group: one more, smaller group
    assert group_sizes(9, 4) == [5, 4]
    assert group_sizes(7, 4) == [4, 3]
    assert group_sizes(3, 4) == [3]  # fewer than the size: one group of everyone
    for size in (2, 3, 4):
        for n in range(size, 200):
            sizes = group_sizes(n, size)
            assert sum(sizes) == n
            assert all(size - 1 <= s <= size + 1 for s in sizes)
            assert max(sizes) - min(sizes) <= 1
            # as many groups as fit, one more only when the remainder cannot be spread
            expected = n // size if n % size <= n // size else n // size + 1
            assert len(sizes) == expected


def test_single_participant_gets_no_group() -> None:
    result = make_groups([Participant("alone")], seed=3)
    assert result.groups == [] and result.total_pairs == 0


def test_duplicate_ids_and_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        make_groups([Participant("a"), Participant("a")], seed=0)
    with pytest.raises(ValueError):
        make_groups(people(10), seed=0, group_size=5)


def test_recent_partners_are_avoided_when_possible() -> None:
    # Two rounds of history over 20 people: a round-robin schedule guarantees a third round
    # without repeats exists (circle method), so none may be used.
    ids = [f"p{i:02d}" for i in range(20)]
    ps = [Participant(i) for i in ids]
    history: dict[frozenset[str], int] = {}
    rotation = ids[1:]
    for ago in (2, 1):
        ring = [ids[0]] + rotation
        for k in range(10):
            history[frozenset((ring[k], ring[19 - k]))] = ago
        rotation = rotation[-1:] + rotation[:-1]
    for seed in range(5):
        result = make_groups(ps, seed=seed, history=history)
        assert result.repeats == 0
        assert not set(pairs_of(result.groups)) & set(history)


def test_repeats_avoided_for_large_input_with_long_history() -> None:
    ps = people(400, teams=8)
    history: dict[frozenset[str], int] = {}
    for ago in range(12, 0, -1):
        history |= {pair: ago for pair in pairs_of(make_groups(ps, seed=ago, history=history).groups)}
    result = make_groups(ps, seed=99, history=history)
    assert result.repeats == 0
    assert all(history.get(p, 99) > 12 for p in pairs_of(result.groups))


def test_meetings_older_than_the_window_are_allowed() -> None:
    a, b = Participant("a", "x"), Participant("b", "y")
    result = make_groups([a, b], seed=0, history={frozenset("ab"): 13}, avoid_rounds=12)
    assert result.groups == [("a", "b")] and result.repeats == 0


def test_unavoidable_repeat_still_pairs_and_is_counted() -> None:
    result = make_groups(
        [Participant("a"), Participant("b")], seed=0, history={frozenset("ab"): 1}
    )
    assert result.groups == [("a", "b")]
    assert result.repeats == 1


def test_oldest_repeat_is_chosen_when_every_pairing_repeats() -> None:
    ps = [Participant(x) for x in "abcd"]
    history = {frozenset(p): 1 for p in ["ab", "cd", "ac", "bd"]} | {
        frozenset("ad"): 10,
        frozenset("bc"): 10,
    }
    result = make_groups(ps, seed=0, history=history)
    assert result.groups == [("a", "d"), ("b", "c")]
    assert result.repeats == 2


@pytest.mark.parametrize("size", [2, 3, 4])
def test_same_seed_same_groups_whatever_the_input_order(size: int) -> None:
    ps = people(301, teams=7)
    ties = {frozenset((ps[i].id, ps[i + 1].id)): 0.8 for i in range(0, 300, 3)}
    first = make_groups(ps, seed=42, group_size=size, tie_strength=ties)
    shuffled = list(ps)
    random.Random(1).shuffle(shuffled)
    again = make_groups(shuffled, seed=42, group_size=size, tie_strength=dict(reversed(ties.items())))
    assert first == again


def test_different_seeds_give_different_groups() -> None:
    ps = people(500, teams=10)
    results = {tuple(make_groups(ps, seed=s).groups) for s in range(4)}
    assert len(results) == 4


def test_two_teams_meet_across() -> None:
    ps = [Participant(f"a{i}", "alpha") for i in range(50)] + [
        Participant(f"b{i}", "beta") for i in range(50)
    ]
    result = make_groups(ps, seed=5)
    assert result.total_pairs == 50
    assert result.cross_team_pairs == 50


def test_cross_team_share_with_an_uneven_split() -> None:
    # 70 vs 30: at most 30 cross-team pairs exist; the rest must pair within alpha.
    ps = [Participant(f"a{i}", "alpha") for i in range(70)] + [
        Participant(f"b{i}", "beta") for i in range(30)
    ]
    result = make_groups(ps, seed=5)
    assert result.cross_team_pairs == 30


@pytest.mark.parametrize("seed", range(3))
def test_time_zone_gap_respected_when_possible(seed: int) -> None:
    ps = [Participant(f"asia{i}", f"t{i % 3}", 8.0) for i in range(40)] + [
        Participant(f"us{i}", f"t{i % 3}", -5.0) for i in range(40)
    ]
    result = make_groups(ps, seed=seed, max_tz_gap_hours=6.0)
    assert result.tz_violations == 0
    for g in result.groups:
        assert len({m[:2] for m in g}) == 1  # never asia with us


def test_time_zone_gap_exceeded_only_when_unavoidable() -> None:
    # Odd count in each zone: exactly one pair has to span the gap.
    ps = [Participant(f"asia{i}", None, 8.0) for i in range(5)] + [
        Participant(f"us{i}", None, -5.0) for i in range(5)
    ]
    result = make_groups(ps, seed=0, max_tz_gap_hours=6.0)
    assert result.tz_violations == 1


def test_time_zone_limit_can_be_disabled() -> None:
    ps = [Participant(f"asia{i}", "x", 8.0) for i in range(10)] + [
        Participant(f"us{i}", "y", -5.0) for i in range(10)
    ]
    result = make_groups(ps, seed=0, max_tz_gap_hours=None)
    # Without the limit, team diversity wins over the mild pull towards the same zone.
    assert result.cross_team_pairs == 10
    assert result.tz_violations == 0  # nothing counts as a violation without a limit


def test_weak_ties_preferred() -> None:
    # Everyone in one team; a and b, c and d work together daily. Strong pairs are avoided.
    ps = [Participant(x, "one") for x in "abcdef"]
    ties = {frozenset("ab"): 0.9, frozenset("cd"): 0.9, frozenset("ef"): 0.9}
    result = make_groups(ps, seed=0, tie_strength=ties)
    assert not set(pairs_of(result.groups)) & set(ties)


def test_weak_ties_preferred_at_scale() -> None:
    ps = people(200, teams=1)
    rng = random.Random(3)
    ties = {frozenset(rng.sample([p.id for p in ps], 2)): 1.0 for _ in range(2000)}
    result = make_groups(ps, seed=1, tie_strength=ties)
    strong = sum(1 for p in pairs_of(result.groups) if p in ties)
    assert strong == 0


def test_repeat_outweighs_everything_else() -> None:
    # The only repeat-free grouping pairs teammates with a strong tie across zones.
    ps = [Participant("a", "x", 0.0), Participant("b", "y", 0.0), Participant("c", "x", 9.0),
          Participant("d", "y", 9.0)]
    history = {frozenset("ab"): 3, frozenset("cd"): 5, frozenset("ad"): 1, frozenset("bc"): 1}
    result = make_groups(ps, seed=0, history=history, tie_strength={frozenset("ac"): 1.0})
    assert result.groups == [("a", "c"), ("b", "d")]
    assert result.repeats == 0 and result.cross_team_pairs == 0 and result.tz_violations == 2


def test_result_weight_is_the_sum_of_pair_weights() -> None:
    rng = random.Random(8)
    ps = [
        Participant(f"p{i}", rng.choice(["a", "b", None]), rng.choice([-8.0, 0.0, 5.5, None]))
        for i in range(61)
    ]
    ids = [p.id for p in ps]
    history = {frozenset(rng.sample(ids, 2)): rng.randint(1, 20) for _ in range(150)}
    ties = {frozenset(rng.sample(ids, 2)): rng.random() for _ in range(150)}
    by_id = {p.id: p for p in ps}
    for size in (2, 3, 4):
        result = make_groups(ps, seed=2, group_size=size, history=history, tie_strength=ties)
        expected = sum(
            participants_weight(by_id[a], by_id[b], history=history, tie_strength=ties)
            for a, b in (tuple(p) for p in pairs_of(result.groups))
        )
        assert result.weight == pytest.approx(expected)


def test_pair_weight_orders_the_criteria() -> None:
    def w(**kw: object) -> float:
        base: dict[str, object] = dict(same_team=False, tie_strength=0.0, tz_gap=0.0, rounds_since_met=None)
        return pair_weight(**(base | kw))  # type: ignore[arg-type]

    assert w() == 2.0
    assert w(same_team=True) < w(same_team=None) < w()
    assert w(tie_strength=0.9) < w(tie_strength=0.1)
    assert w(tz_gap=5.0) < w(tz_gap=1.0)
    # a tz violation costs more than any pair can gain; a repeat more than many violations
    assert w(tz_gap=7.0) < w(same_team=True, tie_strength=1.0, tz_gap=6.0) - 40
    assert w(rounds_since_met=12) < 10 * w(tz_gap=12.0)
    assert w(rounds_since_met=1) < w(rounds_since_met=12)
    assert w(rounds_since_met=13) == w()


def test_tz_gap_goes_around_the_clock() -> None:
    assert tz_gap_hours(8.0, -5.0) == 11.0
    assert tz_gap_hours(14.0, -10.0) == 0.0
    assert tz_gap_hours(5.5, 0.0) == 5.5
    assert tz_gap_hours(None, 3.0) is None


@pytest.mark.parametrize("size", [3, 4])
def test_larger_groups_mix_teams(size: int) -> None:
    ps = [Participant(f"{t}{i}", t) for t in "abcd" for i in range(30)]
    result = make_groups(ps, seed=4, group_size=size)
    # every group of 3-4 drawn from 4 equal teams can be all-different
    assert all(len({m[0] for m in g}) == len(g) for g in result.groups)


@pytest.mark.parametrize("size", [2, 3, 4])
def test_odd_one_out_with_the_last_id_is_placed(size: int) -> None:
    # zz sorts last and fits nobody, so it is the odd one out that every later step must handle.
    ps = [Participant(f"p{i}", f"t{i % 2}", 0.0) for i in range(8)] + [Participant("zz", "t9", 12.0)]
    result = make_groups(ps, seed=0, group_size=size)
    assert sorted(m for g in result.groups for m in g) == sorted(p.id for p in ps)
    assert result.tz_violations == sum(len(g) - 1 for g in result.groups if "zz" in g)
