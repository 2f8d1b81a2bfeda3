"""Turn a batch's uploaded files into one lake batch: read, cast, validate, threshold, commit.

Good rows stream into a :class:`~xdmflow.lake.batch.BatchWriter`; the commit happens only when
the partial-ingestion threshold allows it, so a failed batch (or an exception half-way)
leaves the table unchanged. Rejected rows are returned as diagnostics records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from xdmflow.lake.diagnostics import row_error
from xdmflow.lake.lake import Lake
from xdmflow.pipeline.outcome import threshold_status
from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.schema.validation import validate
from xdmflow.services.ingest.convert import cast_table, describe
from xdmflow.services.ingest.readers import Chunk, InputFormat, ParseReject, read_file

__all__ = ["IngestOutcome", "ingest_files", "batch_errors"]

REQUIRED_REASON = "required field is missing"
_MAX_ROWS_LISTED = 100


@dataclass
class IngestOutcome:
    """What happened to a batch's rows."""

    status: str = "failed"
    input_records: int = 0
    output_records: int = 0
    failed_records: int = 0
    input_bytes: int = 0
    input_files: int = 0
    snapshot_id: int | None = None
    data_files: list[str] = field(default_factory=list)
    output_bytes: int = 0
    parsing: list[dict[str, Any]] = field(default_factory=list)
    conversion: list[dict[str, Any]] = field(default_factory=list)
    required_rows: list[int] = field(default_factory=list)
    other_rows: list[int] = field(default_factory=list)

    def metrics(self) -> dict[str, int]:
        """The Catalog batch ``metrics``."""
        return {
            "inputByteSize": self.input_bytes,
            "inputFileCount": self.input_files,
            "inputRecordCount": self.input_records,
            "outputRecordCount": self.output_records,
            "failedRecordCount": self.failed_records,
            "outputByteSize": self.output_bytes,
            "outputFileCount": len(self.data_files),
            "partitionCount": 1 if self.data_files else 0,
        }


def _chunk(chunk: Chunk, schema: CompiledSchema, target: pa.Schema, out: IngestOutcome) -> pa.Table | None:
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
    for e in result.errors:
        i = int(good_idx[e.row])
        code = "1555" if e.reason == REQUIRED_REASON else "1401"
        shown = f" (value {e.value!r})" if e.value is not None else ""
        reasons.setdefault(i, []).append(
            {"code": code, "message": f"{e.path}: {e.reason}{shown}", "path": e.path}
        )
    if reasons:
        rows = sorted(reasons)
        data = raw.take(pa.array(rows)).to_pylist()
        for i, record in zip(rows, data, strict=True):
            number = chunk.first_row + i
            errs = reasons[i]
            (out.required_rows if any(x["code"] == "1555" for x in errs) else out.other_rows).append(number)
            out.conversion.append(row_error(number, errs, data=record, filename=chunk.filename))
        out.failed_records += len(rows)
    kept = good.filter(result.valid) if not result.ok else good
    return kept if kept.num_rows else None


def ingest_files(
    lake: Lake,
    namespace: str,
    dataset_id: str,
    batch_id: str,
    schema: CompiledSchema,
    files: Sequence[tuple[str, Path]],
    fmt: InputFormat,
    partial_percent: float | None,
) -> IngestOutcome:
    """Read, cast and validate every file; commit the good rows as one lake batch if the
    threshold allows. Raises ``FileFormatError`` for an unreadable file (nothing committed)."""
    out = IngestOutcome(input_files=len(files), input_bytes=sum(p.stat().st_size for _, p in files))
    target = to_arrow_schema(schema)
    with lake.begin_batch(namespace, dataset_id, batch_id) as writer:
        for name, path in files:
            for item in read_file(path, name, fmt, target, schema):
                if isinstance(item, ParseReject):
                    out.input_records += 1
                    out.failed_records += 1
                    out.other_rows.append(item.row)
                    err = {"code": "1401", "message": item.message}
                    out.parsing.append(row_error(item.row, [err], corrupt_record=item.text, filename=name))
                    continue
                kept = _chunk(item, schema, target, out)
                if kept is not None:
                    writer.write(kept)
                    out.output_records += kept.num_rows
        out.status = threshold_status(out.input_records, out.failed_records, partial_percent)
        if out.status == "success" and out.output_records:
            result = writer.commit()
            out.snapshot_id = result.snapshot_id
            out.data_files = list(result.data_files)
            out.output_bytes = result.byte_size
    if out.status != "success":
        out.output_records = 0
    return out


def _rows(numbers: list[int]) -> list[str]:
    return [str(n) for n in sorted(numbers)[:_MAX_ROWS_LISTED]]


def batch_errors(
    out: IngestOutcome, *, diagnostics: bool, partial_percent: float | None
) -> list[dict[str, Any]]:
    """The batch's ``errors`` for its row failures (INGEST-1212/1401/1555/1211-400)."""
    if not out.failed_records:
        return []
    if out.status == "success":
        summary = (
            f"Encountered {out.failed_records} errors in the data. Successfully ingested "
            f"{out.output_records} rows. Review the associated diagnostics for more details."
        )
    else:
        limit = "no partial ingestion" if partial_percent is None else f"the threshold of {partial_percent}%"
        summary = (
            f"Encountered {out.failed_records} errors in {out.input_records} rows, exceeding {limit}; "
            "no rows were ingested."
        )
    if not diagnostics:
        return [
            {
                "code": "INGEST-1211-400",
                "description": f"{summary} To see which rows failed and why, resend the data with error "
                "diagnostics enabled.",
            }
        ]
    errors: list[dict[str, Any]] = [{"code": "INGEST-1212-400", "description": summary}]
    if out.other_rows:
        errors.append(
            {
                "code": "INGEST-1401-400",
                "description": "The row has corrupted data and cannot be read or converted. Please correct "
                "the data and try again.",
                "recordCount": len(out.other_rows),
                "rows": _rows(out.other_rows),
            }
        )
    if out.required_rows:
        errors.append(
            {
                "code": "INGEST-1555-400",
                "description": "A required field is either missing or has a value of null. Please correct "
                "the data and try again.",
                "recordCount": len(out.required_rows),
                "rows": _rows(out.required_rows),
            }
        )
    return errors
