"""Erasure: "forget me" removes every row about a person, in every table, at once; uninstalling
can remove everything about a workspace.

The eraser needs no list of tables: each model names the columns that hold a person's user id
in ``__person_columns__`` (``people.user_id``, ``kudos.giver_id``, …), and a row that names the
person in any of them is deleted. A new table is covered as soon as its model says so; a test
checks that every column whose name ends in ``user_id`` or ``_id`` of a person is declared.
Two kinds of column only point at a person from a row that belongs to someone else, and are
cleared instead: ``__person_links__`` (another person's reply in the erased person's thread
keeps its row, without the thread's author) and ``__person_lists__`` (JSON lists of ids, such
as a queued message's mentions, lose the id).

Erasure holds the workspace's ingestion lock (``bot.ingest.hold_workspace``), so a batch the
worker is applying either commits first and is erased with the rest, or comes after and finds
the person's queued messages gone. What is kept is a tombstone (``erased_people``): a digest of
the person's id, so that a message queued or delivered later is not indexed (until they say
"start indexing me") and coffee rounds leave them out (until they say "coffee join").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import String, cast, delete, or_, select, update
from sqlalchemy.orm import Session

from bot.db import Base, Database, WorkspaceScoped
from bot.db.models import ErasedPerson, utcnow

log = logging.getLogger("liaison.privacy")
_ANY_ERASED = "privacy.any_erased"  # session.info key


def person_tables() -> list[tuple[type, tuple[str, ...]]]:
    """(model, person columns) for every model that names people."""
    import bot.db.schema  # noqa: F401 - every model module is imported there

    out = []
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        cols = tuple(getattr(cls, "__person_columns__", ()))
        if cols or getattr(cls, "__person_lists__", ()):
            out.append((cls, cols))
    return sorted(out, key=lambda item: item[0].__tablename__)


def person_key(workspace: str, user_id: str) -> str:
    """The one-way digest a tombstone keeps instead of the person's id."""
    return hashlib.sha256(f"{workspace}\n{user_id}".encode("utf-8")).hexdigest()


def _workspace(session: Session) -> str:
    ws = session.info.get("workspace")
    if ws is None:
        raise ValueError("erasure needs a session scoped to one workspace")
    return ws


def forget_person(session: Session, user_id: str, *, at: dt.datetime | None = None,
                  take_back: Iterable[Callable[[Session, str], Mapping[str, int]]] = ()) -> dict[str, int]:
    """Delete every row naming ``user_id`` in the session's workspace, clear the links other
    people's rows have to them, and keep their tombstone. Returns rows deleted per table. Runs in
    the caller's transaction, so it is all or nothing. ``take_back``: what features remove first
    themselves, under the workspace's lock, so that aggregates they keep stay right (the expertise
    skill takes back a person's evidence, keeping its topic counts); each returns rows removed
    per table."""
    from bot.ingest import hold_workspace

    ws = _workspace(session)
    hold_workspace(session)  # waits for a batch in flight; none starts until this commits
    counts: dict[str, int] = {}
    for take in take_back:
        counts.update((table, n) for table, n in take(session, user_id).items() if n)
    # Children first: tables with foreign keys to others are deleted before what they point at.
    for cls, cols in reversed(_by_dependency(person_tables())):
        n = _erase_from(session, cls, cols, user_id, ws)
        if n:
            counts[cls.__tablename__] = counts.get(cls.__tablename__, 0) + n
    _keep_tombstone(session, ws, user_id, at or utcnow())
    log.info("erased everything about a person in %s: %s", ws, counts or "nothing was stored")
    return counts


def _erase_from(session: Session, cls: type, cols: tuple[str, ...], user_id: str, ws: str) -> int:
    """Delete the rows of one table that are the person's, clear those that point at them.
    Returns rows deleted."""
    links = tuple(getattr(cls, "__person_links__", ()))
    owned = [c for c in cols if c not in links]
    scoped = issubclass(cls, WorkspaceScoped)
    deleted = 0
    if owned:
        stmt = delete(cls).where(or_(*(getattr(cls, c) == user_id for c in owned)))
        if scoped:
            stmt = stmt.where(cls.workspace == ws)
        deleted = session.execute(stmt.execution_options(synchronize_session=False)).rowcount or 0
    for c in links:
        stmt = update(cls).where(getattr(cls, c) == user_id).values({c: None})
        if scoped:
            stmt = stmt.where(cls.workspace == ws)
        session.execute(stmt.execution_options(synchronize_session=False))
    for c in getattr(cls, "__person_lists__", ()):
        _drop_from_lists(session, cls, c, user_id)
    return deleted


def _drop_from_lists(session: Session, cls: Any, column: str, user_id: str) -> None:
    """Remove ``user_id`` from a JSON list column wherever it appears (the session's workspace)."""
    col = getattr(cls, column)
    # The stored JSON text names the id in quotes; the lists read back decide.
    pattern = '%"' + user_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + '"%'
    rows = session.execute(select(cls.id, col).where(cast(col, String).like(pattern, escape="\\"))).all()
    for row_id, values in rows:
        if values and user_id in values:
            session.execute(update(cls).where(cls.id == row_id).values({column: [v for v in values if v != user_id]})
                            .execution_options(synchronize_session=False))


def _keep_tombstone(session: Session, ws: str, user_id: str, at: dt.datetime) -> None:
    key = person_key(ws, user_id)
    row = session.scalars(select(ErasedPerson).where(ErasedPerson.person_key == key)).first()
    if row is None:
        session.add(ErasedPerson(workspace=ws, person_key=key, erased_at=at))
    else:
        row.erased_at, row.indexed_again_at = at, None
    session.flush()
    session.info[_ANY_ERASED] = True


def forgotten(session: Session, user_ids: Iterable[str], *, indexing: bool = False) -> set[str]:
    """Those of ``user_ids`` who said "forget me" in the session's workspace; with ``indexing``,
    only those who have not asked to be indexed again since."""
    ws = _workspace(session)
    if not _any_erased(session):
        return set()
    keys = {person_key(ws, u): u for u in set(user_ids) if u}
    found: set[str] = set()
    ordered = sorted(keys)
    for i in range(0, len(ordered), 500):
        q = select(ErasedPerson.person_key).where(ErasedPerson.person_key.in_(ordered[i : i + 500]))
        if indexing:
            q = q.where(ErasedPerson.indexed_again_at.is_(None))
        found.update(keys[k] for k in session.scalars(q))
    return found


def _any_erased(session: Session) -> bool:
    """Whether the workspace has any tombstone, read once per session: a directory sync asks
    about each new person, and most workspaces have none."""
    if _ANY_ERASED not in session.info:
        session.info[_ANY_ERASED] = session.scalar(select(ErasedPerson.id).limit(1)) is not None
    return session.info[_ANY_ERASED]


def index_again(session: Session, user_id: str, *, at: dt.datetime | None = None) -> None:
    """A person erased earlier asked to be indexed again ("start indexing me")."""
    key = person_key(_workspace(session), user_id)
    session.execute(update(ErasedPerson).where(ErasedPerson.person_key == key, ErasedPerson.indexed_again_at.is_(None))
                    .values(indexed_again_at=at or utcnow()).execution_options(synchronize_session=False))


def erase_workspace(db: Database, workspace: str) -> dict[str, int]:
    """Delete every row of one workspace in every table (app uninstalled, when configured)."""
    import bot.db.schema  # noqa: F401

    counts: dict[str, int] = {}
    with db.session(None) as s:
        tables = [m.class_ for m in Base.registry.mappers if issubclass(m.class_, WorkspaceScoped)]
        for cls, _ in reversed(_by_dependency([(t, ()) for t in tables])):
            result = s.execute(delete(cls).where(cls.workspace == workspace).execution_options(synchronize_session=False))
            if result.rowcount:
                counts[cls.__tablename__] = result.rowcount
        from bot.db.models import Installation

        inst = s.get(Installation, workspace)
        if inst is not None:
            s.delete(inst)
    log.warning("erased all data of workspace %s: %s", workspace, counts)
    return counts


def _by_dependency(items: Iterable[tuple[type, tuple[str, ...]]]) -> list[tuple[type, tuple[str, ...]]]:
    """Parents before children, by the metadata's foreign-key order."""
    order = {t.name: i for i, t in enumerate(Base.metadata.sorted_tables)}
    return sorted(items, key=lambda item: order.get(item[0].__tablename__, 0))
