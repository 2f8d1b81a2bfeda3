"""The tables a SQL query sees: the datasets of one org's sandbox, named the way the platform does.

* A dataset's table name is its name in lower case with every non-alphanumeric run turned into
  ``_`` (``"Orders 2024"`` → ``orders_2024``). When two datasets would get the same name, the
  oldest keeps it and the others get ``_<8 characters of their id>`` appended, so names are
  unique and do not change when a dataset is added. Every table is also reachable by its
  dataset id (``SELECT * FROM "65f0…"``).
* The data of a table is the Parquet files of one Iceberg snapshot (the current one, or a past
  one by snapshot id or timestamp), planned with pyiceberg and handed to DuckDB as a pyarrow
  dataset: DuckDB pushes column projection and filters into the scan, and no file is opened by
  DuckDB itself (its file access stays off).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import fsspec
import pyarrow as pa
import pyarrow.dataset as pds
from pyarrow.fs import FSSpecHandler, LocalFileSystem, PyFileSystem

from xdmflow.errors import BadRequestError, NotFoundError
from xdmflow.lake.files import strip_scheme
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.schema.iceberg import iceberg_to_arrow_schema, to_iceberg_schema

if TYPE_CHECKING:
    from xdmflow.lake.lake import Lake

__all__ = ["DatasetRef", "TableCatalog", "table_name", "SnapshotPick"]

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

    @property
    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of the table's files (nested XDM fields as structs)."""
        return iceberg_to_arrow_schema(to_iceberg_schema(self.schema))


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


def snapshot_files(
    lake: Lake, ref: DatasetRef, pick: SnapshotPick | None = None
) -> tuple[list[str], int | None]:
    """The data files of the picked snapshot (pyiceberg's scan plan) and that snapshot's id.

    ``NotFoundError`` for a snapshot id the table never had; ``BadRequestError`` for a time
    before the first snapshot.
    """
    table = lake.load(ref.namespace, ref.dataset_id)
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
    if snapshot_id is None:
        return [], None
    tasks = list(table.scan(snapshot_id=snapshot_id).plan_files())
    if any(t.delete_files for t in tasks):
        raise BadRequestError(f"Dataset {ref.dataset_id} has row-level deletes, which SQL cannot read yet")
    return [t.file.file_path for t in tasks], snapshot_id


def arrow_dataset(paths: list[str], schema: pa.Schema) -> Any:
    """A pyarrow dataset over the files (missing columns read as null), or an empty table."""
    if not paths:
        return schema.empty_table()
    first = paths[0]
    if first.startswith("file://") or "://" not in first:
        fs: Any = LocalFileSystem()
        files = [strip_scheme(p) for p in paths]
    else:
        ffs, _ = fsspec.core.url_to_fs(first)
        fs = PyFileSystem(FSSpecHandler(ffs))
        files = [fsspec.core.url_to_fs(p)[1] for p in paths]
    return pds.dataset(files, schema=schema, format="parquet", filesystem=fs)
