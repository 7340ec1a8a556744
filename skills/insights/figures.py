"""The figures of the network report, per workspace and month, aggregates only.

The privacy rule (``min_group``, 5 by default): a figure about a team or a group of people is
shown only when it covers at least ``min_group`` people.
- Teams with fewer people than that (in the directory) are merged into "other", with the people
  whose team is unknown; when "other" itself has fewer, its cells are left out.
- A month's coffee figures are shown only when at least ``min_group`` people took part in its
  rounds; a workspace with fewer people than that shows nothing at all.
Nobody is ever named, and no figure is about one person (no leaderboard).

A new cross-team tie: two people of different teams grouped in a coffee round who had not
interacted before the round and have interacted since. Interacting: writing in the same public
thread, thanking one another. (Who-knows questions are only counted, asked and answered per
month, with no person: they cannot make a tie.) "Quiet" people: took part in a programme's last round of the month and their group
reported no meeting in any of the programme's last ``quiet_rounds`` rounds.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Iterable, Mapping, Sequence

from sqlalchemy.orm import Session

from skills.insights import reads
from skills.insights.questions import read_questions
from skills.insights.reads import Grouped, RoundRow, ThreadPresence
from skills.kudos.api import Thanks

OTHER = ""  # the label of merged small teams (a real team is never named "")


@dataclass(frozen=True)
class Month:
    label: str  # "2026-11"
    start: dt.datetime
    end: dt.datetime


@dataclass
class MonthFigures:
    month: str
    rounds: int = 0  # coffee rounds started in the month
    coffee_shown: bool = False
    participants: int | None = None
    groups: int | None = None
    answered: int | None = None
    met: int | None = None
    answer_rate: float | None = None  # groups that answered "did you meet?" / groups
    new_ties: int | None = None
    quiet: int | None = None
    thanks: int | None = None
    thanks_cross_team: int | None = None
    answers: int | None = None  # replies in a colleague's thread
    answers_cross_team: int | None = None
    questions_asked: int | None = None  # who-knows questions asked in the month
    questions_answered: int | None = None  # … answered with at least one person who knows


@dataclass
class Report:
    months: list[MonthFigures]
    teams: list[str]  # team labels shown in the matrix, OTHER last when shown
    matrix: dict[tuple[str, str], int] = field(default_factory=dict)  # (giver team, receiver team) -> thanks
    merged_teams: int = 0  # teams below min_group, merged into OTHER
    other_hidden: bool = False  # OTHER covers fewer than min_group people: left out
    min_group: int = 5
    people: int = 0
    shown: bool = True  # False: the workspace has fewer than min_group people

    @property
    def latest(self) -> MonthFigures:
        return self.months[-1]


def months_until(now: dt.datetime, count: int) -> list[Month]:
    """The ``count`` calendar months (UTC) ending with the one holding ``now``, oldest first."""
    y, m = now.year, now.month
    out: list[Month] = []
    for _ in range(max(1, count)):
        start = dt.datetime(y, m, 1, tzinfo=dt.timezone.utc)
        end = dt.datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=dt.timezone.utc)
        out.append(Month(f"{y:04d}-{m:02d}", start, end))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


# ---- teams and the min_group rule ---------------------------------------------------------------


@dataclass(frozen=True)
class Teams:
    label_of: Mapping[str, str | None]  # person -> shown label (a team, OTHER) or None: left out
    shown: list[str]
    merged: int
    other_hidden: bool

    def label(self, user_id: str) -> str | None:
        return self.label_of.get(user_id, None if self.other_hidden else OTHER)


def team_labels(people: Mapping[str, str | None], min_group: int) -> Teams:
    sizes: dict[str | None, int] = defaultdict(int)
    for team in people.values():
        sizes[team] += 1
    big = {t for t, n in sizes.items() if t is not None and n >= min_group}
    other_size = sum(n for t, n in sizes.items() if t not in big)
    other_hidden = other_size < min_group
    label_of: dict[str, str | None] = {}
    for user, team in people.items():
        label_of[user] = team if team in big else (None if other_hidden else OTHER)
    shown = sorted(t for t in big if t is not None) + ([] if other_hidden or not other_size else [OTHER])
    merged = sum(1 for t in sizes if t is not None and t not in big)
    return Teams(label_of, shown, merged, other_hidden)


# ---- interactions ---------------------------------------------------------------------------------


class Interactions:
    """When two people interacted: same public thread, or a thanks between them."""

    def __init__(self, presence: Iterable[ThreadPresence], thanks: Iterable[Thanks], wanted: set[str]) -> None:
        self.threads: dict[str, dict[tuple[str, str], tuple[dt.datetime, dt.datetime]]] = defaultdict(dict)
        for p in presence:
            if p.user_id in wanted:
                self.threads[p.user_id][p.thread] = (p.first, p.last)
        self.thanks: dict[frozenset[str], list[dt.datetime]] = defaultdict(list)
        for t in thanks:
            if t.giver_id in wanted and t.receiver_id in wanted and t.giver_id != t.receiver_id:
                self.thanks[frozenset((t.giver_id, t.receiver_id))].append(t.at)

    def before_and_after(self, a: str, b: str, at: dt.datetime) -> tuple[bool, bool]:
        """Whether a and b interacted before ``at``, and at or after it."""
        before = after = False
        for when in self.thanks.get(frozenset((a, b)), ()):
            before, after = before or when < at, after or when >= at
        ta, tb = self.threads.get(a, {}), self.threads.get(b, {})
        if len(tb) < len(ta):
            ta, tb = tb, ta
        for thread, (first_a, last_a) in ta.items():
            span = tb.get(thread)
            if span is None:
                continue
            # Together in a thread from the later of their first messages; their latest
            # message there is an interaction too (the other had written before it).
            before = before or max(first_a, span[0]) < at
            after = after or max(last_a, span[1]) >= at
            if before:
                return True, after
        return before, after


# ---- coffee -----------------------------------------------------------------------------------------


def _coffee_month(fig: MonthFigures, rounds: Sequence[RoundRow], by_round: Mapping[int, list[Grouped]],
                  history: Mapping[int, list[RoundRow]], ties: Interactions, quiet_rounds: int, min_group: int) -> None:
    fig.rounds = len(rounds)
    members = [g for r in rounds for g in by_round.get(r.id, ())]
    people = {g.user_id for g in members}
    if len(people) < min_group:
        return
    groups: dict[int, list[Grouped]] = defaultdict(list)
    for g in members:
        groups[g.group_id].append(g)
    answered = sum(1 for ms in groups.values() if any(m.met is not None for m in ms))
    met = sum(1 for ms in groups.values() if any(m.met for m in ms))
    fig.coffee_shown = True
    fig.participants, fig.groups, fig.answered, fig.met = len(people), len(groups), answered, met
    fig.answer_rate = answered / len(groups) if groups else None
    fig.new_ties = _new_ties(rounds, by_round, ties)
    fig.quiet = _quiet(rounds, by_round, history, quiet_rounds)


def _new_ties(rounds: Sequence[RoundRow], by_round: Mapping[int, list[Grouped]], ties: Interactions) -> int:
    found: set[frozenset[str]] = set()
    for r in rounds:
        groups: dict[int, list[Grouped]] = defaultdict(list)
        for g in by_round.get(r.id, ()):
            groups[g.group_id].append(g)
        for ms in groups.values():
            for x, y in combinations(ms, 2):
                pair = frozenset((x.user_id, y.user_id))
                if x.team is None or y.team is None or x.team == y.team or pair in found:
                    continue
                before, after = ties.before_and_after(x.user_id, y.user_id, r.started_at)
                if after and not before:
                    found.add(pair)
    return len(found)


def _quiet(rounds: Sequence[RoundRow], by_round: Mapping[int, list[Grouped]],
           history: Mapping[int, list[RoundRow]], quiet_rounds: int) -> int | None:
    last_of: dict[int, RoundRow] = {}
    for r in rounds:
        last_of[r.programme_id] = r
    quiet: set[str] = set()
    counted = False
    for programme_id, last in last_of.items():
        past = [r for r in history[programme_id] if r.seq <= last.seq][-quiet_rounds:]
        if len(past) < quiet_rounds:
            continue
        counted = True
        met_someone = {g.user_id for r in past for ms in _groups(by_round.get(r.id, ())).values()
                       if any(m.met for m in ms) for g in ms}
        quiet |= {g.user_id for g in by_round.get(last.id, ()) if g.user_id not in met_someone}
    return len(quiet) if counted else None


def _groups(members: Iterable[Grouped]) -> dict[int, list[Grouped]]:
    out: dict[int, list[Grouped]] = defaultdict(list)
    for g in members:
        out[g.group_id].append(g)
    return out


# ---- thanks and answers -----------------------------------------------------------------------------


def _thanks_month(fig: MonthFigures, thanks: Sequence[Thanks], people: Mapping[str, str | None]) -> None:
    fig.thanks = len(thanks)
    fig.thanks_cross_team = sum(1 for t in thanks if _cross(people, t.giver_id, t.receiver_id))


def _answers_month(fig: MonthFigures, answers: Sequence[reads.Answer], people: Mapping[str, str | None]) -> None:
    fig.answers = len(answers)
    fig.answers_cross_team = sum(1 for a in answers if _cross(people, a.user_id, a.asker_id))


def _cross(people: Mapping[str, str | None], a: str, b: str) -> bool:
    ta, tb = people.get(a), people.get(b)
    return ta is not None and tb is not None and ta != tb


def thanks_matrix(thanks: Iterable[Thanks], teams: Teams) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = defaultdict(int)
    for t in thanks:
        g, r = teams.label(t.giver_id), teams.label(t.receiver_id)
        if g is not None and r is not None:
            out[(g, r)] += 1
    return dict(out)


# ---- the report -------------------------------------------------------------------------------------


def build_report(s: Session, now: dt.datetime, *, months: int, min_group: int, quiet_rounds: int = 3) -> Report:
    """The report of the ``months`` months ending with the one holding ``now`` (read with
    the data of ``s``, a session scoped to one workspace)."""
    span = months_until(now, months)
    end = min(span[-1].end, now + dt.timedelta(microseconds=1))
    people = reads.read_people(s)
    teams = team_labels(people, min_group)
    report = Report([MonthFigures(m.label) for m in span], teams.shown, merged_teams=teams.merged,
                    other_hidden=teams.other_hidden, min_group=min_group, people=len(people))
    if len(people) < min_group:
        report.shown, report.teams = False, []
        return report
    rounds = reads.read_rounds(s, end)
    grouped = reads.read_grouped(s, [r.id for r in rounds if r.started_at >= span[0].start - dt.timedelta(days=400)])
    by_round: dict[int, list[Grouped]] = defaultdict(list)
    for g in grouped:
        by_round[g.round_id].append(g)
    history: dict[int, list[RoundRow]] = defaultdict(list)
    for r in sorted(rounds, key=lambda r: r.seq):
        history[r.programme_id].append(r)
    thanks = reads.read_thanks(s, end)
    wanted = {g.user_id for g in grouped}
    ties = Interactions(reads.read_thread_presence(s, end) if wanted else (), thanks, wanted)
    in_span = [t for t in thanks if t.at >= span[0].start]
    answers = reads.read_answers(s, span[0].start, end)
    asked = read_questions(s, [m.label for m in span])
    for m, fig in zip(span, report.months):
        _coffee_month(fig, [r for r in rounds if m.start <= r.started_at < m.end], by_round, history, ties,
                      quiet_rounds, min_group)
        _thanks_month(fig, [t for t in in_span if m.start <= t.at < m.end], people)
        _answers_month(fig, [a for a in answers if m.start <= a.at < m.end], people)
        fig.questions_asked, fig.questions_answered = asked.get(m.label, (0, 0))
    report.matrix = thanks_matrix(in_span, teams)
    return report
