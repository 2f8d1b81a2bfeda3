"""The tables a SQL query sees: the datasets of one org's sandbox, named the way the platform does.

* A dataset's table name is its name in lower case with every non-alphanumeric run turned into
  ``_`` (``"Orders 2024"`` → ``orders_2024``). When two datasets would get the same name, the
  oldest keeps it and the others get ``_<8 characters of their id>`` appended, so names are
  unique and do not change when a dataset is added. Every table is also reachable by its
  dataset id (``SELECT * FROM "65f0…"``).
* The data of a table is the Parquet files of one Iceberg snapshot (the current one, or a past
  one by snapshot id or timestamp), planned with pyiceberg. When the files are local, in the
  sandbox's directory of the lake and each of exactly the table's columns, DuckDB reads them itself
  (``read_parquet``: row counts from the footers, its own parallel scan); otherwise — object
  storage, a file written before the schema grew — they are handed to DuckDB as a pyarrow
  dataset (missing columns read as null). Either way DuckDB pushes projection and filters down.
* File pruning: the query's simple ``WHERE`` predicates (:class:`xdmflow.query.guard.Predicate`)
  become a pyiceberg ``row_filter``, so the plan skips the files whose column statistics rule
  them out. pyiceberg keeps no bounds for fields inside structs — and XDM nests most fields —, so
  the planned files are then checked against their Parquet footers' row-group statistics too
  (a footer is read once per file: data files never change).
* :class:`SnapshotPlanner` keeps the plans: a table's metadata is read once per metadata
  location (a commit writes a new one, so a new commit is never missed), and the file list of a
  (location, snapshot, filter) once; only the catalog row naming the current location is read
  per query.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import fsspec
import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.parquet as pq
from pyarrow.fs import FSSpecHandler, LocalFileSystem, PyFileSystem
from pyiceberg.catalog.sql import IcebergTables
from pyiceberg.exceptions import ResolveError, ValidationError
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    EqualTo,
    GreaterThan,
    GreaterThanOrEqual,
    IsNull,
    LessThan,
    LessThanOrEqual,
    NotNull,
    Reference,
)
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import (
    BooleanType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    StringType,
)
from sqlalchemy import bindparam, select

from xdmflow.errors import BadRequestError, NotFoundError
from xdmflow.lake.files import strip_scheme
from xdmflow.query.guard import Predicate
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.schema.iceberg import iceberg_to_arrow_schema, to_iceberg_schema

if TYPE_CHECKING:
    from xdmflow.lake.lake import Lake

__all__ = [
    "DatasetRef",
    "TableCatalog",
    "table_name",
    "SnapshotPick",
    "SnapshotPlanner",
    "PlannedFiles",
    "row_filter",
]

log = logging.getLogger(__name__)

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def table_name(dataset_name: str) -> str:
    """The platform's table name of a dataset name: lower case, non-alphanumerics → ``_``."""
    name = _NON_ALNUM.sub("_", dataset_name.lower()).strip("_") or "dataset"
    return f"t_{name}" if name[0].isdigit() else name


@dataclass(frozen=True)
class DatasetRef:
    """A dataset as the query layer needs it (gathered by the services from the Catalog)."""

    dataset_id: str
    name: str
    namespace: str
    schema: CompiledSchema

    @cached_property
    def iceberg_schema(self) -> Schema:
        return to_iceberg_schema(self.schema)

    @cached_property
    def shape(self) -> tuple[tuple[str, pa.DataType], ...]:
        """The columns as DuckDB reads them (names, types with large and small variants one)."""
        return _shape_of(self.arrow_schema)

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of the table's files (nested XDM fields as structs)."""
        return iceberg_to_arrow_schema(self.iceberg_schema)


@dataclass(frozen=True)
class SnapshotPick:
    """Which snapshot to read: the current one, one by id, or the last one at a time (ms)."""

    snapshot_id: int | None = None
    as_of_ms: int | None = None


class TableCatalog:
    """The tables of one sandbox: unique names → datasets, and their data for one query."""

    def __init__(self, datasets: Iterable[DatasetRef]) -> None:
        self.by_name: dict[str, DatasetRef] = {}
        self.by_id: dict[str, DatasetRef] = {}
        for ref in datasets:  # oldest first: the oldest keeps the plain name
            name = table_name(ref.name)
            if name in self.by_name:
                name = f"{name}_{ref.dataset_id[:8].lower()}"
            self.by_name[name] = ref
            self.by_id[ref.dataset_id] = ref

    def name_of(self, dataset_id: str) -> str:
        for name, ref in self.by_name.items():
            if ref.dataset_id == dataset_id:
                return name
        raise NotFoundError(f"No table for dataset {dataset_id}", resource_type="dataSets")

    def resolve(self, name: str) -> DatasetRef | None:
        """The dataset a table reference names (table name, case-insensitive, or dataset id)."""
        return self.by_name.get(name.lower()) or self.by_id.get(name)

    def items(self) -> Sequence[tuple[str, DatasetRef]]:
        return list(self.by_name.items())


@dataclass(frozen=True)
class PlannedFiles:
    """The data files a query reads of one snapshot, out of how many the snapshot has."""

    paths: tuple[str, ...]
    snapshot_id: int | None
    total_files: int


_ICEBERG_OPS: dict[str, type[BooleanExpression]] = {
    "=": EqualTo,
    "<": LessThan,
    "<=": LessThanOrEqual,
    ">": GreaterThan,
    ">=": GreaterThanOrEqual,
}


def _fits(field_type: Any, value: Any) -> bool:
    """Whether a constant compares with a field the same way in DuckDB and in the file stats
    (no implicit casts that could round or reinterpret it)."""
    if isinstance(value, bool):
        return isinstance(field_type, BooleanType)
    if isinstance(value, int):
        if isinstance(field_type, IntegerType):
            return -(2**31) <= value < 2**31
        if isinstance(field_type, LongType):
            return -(2**63) <= value < 2**63
        return isinstance(field_type, (DoubleType, FloatType)) and abs(value) < 2**53
    if isinstance(value, float):
        return isinstance(field_type, DoubleType)
    if isinstance(value, str):
        return isinstance(field_type, StringType)
    return False


def row_filter(schema: Schema, predicates: Sequence[Predicate]) -> BooleanExpression:
    """The pyiceberg filter of the predicates the schema can bind with matching types (the AND
    of them; the others are left out, which only keeps more files); ``AlwaysTrue`` if none."""
    parts: list[BooleanExpression] = []
    for pred in predicates:
        try:
            field = schema.find_field(".".join(pred.path), case_sensitive=False)
        except (ValueError, KeyError, ResolveError):
            continue
        name = schema.find_column_name(field.field_id)
        if name is None or not field.field_type.is_primitive:
            continue
        if pred.op == "is null":
            parts.append(IsNull(term=Reference(name)))
        elif pred.op == "is not null":
            parts.append(NotNull(term=Reference(name)))
        elif pred.op in _ICEBERG_OPS and _fits(field.field_type, pred.value):
            parts.append(_ICEBERG_OPS[pred.op](name, pred.value))  # type: ignore[call-arg]
    if not parts:
        return AlwaysTrue()
    return parts[0] if len(parts) == 1 else And(*parts)


@dataclass(frozen=True)
class _ColumnStats:
    num_values: int
    null_count: int | None
    min: Any
    max: Any
    has_min_max: bool


def _footer_checks(schema: Schema, predicates: Sequence[Predicate]) -> list[tuple[str, Predicate, bool]]:
    """(Parquet column path, predicate, floating) of the predicates a footer can decide."""
    out = []
    for pred in predicates:
        try:
            field = schema.find_field(".".join(pred.path), case_sensitive=False)
        except (ValueError, KeyError, ResolveError):
            continue
        name = schema.find_column_name(field.field_id)
        if name is None or not field.field_type.is_primitive:
            continue
        if pred.op in ("is null", "is not null") or (
            pred.op in _ICEBERG_OPS and _fits(field.field_type, pred.value)
        ):
            out.append((name, pred, isinstance(field.field_type, (DoubleType, FloatType))))
    return out


def _group_may_match(stats: list[_ColumnStats] | None, group: int, pred: Predicate, floating: bool) -> bool:
    """Whether row group ``group`` may hold a row where the predicate holds (True when unsure)."""
    if stats is None or group >= len(stats):
        return True
    st = stats[group]
    if pred.op == "is null":
        return st.null_count is None or st.null_count > 0
    if pred.op == "is not null":
        return st.null_count is None or st.null_count < st.num_values
    if st.null_count is not None and st.null_count >= st.num_values:
        return False  # only nulls: no comparison holds
    if not st.has_min_max:
        return True
    value = pred.value
    try:
        if pred.op == "=":
            return bool(st.min <= value <= st.max)
        if pred.op == "<":
            return bool(st.min < value)
        if pred.op == "<=":
            return bool(st.min <= value)
        if floating:  # NaN is greater than every number in DuckDB and not in the statistics
            return True
        if pred.op == ">":
            return bool(st.max > value)
        if pred.op == ">=":
            return bool(st.max >= value)
    except TypeError:
        return True
    return True


@dataclass(frozen=True)
class DirectFiles:
    """Data files DuckDB may read itself: local paths, all in one sandbox directory of the lake,
    each with exactly the table's columns."""

    directory: str
    paths: tuple[str, ...]


def _plain(t: pa.DataType) -> pa.DataType:
    """``t`` with large and small variants made one (both read the same in DuckDB)."""
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_large_list(t) or pa.types.is_list(t) or pa.types.is_list_view(t):
        return pa.list_(_plain(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _plain(f.type)) for f in t])
    if pa.types.is_map(t):
        return pa.map_(_plain(t.key_type), _plain(t.item_type))
    return t


def _shape_of(schema: pa.Schema) -> tuple[tuple[str, pa.DataType], ...]:
    return tuple((f.name, _plain(f.type)) for f in schema)


#: (built once: making the statement costs more than running it)
_LOCATION = select(IcebergTables.metadata_location).where(
    IcebergTables.catalog_name == bindparam("catalog"),
    IcebergTables.table_namespace == bindparam("namespace"),
    IcebergTables.table_name == bindparam("table"),
)


class SnapshotPlanner:
    """Scan plans of the lake's tables, cached by metadata location (see the module doc)."""

    def __init__(self, lake: Lake, max_entries: int = 512, max_footers: int = 16_384) -> None:
        self.lake = lake
        self.max_entries = max_entries
        self.max_footers = max_footers
        self._tables: OrderedDict[str, Table] = OrderedDict()
        self._plans: OrderedDict[tuple[str, int, str], PlannedFiles] = OrderedDict()
        self._footers: OrderedDict[str, dict[str, list[_ColumnStats]]] = OrderedDict()
        self._shapes: OrderedDict[str, tuple[tuple[str, pa.DataType], ...]] = OrderedDict()
        self._lock = threading.Lock()

    def _location(self, ref: DatasetRef) -> str | None:
        """The table's current metadata location: one row of the Iceberg SQL catalog."""
        cat = self.lake.catalog
        with cat.engine.connect() as conn:
            return conn.execute(
                _LOCATION, {"catalog": cat.name, "namespace": ref.namespace, "table": ref.dataset_id}
            ).scalar()

    def table(self, ref: DatasetRef) -> Table:
        location = self._location(ref)
        with self._lock:
            table = self._tables.get(location) if location else None
            if table is not None:
                self._tables.move_to_end(location)  # type: ignore[arg-type]
                return table
        table = self.lake.load(ref.namespace, ref.dataset_id)
        with self._lock:
            if table.metadata_location:
                self._tables[table.metadata_location] = table
                while len(self._tables) > self.max_entries:
                    self._tables.popitem(last=False)
        return table

    def files(
        self,
        ref: DatasetRef,
        pick: SnapshotPick | None = None,
        predicates: Sequence[Predicate] = (),
    ) -> PlannedFiles:
        """The files of the picked snapshot that may hold rows matching the predicates."""
        table = self.table(ref)
        snapshot_id = _pick_snapshot(table, ref, pick)
        if snapshot_id is None:
            return PlannedFiles((), None, 0)
        planned = self._planned(table, ref, snapshot_id, row_filter(ref.iceberg_schema, predicates))
        checks = _footer_checks(ref.iceberg_schema, predicates)
        if not checks or not planned.paths:
            return planned
        kept = tuple(p for p in planned.paths if self._may_match(p, checks))
        return PlannedFiles(kept, planned.snapshot_id, planned.total_files)

    def direct(self, ref: DatasetRef, paths: Sequence[str]) -> DirectFiles | None:
        """The files as DuckDB may read them itself, or ``None`` (the table is then read through
        pyarrow): every file local, under ``<lake>/<namespace>/<dataset id>/data/``, and with the
        table's columns (a file written before the schema grew has fewer: pyarrow fills those in).
        """
        if not paths:
            return None
        marker = f"/{ref.namespace}/{ref.dataset_id}/data/"
        local: list[str] = []
        directory: str | None = None
        want = ref.shape
        for path in paths:
            if "://" in path and not path.startswith("file://"):
                return None
            name = strip_scheme(path)
            cut = name.find(marker)
            if cut <= 0 or ".." in name.split("/"):
                return None
            here = name[: cut + len(ref.namespace) + 2]
            if directory is None:
                directory = here
            elif here != directory:
                return None
            try:
                if self._shape(name) != want:
                    return None
            except (OSError, pa.ArrowException):
                return None
            local.append(name)
        assert directory is not None
        return DirectFiles(directory, tuple(local))

    def _shape(self, name: str) -> tuple[tuple[str, pa.DataType], ...]:
        with self._lock:
            hit = self._shapes.get(name)
            if hit is not None:
                self._shapes.move_to_end(name)
                return hit
        shape = _shape_of(pq.read_schema(name))
        with self._lock:
            self._shapes[name] = shape
            while len(self._shapes) > self.max_footers:
                self._shapes.popitem(last=False)
        return shape

    def _footer(self, path: str) -> dict[str, list[_ColumnStats]]:
        """Per column path, the statistics of each row group of a data file (cached by path)."""
        with self._lock:
            hit = self._footers.get(path)
            if hit is not None:
                self._footers.move_to_end(path)
                return hit
        fs, name = _filesystem(path)
        with fs.open_input_file(name) as f:
            meta = pq.read_metadata(f)
        stats: dict[str, list[_ColumnStats]] = {}
        for r in range(meta.num_row_groups):
            group = meta.row_group(r)
            for c in range(group.num_columns):
                col = group.column(c)
                st = col.statistics if col.is_stats_set else None
                stats.setdefault(col.path_in_schema, []).append(
                    _ColumnStats(
                        num_values=col.num_values,
                        null_count=st.null_count if st is not None and st.has_null_count else None,
                        min=st.min if st is not None and st.has_min_max else None,
                        max=st.max if st is not None and st.has_min_max else None,
                        has_min_max=bool(st is not None and st.has_min_max),
                    )
                )
        with self._lock:
            self._footers[path] = stats
            while len(self._footers) > self.max_footers:
                self._footers.popitem(last=False)
        return stats

    def _may_match(self, path: str, checks: Sequence[tuple[str, Predicate, bool]]) -> bool:
        try:
            footer = self._footer(path)
        except (OSError, pa.ArrowException):  # unreadable footer: keep the file, the scan will tell
            return True
        groups = max((len(v) for v in footer.values()), default=0)
        for g in range(groups):
            if all(_group_may_match(footer.get(col), g, pred, floating) for col, pred, floating in checks):
                return True
        return groups == 0

    def _planned(
        self, table: Table, ref: DatasetRef, snapshot_id: int, expr: BooleanExpression
    ) -> PlannedFiles:
        key = (str(table.metadata_location), snapshot_id, repr(expr))
        with self._lock:
            hit = self._plans.get(key)
            if hit is not None:
                self._plans.move_to_end(key)
                return hit
        if isinstance(expr, AlwaysTrue):
            paths = _plan(table, ref, snapshot_id, expr)
            total = len(paths)
        else:
            everything = self._planned(table, ref, snapshot_id, AlwaysTrue())
            total = everything.total_files
            try:
                paths = _plan(table, ref, snapshot_id, expr)
            except (ValidationError, ValueError, TypeError):  # a filter it cannot bind: every file
                log.debug("dataset %s: filter %r not applied", ref.dataset_id, expr)
                paths = list(everything.paths)
        planned = PlannedFiles(tuple(paths), snapshot_id, total)
        with self._lock:
            self._plans[key] = planned
            while len(self._plans) > self.max_entries:
                self._plans.popitem(last=False)
        return planned


def _plan(table: Table, ref: DatasetRef, snapshot_id: int, expr: BooleanExpression) -> list[str]:
    tasks = list(table.scan(snapshot_id=snapshot_id, row_filter=expr).plan_files())
    if any(t.delete_files for t in tasks):
        raise BadRequestError(f"Dataset {ref.dataset_id} has row-level deletes, which SQL cannot read yet")
    return [t.file.file_path for t in tasks]


def _pick_snapshot(table: Table, ref: DatasetRef, pick: SnapshotPick | None) -> int | None:
    """The id of the picked snapshot (``None``: the table has none yet).

    ``NotFoundError`` for a snapshot id the table never had; ``BadRequestError`` for a time
    before the first snapshot.
    """
    snapshot_id: int | None = None
    if pick is not None and pick.snapshot_id is not None:
        if table.metadata.snapshot_by_id(pick.snapshot_id) is None:
            raise NotFoundError(
                f"Dataset {ref.dataset_id} has no snapshot {pick.snapshot_id}",
                resource_type="snapshot",
                resource_id=str(pick.snapshot_id),
            )
        snapshot_id = pick.snapshot_id
    elif pick is not None and pick.as_of_ms is not None:
        older = [s for s in table.metadata.snapshots if s.timestamp_ms <= pick.as_of_ms]
        if not older:
            raise BadRequestError(f"Dataset {ref.dataset_id} has no snapshot at or before that time")
        snapshot_id = max(older, key=lambda s: s.timestamp_ms).snapshot_id
    else:
        current = table.current_snapshot()
        snapshot_id = current.snapshot_id if current is not None else None
    return snapshot_id


def snapshot_files(
    lake: Lake, ref: DatasetRef, pick: SnapshotPick | None = None
) -> tuple[list[str], int | None]:
    """The data files of the picked snapshot (pyiceberg's scan plan, uncached) and its id."""
    table = lake.load(ref.namespace, ref.dataset_id)
    snapshot_id = _pick_snapshot(table, ref, pick)
    if snapshot_id is None:
        return [], None
    return _plan(table, ref, snapshot_id, AlwaysTrue()), snapshot_id


def _filesystem(path: str) -> tuple[Any, str]:
    """The pyarrow filesystem of a lake file and the file's name in it."""
    if path.startswith("file://") or "://" not in path:
        return LocalFileSystem(), strip_scheme(path)
    ffs, name = fsspec.core.url_to_fs(path)
    return PyFileSystem(FSSpecHandler(ffs)), name


def arrow_dataset(paths: Sequence[str], schema: pa.Schema) -> Any:
    """A pyarrow dataset over the files (missing columns read as null), or an empty table."""
    if not paths:
        return schema.empty_table()
    fs, _ = _filesystem(paths[0])
    files = [_filesystem(p)[1] for p in paths]
    return pds.dataset(files, schema=schema, format="parquet", filesystem=fs)
