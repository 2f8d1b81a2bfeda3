"""Batch Ingestion's run: a batch's uploaded files read, cast onto the dataset's shape, validated,
thresholded and committed as one lake batch.

The files are read by the files connector's upload reader (:mod:`xdmflow.connectors.files.uploaded`,
the one bad-row policy of :mod:`xdmflow.connectors.files.rows`), cast by
:func:`xdmflow.mapping.casts.cast_table`, validated by :mod:`xdmflow.schema.validation`; whether the
batch lands is :func:`xdmflow.pipeline.outcome.threshold_status` (the rule flow runs apply) and the
commit is the lake's one commit path (:class:`~xdmflow.lake.batch.BatchWriter` →
``lake/batch.py:commit_batch``). What happened is a :class:`~xdmflow.pipeline.run.RunResult`, the
result type of flow runs.

Good rows stream into the batch writer; the commit happens only when the threshold allows it, so
a failed batch (or an exception half-way) leaves the table unchanged. Rejected rows go to the
diagnostics store (when given) once every file has been read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from xdmflow.connectors.files.uploaded import Chunk, InputFormat, ParseReject, read_file
from xdmflow.lake.diagnostics import ErrorStore, row_error
from xdmflow.lake.lake import Lake
from xdmflow.mapping.casts import cast_table, describe
from xdmflow.pipeline.outcome import threshold_status
from xdmflow.pipeline.partition import SAMPLE_ERRORS
from xdmflow.pipeline.run import RunResult
from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.schema.validation import validate

__all__ = ["CORRUPT_CODE", "REQUIRED_CODE", "ingest_uploaded"]

REQUIRED_REASON = "required field is missing"
#: The batch error code of a row that cannot be read or converted.
CORRUPT_CODE = "INGEST-1401-400"
#: The batch error code of a row missing a required field.
REQUIRED_CODE = "INGEST-1555-400"


class _Rows:
    """The rejected rows of a batch: diagnostics records by kind, record numbers by code."""

    def __init__(self, out: RunResult) -> None:
        self.out = out
        self.parsing: list[dict[str, Any]] = []
        self.conversion: list[dict[str, Any]] = []

    def reject(self, code: str, number: int) -> None:
        self.out.failed_records += 1
        self.out.error_rows.setdefault(code, []).append(number)
        self.out.error_counts[code] = self.out.error_counts.get(code, 0) + 1

    def keep(self, record: dict[str, Any]) -> None:
        if len(self.out.sample_errors) < SAMPLE_ERRORS:
            self.out.sample_errors.append(record)


def _chunk(chunk: Chunk, schema: CompiledSchema, target: pa.Schema, rows: _Rows) -> pa.Table | None:
    raw = chunk.table
    n = raw.num_rows
    rows.out.input_records += n
    conv, problems = cast_table(raw, target)
    bad = np.zeros(n, dtype=bool)
    for p in problems:
        bad |= p.mask
    good_idx = np.flatnonzero(~bad)
    good = conv.take(pa.array(good_idx)) if bad.any() else conv
    result = validate(schema, good)
    reasons: dict[int, list[dict[str, Any]]] = {}
    for p in problems:
        for i in np.flatnonzero(p.mask).tolist():
            reasons.setdefault(i, []).append({"code": "1401", "message": describe(p, raw, i), "path": p.path})
    for e in result.errors:
        i = int(good_idx[e.row])
        code = "1555" if e.reason == REQUIRED_REASON else "1401"
        shown = f" (value {e.value!r})" if e.value is not None else ""
        reasons.setdefault(i, []).append(
            {"code": code, "message": f"{e.path}: {e.reason}{shown}", "path": e.path}
        )
    if reasons:
        numbers = sorted(reasons)
        data = raw.take(pa.array(numbers)).to_pylist()
        for i, record in zip(numbers, data, strict=True):
            number = chunk.first_row + i
            errs = reasons[i]
            rows.reject(REQUIRED_CODE if any(x["code"] == "1555" for x in errs) else CORRUPT_CODE, number)
            entry = row_error(number, errs, data=record, filename=chunk.filename)
            rows.conversion.append(entry)
            rows.keep(entry)
    kept = good.filter(result.valid) if not result.ok else good
    return kept if kept.num_rows else None


def _unparsed(item: ParseReject, rows: _Rows) -> None:
    rows.out.input_records += 1
    rows.reject(CORRUPT_CODE, item.row)
    err = {"code": "1401", "message": item.message}
    entry = row_error(item.row, [err], corrupt_record=item.text, filename=item.filename)
    rows.parsing.append(entry)
    rows.keep(entry)


def ingest_uploaded(
    lake: Lake,
    namespace: str,
    dataset_id: str,
    batch_id: str,
    schema: CompiledSchema,
    files: Sequence[tuple[str, Path]],
    fmt: InputFormat,
    partial_percent: float | None,
    diagnostics: ErrorStore | None = None,
) -> RunResult:
    """Read, cast and validate every file; commit the good rows as one lake batch if the
    threshold allows; write the rejected rows to ``diagnostics`` (when given).

    Raises ``FileFormatError`` for an unreadable file (nothing committed, nothing written).
    """
    out = RunResult(input_files=len(files), input_bytes=sum(p.stat().st_size for _, p in files))
    rows = _Rows(out)
    target = to_arrow_schema(schema)
    with lake.begin_batch(namespace, dataset_id, batch_id) as writer:
        for name, path in files:
            for item in read_file(path, name, fmt, target, schema):
                if isinstance(item, ParseReject):
                    _unparsed(item, rows)
                    continue
                kept = _chunk(item, schema, target, rows)
                if kept is not None:
                    writer.write(kept)
                    out.output_records += kept.num_rows
        out.status = threshold_status(out.input_records, out.failed_records, partial_percent)
        if out.status == "success" and out.output_records:
            result = writer.commit()
            out.snapshot_id = result.snapshot_id
            out.data_files = list(result.data_files)
            out.output_files = len(result.data_files)
            out.partitions = 1 if result.data_files else 0
            out.output_bytes = result.byte_size
    if out.status != "success":
        out.output_records = 0
    if diagnostics is not None:
        if rows.parsing:
            diagnostics.write_row_errors(batch_id, "parsing", rows.parsing)
        if rows.conversion:
            diagnostics.write_row_errors(batch_id, "conversion", rows.conversion)
    return out
