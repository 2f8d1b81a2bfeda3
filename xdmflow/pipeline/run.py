"""Execute one run: plan partitions → (extract → map → validate → Parquet files) per partition
→ one atomic batch → result.

This is the only module where connectors, mapping, validation and the lake meet. It reads
nothing from the metadata store: everything it needs arrives in a :class:`RunSpec`, and what
happened leaves in a :class:`RunResult`. The caller persists the new watermark only after the
lake commit (the ``before_commit`` hook lets it record its intent first, so a crash between
the commit and the bookkeeping can be reconciled from the lake).

:func:`execute` is the coordinator: it asks the connector to split the read into partitions
(files, row groups, byte ranges, key ranges, date windows), hands them to an executor
(:func:`xdmflow.pipeline.partition.run_partition` in threads or on Dask workers), sums what
they report, and commits the files of all partitions as **one** Iceberg snapshot tagged with
the batch id — or, when a partition failed or too many rows were rejected, deletes every file
the run wrote. Memory is bounded per partition by the source's record-batch size.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import fsspec

from xdmflow.connectors.base import Connector, ReadRequest
from xdmflow.errors import NotFoundError
from xdmflow.ids import now_ms
from xdmflow.lake.batch import CommitResult, commit_batch
from xdmflow.lake.diagnostics import ErrorStore
from xdmflow.lake.lake import Lake
from xdmflow.pipeline.dedupe import DedupeState
from xdmflow.pipeline.outcome import threshold_status
from xdmflow.pipeline.partition import (
    SAMPLE_ERRORS,
    PartitionResult,
    PartitionTask,
    RunSpec,
    WriteTarget,
    abort_marker,
    auto_plan,
    run_partition,
)

__all__ = [
    "PartitionRunner",
    "RunResult",
    "SAMPLE_ERRORS",
    "auto_plan",
    "batch_metrics",
    "execute",
    "threshold_status",
]

log = logging.getLogger("xdmflow.pipeline")

T = TypeVar("T")

#: Partitions planned per unit of executor parallelism (enough to even out skew, few enough
#: that per-partition overhead stays small).
PARTITIONS_PER_WORKER = 3


class PartitionRunner(Protocol):
    """What :func:`execute` needs of an executor (``xdmflow.executors.base.Executor``)."""

    @property
    def parallelism(self) -> int: ...

    def map(
        self,
        fn: Callable[[Any], T],
        items: Sequence[Any],
        *,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> list[T]: ...


class _Inline:
    """Partitions one after the other in the calling thread (no executor given)."""

    parallelism = 1

    def map(
        self,
        fn: Callable[[Any], T],
        items: Sequence[Any],
        *,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> list[T]:
        out = []
        for x in items:
            try:
                out.append(fn(x))
            except BaseException as exc:
                if on_error is not None:
                    on_error(exc)
                raise
        return out


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
    #: File sources: ``{path: signature}`` of the files this run ingested or skipped.
    source_files: dict[str, str] | None = None
    dedupe: DedupeState | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    sample_errors: list[dict[str, Any]] = field(default_factory=list)
    error_counts: dict[str, int] = field(default_factory=dict)
    #: record numbers of the rejected rows per error code (Batch Ingestion lists them in the batch)
    error_rows: dict[str, list[int]] = field(default_factory=dict)
    read_started: int = 0
    read_completed: int = 0
    started: int = 0
    completed: int = 0
    extensions: dict[str, Any] = field(default_factory=dict)
    already_committed: bool = False
    partitions: int = 0


def batch_metrics(r: RunResult) -> dict[str, Any]:
    """The Catalog batch ``metrics`` of a run's result (flow runs and Batch Ingestion alike)."""
    return {
        "inputByteSize": r.input_bytes,
        "inputFileCount": r.input_files,
        "inputRecordCount": r.input_records,
        "outputRecordCount": r.output_records,
        "failedRecordCount": r.failed_records,
        "outputByteSize": r.output_bytes,
        "outputFileCount": r.output_files,
        "partitionCount": r.partitions,
    }


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


def _timestamp(value: str) -> dt.datetime | None:
    try:
        ts = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts


def later_watermark(a: Any, b: Any) -> Any:
    """The later of two watermark values (``None`` = unknown); ISO-8601 strings compare as
    instants, numbers as numbers."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, int | float) and isinstance(b, int | float):
        return max(a, b)
    if isinstance(a, str) and isinstance(b, str):
        ta, tb = _timestamp(a), _timestamp(b)
        if ta is not None and tb is not None:
            return b if tb > ta else a
    return b if str(b) > str(a) else a


def _merge_extensions(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    """Source statistics of partitions: counts add up, lists concatenate, a range's start is the
    earliest, other values the latest."""
    for key, value in other.items():
        old = into.get(key)
        if old is None:
            into[key] = value
        elif isinstance(value, int | float) and isinstance(old, int | float) and not isinstance(value, bool):
            into[key] = old + value
        elif isinstance(value, list) and isinstance(old, list):
            into[key] = old + value
        elif isinstance(value, str) and isinstance(old, str):
            into[key] = min(old, value) if key.lower().endswith("start") else max(old, value)
        else:
            into[key] = value


def _merge(spec: RunSpec, result: RunResult, parts: list[PartitionResult]) -> None:
    watermark = None
    for p in sorted(parts, key=lambda p: p.index):
        result.input_records += p.input_records
        result.output_records += p.output_records
        result.failed_records += p.failed_records
        result.skipped_records += p.skipped_records
        result.input_bytes += p.input_bytes
        result.input_files += p.input_files
        for code, count in p.error_counts.items():
            result.error_counts[code] = result.error_counts.get(code, 0) + count
        for code, rows in p.error_rows.items():
            result.error_rows.setdefault(code, []).extend(rows)
        room = SAMPLE_ERRORS - len(result.sample_errors)
        if room > 0:
            result.sample_errors.extend(p.sample_errors[:room])
        _merge_extensions(result.extensions, p.extensions)
        watermark = later_watermark(watermark, p.new_watermark)
        if p.source_files is not None:
            result.source_files = {**(result.source_files or {}), **p.source_files}
        if spec.dedupe is not None:
            spec.dedupe.absorb(p.dedupe_hashes, p.dedupe_deltas)
    result.new_watermark = watermark if parts else spec.read.watermark
    if parts:
        result.read_started = min(p.read_started for p in parts)
        result.read_completed = max(p.read_completed for p in parts)


def _signal_abort(target: WriteTarget) -> None:
    fs, path = fsspec.core.url_to_fs(abort_marker(target), **(target.storage_options or {}))
    try:
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with fs.open(path, "wb") as fh:
            fh.write(b"aborted\n")
    except OSError:  # the partitions then run to their end; the coordinator still cleans up
        log.warning("could not write the abort marker %s", path, exc_info=True)


def _clear_abort(target: WriteTarget) -> None:
    fs, path = fsspec.core.url_to_fs(abort_marker(target), **(target.storage_options or {}))
    if fs.exists(path):
        fs.rm(path)


def _cleanup(lake: Lake, spec: RunSpec, target: WriteTarget) -> None:
    """Delete the batch's files its snapshot (if any) does not reference: failed attempts,
    partitions of a failed run, the abort marker. When the table was dropped meanwhile (its
    dataset or sandbox deleted), nothing can reference them: the table's folder goes."""
    try:
        lake.cleanup_orphans(spec.namespace, spec.dataset_id, spec.batch_id)
    except NotFoundError:
        try:
            fs, root = fsspec.core.url_to_fs(target.location, **(target.storage_options or {}))
            if fs.exists(root):
                fs.rm(root, recursive=True)
        except Exception:
            log.warning("could not delete the files of dropped table %s", target.location, exc_info=True)
    except Exception:
        log.warning("could not clean up the files of batch %s", spec.batch_id, exc_info=True)


def _commit(lake: Lake, spec: RunSpec, parts: list[PartitionResult]) -> CommitResult:
    files = [f for p in sorted(parts, key=lambda p: p.index) for f in p.files]
    keys = spec.key_columns if spec.write_mode == "upsert" else ()
    return commit_batch(lake, spec.namespace, spec.dataset_id, spec.batch_id, files, replace_keys=keys)


def plan_partitions(
    spec: RunSpec, connector: Connector, parallelism: int, *, per_worker: int = PARTITIONS_PER_WORKER
) -> list[ReadRequest]:
    """The connector's partitions of ``spec.read``, aiming at ``per_worker × parallelism``.

    The aim travels as ``source_params.targetPartitions`` unless the source connection sets it.
    """
    params = dict(spec.read.source_params)
    params.setdefault("targetPartitions", max(1, parallelism) * per_worker)
    return connector.partitions(spec.auth, dataclasses.replace(spec.read, source_params=params))


def execute(
    spec: RunSpec,
    connector: Connector,
    lake: Lake,
    diagnostics: ErrorStore | None = None,
    *,
    before_commit: Callable[[RunResult], None] | None = None,
    executor: PartitionRunner | None = None,
    roll: Mapping[str, Any] | None = None,
) -> RunResult:
    """Run ``spec`` once, its partitions on ``executor`` (default: one after the other here).

    A partition's source error propagates once every partition has stopped, with nothing
    committed and the run's files deleted; row errors are counted. ``roll`` is passed to
    :class:`xdmflow.lake.files.ParquetFileRoller` (file and row-group sizes).
    """
    runner: PartitionRunner = executor if executor is not None else _Inline()
    if spec.dedupe is not None and spec.dedupe.restored and spec.read.watermark is not None:
        # the rows at the watermark are known: read them again (inclusive), drop those ingested
        spec = dataclasses.replace(spec, read=dataclasses.replace(spec.read, watermark_inclusive=True))
    result = RunResult(started=now_ms(), dedupe=spec.dedupe)
    target = WriteTarget(
        location=lake.table_location(spec.namespace, spec.dataset_id),
        batch_id=spec.batch_id,
        schema=lake.write_schema(spec.namespace, spec.dataset_id),
        storage_options=getattr(lake, "storage_options", None),
        roll=dict(roll or {}),
    )
    _clear_abort(target)
    result.read_started = now_ms()
    reads = plan_partitions(spec, connector, runner.parallelism)
    result.partitions = len(reads)
    tasks = [
        PartitionTask(
            index=i,
            spec=dataclasses.replace(spec, read=read),
            connector=connector,
            target=target,
            diagnostics=diagnostics if spec.error_diagnostics else None,
        )
        for i, read in enumerate(reads)
    ]
    try:
        parts = runner.map(run_partition, tasks, on_error=lambda _exc: _signal_abort(target))
    except BaseException:
        _cleanup(lake, spec, target)
        raise
    _merge(spec, result, parts)
    if not parts:
        result.read_completed = now_ms()
    result.status = threshold_status(
        result.input_records, result.failed_records, spec.partial_ingestion_percent
    )
    if result.status == "success" and any(p.files for p in parts):
        try:
            if before_commit is not None:
                before_commit(result)
            commit = _commit(lake, spec, parts)
        except BaseException:
            _cleanup(lake, spec, target)
            raise
        result.snapshot_id = commit.snapshot_id
        result.data_files = list(commit.data_files)
        result.output_bytes = commit.byte_size
        result.output_files = len(commit.data_files)
        result.already_committed = commit.already_committed
    elif result.status != "success":
        result.output_records = 0
    # a run that wrote nothing (nothing new, or every row rejected within the threshold) commits
    # no snapshot: it succeeds with zero records and the table does not grow
    _cleanup(lake, spec, target)
    result.errors = _summary_errors(result, spec.partial_ingestion_percent, spec.error_diagnostics)
    result.completed = now_ms()
    return result
