"""Every figure of the network report on a fixed sample (tests/skills/insights_sample.py) with a
fixed clock, on SQLite and PostgreSQL: coffee, new cross-team ties, quiet people, thanks between
teams, thread answers, the min_group rule and nobody named."""

from __future__ import annotations

import csv
import io

from bot.db.kudos import KudosRow
from bot.ports import FixedClock
from skills.insights import summary
from skills.insights.admin import rows
from skills.insights.figures import OTHER, build_report, months_until
from tests.skills import insights_sample as sample

WS = "console:acme"


def report_for(app, workspace: str = WS, **kw):  # noqa: ANN001, ANN201
    with app.db.session(workspace) as s:
        return build_report(s, sample.NOW, months=kw.pop("months", 3), min_group=kw.pop("min_group", 5), **kw)


def test_months_are_calendar_months_ending_with_the_current_one() -> None:
    assert [m.label for m in months_until(sample.at(1, 15), 3)] == ["2025-11", "2025-12", "2026-01"]


def test_coffee_figures_per_month(make_app, database_url) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url, clock_=FixedClock(sample.NOW))
    sample.load(app)
    sep, oct_, nov = report_for(app).months
    assert (oct_.participants, oct_.groups, oct_.answered, oct_.met, oct_.new_ties) == (10, 10, 2, 2, 0)
    assert oct_.quiet is None  # the programme had only two rounds by then
    assert (nov.participants, nov.groups, nov.answered, nov.met) == (10, 5, 2, 1)
    assert nov.answer_rate == 0.4
    # P1-S1 first wrote in one thread after their coffee; S3 thanked L2 after theirs. P2-S2 had
    # exchanged thanks before, P3-L1 never interacted, P4-P5 are one team.
    assert nov.new_ties == 2
    # In the last three rounds, S2, P3, L1, S3 and L2 were never in a group that met.
    assert nov.quiet == 5


def test_a_month_with_fewer_than_min_group_participants_shows_no_coffee_figure(make_app, database_url) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url, clock_=FixedClock(sample.NOW))
    sample.load(app)
    sep = report_for(app).months[0]
    assert sep.rounds == 1 and not sep.coffee_shown
    assert (sep.participants, sep.groups, sep.met, sep.answer_rate, sep.new_ties, sep.quiet) == (None,) * 6
    text = summary(_sep_report(app), "en")
    assert "fewer than 5 people took part" in text


def _sep_report(app):  # noqa: ANN001, ANN202
    with app.db.session(WS) as s:
        return build_report(s, sample.at(9, 30), months=1, min_group=5)


def test_thanks_and_answers_per_month_and_between_teams(make_app, database_url) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url, clock_=FixedClock(sample.NOW))
    sample.load(app)
    report = report_for(app)
    sep, oct_, nov = report.months
    assert (sep.thanks, oct_.thanks, nov.thanks) == (0, 1, 4)
    assert (oct_.thanks_cross_team, nov.thanks_cross_team) == (1, 2)
    assert (oct_.answers, oct_.answers_cross_team, nov.answers, nov.answers_cross_team) == (1, 0, 2, 1)
    assert nov.routed_asked is None and nov.routed_answered is None  # not recorded: absent, not zero
    # Legal (4 people) and the person without a team make "other" (5 people).
    assert report.teams == ["Platform", "Sales", OTHER] and report.merged_teams == 1
    assert report.matrix == {("Platform", "Sales"): 1, ("Sales", OTHER): 1, ("Sales", "Platform"): 1,
                             (OTHER, OTHER): 1, ("Platform", "Platform"): 1}


def test_a_team_of_four_never_appears_on_its_own(make_app, database_url) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url, clock_=FixedClock(sample.NOW))
    sample.load(app, without=("N1",))  # "other" is now Legal alone: 4 people
    report = report_for(app)
    assert report.teams == ["Platform", "Sales"] and report.other_hidden
    assert report.matrix == {("Platform", "Sales"): 1, ("Sales", "Platform"): 1, ("Platform", "Platform"): 1}
    text = summary(report, "en")
    assert "Legal" not in text and "Legal" not in repr(report)
    assert "left out of the team figures" in text


def test_nobody_is_named_anywhere_in_the_report(make_app, database_url) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url, clock_=FixedClock(sample.NOW))
    sample.load(app)
    report = report_for(app)
    head, body = rows(report, "en", 3)
    out = io.StringIO()
    csv.writer(out).writerows([head, *body])
    for lang in ("en", "fr"):
        text = summary(report, lang) + out.getvalue() + repr(report)
        for user, name in sample.NAMES.items():
            assert name not in text and f"'{user}'" not in text and f" {user} " not in text


def test_a_workspace_smaller_than_min_group_gets_no_figures(make_app, database_url) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url, clock_=FixedClock(sample.NOW))
    sample.load(app)
    report = report_for(app, min_group=20)
    assert not report.shown and report.teams == [] and report.matrix == {}
    assert all(m.thanks is None and not m.coffee_shown for m in report.months)
    assert "fewer than 20 people" in summary(report, "en")


def test_another_workspace_is_never_counted(make_app, database_url) -> None:  # noqa: ANN001
    app = make_app(database_url=database_url, clock_=FixedClock(sample.NOW))
    sample.load(app)
    sample.load(app, "console:other")
    with app.db.session("console:other") as s:
        s.add(KudosRow(source_key="extra", giver_id="P1", receiver_id="S1", at=sample.at(11, 18)))
    assert report_for(app).months[-1].thanks == 4
    assert report_for(app, "console:other").months[-1].thanks == 5


def test_the_thanks_matrix_of_a_large_company_keeps_the_busiest_teams() -> None:
    from skills.insights import charts
    from skills.insights.figures import MonthFigures, Report

    teams = [f"Team {n:02d}" for n in range(40)] + [OTHER]
    matrix = {(g, r): (i * 7 + j) % 5 for i, g in enumerate(teams) for j, r in enumerate(teams)}
    report = Report([MonthFigures("2026-11")], teams, matrix)
    shown, folded = charts._busiest(report.teams, report.matrix)
    assert len(shown) == charts.MAX_TEAMS and shown[-1] == OTHER
    assert sum(folded.values()) == sum(matrix.values())  # nothing lost, the rest counted in "other"
    png = charts.thanks_chart(report, "en")
    assert png.startswith(b"\x89PNG") and len(png) < 150_000
