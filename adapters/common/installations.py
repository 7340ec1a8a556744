"""The ``installations`` row of a workspace: whether the bot is (still) installed there.

Scheduled jobs (digests, coffee sweeps) run for active workspaces only, so an adapter marks a
workspace active when it learns the bot is there (Slack's auth.test at start, Teams' "bot
added" activity) and inactive when the app is removed. The row is kept after an uninstall, even
when the workspace's data is erased: it records that the app was removed. Both functions run in
a worker thread (they block on the database).
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from bot.db import Database, fit
from bot.db.models import Installation


def mark_active(db: Database, workspace: str, *, name: str | None = None) -> None:
    """``workspace`` is (again) one the bot serves; ``name`` (cut to the column) replaces the
    stored one when given."""
    name = fit(Installation.name, name)
    try:
        with db.session(None) as s:
            row = s.get(Installation, workspace)
            if row is None:
                s.add(Installation(workspace=workspace, name=name, active=True))
            else:
                row.active, row.name = True, name or row.name
    except IntegrityError:
        pass  # added by a concurrent request: it is active either way


def mark_inactive(db: Database, workspace: str) -> None:
    """The app was removed from ``workspace``: its scheduled jobs stop."""
    with db.session(None) as s:
        row = s.get(Installation, workspace)
        if row is None:
            s.add(Installation(workspace=workspace, active=False))
        else:
            row.active = False
