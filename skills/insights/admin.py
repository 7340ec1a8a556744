"""The admin page on the bot's web app, server-rendered from Jinja2 templates (no JavaScript):

- ``GET /admin/open?t=…``: the page a link from the bot opens; a button posts the token, so a
  link preview that fetches the address does not use the link up;
- ``POST /admin/open``: checks the token (signature, expiry), that its admin is still an admin,
  and records its nonce (a unique key: a used link is refused), then starts a session cookie and
  redirects to ``/admin``;
- ``GET /admin``: the figures, charts and a table per month of the session's workspace;
  ``?lang=en|fr`` switches the language;
- ``GET /admin/report.csv``: the same figures as CSV.

Anything refused is a 403 page saying why and how to get a new link, and one log line.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import dataclasses
import datetime as dt
import io
import logging
import re
from typing import Any

import jinja2
from aiohttp import web
from sqlalchemy.exc import IntegrityError

from bot import people
from bot.db.insights import InsightsLinkUse
from bot.web import APP_KEY
from skills.insights import access, charts
from skills.insights.figures import Report, build_report
from skills.insights.text import T, month_label

log = logging.getLogger("liaison.skills.insights")

COOKIE = "liaison_admin"
_EMOJI = re.compile(r"^[^\w(]+\s")
_ENV = jinja2.Environment(loader=jinja2.PackageLoader("skills.insights", "templates"),
                          autoescape=jinja2.select_autoescape(["html"]))
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'self'"}


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/admin", page)
    web_app.router.add_get("/admin/open", open_form)
    web_app.router.add_post("/admin/open", open_link)
    web_app.router.add_get("/admin/report.csv", csv_download)


def _settings(app: Any) -> Any:
    from skills.insights import InsightsSettings

    return app.settings.section("insights", InsightsSettings)


def _lang(request: web.Request, default: str) -> str:
    wanted = request.query.get("lang", "")
    return wanted if wanted in ("en", "fr") else (default if default in ("en", "fr") else "en")


def _html(template: str, status: int = 200, **values: Any) -> web.Response:
    body = _ENV.get_template(template).render(**values)
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8", headers=_HEADERS)


def _refused(request: web.Request, reason: str, lang: str) -> web.Response:
    log.warning("admin page refused from %s: %s", request.remote, reason.removeprefix("refused_"))
    return _html("refused.html", 403, lang=lang, title=T.get(lang, "refused_title"), message=T.get(lang, reason))


def _is_admin(app: Any, workspace: str, user_id: str) -> bool:
    with app.db.session(workspace) as s:
        return people.is_admin(people.get(s, user_id), app.settings.bot.hr_admins)


async def open_form(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    token = request.query.get("t", "")
    lang = _lang(request, app.settings.bot.default_language)
    try:
        grant = app.services.get("insights.signer").verify(access.LINK, token, app.clock.now())
    except access.Refused as exc:
        return _refused(request, exc.reason, lang)
    lang = _lang(request, grant.lang)
    return _html("open.html", lang=lang, title=T.get(lang, "page_title"), intro=T.get(lang, "page_open_intro"),
                 button=T.get(lang, "page_open"), token=token)


async def open_link(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    form = await request.post()
    lang = _lang(request, app.settings.bot.default_language)
    now = app.clock.now()
    try:
        grant = app.services.get("insights.signer").verify(access.LINK, str(form.get("t") or ""), now)
        lang = grant.lang
        if not await asyncio.to_thread(_is_admin, app, grant.workspace, grant.user_id):
            raise access.Refused("refused_not_admin")
        await asyncio.to_thread(_use, app, grant, now)
    except access.Refused as exc:
        return _refused(request, exc.reason, lang)
    minutes = _settings(app).session_minutes
    session = dataclasses.replace(grant, nonce="", expires=now + dt.timedelta(minutes=minutes))
    response = web.Response(status=303, headers={**_HEADERS, "Location": f"/admin?lang={lang}"})
    response.set_cookie(COOKIE, app.services.get("insights.signer").sign(access.SESSION, session), max_age=minutes * 60,
                        path="/admin", httponly=True, samesite="Strict", secure=_https(request, app))
    log.info("admin page opened in %s", grant.workspace)
    return response


def _use(app: Any, grant: access.Grant, now: dt.datetime) -> None:
    """Record the link's nonce; a second use of the same link fails on the unique key."""
    try:
        with app.db.session(grant.workspace) as s:
            s.add(InsightsLinkUse(nonce=grant.nonce, user_id=grant.user_id, used_at=now))
    except IntegrityError:
        raise access.Refused("refused_used") from None


def _https(request: web.Request, app: Any) -> bool:
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    public = (app.settings.secrets.public_url or "").lower()
    return request.secure or forwarded == "https" or public.startswith("https://")


async def _session(request: web.Request) -> access.Grant:
    app = request.app[APP_KEY]
    grant = app.services.get("insights.signer").verify(access.SESSION, request.cookies.get(COOKIE), app.clock.now())
    if not await asyncio.to_thread(_is_admin, app, grant.workspace, grant.user_id):
        raise access.Refused("refused_not_admin")
    return grant


def _report(app: Any, workspace: str) -> Report:
    cfg = _settings(app)
    with app.db.session(workspace) as s:
        return build_report(s, app.clock.now(), months=cfg.page_months, min_group=cfg.min_group,
                            quiet_rounds=cfg.quiet_rounds)


def _cell(value: Any, shown: bool, lang: str, min_group: int, *, rate: bool = False) -> str:
    if not shown:
        return T.get(lang, "cell_hidden", min=min_group)
    if value is None:
        return "–"
    return f"{100 * value:.0f} %" if rate else str(value)


def rows(report: Report, lang: str, quiet_rounds: int) -> tuple[list[str], list[list[str]]]:
    """The table per month (newest first), as the page and the CSV show it."""
    n = report.min_group
    head = [T.get(lang, k, rounds=quiet_rounds) for k in (
        "col_month", "col_participants", "col_groups", "col_met", "col_rate", "col_ties", "col_quiet",
        "col_thanks", "col_thanks_cross", "col_answers", "col_answers_cross", "col_routed")]
    body = []
    for m in reversed(report.months):
        c = m.coffee_shown or not m.rounds  # a month without rounds has nothing to hide: "–"
        body.append([month_label(m.month, lang), _cell(m.participants, c, lang, n), _cell(m.groups, c, lang, n),
                     _cell(m.met, c, lang, n), _cell(m.answer_rate, c, lang, n, rate=True),
                     _cell(m.new_ties, c, lang, n), _cell(m.quiet, c, lang, n),
                     _cell(m.thanks, report.shown, lang, n), _cell(m.thanks_cross_team, report.shown, lang, n),
                     _cell(m.answers, report.shown, lang, n), _cell(m.answers_cross_team, report.shown, lang, n),
                     T.get(lang, "cell_absent") if m.routed_asked is None else str(m.routed_asked)])
    return head, body


def _page_values(app: Any, grant: access.Grant, lang: str) -> dict[str, Any]:
    from skills.insights import summary

    cfg = _settings(app)
    report = _report(app, grant.workspace)
    head, body = rows(report, lang, cfg.quiet_rounds)
    images = []
    if report.shown:
        for f in charts.attachments(report, lang):
            images.append({"title": f.title, "src": "data:image/png;base64," + base64.b64encode(f.data).decode("ascii")})
    # Without the chat's emoji: a browser without an emoji font would show empty boxes.
    lines = [_EMOJI.sub("", line).strip("_* ") for line in summary(report, lang, quiet_rounds=cfg.quiet_rounds).splitlines()[1:]]
    return dict(lang=lang, other_lang="fr" if lang == "en" else "en", switch=T.get(lang, "page_lang"),
                title=T.get(lang, "page_title"), intro=T.get(lang, "page_intro", min=cfg.min_group),
                lines=[x for x in lines if x != T.get(lang, "charts")], images=images, head=head, body=body,
                table_title=T.get(lang, "page_table"), charts_title=T.get(lang, "page_charts"),
                csv=T.get(lang, "page_csv"))


async def page(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    try:
        grant = await _session(request)
    except access.Refused as exc:
        return _refused(request, exc.reason, _lang(request, app.settings.bot.default_language))
    lang = _lang(request, grant.lang)
    values = await asyncio.to_thread(_page_values, app, grant, lang)
    return _html("admin.html", **values)


async def csv_download(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    try:
        grant = await _session(request)
    except access.Refused as exc:
        return _refused(request, exc.reason, _lang(request, app.settings.bot.default_language))
    lang = _lang(request, grant.lang)
    report = await asyncio.to_thread(_report, app, grant.workspace)
    head, body = rows(report, lang, _settings(app).quiet_rounds)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(head)
    writer.writerows(body)
    name = f"network-{report.latest.month}.csv"
    return web.Response(body=out.getvalue().encode("utf-8-sig"), content_type="text/csv", charset="utf-8",
                        headers={**_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})
