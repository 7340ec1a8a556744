"""Slack's directory (users.list, team_join, user_change) into the people table.

One person at a time, each in its own savepoint: a user object the bot cannot read or store
(a malformed profile, an id longer than its column) is left out and named in one log line, and
everyone else is synced. Fields longer than their columns are cut by ``bot.people.upsert``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

from sqlalchemy.orm import Session

from adapters.slack import translate
from bot import people
from bot.db import Database

log = logging.getLogger("liaison.slack")

Applied = Literal["synced", "deactivated", "skipped"]


@dataclass
class DirectorySync:
    """What one sync did: people synced, deactivated accounts, and who was left out (id, why)."""

    synced: int = 0
    deactivated: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def apply_user(session: Session, user: Any, *, team_field: str, bots_leave: bool = False) -> Applied:
    """One users.list entry: a human is added or refreshed (and no longer deleted); a
    deactivated account is marked deleted; bots and Slackbot are skipped (with ``bots_leave``,
    for user_change, someone known who is now a bot is marked deleted too)."""
    if not isinstance(user, Mapping):
        raise ValueError(f"not a user object ({type(user).__name__})")
    if user.get("deleted") or (bots_leave and not translate.is_active_human(user)):
        row = people.get(session, str(user.get("id") or ""))
        if row is not None:
            row.deleted = True
        return "deactivated"
    if not translate.is_active_human(user):
        return "skipped"
    person = translate.person_from_user(user, team_field=team_field)
    if not person.id:
        raise ValueError("a user object without an id")
    people.sync_person(session, person)
    return "synced"


def apply_users(db: Database, workspace: str, users: Sequence[Any], *, team_field: str) -> DirectorySync:
    """A full listing, person by person (runs in a worker thread)."""
    result = DirectorySync()
    with db.session(workspace) as s:
        for user in users:
            try:
                with s.begin_nested():
                    applied = apply_user(s, user, team_field=team_field)
                    s.flush()
            except Exception as exc:  # noqa: BLE001 - one person must not stop the others
                result.failed.append((user_id_of(user), first_line(exc)))
                continue
            if applied == "synced":
                result.synced += 1
            elif applied == "deactivated":
                result.deactivated += 1
    return result


def log_left_out(failed: Sequence[tuple[str, str]], total: int) -> None:
    """One line for everyone a sync left out."""
    if not failed:
        return
    shown = "; ".join(f"{user_id}: {why}" for user_id, why in failed[:3]) + ("; …" if len(failed) > 3 else "")
    log.warning("Slack: %d of the %d people in the directory could not be stored and were left out (%s); "
                "the others are synced, and the next sync or a change to their profile tries them again",
                len(failed), total, shown)


def user_id_of(user: Any) -> str:
    user_id = user.get("id") if isinstance(user, Mapping) else None
    return str(user_id)[:64] if user_id else "?"


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {line[:200]}"
