"""The `liaison` command (the console script of pyproject.toml).

  liaison demo                     load the sample company into a fresh SQLite file and walk through every skill
  liaison chat --as NAME [--say]   talk to the bot in a terminal, as someone of the sample company
  liaison serve [--no-worker]      the web app (and the worker unless --no-worker)
  liaison worker                   the worker alone: scheduler and ingestion
  liaison db upgrade               migrate the database to the newest schema
  liaison import slack-export PATH backfill the expertise index from a Slack export (folder or .zip)
  liaison ask "who knows X?" --as USER [--json] | --batch FILE|- --json
  liaison teams-package --app-id ID --domain HOST --organisation NAME   the Teams app zip
  liaison --version

A mistake on the command line, in the settings or in the environment prints one line that says
what happened and what to do, and exits with 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from bot.config import ConfigError, load_settings
from bot.i18n import Catalog

log = logging.getLogger("liaison")

DEMO_DB = "liaison-demo.db"
CLI = Catalog("cli")  # the command line speaks English; its counted nouns come from the catalogue


class _SecretFilter(logging.Filter):
    """Blank out anything that looks like a token, whatever logs it."""

    import re as _re

    _PATTERN = _re.compile(r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|Bearer\s+[A-Za-z0-9._-]+)")

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if self._PATTERN.search(msg):
            record.msg, record.args = self._PATTERN.sub("[redacted]", msg), ()
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_SecretFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "slack_bolt", "slack_sdk", "aiohttp.access", "alembic", "spacy"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # spaCy gives its logger a handler of its own when it is imported; through ours as well, each
    # of its lines would be printed twice. Ours says which pipelines load ("nlp: en uses …").
    logging.getLogger("spacy").propagate = False


def _progress(label: str):  # noqa: ANN202
    """A progress bar on stderr: ``show(done, total)``. The rate counts from the bar's creation,
    or from a call with ``done == 0`` (a caller with set-up work first calls it when its real
    work starts)."""
    started = time.perf_counter()

    def show(done: int, total: int) -> None:
        nonlocal started
        if done == 0:
            started = time.perf_counter()
        width = 30
        filled = int(width * done / total) if total else width
        rate = done / max(time.perf_counter() - started, 1e-6)
        end = "\n" if done >= total else "\r"
        print(f"  {label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({rate:,.0f}/s)", end=end, file=sys.stderr, flush=True)

    return show


# ---- commands ----------------------------------------------------------------------------------


def _real_workspaces_in(path: Path) -> list[str]:
    """Workspaces other than the sample's in an existing SQLite file (none if it is not Liaison's)."""
    import sqlite3

    from adapters.console.sample import load_sample

    sample = load_sample().workspace.key
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            rows = conn.execute("SELECT DISTINCT workspace FROM people").fetchall()
    except sqlite3.Error:
        return []
    return sorted({r[0] for r in rows} - {sample})


def cmd_demo(args: argparse.Namespace) -> int:
    from adapters.console.demo import run_demo
    from bot.app.bootstrap import bootstrap

    path = Path(args.database or DEMO_DB)
    if path.exists() and (real := _real_workspaces_in(path)):
        print(f"liaison demo: {path} holds {', '.join(real)}, not only the sample company, and the demo replaces its "
              "file; give the demo a file of its own with --database", file=sys.stderr)
        return 2
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{path}")
    settings = load_settings(env)
    return asyncio.run(run_demo(settings, build=bootstrap, progress=_progress))


def cmd_chat(args: argparse.Namespace) -> int:
    from adapters.console.session import ConsoleSession, UnknownPerson
    from bot.app.bootstrap import bootstrap

    from bot.db import redact

    session = ConsoleSession.open(build=bootstrap, settings=load_settings())
    database = redact(session.app.db.url)

    async def main() -> int:
        try:
            who = session.person(args.as_)
            if args.in_ is not None:
                session.channel(args.in_)
        except UnknownPerson as exc:
            print(f"liaison chat: {exc}", file=sys.stderr)
            return 2
        if not session.is_loaded():
            real = session.other_workspaces()
            if real and not args.sample_into_existing:
                print(f"liaison chat: the database {database} holds {', '.join(real)}; the sample company would be written "
                      "beside it. Point DATABASE_URL at a database of its own (e.g. sqlite:///liaison-chat.db), or pass "
                      "--sample-into-existing", file=sys.stderr)
                return 2
            print(f"Loading the sample company {session.sample.name} into {database} (first run only)…", file=sys.stderr)
            await session.load(progress=_progress("messages"))
        if args.say is not None:
            await session.say(who, args.say, channel=args.in_)
            return 0
        where = f"#{args.in_}" if args.in_ else "a direct message with the bot"
        print(f"You are {who.name} ({who.team}), in {where} (database {database}). Type 'help' (or 'aide'); Ctrl-D to quit.")
        loop = asyncio.get_running_loop()
        while True:
            try:
                line = await loop.run_in_executor(None, lambda: input(f"{who.name.split(' ')[0]}> "))
            except EOFError:
                print()
                return 0
            if line.strip():
                await session.say(who, line, channel=args.in_)

    try:
        return asyncio.run(main())
    finally:
        session.close()


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.app.bootstrap import bootstrap
    from bot.app.runtime import serve

    settings = load_settings()
    app = bootstrap(settings)
    host = args.host or settings.server.host
    try:
        # Before anything listens: an adapter may refuse the address (Teams without authentication).
        for adapter in app.adapters.values():
            if hasattr(adapter, "check_listen_address"):
                adapter.check_listen_address(host)
        asyncio.run(serve(app, host=host, port=args.port or settings.port, with_worker=not args.no_worker))
    finally:
        app.close()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from bot.app.bootstrap import bootstrap
    from bot.app.runtime import work

    app = bootstrap(load_settings())
    try:
        asyncio.run(work(app))
    finally:
        app.close()
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from bot.db import Database, redact
    from bot.db.migrate import upgrade

    settings = load_settings()
    db = Database(settings.database_url)
    try:
        if args.db_command == "upgrade":
            applied = upgrade(db)
            print(f"{redact(db.url)}: {'migrated to the newest schema' if applied else 'already at the newest schema'}")
        return 0
    finally:
        db.dispose()


def cmd_import(args: argparse.Namespace) -> int:
    from bot.app.bootstrap import bootstrap
    from adapters.slack.export import ExportError, import_export, read_export

    print(f"Reading and checking {args.path}…", file=sys.stderr, flush=True)
    try:
        export = read_export(args.path, allow_unknown_users=args.skip_unknown_users, workspace=args.workspace)
    except ExportError as exc:
        print(f"liaison import: {exc}", file=sys.stderr)
        return 2
    counted = {key: CLI.get("en", key, count=n) for key, n in (
        ("n_people", len(export.people)), ("n_channels", len(export.channels)), ("n_messages", len(export.messages)))}
    print(f"Importing {export.workspace.key}: {counted['n_people']}, {counted['n_channels']}, {counted['n_messages']} "
          f"({export.skipped} left out: bots, joins{', unknown users' if args.skip_unknown_users else ''})",
          file=sys.stderr)
    app = bootstrap(load_settings(), platforms=())
    try:
        result = import_export(app, export, progress=_progress)
    finally:
        app.close()
    print(f"{result.workspace}: {result.queued} new messages queued, {result.indexed} indexed"
          f"{' (already imported: nothing changed)' if result.queued == 0 else ''}")
    return 0


def _ask_workspace(app, wanted: str | None) -> str | None:  # noqa: ANN001
    from sqlalchemy import select

    from bot.db.models import PersonRow

    with app.db.session(None) as s:
        known = sorted(s.scalars(select(PersonRow.workspace).distinct()))
    if wanted:
        matches = [w for w in known if w == wanted or w.split(":", 1)[-1] == wanted]
        if not matches:
            print(f"liaison ask: no workspace {wanted!r} in the database (known: {', '.join(known) or 'none'})", file=sys.stderr)
            return None
        return matches[0]
    if len(known) != 1:
        print("liaison ask: " + ("the database holds no workspace yet; import one first (liaison import slack-export PATH)"
              if not known else f"several workspaces in the database; choose one with --workspace ({', '.join(known)})"),
              file=sys.stderr)
        return None
    return known[0]


def ask_json(app, workspace: str, *, text: str, as_user: str | None) -> dict:  # noqa: ANN001
    """One question, answered as `liaison ask --json` prints it."""
    from skills.expertise.ask import describe, link_targets

    service = app.services.get("expertise")
    now = app.clock.now()
    with app.db.session(workspace) as s:
        lang = service.nlp.language(text)
        topics, experts = service.ask(s, text=text, asker=as_user, now=now, lang=lang)
    return {
        "experts": [
            {"user": e.user_id, "name": e.name, "score": e.score, "reasons": [describe(e, lang=lang, now=now)],
             "evidence": link_targets(e)}
            for e in experts
        ],
        "topics": [t.key for t in topics],
    }


def _ask_batch(app, ws: str, stream) -> None:  # noqa: ANN001
    import json

    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text, who = item["text"], item.get("as")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            print(f"liaison ask: line {n} is not {{\"as\": USER_ID, \"text\": \"…\"}} ({exc}); skipped", file=sys.stderr)
            print(json.dumps({"experts": [], "error": f"line {n}: not a question"}), flush=True)
            continue
        answer = ask_json(app, ws, text=text, as_user=who)
        print(json.dumps({"experts": answer["experts"]}, ensure_ascii=False), flush=True)


def _print_answer(answer: dict, *, as_json: bool) -> None:
    import json

    if as_json:
        print(json.dumps({"experts": answer["experts"]}, ensure_ascii=False))
        return
    if not answer["experts"]:
        print("Nobody is known for that yet.")
    for i, e in enumerate(answer["experts"], 1):
        print(f"{i}. {e['name']} ({e['user']}, score {e['score']}) — {e['reasons'][0]}")
        for link in e["evidence"]:
            print(f"     {link}")


def cmd_ask(args: argparse.Namespace) -> int:
    from bot.app.bootstrap import bootstrap

    if (args.question is None) == (args.batch is None):
        print("liaison ask: give a question, or --batch FILE (or - for standard input)", file=sys.stderr)
        return 2
    if args.question is not None and not args.as_:
        print("liaison ask: say who asks with --as USER_ID", file=sys.stderr)
        return 2
    stream = None
    if args.batch is not None:
        try:
            stream = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            print(f"liaison ask: cannot read {args.batch} ({exc.strerror or exc}); give a file of JSON lines, or - for standard input",
                  file=sys.stderr)
            return 2
    app = bootstrap(load_settings(), platforms=())
    try:
        ws = _ask_workspace(app, args.workspace)
        if ws is None:
            return 2
        if stream is None:
            _print_answer(ask_json(app, ws, text=args.question, as_user=args.as_), as_json=args.json)
        else:
            _ask_batch(app, ws, stream)
        return 0
    finally:
        app.close()
        if stream is not None and stream is not sys.stdin:
            stream.close()


def cmd_teams_package(args: argparse.Namespace) -> int:
    from adapters.teams.package import run

    return run(args)


def version() -> str:
    """The installed distribution's version (a source checkout that was never installed: "unknown")."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("liaison-bot")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liaison", description="Liaison: who knows what, thanks, and random coffee, on Slack and Teams.")
    parser.add_argument("--version", action="version", version=f"liaison {version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="walk through every skill on the sample company (a fresh SQLite file)")
    p.add_argument("--database", help=f"SQLite file to create (default {DEMO_DB}, replaced if present)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("chat", help="talk to the bot in a terminal as someone of the sample company")
    p.add_argument("--as", dest="as_", required=True, metavar="NAME", help="first name, full name or user id")
    p.add_argument("--say", help="say this once, print the answer and exit")
    p.add_argument("--in", dest="in_", metavar="CHANNEL", help="post in this channel instead of a DM (start with @Liaison to address the bot)")
    p.add_argument("--sample-into-existing", action="store_true",
                   help="load the sample company even into a database that already holds another workspace")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("serve", help="run the web app (and the worker unless --no-worker)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--no-worker", action="store_true", help="leave scheduling and ingestion to `liaison worker`")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run the worker alone (scheduler and ingestion)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("import", help="backfill the expertise index from an export")
    isub = p.add_subparsers(dest="import_kind", required=True)
    q = isub.add_parser("slack-export", help="a standard Slack export (folder or .zip); public channels only; idempotent")
    q.add_argument("path", help="the export's folder or .zip file")
    q.add_argument("--skip-unknown-users", action="store_true", help="leave out messages of users missing from users.json instead of stopping")
    q.add_argument("--workspace", metavar="TEAM_ID",
                   help="the Slack team id (T…) the export comes from, when its users.json carries none: the backfill then "
                        "lands in the workspace the live bot serves")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("ask", help="ask who knows something, from the command line")
    p.add_argument("question", nargs="?", help='e.g. "who knows Kafka?"')
    p.add_argument("--as", dest="as_", metavar="USER", help="the asking user's id (never listed in the answer)")
    p.add_argument("--json", action="store_true", help="print the answer as one JSON line")
    p.add_argument("--batch", metavar="FILE", help='JSON lines {"as": USER_ID, "text": "…"} (FILE, or - for standard input); one JSON answer per line')
    p.add_argument("--workspace", help="the workspace to ask in, when the database holds several")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser("upgrade", help="migrate to the newest schema")
    p.set_defaults(func=cmd_db)

    from adapters.teams.package import add_arguments

    p = sub.add_parser("teams-package", help="build the Teams app package (manifest and icons, zipped) to upload in Teams")
    add_arguments(p)
    p.set_defaults(func=cmd_teams_package)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command != "teams-package":
            settings = load_settings()
            quiet = args.command in ("demo", "chat", "ask")
            setup_logging("WARNING" if quiet and settings.bot.log_level.upper() == "INFO" else settings.bot.log_level)
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        problem = user_problem(exc)
        if problem is None:
            raise  # a fault of Liaison's, not of the command line: the traceback is for its developers
        print(f"liaison {args.command}: {problem}", file=sys.stderr)
        return 2


def user_problem(exc: BaseException) -> str | None:
    """One line for an error the person can correct (settings, environment, database, port), or
    None for anything else."""
    from sqlalchemy.exc import OperationalError

    from bot.app.bootstrap import SchemaNotReady
    from bot.app.runtime import CannotListen

    if isinstance(exc, ConfigError):
        return f"configuration error: {exc}"
    if isinstance(exc, OperationalError):
        first = (str(exc.orig).strip().splitlines() or ["no answer"])[0]
        return f"cannot use the database: {first}; check DATABASE_URL and that the database server is running"
    if isinstance(exc, (SchemaNotReady, CannotListen)):
        return str(exc)
    return None


if __name__ == "__main__":
    sys.exit(main())
