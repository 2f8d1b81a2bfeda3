"""Running one checked statement: a DuckDB connection holding only the tenant's tables.

* Every query gets an in-memory DuckDB database of its own for as long as it runs (with the
  operator's ``memory_limit`` and ``threads``, external access off — except the sandbox's own
  directory of the lake, when the query reads local files — and the configuration locked when the
  database is made) and a fresh connection to it, holding the sandbox's tables as
  connection-local (temporary) views: ``read_parquet`` over the snapshot's files when DuckDB may
  read them itself (:meth:`SnapshotPlanner.direct`), pyarrow datasets otherwise
  (:mod:`xdmflow.query.tables`);
  tables the query references get their snapshot's files — only those the ``WHERE`` clause's
  simple predicates do not rule out —, the others an empty table of the right shape (so catalog
  queries list every column without planning every table). A finished query's database goes
  back to a small idle stack for the next query (making one costs ≈ 12 ms; a connection to an
  idle one ≈ 0.5 ms) unless something other than its connection's temporary objects is in it.
  Catalog queries (``pg_catalog``, ``information_schema``, ``SHOW``) always get a new database,
  so the object ids clients read in one and use in the next stay the same.
* One deadline thread interrupts a query after ``query_timeout_seconds``; :meth:`Execution.cancel`
  interrupts it from another thread (API cancel, a PostgreSQL cancel request, a client gone).
* Results stream as Arrow record batches, cut off at ``query_max_rows``.
* Queries run on a bounded pool (``query_workers`` threads) shared by the API and the
  PostgreSQL port: a heavy query waits for a slot, it never takes the API's threads.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import pyarrow as pa

from xdmflow.errors import BadRequestError, XdmflowError
from xdmflow.query.guard import Checked
from xdmflow.query.pgcompat import install_pg_catalog, sql_literal
from xdmflow.query.tables import DirectFiles, SnapshotPick, SnapshotPlanner, TableCatalog, arrow_dataset

if TYPE_CHECKING:
    from xdmflow.lake.lake import Lake
    from xdmflow.settings import Settings

__all__ = [
    "Limits",
    "QueryEngine",
    "Execution",
    "Databases",
    "CatalogCache",
    "QueryFailedError",
    "QueryKilledError",
]

T = TypeVar("T")

log = logging.getLogger(__name__)

#: A query that may read the PostgreSQL catalog or call its functions gets the pgcompat objects
#: (about 70 ms of set-up a plain data query does without).
_CATALOG_WORDS = re.compile(
    r"\b(?:__pg_|__is_|pg_|information_schema|current_user|session_user|has_\w+_privilege|"
    r"obj_description|col_description|format_type|to_reg)",
    re.IGNORECASE,
)


class QueryFailedError(BadRequestError):
    """DuckDB refused or failed the query (bad column, type error, out of memory …)."""

    def __init__(self, message: str, sqlstate: str = "XX000") -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class QueryKilledError(XdmflowError):
    """The query was cancelled or ran past its time limit."""

    status = 400

    def __init__(self, message: str, sqlstate: str = "57014") -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


_SQLSTATES: list[tuple[type[BaseException], str]] = [
    (duckdb.CatalogException, "42P01"),
    (duckdb.BinderException, "42703"),
    (duckdb.ParserException, "42601"),
    (duckdb.OutOfMemoryException, "53200"),
    (duckdb.PermissionException, "42501"),
    (duckdb.ConversionException, "22P02"),
    (duckdb.InvalidInputException, "22023"),
    (duckdb.ConstraintException, "23000"),
]


def _sqlstate(exc: BaseException) -> str:
    for cls, state in _SQLSTATES:
        if isinstance(exc, cls):
            return state
    return "XX000"


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float = 300.0
    memory_limit: str = "1GB"
    threads: int = 2
    max_rows: int = 1_000_000

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            timeout_seconds=settings.query_timeout_seconds,
            memory_limit=settings.query_memory_limit,
            threads=settings.query_threads,
            max_rows=settings.query_max_rows,
        )


@dataclass(frozen=True)
class _Scan:
    """A table of one query: its names, schema, planned files and — when DuckDB may read them
    itself — the sandbox directory they lie in."""

    names: list[str]
    schema: pa.Schema
    paths: tuple[str, ...]
    direct: DirectFiles | None
    #: a table of the sandbox (listed by catalog queries), not a time-travel view
    listed: bool = True

    @property
    def directory(self) -> str | None:
        return self.direct.directory if self.direct is not None else None

    @property
    def local_paths(self) -> tuple[str, ...]:
        assert self.direct is not None
        return self.direct.paths


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Execution:
    """One statement on its own DuckDB connection; iterate :meth:`batches` in a pool thread."""

    def __init__(
        self,
        engine: QueryEngine,
        catalog: TableCatalog,
        checked: Checked,
        params: list[Any] | None = None,
        *,
        user: str = "",
        database: str = "",
    ) -> None:
        self.engine = engine
        self.catalog = catalog
        self.checked = checked
        self.params = params
        self.user = user
        self.database = database
        self.schema: pa.Schema | None = None
        self.truncated = False
        self.row_count = 0
        #: data files the query reads, and how many its tables' snapshots have (file pruning)
        self.files_read = 0
        self.files_total = 0
        self._db: duckdb.DuckDBPyConnection | None = None
        self._fresh = False
        self._con: duckdb.DuckDBPyConnection | None = None
        self._cancelled = False
        self._timed_out = False
        self._lock = threading.Lock()

    def cancel(self) -> None:
        """Interrupt the query (from any thread)."""
        with self._lock:
            self._cancelled = True
            if self._con is not None:
                self._con.interrupt()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def _timeout(self) -> None:
        with self._lock:
            self._timed_out = True
            if self._con is not None:
                self._con.interrupt()

    def _open(self) -> duckdb.DuckDBPyConnection:
        # catalog queries get a new database: object ids (``pg_class.oid``) are then the same
        # for every query of the sandbox, as clients expect between their catalog queries
        catalog_query = self.checked.kind == "show" or bool(_CATALOG_WORDS.search(self.checked.sql))
        self._fresh = catalog_query
        scans = self._plan()
        directories = {scan.directory for scan in scans if scan.directory is not None}
        # DuckDB reads the files itself when they all lie in one sandbox directory (the only one
        # its database may open); otherwise every table is a pyarrow scan
        directory = directories.pop() if len(directories) == 1 else None
        self._db = self.engine.databases.take(fresh=catalog_query, directory=directory)
        con = self._db.cursor()
        try:
            self._register(con, scans, directory, catalog_query)
        except BaseException:
            con.close()
            raise
        return con

    def _plan(self) -> list[_Scan]:
        """The files of every table the query may read (tables it does not reference: none)."""
        referenced = self.checked.tables
        planner = self.engine.planner
        predicates = self.checked.predicates
        scans: list[_Scan] = []
        for name, ref in self.catalog.items():
            wanted = name in referenced or ref.dataset_id in referenced or self.checked.kind == "show"
            names = [name, ref.dataset_id] if ref.dataset_id in referenced else [name]
            if not wanted:
                scans.append(_Scan(names, ref.arrow_schema, (), None))
                continue
            filters = predicates.get(name) or predicates.get(ref.dataset_id.lower()) or []
            planned = planner.files(ref, None, filters)
            self.files_read += len(planned.paths)
            self.files_total += planned.total_files
            scans.append(_Scan(names, ref.arrow_schema, planned.paths, planner.direct(ref, planned.paths)))
        for travel in self.checked.time_travel:
            past = self.catalog.resolve(travel.table)
            if past is None:
                raise QueryFailedError(f"Table {travel.table} does not exist", "42P01")
            pick = SnapshotPick(snapshot_id=travel.snapshot_id, as_of_ms=travel.as_of_ms)
            planned = planner.files(past, pick)
            self.files_read += len(planned.paths)
            self.files_total += planned.total_files
            scans.append(
                _Scan(
                    [travel.view],
                    past.arrow_schema,
                    planned.paths,
                    planner.direct(past, planned.paths),
                    listed=False,
                )
            )
        return scans

    def _register(
        self, con: duckdb.DuckDBPyConnection, scans: list[_Scan], directory: str | None, catalog_query: bool
    ) -> None:
        """The query's tables (and, for catalog queries, the pgcompat objects) on ``con``."""
        names = []
        for scan in scans:
            if directory is not None and scan.directory == directory:
                files = ", ".join(sql_literal(p) for p in scan.local_paths)
                view = f"SELECT * FROM read_parquet([{files}], hive_partitioning = false)"
                for name in scan.names:
                    con.execute(f"CREATE TEMP VIEW {_ident(name)} AS {view}")
            else:
                data = arrow_dataset(scan.paths, scan.schema)
                for name in scan.names:
                    con.register(name, data)
            if scan.listed:
                names.extend(scan.names)
        if catalog_query:
            install_pg_catalog(con, user=self.user, database=self.database, tables=names)
        if self.files_total:
            log.debug("query reads %d of %d data files", self.files_read, self.files_total)

    def batches(self, batch_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
        """Run the statement and stream its result (up to the row cap)."""
        deadline: _Deadline | None = None
        try:
            con = self._open()
            with self._lock:
                self._con = con
                if self._cancelled:
                    raise QueryKilledError("The query was cancelled")
            deadline = self.engine.deadlines.add(self.engine.limits.timeout_seconds, self._timeout)
            rel = con.sql(self.checked.sql, params=self.params or None)
            if rel is None:
                raise QueryFailedError("The statement returned no result", "0A000")
            reader = rel.to_arrow_reader(batch_rows)
            self.schema = reader.schema
            cap = self.engine.limits.max_rows
            for batch in reader:
                if self.row_count + batch.num_rows > cap:
                    batch = batch.slice(0, cap - self.row_count)
                    self.truncated = True
                self.row_count += batch.num_rows
                if batch.num_rows:
                    yield batch
                if self.truncated:
                    break
        except duckdb.InterruptException:
            if self._timed_out:
                raise QueryKilledError(
                    f"The query ran longer than {self.engine.limits.timeout_seconds:g} s and was stopped"
                ) from None
            raise QueryKilledError("The query was cancelled") from None
        except duckdb.Error as exc:
            if self._cancelled:
                raise QueryKilledError("The query was cancelled") from None
            raise QueryFailedError(str(exc).split("\n\nLINE")[0].strip(), _sqlstate(exc)) from None
        finally:
            if deadline is not None:
                deadline.cancel()
            with self._lock:
                con_, self._con = self._con, None
                db, self._db = self._db, None
            if con_ is not None:
                con_.close()
            if db is not None:
                self.engine.databases.give_back(db, reuse=not self._fresh)

    def to_table(self) -> pa.Table:
        """The whole (capped) result as one Arrow table."""
        batches = list(self.batches())
        assert self.schema is not None
        return pa.Table.from_batches(batches, schema=self.schema)


class _Deadline:
    __slots__ = ("at", "callback", "cancelled")

    def __init__(self, at: float, callback: Callable[[], None]) -> None:
        self.at = at
        self.callback = callback
        self.cancelled = False

    def __lt__(self, other: _Deadline) -> bool:
        return self.at < other.at

    def cancel(self) -> None:
        self.cancelled = True


class Deadlines:
    """One thread that calls each query's time-out callback when its deadline passes (a timer
    thread per query costs ≈ 0.5 ms to start)."""

    def __init__(self) -> None:
        self._heap: list[_Deadline] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, seconds: float, callback: Callable[[], None]) -> _Deadline:
        entry = _Deadline(time.monotonic() + seconds, callback)
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="xdmflow-query-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0] is entry:
                self._cond.notify()
        return entry

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0].cancelled:
                    heapq.heappop(self._heap)
                if self._closed:
                    return
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0].at - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                due = heapq.heappop(self._heap)
            try:
                due.callback()
            except Exception:  # a callback's failure must not stop the others' deadlines
                log.exception("query time-out callback failed")

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()


class Databases:
    """In-memory DuckDB databases, each used by one query at a time (its memory limit is the
    query's), kept for reuse while idle.

    A database may open the files of one sandbox directory of the lake (``allowed_directories``,
    set before external access is turned off and the configuration locked) or none; idle ones
    are kept per directory, so a database is never handed to a query of another sandbox.
    """

    def __init__(self, limits: Limits, keep: int) -> None:
        self.limits = limits
        self.keep = keep
        self._idle: OrderedDict[str | None, list[duckdb.DuckDBPyConnection]] = OrderedDict()
        self._owner: dict[int, str | None] = {}
        self._pending: dict[str | None, int] = {}  # databases given back, not yet checked
        self._lock = threading.Lock()
        self._recycler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xdmflow-query-recycle")

    def _new(self, directory: str | None) -> duckdb.DuckDBPyConnection:
        db = duckdb.connect(
            ":memory:",
            config={
                "threads": self.limits.threads,
                "memory_limit": self.limits.memory_limit,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            },
        )
        if directory is not None:
            db.execute(f"SET allowed_directories = [{sql_literal(directory)}]")
            # data files never change once written (new data is a new file): their footers can
            # be kept for the database's next queries
            db.execute("SET parquet_metadata_cache = true")
        db.execute("SET enable_external_access = false")
        db.execute("SET lock_configuration = true")
        return db

    def take(self, *, fresh: bool = False, directory: str | None = None) -> duckdb.DuckDBPyConnection:
        """A database no other query uses (its base connection: open a cursor on it) that may
        read ``directory`` (and nothing else); ``fresh``: a new one."""
        if not fresh:
            for attempt in range(2):
                with self._lock:
                    idle = self._idle.get(directory)
                    if idle:
                        db = idle.pop()
                        if not idle:
                            del self._idle[directory]
                        return db
                    pending = self._pending.get(directory, 0)
                if not pending or attempt:
                    break
                # a database of this directory is being checked (≈ 2 ms): cheaper than a new one
                with contextlib.suppress(TimeoutError, RuntimeError):
                    self._recycler.submit(lambda: None).result(timeout=0.05)
        db = self._new(directory)
        with self._lock:
            self._owner[id(db)] = directory
        return db

    def idle(self) -> list[duckdb.DuckDBPyConnection]:
        """The idle databases (every directory)."""
        with self._lock:
            return [db for dbs in self._idle.values() for db in dbs]

    def give_back(self, db: duckdb.DuckDBPyConnection, *, reuse: bool = True) -> None:
        """Keep a finished query's database for the next one.

        A database that may read a sandbox's directory only ever serves that sandbox's queries:
        it is kept as it is. One that reads no file can serve any tenant's next query: it is kept
        only if only temporary objects (gone with the query's connection) were ever made in it —
        a check (≈ 1–2 ms) run on a thread of its own, after the query's result has gone out.
        """
        if not reuse:
            self._discard(db)
            return
        with self._lock:
            directory = self._owner.get(id(db))
            if directory is not None:
                self._keep(db, directory)
                return
            self._pending[directory] = self._pending.get(directory, 0) + 1
        try:
            self._recycler.submit(self._recycle, db)
        except RuntimeError:  # shut down
            self._discard(db)

    def settle(self) -> None:
        """Wait until every database given back is kept or discarded."""
        self._recycler.submit(lambda: None).result()

    def _recycle(self, db: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            directory = self._owner.get(id(db))
            self._pending[directory] = self._pending.get(directory, 1) - 1
        try:
            row = db.execute(
                # (macros too would need CREATE, which the guard never lets through; listing
                # functions costs ≈ 18 ms, these ≈ 1 ms)
                "SELECT (SELECT count(*) FROM duckdb_tables()) + (SELECT count(*) FROM duckdb_views() "
                "WHERE NOT internal) + (SELECT count(*) FROM duckdb_sequences()) "
                "+ (SELECT count(*) FROM duckdb_schemas() WHERE NOT internal)"
            ).fetchone()
            clean = row is not None and row[0] == 0
        except duckdb.Error:
            clean = False
        if not clean:
            log.warning("a query database held persistent objects: discarded")
            self._discard(db)
            return
        with self._lock:
            self._keep(db, directory)

    def _keep(self, db: duckdb.DuckDBPyConnection, directory: str | None) -> None:
        """Put ``db`` on its directory's idle stack; when full, the least recently used
        directory's oldest database goes (called with the lock held)."""
        self._idle.setdefault(directory, []).append(db)
        self._idle.move_to_end(directory)
        if sum(len(v) for v in self._idle.values()) <= self.keep:
            return
        oldest = next(iter(self._idle))
        dropped = self._idle[oldest].pop(0)
        if not self._idle[oldest]:
            del self._idle[oldest]
        self._owner.pop(id(dropped), None)
        dropped.close()

    def _discard(self, db: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            self._owner.pop(id(db), None)
        db.close()

    def close(self) -> None:
        self._recycler.shutdown(wait=True)
        with self._lock:
            idle, self._idle = self._idle, OrderedDict()
        for dbs in idle.values():
            for db in dbs:
                self._discard(db)


class CatalogCache:
    """Table catalogs by a key that changes whenever the sandbox's datasets do (the caller's
    (org, sandbox, version)): resolving names and parsing schemas once, not per query."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Any, ...], TableCatalog] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], build: Callable[[], TableCatalog]) -> TableCatalog:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                return hit
        catalog = build()
        with self._lock:
            self._entries[key] = catalog
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return catalog


class QueryEngine:
    """The deployment's SQL engine: limits, the lake, the bounded pool, the scan plans."""

    def __init__(self, lake: Lake, limits: Limits, workers: int = 2) -> None:
        self.lake = lake
        self.limits = limits
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="xdmflow-query")
        self.planner = SnapshotPlanner(lake)
        self.databases = Databases(limits, keep=max(1, workers) + 2)
        self.deadlines = Deadlines()
        self._executions: weakref.WeakSet[Execution] = weakref.WeakSet()
        self._executions_lock = threading.Lock()
        self.catalogs = CatalogCache()

    @classmethod
    def from_settings(cls, lake: Lake, settings: Settings) -> QueryEngine:
        return cls(lake, Limits.from_settings(settings), settings.query_workers)

    def execution(
        self, catalog: TableCatalog, checked: Checked, params: list[Any] | None = None, **kw: Any
    ) -> Execution:
        ex = Execution(self, catalog, checked, params, **kw)
        with self._executions_lock:
            self._executions.add(ex)
        return ex

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` on the query pool (waits for a free slot)."""
        return self.pool.submit(fn)

    def close(self) -> None:
        # running queries are interrupted, then waited for: none is left holding a connection of
        # the metadata database (or a lake commit) when the context closes them
        with self._executions_lock:
            running = list(self._executions)
        for ex in running:
            ex.cancel()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.databases.close()
        self.deadlines.close()
