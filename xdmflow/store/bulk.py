"""Bulk inserts of many new rows of one table in the session's transaction.

:func:`insert_rows` is for the hot paths that create thousands of rows at once (the scheduler's
firing tick). On PostgreSQL (psycopg) the rows go in with one ``COPY … FROM STDIN`` — a single
stream instead of a statement per row; on SQLite with one ``executemany`` of the driver (no
SQLAlchemy work per row); elsewhere with one Core ``executemany``. Either way the
stored values are the ones an ORM insert would store: JSON columns are serialized with the
dialect's JSON serializer (``json.dumps`` unless the engine was given another), columns left out
of a row get their column default, and a unique-key violation raises SQLAlchemy's
:class:`~sqlalchemy.exc.IntegrityError` (the transaction, or the enclosing savepoint, must then
be rolled back, as after any failed statement).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, Table, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xdmflow.store.tables import Base

__all__ = ["insert_rows"]


def insert_rows(s: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (column name → value, every row with the same keys) into ``model``'s table."""
    if not rows:
        return
    table = model.__table__
    assert isinstance(table, Table)
    conn = s.connection()
    driver = conn.dialect.driver
    if driver not in ("psycopg", "pysqlite"):
        conn.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    cols = [table.c[n] for n in names]
    serialize: Callable[[Any], str] = getattr(conn.dialect, "_json_serializer", None) or json.dumps
    json_at = [i for i, c in enumerate(cols) if isinstance(c.type, JSON)]
    # columns the rows leave out get their default (scalar Python defaults only; our tables have no other)
    defaults = [
        (c.name, c.default.arg)
        for c in table.columns
        if c.name not in rows[0] and c.default is not None and c.default.is_scalar
    ]
    all_names = names + [n for n, _ in defaults]
    fill = [v for _, v in defaults]

    def values(row: dict[str, Any]) -> list[Any]:
        out = [row[n] for n in names]
        for i in json_at:  # as the JSON type binds it: None is JSON null
            out[i] = serialize(out[i])
        return out + fill

    quote = conn.dialect.identifier_preparer
    columns = ", ".join(quote.quote(n) for n in all_names)
    if driver == "pysqlite":  # sqlite3's executemany: the rows bound in C, no SQLAlchemy work per row
        marks = ", ".join("?" * len(all_names))
        conn.exec_driver_sql(
            f"INSERT INTO {quote.format_table(table)} ({columns}) VALUES ({marks})",
            [tuple(values(row)) for row in rows],
        )
        return
    import psycopg  # the driver of this connection: imported only when it is the one in use

    raw = conn.connection.driver_connection
    assert raw is not None
    stmt = f"COPY {quote.format_table(table)} ({columns}) FROM STDIN"
    try:
        with raw.cursor() as cur, cur.copy(stmt) as copy:
            for row in rows:
                copy.write_row(values(row))
    except psycopg.IntegrityError as exc:
        raise IntegrityError(stmt, None, exc) from exc
