"""Batch Ingestion bodies: batches."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from xdmflow.api.models.base import Body

__all__ = ["BatchCreate"]


class InputFormat(Body):
    """``inputFormat``: the format of the files of the batch (``json``, ``csv``, ``parquet``)."""

    format: str | None = None
    is_multi_line_json: bool | None = Field(default=None, alias="isMultiLineJson")
    delimiter: str | None = None


class BatchCreate(Body):
    """``POST /batches``: a batch of a dataset, in ``loading`` status."""

    dataset_id: str | None = Field(default=None, alias="datasetId")
    input_format: InputFormat | None = Field(default=None, alias="inputFormat")
    enable_error_diagnostics: bool | None = Field(default=None, alias="enableErrorDiagnostics")
    partial_ingestion_percent: int | float | None = Field(default=None, alias="partialIngestionPercent")
    tags: dict[str, Any] | None = None
    external_id: str | None = Field(default=None, alias="externalId")
