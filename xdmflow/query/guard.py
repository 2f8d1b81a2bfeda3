"""What SQL a tenant may run: parsed by DuckDB's own parser, then checked against an allow-list.

Allowed: ``SELECT`` (with ``WITH``, ``VALUES``), ``EXPLAIN SELECT``, ``SHOW``/``DESCRIBE``,
``CREATE TABLE name AS SELECT`` (a new dataset) and ``INSERT INTO dataset [(cols)] SELECT``
(a new batch). Refused with a clear error: every other statement (``COPY``, ``ATTACH``,
``INSTALL``/``LOAD``, ``SET``/``PRAGMA``, ``CREATE MACRO``/``FUNCTION``/``SECRET``, ``UPDATE``,
``DELETE``, ``DROP``, ``EXPORT``, ``CALL`` …), table functions other than ``range``,
``generate_series`` and ``unnest`` (``read_csv``, ``read_parquet``, ``glob`` …), functions
that reach outside (``getenv``) and references to other catalogs. The engine additionally runs
DuckDB with external access off and its configuration locked: the guard gives the clear error,
the configuration is the wall.

The simple predicates of a one-table ``SELECT``'s ``WHERE`` (``column <op> constant`` joined by
``AND``, ``IS [NOT] NULL``) are kept as :class:`Predicate` objects so the scan plan can skip files.

Time travel is the platform's ``FROM table SNAPSHOT AS OF <snapshot id | 'timestamp'>``; the
guard rewrites each such reference to a per-query view.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from xdmflow.errors import BadRequestError

__all__ = ["Checked", "QueryRefusedError", "check_sql", "TimeTravel", "Predicate"]


class QueryRefusedError(BadRequestError):
    """A statement the Query Service does not run (SQLSTATE ``42501`` on the wire)."""

    sqlstate = "42501"


class QuerySyntaxError(BadRequestError):
    sqlstate = "42601"


_ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
_DENIED_FUNCTIONS = frozenset({"getenv", "read_text", "read_blob", "current_setting_file"})
_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_CTAS = re.compile(
    rf"^\s*CREATE\s+TABLE\s+(?P<name>{_IDENT})\s+AS\s+(?P<body>.+?)\s*;?\s*$", re.IGNORECASE | re.DOTALL
)
_INSERT = re.compile(
    rf"^\s*INSERT\s+INTO\s+(?P<name>{_IDENT})\s*(?P<cols>\([^)]*\))?\s*(?P<body>(?:SELECT|WITH|VALUES|FROM|\().+?)\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_EXPLAIN = re.compile(r"^\s*EXPLAIN(?:\s+ANALYZE)?\s+(?P<body>.+)$", re.IGNORECASE | re.DOTALL)
_SHOW = re.compile(
    rf"^\s*(?:SHOW\s+TABLES|SHOW\s+ALL\s+TABLES|(?:SHOW|DESCRIBE|DESC)\s+(?P<name>{_IDENT}))\s*;?\s*$",
    re.IGNORECASE,
)
_SNAPSHOT = re.compile(
    rf"(?P<name>{_IDENT})\s+SNAPSHOT\s+AS\s+OF\s+(?P<at>\d+|'[^']*')(?:\s+(?:AS\s+)?(?P<alias>{_IDENT}))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TimeTravel:
    """One ``table SNAPSHOT AS OF …`` reference, rewritten to the view ``view``."""

    view: str
    table: str
    snapshot_id: int | None
    as_of_ms: int | None


@dataclass(frozen=True)
class Predicate:
    """``path op value`` from a query's ``WHERE``: a column path (struct fields included, the
    table qualifier removed), ``=``, ``<``, ``<=``, ``>``, ``>=``, ``is null``, ``is not null``."""

    path: tuple[str, ...]
    op: str
    value: bool | int | float | str | None = None


@dataclass
class Checked:
    """A statement the engine may run."""

    kind: str  # select | explain | show | ctas | insert
    sql: str  # what DuckDB runs (the SELECT part for ctas / insert)
    tables: set[str] = field(default_factory=set)  # table names referenced (lower case)
    target: str | None = None  # the table CTAS creates / INSERT appends to
    columns: list[str] | None = None  # INSERT's column list
    time_travel: list[TimeTravel] = field(default_factory=list)
    predicates: dict[str, list[Predicate]] = field(default_factory=dict)  # table (lower case) → AND-ed


def unquote(ident: str) -> str:
    if ident.startswith('"') and ident.endswith('"'):
        return ident[1:-1].replace('""', '"')
    return ident.lower()


def _parse_time(raw: str) -> int:
    text = raw.strip("'").strip()
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QuerySyntaxError(f"SNAPSHOT AS OF {raw}: not a snapshot id or an ISO timestamp") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _rewrite_time_travel(sql: str) -> tuple[str, list[TimeTravel]]:
    found: list[TimeTravel] = []

    def repl(m: re.Match[str]) -> str:
        at = m.group("at")
        view = f"__snapshot_{len(found)}"
        found.append(
            TimeTravel(
                view=view,
                table=unquote(m.group("name")),
                snapshot_id=int(at) if at.isdigit() else None,
                as_of_ms=None if at.isdigit() else _parse_time(at),
            )
        )
        alias = m.group("alias")
        return f"{view} AS {alias or m.group('name')}"

    return _SNAPSHOT.sub(repl, sql), found


def _walk(node: Any, tables: set[str]) -> None:
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            fn = (node.get("function") or {}).get("function_name", "")
            if str(fn).lower() not in _ALLOWED_TABLE_FUNCTIONS:
                raise QueryRefusedError(
                    f"Table function {fn}() is not allowed: queries read only the sandbox's datasets"
                )
        if kind == "BASE_TABLE":
            catalog = node.get("catalog_name") or ""
            schema = node.get("schema_name") or ""
            if catalog and catalog.lower() not in ("memory",):
                raise QueryRefusedError(f"Catalog {catalog} is not available: query the sandbox's tables")
            if schema.lower() not in ("", "main", "pg_catalog", "information_schema"):
                raise QueryRefusedError(f"Schema {schema} is not available: query the sandbox's tables")
            name = str(node.get("table_name", ""))
            if "/" in name or "\\" in name or "." in name:
                raise QueryRefusedError(f"{name!r} is not a table: queries read only the sandbox's datasets")
            tables.add(name.lower())
            tables.add(name)
        if node.get("class") == "FUNCTION" or kind == "FUNCTION":
            fn = str(node.get("function_name", "")).lower()
            if fn in _DENIED_FUNCTIONS:
                raise QueryRefusedError(f"Function {fn}() is not allowed")
        for value in node.values():
            _walk(value, tables)
    elif isinstance(node, list):
        for value in node:
            _walk(value, tables)


_LOCAL = threading.local()


def _parser() -> duckdb.DuckDBPyConnection:
    """A parser connection per thread (a DuckDB connection is not shared between threads)."""
    con = getattr(_LOCAL, "con", None)
    if con is None:
        con = duckdb.connect(":memory:", config={"enable_external_access": False})
        _LOCAL.con = con
    return con


_COMPARE = {
    "COMPARE_EQUAL": ("=", "="),
    "COMPARE_LESSTHAN": ("<", ">"),
    "COMPARE_LESSTHANOREQUALTO": ("<=", ">="),
    "COMPARE_GREATERTHAN": (">", "<"),
    "COMPARE_GREATERTHANOREQUALTO": (">=", "<="),
}
_NULL_TESTS = {"OPERATOR_IS_NULL": "is null", "OPERATOR_IS_NOT_NULL": "is not null"}
_MISSING = object()


def _constant(node: Any) -> Any:
    """The Python value of a plain constant (``_MISSING`` for anything else)."""
    if not isinstance(node, dict) or node.get("type") != "VALUE_CONSTANT":
        return _MISSING
    literal = node.get("literal") or {}
    kind, text = literal.get("kind"), literal.get("text")
    if not isinstance(text, str):
        return _MISSING
    try:
        if kind == "INTEGER":
            return int(text)
        if kind == "NUMERIC" and text.lower() not in ("nan", "inf", "-inf", "infinity", "-infinity"):
            return float(text)
    except ValueError:
        return _MISSING
    if kind == "STRING":
        return text
    if kind == "BOOLEAN" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return _MISSING


def _column(node: Any, qualifier: str) -> tuple[str, ...] | None:
    if not isinstance(node, dict) or node.get("class") != "COLUMN_REF":
        return None
    names = [str(n) for n in node.get("column_names") or []]
    if len(names) > 1 and names[0].lower() == qualifier:  # DuckDB binds ``t.x`` to table t first
        names = names[1:]
    return tuple(names) or None


def _conjuncts(node: Any) -> list[Any]:
    if isinstance(node, dict) and node.get("type") == "CONJUNCTION_AND":
        return [c for child in node.get("children") or [] for c in _conjuncts(child)]
    return [node]


def _base_tables(node: Any) -> int:
    if isinstance(node, dict):
        return (node.get("type") == "BASE_TABLE") + sum(_base_tables(v) for v in node.values())
    if isinstance(node, list):
        return sum(_base_tables(v) for v in node)
    return 0


def _predicates(statement: dict[str, Any]) -> dict[str, list[Predicate]]:
    """The simple WHERE predicates of a SELECT over one base table (no CTE, join, set operation
    or subquery reading a table: the pruned files are the only data of that table the statement
    sees), keyed by that table's name in lower case."""
    node = statement.get("node") or {}
    source = node.get("from_table") or {}
    if (
        _base_tables(statement) != 1
        or node.get("type") != "SELECT_NODE"
        or (node.get("cte_map") or {}).get("map")
        or source.get("type") != "BASE_TABLE"
        or not node.get("where_clause")
    ):
        return {}
    table = str(source.get("table_name", "")).lower()
    qualifier = str(source.get("alias") or table).lower()
    found: list[Predicate] = []
    for cond in _conjuncts(node["where_clause"]):
        kind = cond.get("type") if isinstance(cond, dict) else None
        if kind in _COMPARE:
            left, right = cond.get("left"), cond.get("right")
            op, flipped = _COMPARE[kind]
            path, value = _column(left, qualifier), _constant(right)
            if path is None:
                path, value, op = _column(right, qualifier), _constant(left), flipped
            if path is not None and value is not _MISSING:
                found.append(Predicate(path, op, value))
        elif kind in _NULL_TESTS:
            children = cond.get("children") or []
            path = _column(children[0], qualifier) if len(children) == 1 else None
            if path is not None:
                found.append(Predicate(path, _NULL_TESTS[kind]))
    return {table: found} if found else {}


def _check_select(sql: str) -> set[str]:
    """The tables a SELECT references; refuses what it must not do."""
    return _check_select_tree(sql)[0]


def _check_select_tree(sql: str) -> tuple[set[str], dict[str, list[Predicate]]]:
    """The tables a SELECT references and its simple predicates; refuses what it must not do."""
    raw = _parser().execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchone()
    tree: dict[str, Any] = json.loads(raw[0]) if raw else {"error": True, "error_message": "empty"}
    if tree.get("error"):
        raise QuerySyntaxError(f"Cannot parse the query: {tree.get('error_message', 'syntax error')}")
    if len(tree.get("statements", [])) != 1:
        raise QuerySyntaxError("Send one statement at a time")
    tables: set[str] = set()
    _walk(tree["statements"], tables)
    return tables, _predicates(tree["statements"][0])


def _statement_type(sql: str) -> str:
    try:
        statements = _parser().extract_statements(sql)
    except duckdb.Error as exc:
        raise QuerySyntaxError(str(exc).split("\n")[0]) from None
    if len(statements) != 1:
        raise QuerySyntaxError("Send exactly one statement at a time")
    return str(statements[0].type).rsplit(".", 1)[-1].upper()


def check_sql(sql: str) -> Checked:
    """Parse and check one statement; ``QueryRefusedError`` / ``QuerySyntaxError`` otherwise."""
    if not sql or not sql.strip().strip(";").strip():
        raise QuerySyntaxError("The query is empty")
    sql, travel = _rewrite_time_travel(sql.strip())
    kind = _statement_type(sql)
    if kind == "SELECT":
        show = _SHOW.match(sql)
        if show:
            name = show.group("name")
            if not name:  # only the dataset tables, not the catalog helpers
                sql = "SELECT table_name AS name FROM __is_tables WHERE table_schema = 'main' ORDER BY 1"
                return Checked("show", sql, set(), time_travel=travel)
            return Checked("show", sql.rstrip().rstrip(";"), {unquote(name)}, time_travel=travel)
        tables, predicates = _check_select_tree(sql)
        return Checked("select", sql, tables, time_travel=travel, predicates=predicates)
    if kind == "EXPLAIN":
        m = _EXPLAIN.match(sql)
        if m is None:
            raise QuerySyntaxError("EXPLAIN must be followed by a SELECT")
        inner = m.group("body")
        if _statement_type(inner) != "SELECT":
            raise QueryRefusedError("Only SELECT statements can be explained")
        return Checked("explain", sql, _check_select(inner), time_travel=travel)
    if kind == "CREATE":
        m = _CTAS.match(sql)
        if m is None:
            raise QueryRefusedError(
                "Only CREATE TABLE name AS SELECT … is allowed (it creates a dataset); "
                "views, macros, functions, secrets and plain tables are not"
            )
        body = m.group("body")
        if _statement_type(body) != "SELECT":
            raise QueryRefusedError("CREATE TABLE … AS needs a SELECT")
        tables, predicates = _check_select_tree(body)
        return Checked(
            "ctas",
            body,
            tables,
            target=unquote(m.group("name")),
            time_travel=travel,
            predicates=predicates,
        )
    if kind == "INSERT":
        m = _INSERT.match(sql)
        if m is None:
            raise QueryRefusedError("Only INSERT INTO dataset [(columns)] SELECT … is allowed")
        body = m.group("body")
        if _statement_type(body) != "SELECT":
            raise QueryRefusedError("INSERT INTO needs a SELECT or VALUES")
        cols = m.group("cols")
        columns = [unquote(c.strip()) for c in cols.strip("()").split(",")] if cols else None
        tables, predicates = _check_select_tree(body)
        return Checked(
            "insert",
            body,
            tables,
            target=unquote(m.group("name")),
            columns=columns,
            time_travel=travel,
            predicates=predicates,
        )
    what = {
        "COPY": "COPY (reading or writing files)",
        "ATTACH": "ATTACH",
        "DETACH": "DETACH",
        "LOAD": "INSTALL / LOAD of extensions",
        "PRAGMA": "PRAGMA",
        "SET": "SET",
        "VARIABLE_SET": "SET",
        "EXPORT": "EXPORT DATABASE",
        "CALL": "CALL",
    }.get(kind, kind.replace("_", " "))
    raise QueryRefusedError(
        f"{what} is not allowed: the Query Service runs SELECT, EXPLAIN, SHOW/DESCRIBE, "
        "CREATE TABLE … AS SELECT and INSERT INTO … SELECT"
    )
