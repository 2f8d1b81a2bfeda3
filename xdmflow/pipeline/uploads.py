"""Batch Ingestion's run: a batch's uploaded files read, cast onto the dataset's shape, validated,
thresholded and committed as one lake batch.

The files are read by the files connector's upload reader (:mod:`xdmflow.connectors.files.uploaded`,
the one bad-row policy of :mod:`xdmflow.connectors.files.rows`), cast by
:func:`xdmflow.mapping.casts.cast_table`, validated by :mod:`xdmflow.schema.validation`; whether the
batch lands is :func:`xdmflow.pipeline.outcome.threshold_status` (the rule flow runs apply) and the
commit is the lake's one commit path (:class:`~xdmflow.lake.batch.BatchWriter` →
``lake/batch.py:commit_batch``). What happened is a :class:`~xdmflow.pipeline.run.RunResult`, the
result type of flow runs. Rejected rows follow the one bad-row policy of every run
(:mod:`xdmflow.pipeline.rejects`): the same row errors, codes and diagnostics as a flow's.

Good rows stream into the batch writer; the commit happens only when the threshold allows it, so
a failed batch (or an exception half-way) leaves the table unchanged. Rejected rows go to the
diagnostics store (when given) as they accumulate and when every file has been read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from xdmflow.connectors.files.uploaded import Chunk, InputFormat, ParseReject, read_file
from xdmflow.lake.diagnostics import ErrorStore
from xdmflow.lake.lake import Lake
from xdmflow.mapping.casts import cast_table, describe
from xdmflow.pipeline.outcome import threshold_status
from xdmflow.pipeline.rejects import CORRUPT_CODE, REQUIRED_CODE, Rejects, validation_reasons
from xdmflow.pipeline.run import RunResult
from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.schema.validation import validate

__all__ = ["CORRUPT_CODE", "REQUIRED_CODE", "ingest_uploaded"]


def _chunk(
    chunk: Chunk, schema: CompiledSchema, target: pa.Schema, out: RunResult, rejects: Rejects
) -> pa.Table | None:
    raw = chunk.table
    n = raw.num_rows
    out.input_records += n
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
    for i, errs in validation_reasons(result, good_idx).items():
        reasons.setdefault(i, []).extend(errs)
    if reasons:
        numbers = sorted(reasons)
        data = raw.take(pa.array(numbers)).to_pylist()
        for i, record in zip(numbers, data, strict=True):
            rejects.add(chunk.first_row + i, reasons[i], record, chunk.filename)
    kept = good.filter(result.valid) if not result.ok else good
    return kept if kept.num_rows else None


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
    rejects = Rejects(diagnostics, batch_id, keep_numbers=True)
    target = to_arrow_schema(schema)
    with lake.begin_batch(namespace, dataset_id, batch_id) as writer:
        for name, path in files:
            for item in read_file(path, name, fmt, target, schema):
                if isinstance(item, ParseReject):
                    out.input_records += 1
                    rejects.add_unparsed(item)
                    continue
                kept = _chunk(item, schema, target, out, rejects)
                if kept is not None:
                    writer.write(kept)
                    out.output_records += kept.num_rows
        out.failed_records = rejects.rows
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
    rejects.flush()
    out.failed_records = rejects.rows
    out.error_counts = rejects.counts
    out.error_rows = rejects.numbers
    out.sample_errors = rejects.sample
    return out
