"""The admin page over HTTP, and in a real headless browser: reached only through a fresh link
the bot sends to an admin, single use, short-lived, bound to the admin and workspace, then a
session cookie; the figures, charts, table and CSV of that workspace only.

The browser test drives Debian's chromium with Playwright. Without a browser it is skipped with
a message saying what to install, except under CI=true where it fails (.ci/run installs it)."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil

import aiohttp
import pytest
import yarl

from adapters.console.chat import ConsoleChat
from bot.events import Person, Workspace
from bot.ports import FixedClock
from skills.insights import access
from tests.conftest import dm
from tests.http.fake_connector import served
from tests.skills import insights_sample as sample

WS = Workspace("console", "acme")
CHROMIUM = os.environ.get("LIAISON_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def admin_app(make_app, database_url, clock):  # noqa: ANN001, ANN201
    chat = ConsoleChat(people={}, channels={}, out=io.StringIO())
    app = make_app(database_url=database_url, chats={"console": chat}, clock_=clock,
                   bot={"hr_admins": [sample.ADMIN]}, env={"LIAISON_SECRET_KEY": "test-secret-key"})
    sample.load(app)
    return app, chat


async def link_for(app, chat, user: str = sample.ADMIN, text: str = "admin page") -> str:  # noqa: ANN001
    await app.dispatcher.handle(dm(Person(user, sample.NAMES[user]), text))
    _, message = chat.sent[-1]
    found = re.search(r"<(https?://[^|>]+)\|", message.text)
    assert found, message.text
    return found.group(1).split("/", 3)[3]  # the path and query: served on a test port


def browser_session(**kw) -> aiohttp.ClientSession:  # noqa: ANN003
    # unsafe=True: keep cookies of an IP address host (the loopback test server), as browsers do.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), **kw)


async def open_with(client: aiohttp.ClientSession, url: str, path: str) -> aiohttp.ClientResponse:
    """What the page's button does: POST the link's token."""
    token = path.split("t=", 1)[1]
    return await client.post(url + "/admin/open", data={"t": token}, allow_redirects=False)


async def test_a_fresh_link_opens_a_session_once(make_app, database_url) -> None:  # noqa: ANN001
    clock = FixedClock(sample.NOW)
    app, chat = admin_app(make_app, database_url, clock)
    path = await link_for(app, chat)
    async with served(app) as url, browser_session() as client:
        async with client.get(url + "/" + path) as resp:  # the page with the button: does not use the link
            assert resp.status == 200 and "Open the network page" in await resp.text()
        resp = await open_with(client, url, path)
        assert resp.status == 303 and resp.headers["Location"].startswith("/admin")
        cookie = resp.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
        async with client.get(url + "/admin") as page:
            html = await page.text()
            assert page.status == 200 and "Network health" in html and html.count("data:image/png;base64,") == 2
            assert "Nov 2026" in html and "Legal" not in html
            assert not any(name in html for name in sample.NAMES.values())
        async with client.get(url + "/admin/report.csv") as got:
            assert got.status == 200 and got.headers["Content-Disposition"].endswith('network-2026-11.csv"')
            lines = (await got.text()).lstrip("\ufeff").splitlines()
            assert lines[0].startswith("Month,Coffee: people") and lines[1].startswith("Nov 2026,10,5,1,40 %,2,5,4,2,2,1")
        async with browser_session() as other:  # the same link again, in another browser
            again = await open_with(other, url, path)
            assert again.status == 403 and "already been used" in await again.text()


async def test_refusals(make_app, database_url) -> None:  # noqa: ANN001
    clock = FixedClock(sample.NOW)
    app, chat = admin_app(make_app, database_url, clock)
    signer = app.services.get("insights.signer")
    late = await link_for(app, chat)
    async with served(app) as url, browser_session() as client:
        async with client.get(url + "/admin") as resp:  # no session
            assert resp.status == 403 and "only through a link" in await resp.text()
        forged = signer.sign(access.LINK, access.new_link_grant(WS.key, sample.ADMIN, "en", clock.now(), 15))
        forged = forged[:-3] + ("AAA" if not forged.endswith("AAA") else "BBB")
        assert (await open_with(client, url, "admin/open?t=" + forged)).status == 403
        # A link minted for someone who is not an admin (or no longer is) opens nothing.
        not_admin = signer.sign(access.LINK, access.new_link_grant(WS.key, "S2", "en", clock.now(), 15))
        resp = await open_with(client, url, "admin/open?t=" + not_admin)
        assert resp.status == 403 and "HR admins" in await resp.text()
        clock.advance(dt.timedelta(minutes=16))
        resp = await open_with(client, url, late)
        assert resp.status == 403 and "expired" in await resp.text()
        # A session cookie is bound to its workspace: one altered to name another is refused.
        fresh = await link_for(app, chat)
        assert (await open_with(client, url, fresh)).status == 303
        cookie = client.cookie_jar.filter_cookies(yarl.URL(url + "/admin"))["liaison_admin"].value
        body, mac = cookie.split(".")
        import base64
        import json

        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        payload["w"] = "console:other"
        other = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
        async with browser_session(cookies={"liaison_admin": f"{other}.{mac}"}) as intruder:
            async with intruder.get(url + "/admin") as resp:
                assert resp.status == 403


async def test_non_admins_get_no_link(make_app, database_url) -> None:  # noqa: ANN001
    app, chat = admin_app(make_app, database_url, FixedClock(sample.NOW))
    await app.dispatcher.handle(dm(Person("S2", sample.NAMES["S2"]), "admin page"))
    _, message = chat.sent[-1]
    assert "admin" in message.text.lower() and "/admin/open" not in message.text


def _browser_or_skip() -> None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing = "the playwright package (pip install playwright)"
    else:
        missing = "" if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM) else f"a browser at {CHROMIUM} (apt-get install chromium)"
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: the admin page's browser test needs {missing}")
        pytest.skip(f"no browser for the admin page test: install {missing}")


async def test_the_admin_page_in_a_real_browser(make_app, sqlite_url, tmp_path) -> None:  # noqa: ANN001
    _browser_or_skip()
    from playwright.async_api import async_playwright

    clock = FixedClock(sample.NOW)
    app, chat = admin_app(make_app, sqlite_url, clock)
    path = await link_for(app, chat)
    stranger = app.services.get("insights.signer").sign(
        access.LINK, access.new_link_grant(WS.key, "S2", "en", clock.now(), 15))
    async with served(app) as url, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            context = await browser.new_context(viewport={"width": 412, "height": 915}, accept_downloads=True)
            page = await context.new_page()
            await page.goto(f"{url}/{path}")
            await page.click("#open")
            await page.wait_for_url(re.compile(r".*/admin\?lang=en$"))
            assert await page.locator("h1").inner_text() == "Network health"
            widths = await page.eval_on_selector_all("figure img", "imgs => imgs.map(i => i.naturalWidth)")
            assert len(widths) == 2 and min(widths) > 300
            assert await page.locator("#months tbody tr").count() == 12
            assert (await page.locator("#months tbody tr").first.inner_text()).startswith("Nov 2026")
            await page.screenshot(path=str(tmp_path / "admin-page.png"), full_page=True)
            async with page.expect_download() as info:
                await page.click("#csv")
            download = await info.value
            saved = tmp_path / download.suggested_filename
            await download.save_as(saved)
            assert saved.name == "network-2026-11.csv" and "Nov 2026,10,5,1" in saved.read_text("utf-8-sig")
            await page.click("a[hreflang=fr]")
            assert await page.locator("h1").inner_text() == "Santé du réseau"

            second = await browser.new_page()
            await second.goto(f"{url}/{path}")
            await second.click("#open")
            assert "déjà été utilisé" in await second.locator("#reason").inner_text() or \
                "already been used" in await second.locator("#reason").inner_text()
            await second.goto(f"{url}/admin/open?t={stranger}")
            await second.click("#open")
            assert "HR admins" in await second.locator("#reason").inner_text()
            await second.screenshot(path=str(tmp_path / "refused.png"))
        finally:
            await browser.close()
    print(f"screenshots: {tmp_path / 'admin-page.png'}, {tmp_path / 'refused.png'}")
