"""The directory of people the bot knows, per workspace: kept fresh from events and directory
syncs, and the one place that says who is an admin.

Every people row is written through ``upsert``, which makes what a platform says fit the
columns (their sizes read from the model): a name or team longer than its column is cut; a time
zone, locale or e-mail address that does not fit is not one, and is left out rather than cut.
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db import fit
from bot.db.models import PersonRow
from bot.events import Person

# Free text, cut to the column; identifiers, kept only whole.
_CUT = ("team",)
_WHOLE = ("tz", "locale", "email")


def get(session: Session, user_id: str) -> PersonRow | None:
    return session.scalars(select(PersonRow).where(PersonRow.user_id == user_id)).first()


def upsert(session: Session, person: Person) -> PersonRow:
    """Create or refresh a person. Empty fields in ``person`` never erase what is known
    (an event often carries only the user id). Someone who said "forget me" comes back opted
    out of the index, until they say "start indexing me"."""
    return _refresh(session, get(session, person.id), person)


def upsert_many(session: Session, persons: Iterable[Person]) -> dict[str, PersonRow]:
    """``upsert`` for many people at once (a directory, an export): the workspace's rows are read
    in one query instead of one per person. Returns the rows by user id."""
    with session.no_autoflush:
        rows = {r.user_id: r for r in session.scalars(select(PersonRow))}
        for person in persons:
            rows[person.id] = _refresh(session, rows.get(person.id), person)
    return rows


def _refresh(session: Session, row: PersonRow | None, person: Person) -> PersonRow:
    name = fit(PersonRow.name, person.name)
    if row is None:
        from bot.privacy import forgotten

        row = PersonRow(user_id=person.id, name=name or fit(PersonRow.name, person.id),
                        indexing_opt_out=bool(forgotten(session, [person.id], indexing=True)))
        session.add(row)
    if name:
        row.name = name
    for attr in _CUT:
        value = fit(getattr(PersonRow, attr), getattr(person, attr))
        if value:
            setattr(row, attr, value)
    for attr in _WHOLE:
        value = fit(getattr(PersonRow, attr), getattr(person, attr))
        if value and value == getattr(person, attr):
            setattr(row, attr, value)
    if person.is_bot:
        row.is_bot = True
    if person.is_admin:
        row.is_admin = True
    return row


def sync_person(session: Session, person: Person) -> PersonRow:
    """Apply one entry of a full directory listing: as ``upsert``, and the admin and bot flags
    may also be withdrawn here; someone listed is not deleted."""
    row = upsert(session, person)
    row.is_admin = person.is_admin
    row.is_bot = person.is_bot
    row.deleted = False
    return row


def sync_directory(session: Session, people: Iterable[Person]) -> int:
    """Apply a full directory listing (see ``sync_person``)."""
    n = 0
    for person in people:
        sync_person(session, person)
        n += 1
    return n


def find_by_name(session: Session, name: str) -> list[PersonRow]:
    """People whose user id, full name or first name is ``name`` (case-insensitive)."""
    wanted = name.strip().lower()
    rows = session.scalars(select(PersonRow).where(PersonRow.deleted.is_(False))).all()
    exact = [r for r in rows if r.user_id.lower() == wanted or r.name.lower() == wanted]
    if exact:
        return exact
    return [r for r in rows if r.name.lower().split(" ")[0] == wanted]


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(PersonRow)) or 0


def is_admin(row: PersonRow | None, hr_admins: Iterable[str]) -> bool:
    """HR admins named in settings (by user id or e-mail), plus workspace admins and owners."""
    if row is None:
        return False
    names = {a.strip().lower() for a in hr_admins}
    return bool(row.is_admin or row.user_id.lower() in names or (row.email and row.email.lower() in names))
