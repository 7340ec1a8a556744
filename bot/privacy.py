"""Erasure: "forget me" removes every row about a person, in every table, at once; uninstalling
can remove everything about a workspace.

The eraser needs no list of tables: each model names the columns that hold a person's user id
in ``__person_columns__`` (``people.user_id``, ``kudos.giver_id``, …), and a row that names the
person in any of them is deleted. A new table is covered as soon as its model says so; a test
checks that every column whose name ends in ``user_id`` or ``_id`` of a person is declared.
"""

from __future__ import annotations

import logging
from typing import Iterable

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from bot.db import Base, Database, WorkspaceScoped

log = logging.getLogger("liaison.privacy")


def person_tables() -> list[tuple[type, tuple[str, ...]]]:
    """(model, person columns) for every model that names people."""
    import bot.db.schema  # noqa: F401 - every model module is imported there

    out = []
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        cols = tuple(getattr(cls, "__person_columns__", ()))
        if cols:
            out.append((cls, cols))
    return sorted(out, key=lambda item: item[0].__tablename__)


def forget_person(session: Session, user_id: str) -> dict[str, int]:
    """Delete every row naming ``user_id`` in the session's workspace. Returns rows deleted per
    table. Runs in the caller's transaction, so it is all or nothing."""
    if session.info.get("workspace") is None:
        raise ValueError("forget_person needs a session scoped to one workspace")
    ws = session.info["workspace"]
    counts: dict[str, int] = {}
    # Children first: tables with foreign keys to others are deleted before what they point at.
    for cls, cols in reversed(_by_dependency(person_tables())):
        cond = or_(*(getattr(cls, c) == user_id for c in cols))
        stmt = delete(cls).where(cond)
        if issubclass(cls, WorkspaceScoped):
            stmt = stmt.where(cls.workspace == ws)
        result = session.execute(stmt.execution_options(synchronize_session=False))
        if result.rowcount:
            counts[cls.__tablename__] = result.rowcount
    log.info("erased everything about a person in %s: %s", ws, counts or "nothing was stored")
    return counts


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
