"""How good it is for two people to meet this round: the participants, the weight of a pair
(``pair_weight``) and its fast form on indexes (``weight_function``) that the grouping
maximises. Pure functions, standard library only; the grouping itself is in ``pairing.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

__all__ = [
    "MAX_WEIGHT",
    "REPEAT_PENALTY",
    "TZ_CLOSENESS_WEIGHT",
    "TZ_PENALTY",
    "Participant",
    "Weight",
    "in_same_team",
    "pair_weight",
    "participants_weight",
    "tz_gap_hours",
    "weight_function",
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

# Upper bound of pair_weight: the time-zone and repeat terms are never positive.
MAX_WEIGHT = WEAK_TIE_BONUS + max(CROSS_TEAM_BONUS, UNKNOWN_TEAM_BONUS)


@dataclass(frozen=True, slots=True)
class Participant:
    """One person in the round. Unknown team or time zone is compatible with everyone."""

    id: str
    team: str | None = None
    utc_offset_hours: float | None = None


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


def in_same_team(a: Participant, b: Participant) -> bool | None:
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
        same_team=in_same_team(a, b),
        tie_strength=(tie_strength or {}).get(key, 0.0),
        tz_gap=tz_gap_hours(a.utc_offset_hours, b.utc_offset_hours),
        rounds_since_met=(history or {}).get(key),
        avoid_rounds=avoid_rounds,
        max_tz_gap_hours=max_tz_gap_hours,
    )


# Works on indexes into the id-sorted participant list (see pairing.make_groups).
Weight = Callable[[int, int], float]


# long: the tables and the closure that reads them are one unit, tuned for the hot loop.
def weight_function(
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
