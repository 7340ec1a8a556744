"""Build the Teams app package (a zip of manifest.json and its two icons) from the template in
config/teams-manifest (installed with Liaison), with the placeholders filled in.

    liaison teams-package --app-id 00000000-0000-0000-0000-000000000000 \\
        --domain liaison.example.com --organisation "Example Corp" --out liaison-teams.zip

Upload the zip in Teams (Apps → Manage your apps → Upload an app) or in the Teams admin centre.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
import zipfile
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Sequence

import config

TEMPLATE_DIR = config.file("teams-manifest")
_PLACEHOLDER = re.compile(r"\$\{\{([A-Z_]+)\}\}")
_DOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", re.IGNORECASE)


class PackageError(ValueError):
    """A value cannot go into the manifest; the message says which and why."""


def fill(template: str, *, app_id: str, domain: str, organisation: str) -> str:
    """The manifest text with every ``${{NAME}}`` replaced (JSON-escaped)."""
    try:
        app_id = str(uuid.UUID(app_id))
    except ValueError as exc:
        raise PackageError(f"the app id must be the GUID of the Azure bot registration, not {app_id!r}") from exc
    domain = domain.strip().lower().removeprefix("https://").rstrip("/")
    if not _DOMAIN.match(domain):
        raise PackageError(f"the domain must be a host name such as liaison.example.com, not {domain!r}")
    if not organisation.strip():
        raise PackageError("the organisation name cannot be empty")
    values = {"MICROSOFT_APP_ID": app_id, "BOT_DOMAIN": domain, "ORGANISATION_NAME": organisation.strip()}

    def value(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise PackageError(f"the template has an unknown placeholder {m.group(0)}")
        return json.dumps(values[m.group(1)])[1:-1]

    text = _PLACEHOLDER.sub(value, template)
    json.loads(text)  # still valid JSON
    return text


def build_package(*, app_id: str, domain: str, organisation: str, out: Path, template_dir: Traversable = TEMPLATE_DIR) -> Path:
    manifest = fill((template_dir / "manifest.json").read_text(encoding="utf-8"), app_id=app_id, domain=domain,
                    organisation=organisation)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", manifest)
        for icon in ("color.png", "outline.png"):
            z.writestr(icon, (template_dir / icon).read_bytes())
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `liaison teams-package` (and of ``python -m adapters.teams.package``)."""
    parser.add_argument("--app-id", required=True, help="MICROSOFT_APP_ID of the Azure bot registration")
    parser.add_argument("--domain", required=True, help="the host name Liaison is reached at (no https://)")
    parser.add_argument("--organisation", required=True, help="shown as the app's developer")
    parser.add_argument("--out", default="liaison-teams.zip", help="the zip to write (default liaison-teams.zip)")


def run(args: argparse.Namespace, *, prog: str = "liaison teams-package") -> int:
    try:
        path = build_package(app_id=args.app_id, domain=args.domain, organisation=args.organisation, out=Path(args.out))
    except PackageError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{prog}: cannot write {args.out} ({exc.strerror or exc}); choose another --out", file=sys.stderr)
        return 2
    print(f"wrote {path}: upload it in Teams (Apps → Manage your apps → Upload an app)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adapters.teams.package", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv), prog="python -m adapters.teams.package")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
