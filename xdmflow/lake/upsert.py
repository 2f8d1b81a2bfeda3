"""Upsert support for batch commits: which existing rows a batch replaces, copy-on-write.

A dataset written in ``upsert`` mode keeps one row per key in its latest state. The batch's
commit is one Iceberg ``overwrite`` snapshot that removes the data files holding rows whose key
appears in the batch, adds those files' other rows rewritten to new files, and adds the
batch's files - all of it or nothing. Only the key columns of existing files are read to find
the matches; a file is rewritten only when it holds a replaced key. (pyiceberg's own
``delete(filter)`` is not used: its metrics evaluator fails on nested fields, and XDM datasets
nest source fields under the tenant or dataset namespace.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from xdmflow.errors import BadRequestError

__all__ = ["Replacement", "plan_replacement", "batch_keys", "UPSERT_PROPERTY"]

#: snapshot property: the number of existing rows the batch replaced
UPSERT_PROPERTY = "xdmflow.upsert-replaced-rows"
_SEP = "\x1f"


def _column(table: pa.Table, path: str) -> Any:
    parts = path.split(".")
    col: Any = table[parts[0]]
    for part in parts[1:]:
        col = pc.struct_field(col, part)
    return col


def _key_array(table: pa.Table, keys: Sequence[str]) -> Any:
    cols = [_column(table, k) for k in keys]
    if len(cols) == 1:
        return cols[0]
    return pc.binary_join_element_wise(*[pc.cast(c, pa.string()) for c in cols], _SEP)


def _read_keys(open_file: Any, keys: Sequence[str]) -> pa.Table:
    parquet = pq.ParquetFile(open_file)
    missing = [k for k in keys if k.split(".")[0] not in parquet.schema_arrow.names]
    if missing:
        raise BadRequestError(f"key column {missing[0]!r} is not a field of the dataset")
    return parquet.read(columns=sorted({k.split(".")[0] for k in keys}))


def batch_keys(table: Table, paths: Sequence[str], keys: Sequence[str]) -> pa.Array:
    """The distinct keys of the batch's files (``BadRequestError`` for a null or unknown key)."""
    if not keys:
        raise BadRequestError("upsert needs at least one key column")
    parts = []
    for path in paths:
        with table.io.new_input(path).open() as fh:
            data = _read_keys(fh, keys)
        for k in keys:
            col = _column(data, k)
            if col.null_count:
                raise BadRequestError(f"key column {k!r} is null in {col.null_count} row(s) of the batch")
        parts.append(_key_array(data, keys))
    if not parts:
        return pa.array([], pa.string())
    arrays = [c for p in parts for c in (p.chunks if isinstance(p, pa.ChunkedArray) else [p])]
    return pc.unique(pa.chunked_array(arrays))


@dataclass
class Replacement:
    """What an upsert commit removes and re-adds besides the batch's files."""

    removed: list[DataFile] = field(default_factory=list)
    #: the kept rows of each removed file (to be written to new files)
    kept: list[pa.Table] = field(default_factory=list)
    replaced_rows: int = 0


def plan_replacement(table: Table, keys: Sequence[str], values: pa.Array) -> Replacement:
    """The current data files holding a key in ``values`` and, for each, its other rows."""
    out = Replacement()
    if len(values) == 0 or table.current_snapshot() is None:
        return out
    for task in table.scan().plan_files():
        if task.delete_files:
            rows = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue()).to_table([task])
            hit = pc.is_in(_key_array(rows, keys), value_set=values)
        else:
            with table.io.new_input(task.file.file_path).open() as fh:
                hit = pc.is_in(_key_array(_read_keys(fh, keys), keys), value_set=values)
            rows = None
        matches = pc.sum(hit).as_py() or 0
        if not matches:
            continue
        if rows is None:
            with table.io.new_input(task.file.file_path).open() as fh:
                rows = pq.read_table(fh)
        out.removed.append(task.file)
        out.replaced_rows += int(matches)
        if matches < rows.num_rows:
            out.kept.append(rows.filter(pc.invert(hit)))
    return out
