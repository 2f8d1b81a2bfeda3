"""One partition of a run: extract → map → validate → Parquet data files (nothing committed).

:func:`run_partition` is what an executor ships to a worker (a thread of this process or a Dask
worker process): a top-level function over a picklable :class:`PartitionTask`, returning a
picklable :class:`PartitionResult`. It writes the partition's rows as Parquet files of the
run's batch (unique names per attempt, see :class:`xdmflow.lake.files.ParquetFileRoller`) and
its rejected rows to the diagnostics store; the coordinator (:func:`xdmflow.pipeline.run.execute`)
commits the files of every partition as one snapshot, or deletes them.

Memory is bounded by the source's record-batch size: each batch is mapped, validated and
streamed into Parquet files before the next is read. Rows are never looped over in Python
except the rejected ones, whose details go to the error report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa

from xdmflow.connectors.base import Connector, ReadRequest, ReadResult, take_positions
from xdmflow.errors import ValidationFailedError, XdmflowError
from xdmflow.ids import now_ms
from xdmflow.lake.diagnostics import ErrorStore
from xdmflow.lake.files import DataFileInfo, ParquetFileRoller, batch_data_dir
from xdmflow.mapping.casts import cast_table, describe
from xdmflow.mapping.engine import apply
from xdmflow.mapping.model import Mapping as MappingRule
from xdmflow.mapping.plan import MappingPlan, compile_mapping
from xdmflow.pipeline.dedupe import DedupeState
from xdmflow.pipeline.rejects import MAPPER_CODE, SAMPLE_ERRORS, Rejects, row_data, validation_reasons
from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.schema.validation import validate

__all__ = [
    "ABORT_MARKER",
    "PartitionAborted",
    "PartitionResult",
    "PartitionTask",
    "RunSpec",
    "WriteTarget",
    "abort_marker",
    "auto_plan",
    "run_partition",
    "SAMPLE_ERRORS",
]

#: File the coordinator drops in the batch's data directory to stop the partitions still running.
ABORT_MARKER = "_abort"


class PartitionAborted(XdmflowError):
    """Another partition of the run failed; this one stopped early (its files are deleted)."""


@dataclass
class RunSpec:
    """Everything a run needs (picklable; ``auth`` holds decrypted secrets and is never printed).

    Defined here, not in :mod:`xdmflow.pipeline.run`, so that a Dask worker unpickling a
    partition imports only the partition's modules (not the lake catalog's).
    """

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
    #: ``append`` keeps every row; ``upsert`` replaces the rows whose ``key_columns`` match
    write_mode: str = "append"
    key_columns: tuple[str, ...] = ()
    #: The source is already in the dataset's shape (Batch Ingestion): its columns are cast onto
    #: the schema by name (:func:`xdmflow.mapping.casts.cast_table`), not mapped.
    conform: bool = False
    #: Keep the record numbers of the rejected rows per code (Batch Ingestion lists them).
    list_rejected_rows: bool = False


@dataclass(frozen=True)
class WriteTarget:
    """Where and how a partition writes its Parquet files (everything a worker needs of the lake)."""

    location: str
    batch_id: str
    schema: pa.Schema
    storage_options: dict[str, Any] | None = None
    roll: dict[str, Any] = field(default_factory=dict)

    @property
    def directory(self) -> str:
        return batch_data_dir(self.location, self.batch_id)


def abort_marker(target: WriteTarget) -> str:
    """The path of the abort marker of ``target``'s batch."""
    return f"{target.directory}/{ABORT_MARKER}"


@dataclass
class PartitionTask:
    """One partition: the run spec with the partition's read request (picklable)."""

    index: int
    spec: RunSpec
    connector: Connector
    target: WriteTarget
    diagnostics: ErrorStore | None = None


@dataclass
class PartitionResult:
    """What a partition did (picklable; summed by the coordinator)."""

    index: int
    files: list[DataFileInfo] = field(default_factory=list)
    input_records: int = 0
    output_records: int = 0
    failed_records: int = 0
    skipped_records: int = 0
    input_bytes: int = 0
    input_files: int = 0
    new_watermark: Any = None
    source_files: dict[str, str] | None = None
    error_counts: dict[str, int] = field(default_factory=dict)
    sample_errors: list[dict[str, Any]] = field(default_factory=list)
    extensions: dict[str, Any] = field(default_factory=dict)
    error_rows: dict[str, list[int]] = field(default_factory=dict)
    dedupe_hashes: list[pa.Array] = field(default_factory=list)
    dedupe_deltas: list[pa.Array] = field(default_factory=list)
    read_started: int = 0
    read_completed: int = 0


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


def _conform(
    batch: pa.RecordBatch, target: pa.Schema, reasons: dict[int, list[dict[str, Any]]]
) -> tuple[pa.Table, np.ndarray]:
    """``batch`` cast onto ``target`` by column name: the rows that converted and their indexes
    in ``batch``; the others' reasons (code ``1401``) go to ``reasons``."""
    raw = pa.Table.from_batches([batch])
    conv, problems = cast_table(raw, target)
    bad = np.zeros(batch.num_rows, dtype=bool)
    for p in problems:
        bad |= p.mask
        for i in np.flatnonzero(p.mask).tolist():
            reasons.setdefault(i, []).append({"code": "1401", "message": describe(p, raw, i), "path": p.path})
    kept = np.flatnonzero(~bad)
    return (conv.take(pa.array(kept)) if bad.any() else conv), kept


def map_and_validate(
    spec: RunSpec,
    batch: pa.RecordBatch,
    numbers: np.ndarray,
    rejects: Rejects,
    filename: str | None = None,
    target: pa.Schema | None = None,
) -> pa.Table:
    """The rows of ``batch`` that map (or, with ``spec.conform``, cast onto ``target``) and
    validate; the others go to ``rejects`` as row errors with record number ``numbers[i]`` (and
    ``filename``, for a file source)."""
    reasons: dict[int, list[dict[str, Any]]] = {}
    kept: np.ndarray | None
    if spec.conform:
        good, kept = _conform(batch, target if target is not None else to_arrow_schema(spec.target), reasons)
    else:
        if spec.plan is None:
            spec.plan = auto_plan(spec.target, batch.schema)
        mapped = apply(spec.plan, batch)
        for r in mapped.rejects:
            reasons.setdefault(r.row, []).append(
                {"code": MAPPER_CODE, "message": r.reason, "path": r.destination, "source": r.source}
            )
        good = mapped.good
        kept = None  # the source rows of the mapped ones: needed only when a row fails validation
    if good.num_rows:
        result = validate(spec.target, good)
        if result.errors:
            if kept is None:
                dropped = np.asarray(mapped.rejected_rows, dtype=np.int64)
                kept = np.setdiff1d(np.arange(batch.num_rows), dropped)
            for row, errs in validation_reasons(result, kept).items():
                reasons.setdefault(row, []).extend(errs)
            good = good.filter(result.valid)
    for row in sorted(reasons):
        rejects.add(int(numbers[row]), reasons[row], row_data(batch, row), filename)
    return good


def _own_dedupe(state: DedupeState | None) -> DedupeState | None:
    """A fresh copy of the look-back state: what this partition sees is merged by the coordinator."""
    if state is None:
        return None
    return DedupeState(
        state.key_columns, state.delta_column, state.horizon_seconds, state.seen, state.restored
    )


def _drain_unparsed(read: ReadResult, rejects: Rejects, out: PartitionResult) -> None:
    """Move the records the connector could not parse into the partition's row errors."""
    n = len(read.rejects)  # the reader may still append (read-ahead thread): take what is there
    if not n:
        return
    taken = read.rejects[:n]
    del read.rejects[:n]
    out.input_records += n
    for reject in taken:
        rejects.add_unparsed(reject)


def run_partition(task: PartitionTask) -> PartitionResult:
    """Read, map, validate and write one partition; returns its files and counts.

    Source errors propagate (after deleting this attempt's files). When the abort marker of
    the batch appears (another partition failed), stops with :class:`PartitionAborted`.
    """
    spec = dataclasses.replace(
        task.spec,
        dedupe=_own_dedupe(task.spec.dedupe),
        read=dataclasses.replace(task.spec.read, numbered=True),
    )
    target = task.target
    out = PartitionResult(index=task.index, read_started=now_ms())
    read = ReadResult()
    rejects = Rejects(
        task.diagnostics if spec.error_diagnostics else None,
        spec.batch_id,
        task.index,
        keep_numbers=spec.list_rejected_rows,
    )
    conform_to = to_arrow_schema(spec.target) if spec.conform else None
    marker_fs, marker = fsspec.core.url_to_fs(abort_marker(target), **(target.storage_options or {}))
    roller = ParquetFileRoller(
        target.location, target.batch_id, target.schema, storage_options=target.storage_options, **target.roll
    )
    offset = 0
    try:
        if marker_fs.exists(marker):
            raise PartitionAborted("Another partition of the run failed.")
        for batch in task.connector.read(spec.auth, spec.read, read):
            if marker_fs.exists(marker):
                raise PartitionAborted("Another partition of the run failed.")
            _drain_unparsed(read, rejects, out)
            if spec.dedupe is not None:
                batch, dropped = spec.dedupe.filter(batch)
                out.skipped_records += dropped
            batch, numbers, filename = take_positions(batch)
            if numbers is None:  # a source without files: records of this read, from 1
                numbers = np.arange(offset + 1, offset + 1 + batch.num_rows, dtype=np.int64)
            offset += batch.num_rows
            if batch.num_rows == 0:
                continue
            out.input_records += batch.num_rows
            good = map_and_validate(spec, batch, numbers, rejects, filename, conform_to)
            if good.num_rows:
                roller.write(good)
                out.output_records += good.num_rows
        _drain_unparsed(read, rejects, out)
        out.files = roller.close()
        rejects.flush()
    except BaseException:
        roller.abort()
        raise
    out.read_completed = now_ms()
    out.failed_records = rejects.rows
    out.error_counts = rejects.counts
    out.error_rows = rejects.numbers
    out.sample_errors = rejects.sample
    out.input_bytes = read.input_bytes
    out.input_files = read.input_files
    out.extensions = dict(read.extensions)
    out.new_watermark = read.new_watermark
    out.source_files = read.files
    if spec.dedupe is not None:
        out.dedupe_hashes, out.dedupe_deltas = spec.dedupe.observed()
    return out
