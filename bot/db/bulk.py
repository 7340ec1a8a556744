"""Bulk statements: rows as tuples in column order, written with SQL text built once.

A batch writes thousands of rows (the expertise index's evidence, an import's queue). Through
SQLAlchemy's per-row parameter handling that costs more than the database's own work, so the
callers give their rows as tuples in column order and these functions send SQL text built once:
on SQLite through the driver's executemany, each value first through its column type's own bind
processor (so datetimes, booleans and floats are stored exactly as SQLAlchemy stores them); on
PostgreSQL by COPY for plain inserts, and by one INSERT … SELECT from a JSON array of rows for
upserts. Also the reads such batches need: ``where_in`` (one array parameter on PostgreSQL),
``per_message`` (one index seek per message) and ``chunks``."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import time
from typing import Any, Iterator, Sequence

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY, JSONB


log = logging.getLogger("liaison.db")


class PlannerStatistics:
    """PostgreSQL's advice after loading much data, kept while rows pour in: ``ANALYZE`` once
    ``first`` rows have been written, then each time the count is four times larger (5,000,
    20,000, 80,000…). Until autovacuum has analyzed tables that grew from empty (it waits for its
    next round, or is off), the planner knows nothing of their size and may read them by the
    wrong index: measured on a 100,000-message import, looking each message up by an index
    that walks its whole conversation (5 ms a message at 75,000), a backfill slowing as it went.
    ``db``: a ``bot.db.Database``; on SQLite nothing is run."""

    def __init__(self, db: Any, what: str, *, first: int = 5000) -> None:
        self.db, self.what, self.done, self.next = db, what, 0, first

    def wrote(self, n: int) -> None:
        """``n`` more rows (messages) written; ANALYZE when a threshold is passed."""
        self.done += n
        if self.done < self.next or self.db.dialect != "postgresql":
            return
        self.next = 4 * max(self.done, self.next)
        started = time.monotonic()
        try:
            with self.db.session(None) as s:
                s.connection().exec_driver_sql("ANALYZE")
        except Exception:  # noqa: BLE001 - statistics are an optimisation: the work goes on without them
            log.warning("could not refresh PostgreSQL's planner statistics (ANALYZE) after %s %d messages; going on, "
                        "maybe slower: check that autovacuum runs", self.what, self.done, exc_info=True)
            return
        log.info("refreshed PostgreSQL's planner statistics after %s %d messages (%.1fs); next after %d",
                 self.what, self.done, time.monotonic() - started, self.next)


def chunks(items: Sequence[Any], n: int = 500) -> Iterator[Sequence[Any]]:
    """``items`` in slices of ``n`` (500: well under any database's limit of parameters)."""
    for i in range(0, len(items), n):
        yield items[i : i + n]


def bulk(conn: Any, table: Any, cols: Sequence[str], rows: Sequence[Sequence[Any]], *, conflict: str = "",
          returning: str = "") -> list[Any]:
    """Insert ``rows`` (tuples of values in the order of ``cols``) into ``table``, on SQLite or
    PostgreSQL. ``conflict``: an ON CONFLICT clause (the table by name, the new values as
    EXCLUDED); ``returning``: what to return of each row inserted or updated."""
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        if not conflict and not returning:
            _pg_copy(conn, table, cols, rows)
            return []
        return _pg_json(conn, table, cols, rows, conflict=conflict, returning=returning)
    return _sqlite_insert(conn, table, cols, rows, conflict=conflict, returning=returning)


def _sqlite_insert(conn: Any, table: Any, cols: Sequence[str], rows: Sequence[Sequence[Any]], *, conflict: str,
                   returning: str) -> list[Any]:
    values = _sqlite_values(conn.dialect, table, cols, rows)
    head = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES "
    one = "(" + ", ".join("?" * len(cols)) + ")"
    if not returning:
        conn.exec_driver_sql(f"{head}{one} {conflict}", values)
        return []
    # RETURNING needs one statement (executemany returns no rows): rows as multi-row VALUES,
    # as many per statement as SQLite takes parameters.
    limit = conn.connection.driver_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    out: list[Any] = []
    for chunk in chunks(values, max(1, limit // len(cols))):
        sql = f"{head}{', '.join([one] * len(chunk))} {conflict} RETURNING {returning}"
        out += conn.exec_driver_sql(sql, tuple(v for row in chunk for v in row)).all()
    return out


def _sqlite_values(dialect: Any, table: Any, cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Any]:
    """The rows with each value as SQLAlchemy binds it for its column's type on SQLite."""
    columns: list[Any] = []
    converted = False
    for i, c in enumerate(cols):
        column_type = table.c[c].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        values = [row[i] for row in rows]
        if process is not None:
            converted = True
            if isinstance(column_type, DateTime):
                # The rows of one message share its datetime object: each converted once.
                seen: dict[int, Any] = {}
                values = [seen[id(v)] if id(v) in seen else seen.setdefault(id(v), process(v)) for v in values]
            else:
                values = list(map(process, values))
        columns.append(values)
    return list(zip(*columns)) if converted else list(rows)


def _pg_type(column: Any) -> str:
    t = column.type
    if isinstance(t, Boolean):
        return "bool"
    if isinstance(t, Integer):
        return "int8"
    if isinstance(t, Float):
        return "float8"
    if isinstance(t, DateTime):
        return "timestamptz" if t.timezone else "timestamp"
    if isinstance(t, JSON):
        return "jsonb" if isinstance(t, JSONB) else "json"
    return "text"


def _pg_copy(conn: Any, table: Any, cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """PostgreSQL: insert rows with COPY, in the transaction of ``conn`` (the least work for
    the client and the server)."""
    with conn.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _pg_json(conn: Any, table: Any, cols: Sequence[str], rows: Sequence[Sequence[Any]], *, conflict: str,
             returning: str) -> list[Any]:
    """PostgreSQL: rows in one INSERT … SELECT from a JSON array of rows, for statements that
    COPY cannot make (ON CONFLICT, RETURNING). One parameter however many rows, encoded by the
    json module in C and parsed once by the server (jsonb); numbers and text travel as JSON,
    times in ISO 8601 with their offset, and PostgreSQL reads each back exactly."""
    values = ", ".join(f"(r->>{i})::{_pg_type(table.c[c])}" for i, c in enumerate(cols))
    sql = (f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT {values} "
           f"FROM jsonb_array_elements(%(rows)s::jsonb) AS r {conflict}")
    if returning:
        sql += f" RETURNING {returning}"
    result = conn.exec_driver_sql(sql, {"rows": json.dumps(rows, default=dt.datetime.isoformat)})
    return result.all() if returning else []


def where_in(pg: bool, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values``; on PostgreSQL ``= ANY(array)``, one parameter instead of one each."""
    if pg:
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def per_message(pg: bool, pairs: Sequence[tuple[str, str]], table: str, cols: str, *, ts: str = "ts",
                where: str = "", index: str = "") -> tuple[str, dict[str, Any]]:
    """A SELECT of ``cols`` (of ``t``, a row of ``table``) for the rows of some messages,
    (conversation, ``ts`` column) pairs, with one index seek per pair whatever the
    conversations, and its parameters (``:ws``, the workspace, is the caller's). On PostgreSQL a
    ``LATERAL`` read per pair of two arrays; on SQLite the pairs as one JSON list read by
    ``json_each`` first (``CROSS JOIN`` keeps that order), where a row-value ``IN`` list would
    have SQLite walk the workspace's rows. ``where``: more conditions on ``t``. ``index``: on
    SQLite, the index to seek in (``INDEXED BY``), for columns another index covers: without
    statistics SQLite prefers an index holding every column read to one it can seek in, and
    walks the workspace's part of that index for each pair."""
    cond = f"t.workspace = :ws AND t.conversation_id = p.a AND t.{ts} = p.b{where}"
    if pg:
        return (f"SELECT x.* FROM unnest(CAST(:pa AS text[]), CAST(:pb AS text[])) AS p(a, b) "
                f"CROSS JOIN LATERAL (SELECT {cols} FROM {table} t WHERE {cond}) AS x",
                {"pa": [a for a, _ in pairs], "pb": [b for _, b in pairs]})
    return (f"SELECT {cols} FROM (SELECT json_extract(value, '$[0]') AS a, json_extract(value, '$[1]') AS b "
            f"FROM json_each(:pairs)) AS p CROSS JOIN {table} t{f' INDEXED BY {index}' if index else ''} WHERE {cond}",
            {"pairs": json.dumps([list(p) for p in pairs])})
