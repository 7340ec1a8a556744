"""The Teams app package: the manifest template, its icons, and the zip built from them."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib

import pytest

from adapters.teams.package import TEMPLATE_DIR, PackageError, build_package, fill, main

APP_ID = "eac5e5c6-ab14-4f50-80cb-49213fe51b1a"


def png_size(data: bytes) -> tuple[int, int, int]:
    """(width, height, colour type) of a PNG, checking its signature and header CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    header = data[16:16 + length]
    (crc,) = struct.unpack(">I", data[16 + length:20 + length])
    assert kind == b"IHDR" and zlib.crc32(kind + header) & 0xFFFFFFFF == crc
    width, height, _depth, colour = struct.unpack(">IIBB", header[:10])
    return width, height, colour


def test_the_template_asks_for_what_liaison_needs() -> None:
    manifest = json.loads((TEMPLATE_DIR / "manifest.json").read_text(encoding="utf-8"))
    [bot] = manifest["bots"]
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    titles = [c["title"] for c in bot["commandLists"][0]["commands"]]
    assert titles == ["whoknows", "thanks", "coffee", "help"]
    rsc = manifest["authorization"]["permissions"]["resourceSpecific"]
    assert {"name": "ChannelMessage.Read.Group", "type": "Application"} in rsc
    assert manifest["webApplicationInfo"]["id"] == "${{MICROSOFT_APP_ID}}"
    assert all(len(c["description"]) <= 128 and len(c["title"]) <= 32 for c in bot["commandLists"][0]["commands"])


def test_the_command_menu_offers_everyone_only_what_everyone_may_do() -> None:
    import re

    from skills.coffee.commands import ADMIN_SUBCOMMANDS

    manifest = json.loads((TEMPLATE_DIR / "manifest.json").read_text(encoding="utf-8"))
    descriptions = " ".join(c["description"] for c in manifest["bots"][0]["commandLists"][0]["commands"])
    offered = set(re.findall(r"coffee (\w+)", descriptions))
    assert offered >= {"join", "leave", "status"}
    assert not offered & ADMIN_SUBCOMMANDS, offered & ADMIN_SUBCOMMANDS


def test_the_icons_are_the_sizes_teams_requires() -> None:
    assert png_size((TEMPLATE_DIR / "color.png").read_bytes()) == (192, 192, 6)
    assert png_size((TEMPLATE_DIR / "outline.png").read_bytes()) == (32, 32, 6)


def test_the_package_fills_every_placeholder(tmp_path) -> None:  # noqa: ANN001
    out = build_package(app_id=APP_ID.upper(), domain="https://Liaison.Example.com/", organisation='Acme "R&D"',
                        out=tmp_path / "app.zip")
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["color.png", "manifest.json", "outline.png"]
        text = z.read("manifest.json").decode()
    assert "${{" not in text
    manifest = json.loads(text)
    assert manifest["id"] == manifest["bots"][0]["botId"] == manifest["webApplicationInfo"]["id"] == APP_ID
    assert manifest["validDomains"] == ["liaison.example.com"]
    assert manifest["developer"]["name"] == 'Acme "R&D"'


@pytest.mark.parametrize(
    "kwargs, why",
    [
        ({"app_id": "my-bot", "domain": "liaison.example.com", "organisation": "Acme"}, "GUID"),
        ({"app_id": APP_ID, "domain": "not a domain", "organisation": "Acme"}, "host name"),
        ({"app_id": APP_ID, "domain": "liaison.example.com", "organisation": " "}, "organisation"),
    ],
)
def test_bad_values_say_what_is_wrong(kwargs: dict, why: str) -> None:
    with pytest.raises(PackageError, match=why):
        fill((TEMPLATE_DIR / "manifest.json").read_text(encoding="utf-8"), **kwargs)


def test_the_command_line(tmp_path, capsys) -> None:  # noqa: ANN001
    assert main(["--app-id", APP_ID, "--domain", "liaison.example.com", "--organisation", "Acme", "--out", str(tmp_path / "x.zip")]) == 0
    assert (tmp_path / "x.zip").exists()
    assert main(["--app-id", "nope", "--domain", "liaison.example.com", "--organisation", "Acme", "--out", str(tmp_path / "y.zip")]) == 2
    assert "GUID" in capsys.readouterr().err and not (tmp_path / "y.zip").exists()
