"""Upsert support for batch commits: the rows a batch replaces, as an Iceberg row filter.

A dataset written in ``upsert`` mode keeps one row per key in its latest state: the batch's
commit deletes every existing row whose key appears in the batch and appends the batch's
files, in one transaction (one atomic metadata commit). :func:`key_filter` reads the key
columns of the batch's Parquet files (vectorised, only those columns) and builds the filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.expressions import AlwaysFalse, And, BooleanExpression, EqualTo, In, Or
from pyiceberg.io import FileIO

from xdmflow.errors import BadRequestError

__all__ = ["key_filter", "UPSERT_PROPERTY"]

#: snapshot property of the delete half of an upsert commit (the batch it made room for)
UPSERT_PROPERTY = "xdmflow.upsert-of"


def _column(table: pa.Table, path: str) -> pa.ChunkedArray:
    parts = path.split(".")
    if parts[0] not in table.column_names:
        raise BadRequestError(f"key column {path!r} is not a field of the dataset")
    col: Any = table[parts[0]]
    for part in parts[1:]:
        col = pc.struct_field(col, part)
    return col


def key_filter(io: FileIO, paths: Sequence[str], keys: Sequence[str]) -> BooleanExpression:
    """``key IN (values of the batch)`` over ``paths`` (one key column), or an OR of ANDs.

    (The ``type: ignore`` below: mypy reads pyiceberg's predicates through their pydantic
    model signature; the positional ``(term, literal)`` form is their documented one.)
    """
    if not keys:
        raise BadRequestError("upsert needs at least one key column")
    tops = sorted({k.split(".")[0] for k in keys})
    tables = []
    for path in paths:
        with io.new_input(path).open() as fh:
            parquet = pq.ParquetFile(fh)
            missing = [k for k in keys if k.split(".")[0] not in parquet.schema_arrow.names]
            if missing:
                raise BadRequestError(f"key column {missing[0]!r} is not a field of the dataset")
            tables.append(parquet.read(columns=tops))
    if not tables:
        return AlwaysFalse()
    data = pa.concat_tables(tables)
    columns = [_column(data, k) for k in keys]
    for k, col in zip(keys, columns, strict=True):
        if col.null_count:
            raise BadRequestError(f"key column {k!r} is null in {col.null_count} row(s) of the batch")
    if len(keys) == 1:
        values = pc.unique(columns[0]).to_pylist()
        return In(keys[0], values) if values else AlwaysFalse()  # type: ignore[call-arg,arg-type]
    combos = pa.table({str(i): c for i, c in enumerate(columns)}).group_by([str(i) for i in range(len(keys))])
    out: BooleanExpression = AlwaysFalse()
    for row in combos.aggregate([]).to_pylist():
        term: BooleanExpression = EqualTo(keys[0], row["0"])  # type: ignore[call-arg,arg-type]
        for i, k in enumerate(keys[1:], start=1):
            term = And(term, EqualTo(k, row[str(i)]))  # type: ignore[call-arg,arg-type]
        out = Or(out, term)
    return out
