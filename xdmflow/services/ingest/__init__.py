"""Batch ingestion: uploads, COMPLETE (run by ``pipeline/uploads.py``) into the lake, previews."""

from __future__ import annotations

from xdmflow.connectors.files.uploaded import FileFormatError, InputFormat
from xdmflow.services.ingest.batches import (
    abort_batch,
    batch_action,
    batch_errors,
    batch_of_dataset,
    complete_batch,
    create_batch,
    upload_target,
)
from xdmflow.services.ingest.uploads import Uploads, parse_content_range

__all__ = [
    "FileFormatError",
    "InputFormat",
    "Uploads",
    "abort_batch",
    "batch_action",
    "batch_errors",
    "batch_of_dataset",
    "complete_batch",
    "create_batch",
    "parse_content_range",
    "upload_target",
]
