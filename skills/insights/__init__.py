"""Network health for HR admins: is the coffee programme building the ties it exists for, who is
left out, how help and thanks flow between teams — aggregates only, never a name.

- "network report" / "rapport réseau" (admins): the figures of the month as text, with two
  charts as PNG (activity over the months; thanks between teams), sent by direct message;
- "coffee stats" (the coffee skill) gets its chart from here: the service
  ``insights.coffee_chart``; who-knows questions are counted here when the expertise skill tells
  about them (``questions.py``);
- "admin page" / "page admin" (admins): a private link, by direct message, to ``/admin`` on the
  bot's web app (the same figures and charts, a table per month and a CSV download); see
  ``access.py`` for how links and sessions are signed and ``admin.py`` for the pages;
- the monthly report (job ``insights.monthly``): on the first working day of each month, the
  previous month's report to every admin by direct message, once per month (a unique key).

What the figures mean and the ``min_group`` rule are in ``figures.py``; what is read, in
``reads.py``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot import scheduler
from bot.db.insights import InsightsReport
from bot.context import SkillContext
from bot.dispatch import reply
from bot.events import DirectMessage, Outbound, ScheduledTick
from bot.i18n import normalise_locale
from bot.router import Routes
from skills.insights import access, charts, questions, reads
from skills.insights.figures import MonthFigures, Report, build_report, months_until
from skills.insights.text import T, month_label

MONTHLY_JOB = "insights.monthly"


@dataclass(frozen=True)
class InsightsSettings:
    """The ``[insights]`` section of the settings (see config/default.toml)."""

    min_group: int = 5
    months: int = 6
    page_months: int = 12
    quiet_rounds: int = 3
    link_minutes: int = 15
    session_minutes: int = 60
    monthly_report: bool = True
    monthly_cron: str = "0 9 1-3 * mon-fri"


def settings_of(ctx: SkillContext) -> InsightsSettings:
    return ctx.settings.section("insights", InsightsSettings)


routes = Routes("insights", help={"en": [T.get("en", "help_report"), T.get("en", "help_admin")],
                                  "fr": [T.get("fr", "help_report"), T.get("fr", "help_admin")]})


def services(app: Any) -> dict[str, Any]:
    cfg = app.settings.section("insights", InsightsSettings)
    if cfg.min_group < 2:
        raise ValueError(f"insights.min_group must be at least 2 (it is {cfg.min_group}): smaller groups show individuals")
    if cfg.monthly_report:
        scheduler.register_cron(app, MONTHLY_JOB, cfg.monthly_cron)

    def add_admin_routes() -> Any:
        from skills.insights import admin

        return admin.add_routes

    return {"insights.signer": lambda: access.Signer(app.settings.secrets.secret_key), "web:insights": add_admin_routes,
            # For the coffee skill's "coffee stats": its rounds as a chart (see charts.coffee_chart).
            "insights.coffee_chart": lambda: charts.coffee_chart,
            # Each who-knows question, counted per month (see questions.py).
            "on:who_knows.asked:insights": lambda: questions.count_question}


# ---- the report as text -----------------------------------------------------------------------


def report_of(ctx: SkillContext, *, months: int | None = None, now: dt.datetime | None = None) -> Report:
    cfg = settings_of(ctx)
    return build_report(ctx.db, now or ctx.clock.now(), months=months or cfg.months, min_group=cfg.min_group,
                        quiet_rounds=cfg.quiet_rounds)


def _rate(fig: MonthFigures, lang: str) -> str:
    return f"{100 * fig.answer_rate:.0f} %" if fig.answer_rate is not None and fig.answered else T.get(lang, "rate_none")


def summary(report: Report, lang: str, *, title: str = "title", quiet_rounds: int = 3) -> str:
    """The text of a report: the latest month's figures, aggregates only."""
    fig, n = report.latest, report.min_group
    lines = [T.get(lang, title, month=month_label(fig.month, lang), min=n)]
    if not report.shown:
        return "\n".join([*lines, T.get(lang, "too_small", min=n)])
    if fig.coffee_shown:
        lines.append(T.get(lang, "coffee", participants=fig.participants, groups=fig.groups,
                           meetings=T.get(lang, "meetings", count=fig.met), rate=_rate(fig, lang)))
        lines.append(T.get(lang, "ties", count=fig.new_ties))
        if fig.quiet is not None:
            lines.append(T.get(lang, "quiet", count=fig.quiet, rounds=quiet_rounds))
    else:
        lines.append(T.get(lang, "coffee_small" if fig.rounds else "coffee_none", min=n))
    lines.append(T.get(lang, "thanks", count=fig.thanks, cross=fig.thanks_cross_team))
    lines.append(T.get(lang, "answers", count=fig.answers, cross=fig.answers_cross_team))
    lines.append(T.get(lang, "questions", count=fig.questions_asked, answered=fig.questions_answered))
    if report.merged_teams:
        note = T.get(lang, "merged", n=report.merged_teams, min=n)
        if report.other_hidden:
            note += " " + T.get(lang, "other_hidden", min=n)
        lines.append("_" + note + "_")
    lines.append(T.get(lang, "charts"))
    return "\n".join(lines)


# ---- chat -------------------------------------------------------------------------------------


@routes.message(en=r"(?:the\s+)?network\s+(?:report|stats|health)", fr=r"rapport\s+(?:du\s+)?r[ée]seau", admin=True)
def network_report(event: Any, ctx: SkillContext) -> list[Outbound]:
    """The month's network report with its charts, to the admin who asked, by direct message."""
    cfg = settings_of(ctx)
    report = report_of(ctx)
    text = summary(report, ctx.lang, quiet_rounds=cfg.quiet_rounds)
    files = charts.attachments(report, ctx.lang) if report.shown else ()
    if event.conversation.kind == "dm":
        return [dataclasses.replace(reply(ctx, text), files=files)]
    return [DirectMessage(event.sender.id, text, files=files), reply(ctx, ctx.t(T, "in_dm"), private=True)]


@routes.message(en=r"(?:the\s+)?admin\s+page", fr=r"(?:la\s+)?page\s+(?:d'\s*)?admin(?:istration)?", admin=True)
def admin_page(event: Any, ctx: SkillContext) -> list[Outbound]:
    """A private, single-use, short-lived link to /admin, by direct message."""
    cfg = settings_of(ctx)
    grant = access.new_link_grant(ctx.workspace.key, event.sender.id, ctx.lang, ctx.clock.now(), cfg.link_minutes)
    token = ctx.service("insights.signer").sign(access.LINK, grant)
    url = f"{public_url(ctx.settings)}/admin/open?t={token}"
    dm = DirectMessage(event.sender.id, ctx.t(T, "link", url=url, count=cfg.link_minutes))
    if event.conversation.kind == "dm":
        return [dm]
    return [dm, reply(ctx, ctx.t(T, "link_channel"), private=True)]


def public_url(settings: Any) -> str:
    url = settings.secrets.public_url or f"http://localhost:{settings.port}"
    return url.rstrip("/")


# ---- the monthly report -------------------------------------------------------------------------


@routes.schedule(MONTHLY_JOB)
def monthly(tick: ScheduledTick, ctx: SkillContext) -> list[Outbound]:
    """The previous month's report to every admin, once per month: the month's row is written
    before anything is sent, so a second fire (the next working day, a retry) finds it."""
    cfg = settings_of(ctx)
    first = dt.datetime(tick.fire_time.year, tick.fire_time.month, 1, tzinfo=dt.timezone.utc)
    end_of_last = first - dt.timedelta(microseconds=1)
    month = months_until(end_of_last, 1)[0].label
    admins = reads.read_admin_ids(ctx.db, ctx.settings.bot.hr_admins)
    if not admins:
        ctx.log.info("insights: no admin in %s to send the %s report to", ctx.workspace.key, month)
        return []
    try:
        with ctx.db.begin_nested():
            ctx.db.add(InsightsReport(month=month, recipients=len(admins), sent_at=ctx.clock.now()))
            ctx.db.flush()
    except IntegrityError:
        ctx.log.info("insights: the %s report of %s was already sent", month, ctx.workspace.key)
        return []
    report = report_of(ctx, now=end_of_last)
    by_lang: dict[str, tuple[str, tuple]] = {}
    out: list[Outbound] = []
    for user_id in admins:
        lang = _lang_of(ctx, user_id)
        if lang not in by_lang:
            by_lang[lang] = (summary(report, lang, title="monthly_title", quiet_rounds=cfg.quiet_rounds),
                             charts.attachments(report, lang) if report.shown else ())
        text, files = by_lang[lang]
        out.append(DirectMessage(user_id, text, files=files))
    return out


def _lang_of(ctx: SkillContext, user_id: str) -> str:
    from bot import people

    row = people.get(ctx.db, user_id)
    return normalise_locale(row.locale if row else None) or ctx.settings.bot.default_language


# ---- the demo ---------------------------------------------------------------------------------

routes.demo_step("Rebecca", "network report",
                 "HR admins get the network report with two charts: aggregates only, teams of fewer than five "
                 "people merged, nobody named. The console writes the charts to files and names them.")
