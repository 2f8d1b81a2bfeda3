"""The Catalog Service: datasets (with their Iceberg tables), batches, dataset files.

Pipeline entry points (the run executor calls these): :func:`dataset_target`,
:func:`record_batch`, :func:`ingest_threshold_status`, :func:`refresh_dataset_schema`.
"""

from __future__ import annotations

from xdmflow.services.catalog.batches import (
    batch_files_info,
    find_dataset_file,
    get_batch,
    get_dataset_file,
    ingest_threshold_status,
    last_batches,
    list_batches,
    list_dataset_files,
    new_batch_body,
    record_batch,
    save_batch,
)
from xdmflow.services.catalog.datasets import (
    create_dataset,
    dataset_target,
    delete_dataset,
    get_dataset,
    list_datasets,
    refresh_dataset_schema,
    save_dataset,
    update_dataset,
)

__all__ = [
    "batch_files_info",
    "create_dataset",
    "dataset_target",
    "delete_dataset",
    "find_dataset_file",
    "get_batch",
    "get_dataset",
    "get_dataset_file",
    "ingest_threshold_status",
    "last_batches",
    "list_batches",
    "list_dataset_files",
    "list_datasets",
    "new_batch_body",
    "record_batch",
    "refresh_dataset_schema",
    "save_batch",
    "save_dataset",
    "update_dataset",
]
