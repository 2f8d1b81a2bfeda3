"""Batch Ingestion's run: the run of a flow whose source is a batch's uploaded files.

The uploaded files are the source (:class:`~xdmflow.connectors.files.uploaded.UploadedFilesConnector`,
read against the dataset's shape); the run is :func:`xdmflow.pipeline.run.execute` with
``conform`` (the rows are cast onto the dataset's schema by name instead of mapped): the same
partition (:func:`xdmflow.pipeline.partition.run_partition`: read → cast → validate → Parquet),
the same bad-row policy (:mod:`xdmflow.pipeline.rejects`), the same threshold
(:func:`xdmflow.pipeline.outcome.threshold_status`), the same commit (``lake/batch.py:commit_batch``)
and result type as a flow's run. A failed batch (or an exception half-way) commits nothing and
leaves no file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xdmflow.connectors.base import ReadRequest
from xdmflow.connectors.files.uploaded import UPLOADS_SPEC, InputFormat, UploadedFilesConnector
from xdmflow.lake.diagnostics import ErrorStore
from xdmflow.lake.lake import Lake
from xdmflow.pipeline.partition import RunSpec
from xdmflow.pipeline.rejects import CORRUPT_CODE, REQUIRED_CODE
from xdmflow.pipeline.run import RunResult, execute
from xdmflow.schema.compiled import CompiledSchema

__all__ = ["CORRUPT_CODE", "REQUIRED_CODE", "ingest_uploaded", "upload_spec"]


def upload_spec(
    namespace: str,
    dataset_id: str,
    batch_id: str,
    schema: CompiledSchema,
    partial_percent: float | None,
    diagnostics: bool,
) -> RunSpec:
    """The run spec of a Batch Ingestion batch (its source is the connector over its files)."""
    return RunSpec(
        run_id=batch_id,
        batch_id=batch_id,
        connector_spec_id=UPLOADS_SPEC.id,
        auth={},
        read=ReadRequest(object=f"batch {batch_id}"),
        plan=None,
        target=schema,
        namespace=namespace,
        dataset_id=dataset_id,
        partial_ingestion_percent=partial_percent,
        error_diagnostics=diagnostics,
        conform=True,
        list_rejected_rows=True,
    )


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
    spec = upload_spec(namespace, dataset_id, batch_id, schema, partial_percent, diagnostics is not None)
    connector = UploadedFilesConnector(list(files), fmt, schema)
    return execute(spec, connector, lake, diagnostics)
