"""Batch ingestion: uploads, reading and casting files, COMPLETE into the lake, previews."""

from __future__ import annotations

from xdmflow.services.ingest.batches import (
    abort_batch,
    batch_action,
    batch_of_dataset,
    complete_batch,
    create_batch,
    upload_target,
)
from xdmflow.services.ingest.pipeline import IngestOutcome, batch_errors, ingest_files
from xdmflow.services.ingest.readers import FileFormatError, InputFormat
from xdmflow.services.ingest.uploads import Uploads, parse_content_range

__all__ = [
    "FileFormatError",
    "IngestOutcome",
    "InputFormat",
    "Uploads",
    "abort_batch",
    "batch_action",
    "batch_errors",
    "batch_of_dataset",
    "complete_batch",
    "create_batch",
    "ingest_files",
    "parse_content_range",
    "upload_target",
]
