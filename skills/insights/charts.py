"""The report's charts as PNG bytes, drawn with matplotlib's Agg backend.

Why matplotlib with Agg: it renders to bytes in memory with no display server and no browser
(Agg is its pure raster backend, selected explicitly below and never changed by the
environment), it is maintained for decades by its own project and published on PyPI with wheels
for every platform, and its figures are plain PNG (or SVG) that Slack, Teams and browsers show
as they are. Each chart builds its own ``Figure`` object (not pyplot's global state), so charts
can be drawn from several worker threads at once.

matplotlib is imported when the first chart is drawn, not with this module: importing it takes
about a second of CPU, which every `liaison` command and every worker would otherwise pay at
start-up, charts or not.
"""

from __future__ import annotations

import functools
import io
import re
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from bot.events import Attachment
from skills.insights.figures import OTHER, Report
from skills.insights.text import T, month_label, team_name

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100
MAX_TEAMS = 12  # rows and columns of the thanks matrix: the busiest teams, the others as "other"
_BLUE, _GREEN, _ORANGE = "#2f6db5", "#3a9a5b", "#d9822b"


@functools.cache
def _matplotlib() -> Any:
    """matplotlib with the Agg backend, imported on first use."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.backends.backend_agg
    import matplotlib.figure
    import matplotlib.ticker

    return matplotlib


def _figure(**kw: Any) -> Figure:
    return _matplotlib().figure.Figure(**kw)


def _png(fig: Figure) -> bytes:
    _matplotlib().backends.backend_agg.FigureCanvasAgg(fig)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def activity_chart(report: Report, lang: str) -> bytes:
    """People taking part and meetings reported (bars), new cross-team ties (line), per month.
    Months whose coffee figures are not shown (too few people) are left empty."""
    return participation_chart([month_label(m.month, lang) for m in report.months],
                               [m.participants or 0 for m in report.months], [m.met or 0 for m in report.months],
                               [m.new_ties or 0 for m in report.months], lang, T.get(lang, "chart_activity"))


def participation_chart(labels: Sequence[str], people: Sequence[int], meetings: Sequence[int],
                        ties: Sequence[int], lang: str, title: str) -> bytes:
    """People taking part and meetings reported (bars) and new cross-team ties (line) over
    periods (months, coffee rounds), oldest first."""
    x = list(range(len(labels)))
    fig = _figure(figsize=(7.2, 3.8), layout="constrained")
    ax = fig.add_subplot()
    width = 0.38
    ax.bar([i - width / 2 for i in x], people, width, color=_BLUE, label=T.get(lang, "chart_people"))
    ax.bar([i + width / 2 for i in x], meetings, width, color=_GREEN, label=T.get(lang, "chart_meetings"))
    ax.plot(x, ties, color=_ORANGE, marker="o", linewidth=2, label=T.get(lang, "chart_ties"))
    ax.set_xticks(x, labels, rotation=30 if len(labels) > 6 else 0, ha="right" if len(labels) > 6 else "center")
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.legend(loc="outside lower center", ncols=3, frameon=False, fontsize="small")  # never over the bars
    return _png(fig)


def thanks_chart(report: Report, lang: str) -> bytes:
    """A team-to-team matrix of thanks over the report's months (teams of ``min_group`` people
    or more; the smaller ones as "other" when it is big enough)."""
    teams = report.teams
    first, last = month_label(report.months[0].month, lang), month_label(report.months[-1].month, lang)
    size = max(3.8, 1.0 + 0.55 * min(len(teams), MAX_TEAMS))
    fig = _figure(figsize=(size + 1.8, size), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(T.get(lang, "chart_thanks", first=first, last=last))
    if not teams or not any(report.matrix.get((g, r)) for g in teams for r in teams):
        ax.text(0.5, 0.5, T.get(lang, "chart_no_thanks", min=report.min_group), ha="center", va="center", wrap=True)
        ax.set_axis_off()
        return _png(fig)
    teams, matrix = _busiest(teams, report.matrix)
    values = [[matrix.get((g, r), 0) for r in teams] for g in teams]
    image = ax.imshow(values, cmap="Blues")
    names = [team_name(t, lang) for t in teams]
    ax.set_xticks(range(len(teams)), names, rotation=35, ha="right")
    ax.set_yticks(range(len(teams)), names)
    ax.set_xlabel(T.get(lang, "chart_to"))
    ax.set_ylabel(T.get(lang, "chart_from"))
    top = max(max(row) for row in values) or 1
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > top * 0.6 else "black", fontsize="small")
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.locator = _matplotlib().ticker.MaxNLocator(integer=True)
    bar.update_ticks()
    return _png(fig)


def _busiest(teams: list[str], matrix: dict[tuple[str, str], int]) -> tuple[list[str], dict[tuple[str, str], int]]:
    """At most MAX_TEAMS rows: the teams with the most thanks given and received, the rest
    counted in "other" (every one of them has at least min_group people already)."""
    if len(teams) <= MAX_TEAMS:
        return teams, matrix
    volume = {t: 0 for t in teams}
    for (g, r), n in matrix.items():
        volume[g] = volume.get(g, 0) + n
        volume[r] = volume.get(r, 0) + n
    kept = sorted(sorted((t for t in teams if t != OTHER), key=lambda t: -volume[t])[:MAX_TEAMS - 1])
    out: dict[tuple[str, str], int] = {}
    for (g, r), n in matrix.items():
        key = (g if g in kept else OTHER, r if r in kept else OTHER)
        out[key] = out.get(key, 0) + n
    return [*kept, OTHER], out


def attachments(report: Report, lang: str) -> tuple[Attachment, ...]:
    """The charts of a report as files to send with a message."""
    month = report.months[-1].month
    return (
        Attachment(f"network-activity-{month}.png", activity_chart(report, lang), T.get(lang, "file_activity")),
        Attachment(f"network-thanks-{month}.png", thanks_chart(report, lang), T.get(lang, "file_thanks")),
    )


class RoundCounts(Protocol):
    """What the coffee chart needs of one round (coffee's own per-round statistics have it)."""

    period: str
    participants: int
    met: int
    new_ties: int


def coffee_chart(channel: str, rounds: Sequence[RoundCounts], lang: str) -> Attachment:
    """The chart of "coffee stats": people taking part, meetings reported and new cross-team
    ties per round of one programme, oldest round first: the counts the stats text shows.
    Offered to the coffee skill as the service ``insights.coffee_chart``."""
    png = participation_chart([r.period for r in rounds], [r.participants for r in rounds], [r.met for r in rounds],
                              [r.new_ties for r in rounds], lang, T.get(lang, "chart_coffee", channel=channel))
    last = rounds[-1].period if rounds else "none"
    return Attachment(f"coffee-{_slug(channel)}-{_slug(last)}.png", png, T.get(lang, "file_coffee", channel=channel))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"
