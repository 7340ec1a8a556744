"""GET /privacy, /terms and / on the real web app: the pages the Teams manifest links to, in
English and French, and a deployment's own texts."""

from __future__ import annotations

import json
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.teams.package import TEMPLATE_DIR
from bot.config import ConfigError
from bot.web import build_web_app


async def test_every_url_of_the_teams_manifest_is_served(make_app) -> None:  # noqa: ANN001
    manifest = json.loads((TEMPLATE_DIR / "manifest.json").read_text(encoding="utf-8"))
    paths = [re.sub(r"^https://\$\{\{BOT_DOMAIN\}\}", "", url) for url in manifest["developer"].values() if url.startswith("https://")]
    assert sorted(paths) == ["/", "/privacy", "/terms"]
    async with TestClient(TestServer(build_web_app(make_app()))) as client:
        for path in paths:
            resp = await client.get(path)
            assert resp.status == 200, path
            assert resp.content_type == "text/html"
            assert (await resp.text()).startswith("<!doctype html>")


async def test_privacy_in_both_languages(make_app) -> None:  # noqa: ANN001
    async with TestClient(TestServer(build_web_app(make_app()))) as client:
        english = await (await client.get("/privacy")).text()
        assert "<h1>Liaison: privacy notice</h1>" in english and '<html lang="en">' in english
        assert "never reads direct messages" in english and "forget me" in english
        french = await client.get("/privacy", headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8"})
        assert french.headers["Content-Language"] == "fr"
        text = await french.text()
        assert "<h1>Liaison : confidentialité</h1>" in text and "oublie-moi" in text
        assert 'href="?lang=en"' in text
        terms = await (await client.get("/terms?lang=fr")).text()
        assert "conditions d&#x27;utilisation" in terms and "sans garantie" in terms


async def test_a_deployment_serves_its_own_texts(make_app, tmp_path) -> None:  # noqa: ANN001
    for page in ("privacy", "terms"):
        for lang in ("en", "fr"):
            (tmp_path / f"{page}.{lang}.txt").write_text(f"Acme {page} {lang}\n\nAsk <legal@acme.example>.\n", encoding="utf-8")
    app = make_app(server={"pages_dir": str(tmp_path)})
    async with TestClient(TestServer(build_web_app(app))) as client:
        body = await (await client.get("/privacy?lang=fr")).text()
    assert "<h1>Acme privacy fr</h1>" in body and "Ask &lt;legal@acme.example&gt;." in body


def test_a_pages_folder_missing_a_translation_stops_the_start(make_app, tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "privacy.en.txt").write_text("Acme privacy\n\nText.\n", encoding="utf-8")
    app = make_app(server={"pages_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="privacy.fr.txt"):
        build_web_app(app)
