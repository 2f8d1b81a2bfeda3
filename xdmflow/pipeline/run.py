"""Execute one run: extract → map → validate → load (one atomic batch) → result.

This is the only module where connectors, mapping, validation and the lake meet. It reads
nothing from the metadata store: everything it needs arrives in a :class:`RunSpec`, and what
happened leaves in a :class:`RunResult`. The caller persists the new watermark only after the
lake commit (the ``before_commit`` hook lets it record its intent first, so a crash between
the commit and the bookkeeping can be reconciled from the lake).

Memory is bounded by the source's record-batch size: each batch is mapped, validated and
streamed into Parquet files before the next is read. Rows are never looped over in Python
except the rejected ones, whose details go to the error report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xdmflow.connectors.base import Connector, ReadRequest, ReadResult
from xdmflow.errors import ValidationFailedError
from xdmflow.lake.diagnostics import ErrorStore, row_error
from xdmflow.lake.lake import Lake
from xdmflow.mapping.engine import apply
from xdmflow.mapping.model import Mapping as MappingRule
from xdmflow.mapping.plan import MappingPlan, compile_mapping
from xdmflow.pipeline.dedupe import DedupeState
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.schema.validation import validate

__all__ = ["RunSpec", "RunResult", "execute", "threshold_status", "SAMPLE_ERRORS"]

#: How many rejected rows a run keeps in its own report (all of them go to diagnostics).
SAMPLE_ERRORS = 100


@dataclass
class RunSpec:
    """Everything a run needs (picklable; ``auth`` holds decrypted secrets and is never printed)."""

    run_id: str
    batch_id: str
    connector_spec_id: str
    auth: Mapping[str, Any] = field(repr=False)
    read: ReadRequest
    plan: MappingPlan | None
    target: CompiledSchema
    namespace: str
    dataset_id: str
    partial_ingestion_percent: float | None = None
    error_diagnostics: bool = False
    dedupe: DedupeState | None = None


@dataclass
class RunResult:
    status: str = "failed"  # success | failed
    input_records: int = 0
    output_records: int = 0
    failed_records: int = 0
    input_bytes: int = 0
    output_bytes: int = 0
    input_files: int = 0
    output_files: int = 0
    skipped_records: int = 0
    snapshot_id: int | None = None
    data_files: list[str] = field(default_factory=list)
    new_watermark: Any = None
    dedupe: DedupeState | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    sample_errors: list[dict[str, Any]] = field(default_factory=list)
    error_counts: dict[str, int] = field(default_factory=dict)
    read_started: int = 0
    read_completed: int = 0
    started: int = 0
    completed: int = 0
    extensions: dict[str, Any] = field(default_factory=dict)
    already_committed: bool = False


def _ms() -> int:
    return int(time.time() * 1000)


def threshold_status(input_count: int, failed_count: int, partial_percent: float | None) -> str:
    """Without partial ingestion any failed row fails the batch; with it, only above the percent."""
    if failed_count == 0:
        return "success"
    if partial_percent is None or input_count == 0:
        return "failed"
    return "failed" if failed_count * 100.0 / input_count > partial_percent else "success"


class _Rejects:
    """Collects rejected rows: a sample for the run, everything for diagnostics."""

    def __init__(self, diagnostics: ErrorStore | None, batch_id: str) -> None:
        self.diagnostics = diagnostics
        self.batch_id = batch_id
        self.sample: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self.rows = 0

    def add(self, row: int, code: str, errors: list[dict[str, Any]], data: dict[str, Any] | None) -> None:
        self.rows += 1
        self.counts[code] = self.counts.get(code, 0) + 1
        record = row_error(row, errors, data=data)
        if len(self.sample) < SAMPLE_ERRORS:
            self.sample.append(record)
        if self.diagnostics is not None:
            self.pending.append(record)
            if len(self.pending) >= 50_000:
                self.flush()

    def flush(self) -> None:
        if self.diagnostics is not None and self.pending:
            self.diagnostics.write_row_errors(self.batch_id, "conversion", self.pending)
            self.pending = []


def _row_data(batch: pa.RecordBatch, row: int) -> dict[str, Any]:
    out = {}
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        v = col[row].as_py()
        out[name] = v if isinstance(v, str | int | float | bool) or v is None else str(v)
    return out


def auto_plan(target: CompiledSchema, source: pa.Schema) -> MappingPlan:
    """Without a Mapping step, source columns land on the schema fields of the same name.

    A field is looked up at the top level, then under the ad-hoc dataset namespace and the
    tenant namespace. No matching column at all is a configuration error.
    """
    mappings = []
    for name in source.names:
        for prefix in ("", target.dataset_namespace, target.tenant_namespace):
            if prefix is None:
                continue
            path = f"{prefix}.{name}" if prefix else name
            f = target.field(path)
            if f is not None and not f.children and f.items is None and f.values is None:
                mappings.append(MappingRule(source_type="ATTRIBUTE", source=name, destination=path))
                break
    if not mappings:
        raise ValidationFailedError(
            f"No source column ({', '.join(source.names[:10])}) matches a field of schema {target.title!r}; "
            "add a Mapping transformation to the flow"
        )
    return compile_mapping(mappings, target, source)


def _map_and_validate(spec: RunSpec, batch: pa.RecordBatch, offset: int, rejects: _Rejects) -> pa.Table:
    if spec.plan is None:
        spec.plan = auto_plan(spec.target, batch.schema)
    mapped = apply(spec.plan, batch)
    rejected = mapped.rejected_rows
    by_row: dict[int, list[dict[str, Any]]] = {}
    for r in mapped.rejects:
        by_row.setdefault(r.row, []).append(
            {"code": "MAPPER-3700-400", "message": r.reason, "path": r.destination, "source": r.source}
        )
    for row, errs in by_row.items():
        rejects.add(offset + row, "MAPPER-3700-400", errs, _row_data(batch, row))
    good = mapped.good
    if good.num_rows == 0:
        return good
    result = validate(spec.target, good)
    if result.errors:
        kept = np.setdiff1d(np.arange(batch.num_rows), np.asarray(rejected, dtype=np.int64))
        grouped: dict[int, list[dict[str, Any]]] = {}
        for e in result.errors:
            grouped.setdefault(e.row, []).append(
                {
                    "code": "INGEST-1555-400" if "required" in e.reason else "INGEST-1401-400",
                    "message": e.reason,
                    "path": e.path,
                    "value": e.value,
                }
            )
        for good_row, errs in grouped.items():
            src_row = int(kept[good_row])
            rejects.add(offset + src_row, errs[0]["code"], errs, _row_data(batch, src_row))
        good = good.filter(result.valid)
    return good


def _summary_errors(result: RunResult, partial: float | None, diagnostics: bool) -> list[dict[str, Any]]:
    if result.failed_records == 0:
        return []
    if not diagnostics:
        return [
            {
                "code": "INGEST-1211-400",
                "message": (
                    f"Encountered {result.failed_records} errors in the data. Resend the data with error "
                    "diagnostics enabled to see each failed row and its reason."
                ),
            }
        ]
    errors: list[dict[str, Any]] = [
        {
            "code": "INGEST-1212-400",
            "message": (
                f"Encountered {result.failed_records} errors in the data. Successfully ingested "
                f"{result.output_records} rows. Review the failed rows with the row_errors manifest."
            ),
        }
    ]
    for code, count in sorted(result.error_counts.items()):
        errors.append({"code": code, "message": _CODE_TEXT.get(code, "Row rejected"), "recordCount": count})
    if result.status == "failed" and partial is not None:
        errors.insert(
            0,
            {
                "code": "INGEST-1213-400",
                "message": (
                    f"{result.failed_records} of {result.input_records} rows failed, above the partial "
                    f"ingestion threshold of {partial}%. Nothing was written."
                ),
            },
        )
    return errors


_CODE_TEXT = {
    "MAPPER-3700-400": "Mapper Transform Error",
    "INGEST-1401-400": "The row has corrupted data or a value that does not fit the schema.",
    "INGEST-1555-400": "A required field is either missing or has a value of null.",
}


def execute(
    spec: RunSpec,
    connector: Connector,
    lake: Lake,
    diagnostics: ErrorStore | None = None,
    *,
    before_commit: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Run ``spec`` once. Source errors propagate (nothing committed); row errors are counted."""
    result = RunResult(started=_ms(), dedupe=spec.dedupe)
    read = ReadResult()
    rejects = _Rejects(diagnostics if spec.error_diagnostics else None, spec.batch_id)
    offset = 0
    with lake.begin_batch(spec.namespace, spec.dataset_id, spec.batch_id) as writer:
        result.read_started = _ms()
        for batch in connector.read(spec.auth, spec.read, read):
            if spec.dedupe is not None:
                batch, dropped = spec.dedupe.filter(batch)
                result.skipped_records += dropped
            if batch.num_rows == 0:
                continue
            result.input_records += batch.num_rows
            good = _map_and_validate(spec, batch, offset, rejects)
            offset += batch.num_rows
            if good.num_rows:
                writer.write(good)
                result.output_records += good.num_rows
        result.read_completed = _ms()
        rejects.flush()
        result.failed_records = rejects.rows
        result.error_counts = rejects.counts
        result.sample_errors = rejects.sample
        result.input_bytes = read.input_bytes
        result.input_files = read.input_files
        result.extensions = dict(read.extensions)
        result.new_watermark = read.new_watermark
        result.status = threshold_status(
            result.input_records, result.failed_records, spec.partial_ingestion_percent
        )
        if result.status == "success":
            if before_commit is not None:
                before_commit(result)
            commit = writer.commit()
            result.snapshot_id = commit.snapshot_id
            result.data_files = list(commit.data_files)
            result.output_bytes = commit.byte_size
            result.output_files = len(commit.data_files)
            result.already_committed = commit.already_committed
        else:
            result.output_records = 0
    result.errors = _summary_errors(result, spec.partial_ingestion_percent, spec.error_diagnostics)
    result.completed = _ms()
    return result


def count_true(mask: pa.Array) -> int:
    return int(pc.sum(mask).as_py() or 0)
