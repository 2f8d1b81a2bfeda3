"""Enough of PostgreSQL's catalog and session commands for psql, psycopg, SQLAlchemy and BI tools.

DuckDB already ships ``pg_catalog`` views (``pg_class``, ``pg_attribute``, ``pg_type`` …) and
``information_schema``. This module adds what clients ask for beyond that:

* :func:`rewrite` turns PostgreSQL-only spellings DuckDB does not parse into ones it does
  (``OPERATOR(pg_catalog.~)``, ``COLLATE pg_catalog.default``, ``::regclass`` / ``::regtype``,
  the ``pg_catalog.`` prefix, which then resolves to the overrides below);
* :func:`session_reply` answers session statements without running them: ``BEGIN`` /
  ``COMMIT`` / ``ROLLBACK`` (queries are read-only and auto-committed), ``SET`` / ``RESET`` of
  client settings, ``SHOW`` of server parameters, ``SELECT version()``;
* :func:`install_pg_catalog` adds, on each query's connection, a ``pg_class`` in which the
  dataset tables are tables (``relkind 'r'``, so ``\\dt`` lists them) and the helper functions
  psql and drivers call (``pg_get_userbyid``, ``pg_encoding_to_char``, ``to_regtype`` …).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

__all__ = ["rewrite", "session_reply", "install_pg_catalog", "SessionReply", "SERVER_VERSION", "PARAMETERS"]

SERVER_VERSION = "14.0"
#: Parameters reported at start-up (ParameterStatus) and answered by ``SHOW``.
PARAMETERS: dict[str, str] = {
    "server_version": f"{SERVER_VERSION} (xdmflow Query Service)",
    "server_encoding": "UTF8",
    "client_encoding": "UTF8",
    "DateStyle": "ISO, MDY",
    "TimeZone": "UTC",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
    "IntervalStyle": "postgres",
    "is_superuser": "off",
    "application_name": "",
}
_SHOW_EXTRA = {
    "transaction_isolation": "read committed",
    "transaction isolation level": "read committed",
    "default_transaction_read_only": "on",
    "transaction_read_only": "on",
    "search_path": "main",
    "max_identifier_length": "63",
    "lc_collate": "C",
    "lc_ctype": "C",
}

_REWRITES = [
    (re.compile(r"OPERATOR\s*\(\s*pg_catalog\s*\.\s*([~!<>=*]+)\s*\)", re.IGNORECASE), r"\1"),
    (re.compile(r"\s+COLLATE\s+pg_catalog\s*\.\s*\"?default\"?", re.IGNORECASE), ""),
    (re.compile(r"::\s*(?:pg_catalog\.)?(?:regclass|regtype|regproc|regnamespace|oid)\b", re.IGNORECASE), ""),
    (re.compile(r"\bpg_catalog\s*\.\s*", re.IGNORECASE), ""),
    (re.compile(r"\bpg_class\b", re.IGNORECASE), "__pg_class"),
    (re.compile(r"\binformation_schema\s*\.\s*(tables|columns|schemata|views)\b", re.IGNORECASE), r"__is_\1"),
]


def rewrite(sql: str) -> str:
    """PostgreSQL client spellings → DuckDB's."""
    for pattern, repl in _REWRITES:
        sql = pattern.sub(repl, sql)
    return sql


@dataclass(frozen=True)
class SessionReply:
    """An answer without running a query: a command tag, or one text column of rows."""

    tag: str
    column: str | None = None
    rows: tuple[str, ...] = ()


_TX = re.compile(
    r"^\s*(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|DISCARD|DEALLOCATE|CLOSE|UNLISTEN)\b",
    re.IGNORECASE,
)
_SET = re.compile(r"^\s*(SET|RESET)\b", re.IGNORECASE)
_SHOW = re.compile(r"^\s*SHOW\s+(?P<name>[A-Za-z_][A-Za-z_ ]*?)\s*;?\s*$", re.IGNORECASE)
_VERSION = re.compile(r"^\s*SELECT\s+(?:pg_catalog\.)?version\s*\(\s*\)\s*;?\s*$", re.IGNORECASE)
_TAGS = {
    "BEGIN": "BEGIN",
    "START": "BEGIN",
    "COMMIT": "COMMIT",
    "END": "COMMIT",
    "ROLLBACK": "ROLLBACK",
    "ABORT": "ROLLBACK",
    "SAVEPOINT": "SAVEPOINT",
    "RELEASE": "RELEASE",
    "DISCARD": "DISCARD ALL",
    "DEALLOCATE": "DEALLOCATE",
    "CLOSE": "CLOSE CURSOR",
    "UNLISTEN": "UNLISTEN",
}


def session_reply(sql: str) -> SessionReply | None:
    """The answer to a session statement, ``None`` for a query to run."""
    m = _TX.match(sql)
    if m:
        word = m.group(1).split()[0].upper()
        if word == "ROLLBACK" and re.match(r"^\s*ROLLBACK\s+TO\b", sql, re.IGNORECASE):
            return SessionReply("ROLLBACK")
        return SessionReply(_TAGS[word])
    m = _SET.match(sql)
    if m:
        return SessionReply(m.group(1).upper())
    if _VERSION.match(sql):
        return SessionReply(
            "SELECT 1", "version", (f"PostgreSQL {SERVER_VERSION} (xdmflow Query Service on DuckDB)",)
        )
    m = _SHOW.match(sql)
    if m:
        name = m.group("name").strip()
        if name.upper() in ("TABLES", "ALL TABLES"):
            return None
        for table in (PARAMETERS, _SHOW_EXTRA):
            for key, value in table.items():
                if key.lower() == name.lower():
                    return SessionReply("SHOW", key, (value,))
    return None


_MACROS = [
    "CREATE TEMP MACRO pg_get_userbyid(id) AS {user}",
    "CREATE TEMP MACRO pg_encoding_to_char(id) AS 'UTF8'",
    "CREATE TEMP MACRO to_regtype(name) AS CAST(NULL AS INTEGER)",
    "CREATE TEMP MACRO to_regclass(name) AS CAST(NULL AS INTEGER)",
    "CREATE TEMP MACRO pg_get_partkeydef(id) AS CAST(NULL AS VARCHAR)",
    "CREATE TEMP MACRO pg_relation_is_publishable(id) AS false",
    "CREATE TEMP MACRO pg_total_relation_size(id) AS 0",
    "CREATE TEMP MACRO pg_relation_size(id) AS 0",
    "CREATE TEMP MACRO pg_get_statisticsobjdef_columns(id) AS CAST(NULL AS VARCHAR)",
    "CREATE TEMP MACRO has_table_privilege(a, b) AS true",
    "CREATE TEMP MACRO has_schema_privilege(a, b) AS true",
    "CREATE TEMP MACRO current_database() AS {database}",
    "CREATE TEMP MACRO current_user() AS {user}",
    "CREATE TEMP MACRO session_user() AS {user}",
]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def install_pg_catalog(
    con: duckdb.DuckDBPyConnection, *, user: str, database: str, tables: list[str]
) -> None:
    """Add the catalog overrides and helper functions to a query's connection (before locking).

    ``tables`` are the dataset tables (registered Arrow scans): clients see them as tables
    (``relkind 'r'``, so psql's ``\\dt`` lists them) in the ``main`` schema.
    """
    for macro in _MACROS:
        try:
            con.execute(macro.format(user=_literal(user), database=_literal(database or "prod")))
        except duckdb.Error:  # a DuckDB that has it built in: keep its own
            continue
    names = ", ".join(_literal(t) for t in tables) or "NULL"
    con.execute(
        "CREATE TEMP VIEW __pg_class AS SELECT * REPLACE ("
        f" CASE WHEN relname IN ({names}) THEN 'r' ELSE relkind END AS relkind,"
        f" CASE WHEN relname IN ({names})"
        " THEN (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'main') ELSE relnamespace END"
        " AS relnamespace) FROM pg_catalog.pg_class WHERE NOT starts_with(relname, '__')"
    )
    con.execute(
        "CREATE TEMP VIEW __is_tables AS SELECT * REPLACE ("
        f" CASE WHEN table_name IN ({names}) THEN 'BASE TABLE' ELSE table_type END AS table_type)"
        " FROM information_schema.tables WHERE NOT starts_with(table_name, '__')"
    )
    con.execute(
        "CREATE TEMP VIEW __is_columns AS SELECT * FROM information_schema.columns"
        " WHERE NOT starts_with(table_name, '__')"
    )
    con.execute("CREATE TEMP VIEW __is_schemata AS SELECT * FROM information_schema.schemata")
    con.execute(
        "CREATE TEMP VIEW __is_views AS SELECT * FROM information_schema.views"
        f" WHERE NOT starts_with(table_name, '__') AND table_name NOT IN ({names})"
    )
