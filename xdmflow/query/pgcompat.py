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

__all__ = [
    "rewrite",
    "session_reply",
    "install_pg_catalog",
    "sql_literal",
    "SessionReply",
    "SERVER_VERSION",
    "PARAMETERS",
]

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
    (
        re.compile(
            r"\b(pg_(?:policy|roles|user|statistic_ext|publication|publication_rel|publication_namespace|inherits|trigger|rewrite|foreign_table|partitioned_table|event_trigger|extension|shdescription|matviews))\b",
            re.IGNORECASE,
        ),
        r"__\1",
    ),
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
_SET_NAME = re.compile(
    r"^\s*(?:SET|RESET)\s+(?:SESSION\s+|LOCAL\s+)?(?P<name>TIME\s+ZONE|SESSION\s+CHARACTERISTICS|NAMES|[A-Za-z_.]+)",
    re.IGNORECASE,
)
#: PostgreSQL client settings drivers send at connect (accepted, without effect: results are UTC and UTF-8).
_CLIENT_SETTINGS = frozenset(
    {
        "client_encoding",
        "names",
        "datestyle",
        "timezone",
        "time_zone",
        "application_name",
        "extra_float_digits",
        "search_path",
        "statement_timeout",
        "lock_timeout",
        "intervalstyle",
        "standard_conforming_strings",
        "session_characteristics",
        "transaction",
        "client_min_messages",
        "bytea_output",
        "default_transaction_isolation",
        "default_transaction_read_only",
        "idle_in_transaction_session_timeout",
        "jit",
        "all",
        "role",
        "session_authorization",
    }
)
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
        setting = _SET_NAME.match(sql)
        if setting and setting.group("name").lower().replace(" ", "_") in _CLIENT_SETTINGS:
            return SessionReply(m.group(1).upper())
        return None  # a DuckDB setting: the guard refuses it
    if _VERSION.match(sql):
        return SessionReply(
            "SELECT 1", "version", (f"PostgreSQL {SERVER_VERSION} (xdmflow Query Service on DuckDB)",)
        )
    shown = _SHOW.match(sql)
    if shown:
        name = shown.group("name").strip()
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
    "CREATE TEMP MACRO pg_get_expr(a, b) AS CAST(NULL AS VARCHAR), (a, b, c) AS CAST(NULL AS VARCHAR)",
    "CREATE TEMP MACRO pg_get_indexdef(a) AS CAST(NULL AS VARCHAR), (a, b, c) AS CAST(NULL AS VARCHAR)",
    "CREATE TEMP MACRO pg_get_constraintdef(a) AS CAST(NULL AS VARCHAR), (a, b) AS CAST(NULL AS VARCHAR)",
    "CREATE TEMP MACRO obj_description(a) AS CAST(NULL AS VARCHAR), (a, b) AS CAST(NULL AS VARCHAR)",
    "CREATE TEMP MACRO col_description(a, b) AS CAST(NULL AS VARCHAR)",
    "CREATE TEMP MACRO pg_get_viewdef(a) AS CAST(NULL AS VARCHAR), (a, b) AS CAST(NULL AS VARCHAR)",
    "CREATE TEMP MACRO to_regtype(name) AS CAST(NULL AS INTEGER)",
    "CREATE TEMP MACRO to_regclass(name) AS CAST(NULL AS INTEGER)",
    "CREATE TEMP MACRO pg_get_partkeydef(id) AS CAST(NULL AS VARCHAR)",
    "CREATE TEMP MACRO pg_relation_is_publishable(id) AS false",
    "CREATE TEMP MACRO pg_total_relation_size(id) AS 0",
    "CREATE TEMP MACRO pg_relation_size(id) AS 0",
    "CREATE TEMP MACRO pg_get_statisticsobjdef_columns(id) AS CAST(NULL AS VARCHAR)",
    "CREATE TEMP MACRO has_table_privilege(a, b) AS true",
    "CREATE TEMP MACRO has_schema_privilege(a, b) AS true",
    "CREATE TEMP MACRO current_user() AS {user}",
    "CREATE TEMP MACRO session_user() AS {user}",
]


#: Catalogs DuckDB does not have, empty (psql's \\d asks for policies, statistics, publications …).
_EMPTY = {
    "pg_policy": "polname VARCHAR, polpermissive BOOLEAN, polroles INTEGER[], polqual VARCHAR,"
    " polwithcheck VARCHAR, polcmd VARCHAR, polrelid BIGINT, oid BIGINT",
    "pg_roles": "oid BIGINT, rolname VARCHAR, rolsuper BOOLEAN, rolcanlogin BOOLEAN",
    "pg_user": "usesysid BIGINT, usename VARCHAR, usesuper BOOLEAN",
    "pg_statistic_ext": "oid BIGINT, stxrelid BIGINT, stxname VARCHAR, stxnamespace BIGINT,"
    " stxkind VARCHAR[], stxstattarget INTEGER, stxkeys INTEGER[]",
    "pg_publication": "oid BIGINT, pubname VARCHAR, puballtables BOOLEAN, pubinsert BOOLEAN",
    "pg_publication_rel": "oid BIGINT, prpubid BIGINT, prrelid BIGINT, prqual VARCHAR, prattrs INTEGER[]",
    "pg_publication_namespace": "oid BIGINT, pnpubid BIGINT, pnnspid BIGINT",
    "pg_inherits": "inhrelid BIGINT, inhparent BIGINT, inhseqno INTEGER, inhdetachpending BOOLEAN",
    "pg_trigger": "oid BIGINT, tgrelid BIGINT, tgname VARCHAR, tgisinternal BOOLEAN, tgenabled VARCHAR,"
    " tgparentid BIGINT",
    "pg_rewrite": "oid BIGINT, rulename VARCHAR, ev_class BIGINT, ev_type VARCHAR, is_instead BOOLEAN",
    "pg_foreign_table": "ftrelid BIGINT, ftserver BIGINT, ftoptions VARCHAR[]",
    "pg_partitioned_table": "partrelid BIGINT, partstrat VARCHAR",
    "pg_event_trigger": "oid BIGINT, evtname VARCHAR",
    "pg_extension": "oid BIGINT, extname VARCHAR, extversion VARCHAR, extnamespace BIGINT",
    "pg_shdescription": "objoid BIGINT, classoid BIGINT, description VARCHAR",
    "pg_matviews": "schemaname VARCHAR, matviewname VARCHAR, definition VARCHAR",
}


def sql_literal(value: str) -> str:
    """``value`` as a SQL string literal."""
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
            con.execute(macro.format(user=sql_literal(user), database=sql_literal(database or "prod")))
        except duckdb.Error:  # a DuckDB that has it built in: keep its own
            continue
    for table, columns in _EMPTY.items():
        nulls = ", ".join(
            f"CAST(NULL AS {c.split(' ', 1)[1]}) AS {c.split(' ', 1)[0]}" for c in columns.split(", ")
        )
        con.execute(f"CREATE TEMP VIEW __{table} AS SELECT {nulls} WHERE false")
    names = ", ".join(sql_literal(t) for t in tables) or "NULL"
    con.execute(
        "CREATE TEMP VIEW __pg_class AS SELECT * REPLACE ("
        f" CASE WHEN relname IN ({names}) THEN 'r' ELSE relkind END AS relkind,"
        f" CASE WHEN relname IN ({names})"
        " THEN (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'main') ELSE relnamespace END"
        " AS relnamespace,"
        f" CASE WHEN relname IN ({names}) THEN 'p' ELSE relpersistence END AS relpersistence),"
        " false AS relforcerowsecurity, CAST(NULL AS VARCHAR) AS relpartbound_text"
        " FROM pg_catalog.pg_class WHERE NOT starts_with(relname, '__')"
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
