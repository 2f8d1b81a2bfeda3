"""SQL sources (PostgreSQL, MySQL, MariaDB) through SQLAlchemy 2: reflection and chunked Arrow reads.

* auth ``connectionString``: a URL (``postgresql://user:pw@host:5432/db``, ``mysql://…``,
  ``mariadb://…``; driver-qualified forms are accepted and rewritten to ``postgresql+psycopg``
  / ``mysql+pymysql``) or the platform's ``Server=…;Port=…;Database=…;UID=…;Password=…``;
* explore ``root`` lists tables and views as ``schema.table`` (PostgreSQL: every non-system
  schema; MySQL/MariaDB: the URL's database, or every non-system one when none is given);
* every table and column name is checked against reflection and quoted by SQLAlchemy, so no
  identifier reaches the SQL text unvalidated;
* ``read`` streams with a server-side cursor (``stream_results``) and ``fetchmany``, building
  one Arrow record batch per chunk; ``delta >= :watermark`` (``>`` until the pipeline holds the
  de-duplication state, ``ReadRequest.watermark_inclusive``) is pushed down to the database and
  ``new_watermark`` is the largest delta seen (ISO-8601 for dates/timestamps, naive
  timestamps are taken as UTC; numbers stay numbers). The bound is inclusive so rows that tie
  the watermark (written after the last read, in the same instant) are never lost; the rows
  at the watermark that were already ingested come again and the pipeline drops them
  (:meth:`SqlConnector.dedupe_policy`: the whole row and its delta, horizon 0);
* ``partitions`` splits on ``source_params.partitionColumn`` (default: the delta column) into
  ``source_params.partitions`` value ranges between its min and max; on PostgreSQL a delta
  column without value ranges (text) splits into ``ctid`` block ranges bounded by its maximum.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import decimal
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from xdmflow.connectors.base import (
    ConnectionSpec,
    Connector,
    ExploreItem,
    ObjectDescription,
    ObjectType,
    ReadRequest,
    ReadResult,
)
from xdmflow.connectors.files.columns import arrow_column
from xdmflow.connectors.policy import Reach
from xdmflow.connectors.sql.pgcopy import copy_supported, iter_copy
from xdmflow.connectors.sql.specs import MARIADB_SPEC, MYSQL_SPEC, POSTGRES_SPEC
from xdmflow.connectors.sql.types import arrow_type_of, chunk_max, to_array, watermark_out, watermark_value
from xdmflow.errors import SourceAuthError, SourceError, SourceFatalError, SourceRetriableError

#: Fewest rows per range worth a partition when the pipeline asks for ``targetPartitions``.
_MIN_PARTITION_ROWS = 100_000

__all__ = [
    "SqlConnector",
    "PostgresConnector",
    "MySqlConnector",
    "MariaDbConnector",
    "parse_connection_string",
]

#: Connection-string parameters naming files the driver reads on the xdmflow host.
_LOCAL_FILE_PARAMS = (
    "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslcrldir", "passfile",
    "ssl_ca", "ssl_cert", "ssl_key", "read_default_file",
)  # fmt: skip
_SYSTEM_SCHEMAS = {"information_schema", "mysql", "performance_schema", "sys", "pg_catalog", "pg_toast"}
_KV_KEYS = {
    "server": "host", "host": "host", "data source": "host", "port": "port",
    "database": "database", "initial catalog": "database", "dbname": "database",
    "uid": "username", "user id": "username", "user": "username", "username": "username",
    "pwd": "password", "password": "password",
}  # fmt: skip
_AUTH_MARKERS = ("password authentication failed", "access denied", "no pg_hba.conf entry", "authentication")
_DOWN_MARKERS = (
    "connection refused", "could not connect", "can't connect", "timeout", "timed out", "lost connection",
    "server closed the connection", "could not translate host name", "name or service not known",
    "starting up", "shutting down", "too many connections", "connection reset", "network is unreachable",
)  # fmt: skip


def parse_connection_string(raw: str, family: str) -> Any:
    """A ``sqlalchemy.URL`` for ``raw`` with our driver for ``family`` (``postgresql``/``mysql``)."""
    driver = "postgresql+psycopg" if family == "postgresql" else "mysql+pymysql"
    text = (raw or "").strip()
    if not text:
        raise SourceAuthError("connectionString is empty.")
    if "://" not in text:
        parts: dict[str, Any] = {}
        for item in text.split(";"):
            key, sep, value = item.partition("=")
            if sep and key.strip().lower() in _KV_KEYS:
                parts[_KV_KEYS[key.strip().lower()]] = value.strip()
        if "host" not in parts:
            raise SourceAuthError("connectionString needs a URL or Server=…;Database=…;UID=…;Password=….")
        if "port" in parts:
            parts["port"] = int(parts["port"])
        return sa.URL.create(driver, **parts)
    try:
        url = sa.make_url(text)
    except Exception:
        raise SourceAuthError("connectionString is not a valid database URL.") from None
    backend = url.get_backend_name()
    allowed = ("postgresql", "postgres") if family == "postgresql" else ("mysql", "mariadb")
    if backend not in allowed:
        raise SourceAuthError(f"connectionString must be a {family} URL, not {backend!r}.")
    url = url.set(drivername=driver)
    if family == "mysql" and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url


def _classify(exc: BaseException) -> SourceError:
    orig = getattr(exc, "orig", None) or exc
    text = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:400]
    low = text.lower()
    code = orig.args[0] if getattr(orig, "args", None) and isinstance(orig.args[0], int) else None
    if (
        code in (1045, 1044, 1698)
        or any(m in low for m in _AUTH_MARKERS)
        or re.search(r'role ".*" does not exist', low)
    ):
        return SourceAuthError(f"The database refused the credentials: {text}")
    if code in (2003, 2005, 2006, 2013, 1040) or any(m in low for m in _DOWN_MARKERS):
        return SourceRetriableError(f"The database could not be reached (will be retried): {text}")
    return SourceFatalError(f"The database answered with an error: {text}")


#: Engines by URL (NullPool: no connection stays open between reads). Reusing one skips the
#: dialect's first-connect initialisation (server version, settings queries) on every read.
_ENGINES: collections.OrderedDict[str, Any] = collections.OrderedDict()
_ENGINES_LOCK = threading.Lock()
_MAX_ENGINES = 16


def _engine(url: Any, make: Callable[[], Any]) -> Any:
    key = url.render_as_string(hide_password=False)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is not None:
            _ENGINES.move_to_end(key)
            return engine
        engine = _ENGINES[key] = make()
        while len(_ENGINES) > _MAX_ENGINES:
            _ENGINES.popitem(last=False)[1].dispose()
        return engine


class SqlConnector(Connector):
    """A relational source read through SQLAlchemy; subclasses pick the dialect family."""

    family = "postgresql"

    @contextlib.contextmanager
    def _connect(self, auth: Mapping[str, Any]) -> Iterator[Any]:
        url = parse_connection_string(str(auth.get("connectionString") or ""), self.family)
        engine = _engine(
            url, lambda: sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 10})
        )
        try:
            with engine.connect() as conn:
                yield conn
        except SourceError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise _classify(exc) from None
        except engine.dialect.loaded_dbapi.Error as exc:  # raw driver calls (PostgreSQL COPY)
            raise _classify(exc) from None
        except OSError as exc:
            raise SourceRetriableError(
                f"The database could not be reached (will be retried): {exc}"
            ) from None

    def reach(self, auth: Mapping[str, Any]) -> Reach:
        """The database host(s) of the connection string (a Unix socket counts as ``localhost``)."""
        try:
            url = parse_connection_string(str(auth.get("connectionString") or ""), self.family)
        except SourceError:
            return Reach()  # the connector itself refuses a malformed string
        default = 5432 if self.family == "postgresql" else 3306
        port = url.port or default
        names: list[str] = []
        if url.host:
            names += [h for h in str(url.host).split(",") if h]
        for key in ("host", "hostaddr", "unix_socket"):
            value = url.query.get(key)
            for item in [value] if isinstance(value, str) else list(value or ()):
                names += [h for h in str(item).split(",") if h]
        if not names:
            names = ["localhost"]
        hosts = tuple(("localhost" if n.startswith("/") or n.startswith("@") else n, port) for n in names)
        if self.family == "mysql" and url.query.get("unix_socket"):
            hosts += (("localhost", port),)
        # the driver reads these local files on the xdmflow host: they are local paths like any other
        files = tuple(
            str(url.query[key])
            for key in _LOCAL_FILE_PARAMS
            if isinstance(url.query.get(key), str) and url.query[key]
        )
        return Reach(hosts=hosts, folders=files)

    def check(self, auth: Mapping[str, Any]) -> None:
        """Open a connection and run ``SELECT 1``."""
        with self._connect(auth) as conn:
            conn.execute(sa.text("SELECT 1")).scalar()

    def _schemas(self, conn: Any) -> list[str]:
        insp = sa.inspect(conn)
        if self.family == "mysql" and conn.engine.url.database:
            return [conn.engine.url.database]
        return [s for s in insp.get_schema_names() if s not in _SYSTEM_SCHEMAS and not s.startswith("pg_")]

    def explore(
        self, auth: Mapping[str, Any], object_type: ObjectType, object: str | None
    ) -> list[ExploreItem]:
        """``root``: every table and view as ``schema.table``."""
        if object_type != "root":
            raise SourceFatalError(f"objectType {object_type!r} cannot be listed on a database: use root.")
        items = []
        with self._connect(auth) as conn:
            insp = sa.inspect(conn)
            for schema in self._schemas(conn):
                names = sorted(
                    set(insp.get_table_names(schema=schema)) | set(insp.get_view_names(schema=schema))
                )
                items += [
                    ExploreItem(type="table", name=f"{schema}.{t}", path=f"{schema}.{t}") for t in names
                ]
        return items

    def _table(self, conn: Any, name: str) -> Any:
        """The reflected table ``schema.table`` (or ``table`` in the default schema)."""
        insp = sa.inspect(conn)
        schema, _, table = name.partition(".") if "." in name else ("", "", name)
        candidates = [(schema or None, table)] + ([(None, name)] if schema else [])
        for sch, tbl in candidates:
            # columns and primary key only (two catalog queries): a full ``autoload`` also reflects
            # foreign keys, indexes and constraints a read never uses, and costs a run ~1 s each time
            try:
                cols = insp.get_columns(tbl, schema=sch)
            except sa.exc.NoSuchTableError:
                continue
            if not cols:
                continue
            try:
                pk = set(insp.get_pk_constraint(tbl, schema=sch).get("constrained_columns") or [])
            except (sa.exc.NoSuchTableError, NotImplementedError):
                pk = set()
            return sa.Table(
                tbl,
                sa.MetaData(),
                *[
                    sa.Column(
                        c["name"], c["type"], primary_key=c["name"] in pk, nullable=c.get("nullable", True)
                    )
                    for c in cols
                ],
                schema=sch,
            )
        raise SourceFatalError(f"Table {name!r} was not found (explore the root to list the tables).")

    @staticmethod
    def _column(table: Any, name: str) -> Any:
        if name not in table.c:
            raise SourceFatalError(f"Column {name!r} does not exist in table {table.fullname!r}.")
        return table.c[name]

    def describe(
        self,
        auth: Mapping[str, Any],
        object: str,
        *,
        preview: bool = False,
        preview_rows: int = 100,
        options: Mapping[str, Any] | None = None,
    ) -> ObjectDescription:
        """Columns of a table with their XDM types; the first ``preview_rows`` rows when ``preview``."""
        with self._connect(auth) as conn:
            table = self._table(conn, object)
            fields = [pa.field(c.name, arrow_type_of(c.type)) for c in table.columns]
            columns = [arrow_column(f.name, f.type) for f in fields]
            data = None
            if preview:
                rows = conn.execute(sa.select(*table.columns).limit(max(preview_rows, 0))).fetchall()
                data = self._batch(rows, pa.schema(fields), list(range(len(fields))))
                data = pa.Table.from_batches([data])
        return ObjectDescription(columns=columns, format="flat", preview=data)

    @staticmethod
    def _batch(rows: list[Any], schema: pa.Schema, idx: list[int]) -> pa.RecordBatch:
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in range(max(idx, default=-1) + 1)]
        return pa.RecordBatch.from_arrays(
            [to_array(cols[i], f.type) for i, f in zip(idx, schema, strict=True)], schema=schema
        )

    def dedupe_policy(self, request: ReadRequest) -> tuple[tuple[str, ...], float] | None:
        """Incremental reads re-read the rows at the watermark (inclusive bound): the pipeline
        drops those already ingested, keyed on the whole row (``()``) and its delta value, and
        remembers only the rows at the newest delta (horizon 0)."""
        return ((), 0.0) if request.delta_column else None

    def _statement(self, table: Any, request: ReadRequest) -> tuple[Any, list[Any], int | None]:
        """The SELECT for ``request``: output columns, and the index of the delta column in it."""
        params = request.source_params
        wanted = [c if isinstance(c, str) else c.get("name") for c in params.get("columns") or []]
        out = [self._column(table, str(n)) for n in wanted] or list(table.columns)
        selected = list(out)
        delta_idx = None
        if request.delta_column:
            delta = self._column(table, request.delta_column)
            if delta.name not in [c.name for c in out]:
                selected.append(delta)
            delta_idx = [c.name for c in selected].index(delta.name)
        stmt = sa.select(*selected)
        if request.delta_column and request.watermark is not None:
            delta = table.c[request.delta_column]
            wm = sa.bindparam("wm", watermark_value(request.watermark, delta.type), delta.type)
            stmt = stmt.where(delta >= wm if request.watermark_inclusive else delta > wm)
        part = params.get("partitionRange")
        if part:
            col = self._column(table, part["column"])
            lo, hi = watermark_value(part["lower"], col.type), watermark_value(part["upper"], col.type)
            cond = sa.and_(col >= lo, col <= hi if part.get("last") else col < hi)
            stmt = stmt.where(sa.or_(cond, col.is_(None)) if part.get("first") else cond)
        return stmt, out, delta_idx

    def read(
        self, auth: Mapping[str, Any], request: ReadRequest, result: ReadResult
    ) -> Iterator[pa.RecordBatch]:
        """Stream ``request.object`` (or ``tableName``) in chunks of ``batch_size`` rows."""
        name = str(request.source_params.get("tableName") or request.object)
        result.new_watermark = request.watermark
        newest = None
        with self._connect(auth) as conn:
            table = self._table(conn, name)
            stmt, out, delta_idx = self._statement(table, request)
            selected = list(stmt.selected_columns)
            schema = pa.schema([pa.field(c.name, arrow_type_of(c.type)) for c in selected])
            size = max(int(request.batch_size), 1)
            for batch, top in self._stream(conn, stmt, selected, schema, delta_idx, size, request):
                if top is not None and (newest is None or top > newest):
                    newest = top
                # the delta column stays in the batch even when not asked for: the pipeline's
                # de-duplication of the rows at the watermark needs it
                yield batch
        if newest is not None:
            result.new_watermark = watermark_out(newest)

    def _stream(
        self,
        conn: Any,
        stmt: Any,
        selected: list[Any],
        schema: pa.Schema,
        delta_idx: int | None,
        size: int,
        request: ReadRequest,
    ) -> Iterator[tuple[pa.RecordBatch, Any]]:
        """``(batch, max delta in it)`` pairs: server-side cursor + ``fetchmany``, one batch per chunk."""
        rows_iter = conn.execution_options(stream_results=True, max_row_buffer=size).execute(stmt)
        while rows := rows_iter.fetchmany(size):
            top = chunk_max([r[delta_idx] for r in rows]) if delta_idx is not None else None
            yield self._batch(rows, schema, list(range(len(selected)))), top
        rows_iter.close()

    def partitions(self, auth: Mapping[str, Any], request: ReadRequest) -> list[ReadRequest]:
        """Split on value ranges of ``partitionColumn`` (default: the delta column, else an
        integer single-column primary key), pushed down as ``WHERE`` predicates.

        ``partitions`` > 1 asks for that many ranges; otherwise ``targetPartitions`` (the
        pipeline's aim) is used when the read has at least ``minPartitionRows`` (default
        100,000) rows per range. Only numeric, date and timestamp columns are split (a delta
        column of another type: :meth:`_unsplittable_delta`).
        """
        params = dict(request.source_params)
        explicit = int(params.get("partitions") or 0)
        target = explicit if explicit > 1 else int(params.get("targetPartitions") or 0)
        if target <= 1:
            return [request]
        with self._connect(auth) as conn:
            table = self._table(conn, str(params.get("tableName") or request.object))
            column = params.get("partitionColumn") or request.delta_column
            if not column:
                keys = list(table.primary_key.columns)
                try:
                    integer = len(keys) == 1 and keys[0].type.python_type is int
                except NotImplementedError:
                    integer = False
                if not integer:
                    return [request]
                column = keys[0].name
            col = self._column(table, str(column))
            stmt, _, _ = self._statement(table, replace(request, source_params={}))
            sub = stmt.subquery()
            lo, hi, rows = conn.execute(
                sa.select(sa.func.min(sub.c[col.name]), sa.func.max(sub.c[col.name]), sa.func.count())
            ).one()
        count = target
        if explicit <= 1:
            per = int(params.get("minPartitionRows") or _MIN_PARTITION_ROWS)
            count = min(target, int(rows) // max(per, 1))
            if count <= 1:
                return [request]
        if lo is None or lo == hi or not isinstance(lo, int | float | decimal.Decimal | dt.date):
            if column == request.delta_column and hi is not None and not params.get("partitionColumn"):
                return self._unsplittable_delta(auth, request, count, hi)
            return [request]
        edges = [
            lo + (hi - lo) * i / count if not isinstance(lo, int) else lo + (hi - lo) * i // count
            for i in range(count)
        ]
        edges = sorted(set(edges)) + [hi]
        parts = []
        for i in range(len(edges) - 1):
            rng = {
                "column": col.name,
                "lower": watermark_out(edges[i]),
                "upper": watermark_out(edges[i + 1]),
                "first": i == 0,
                "last": i == len(edges) - 2,
            }
            parts.append(replace(request, source_params={**params, "partitionRange": rng}))
        return parts

    def _unsplittable_delta(
        self, auth: Mapping[str, Any], request: ReadRequest, count: int, top: Any
    ) -> list[ReadRequest]:
        """Partitions of a read whose delta column has no numeric/date ranges (text): none here."""
        return [request]


class PostgresConnector(SqlConnector):
    """PostgreSQL through psycopg 3; reads use ``COPY … TO STDOUT`` when the column types allow.

    ``source_params.copy: false`` forces the row-by-row path.
    """

    spec: ConnectionSpec = POSTGRES_SPEC
    family = "postgresql"

    def _unsplittable_delta(
        self, auth: Mapping[str, Any], request: ReadRequest, count: int, top: Any
    ) -> list[ReadRequest]:
        """Block ranges of the table (``ctid``, a TID range scan on PostgreSQL 14+), each read
        also bounded by the delta's largest value when planned, ``top`` (``OR delta IS NULL``).

        A text delta column (a staging table) has no value ranges to split on; block ranges
        cover every row once. The ``delta <= top`` bound keeps the read as safe as value
        ranges: a row updated during the run gets a delta past ``top`` and is left to the next
        run (the new watermark is at most ``top``), wherever its new version lands. The last
        range has no upper block, so rows in blocks added after planning are read.
        """
        params = dict(request.source_params)
        with self._connect(auth) as conn:
            if conn.dialect.server_version_info < (14,):
                return [request]  # no TID range scans: every range would scan the whole table
            table = self._table(conn, str(params.get("tableName") or request.object))
            name = conn.dialect.identifier_preparer.format_table(table)
            found = conn.execute(
                sa.text(
                    "SELECT relkind, pg_relation_size(oid) / current_setting('block_size')::int"
                    " FROM pg_class WHERE oid = CAST(:name AS regclass)"
                ),
                {"name": name},
            ).first()
        if found is None or found[0] not in ("r", "m") or int(found[1]) < 2:
            return [request]
        blocks = int(found[1])
        edges = sorted({blocks * i // count for i in range(count)})
        parts = []
        for i, lower in enumerate(edges):
            upper = edges[i + 1] if i + 1 < len(edges) else None
            rng = {"lower": lower, "upper": upper, "deltaUpper": watermark_out(top)}
            parts.append(replace(request, source_params={**params, "blockRange": rng}))
        return parts

    def _statement(self, table: Any, request: ReadRequest) -> tuple[Any, list[Any], int | None]:
        stmt, out, delta_idx = super()._statement(table, request)
        blocks = request.source_params.get("blockRange")
        if blocks:
            if blocks.get("lower"):
                stmt = stmt.where(sa.text(f"ctid >= '({int(blocks['lower'])},0)'::tid"))
            if blocks.get("upper") is not None:
                stmt = stmt.where(sa.text(f"ctid < '({int(blocks['upper'])},0)'::tid"))
            if request.delta_column:
                delta = self._column(table, request.delta_column)
                top = watermark_value(blocks["deltaUpper"], delta.type)
                stmt = stmt.where(sa.or_(delta <= sa.bindparam("top", top, delta.type), delta.is_(None)))
        return stmt, out, delta_idx

    def _stream(
        self,
        conn: Any,
        stmt: Any,
        selected: list[Any],
        schema: pa.Schema,
        delta_idx: int | None,
        size: int,
        request: ReadRequest,
    ) -> Iterator[tuple[pa.RecordBatch, Any]]:
        if request.source_params.get("copy", True) and copy_supported(selected, list(schema.types)):
            yield from iter_copy(conn, stmt, selected, schema, delta_idx, size)
        else:
            yield from super()._stream(conn, stmt, selected, schema, delta_idx, size, request)


class MySqlConnector(SqlConnector):
    """MySQL through PyMySQL."""

    spec: ConnectionSpec = MYSQL_SPEC
    family = "mysql"


class MariaDbConnector(MySqlConnector):
    """MariaDB: the MySQL implementation under MariaDB's connection spec."""

    spec: ConnectionSpec = MARIADB_SPEC
