"""The document kinds of the metadata store, one ``DocumentStore`` each."""

from __future__ import annotations

from xdmflow.store.documents import DocumentStore

__all__ = [
    "CONNECTIONS",
    "SOURCE_CONNECTIONS",
    "TARGET_CONNECTIONS",
    "FLOWS",
    "RUNS",
    "DATASETS",
    "BATCHES",
    "MAPPING_SETS",
    "MAPPING_SET_VERSIONS",
    "XDM_RESOURCES",
    "DESCRIPTORS",
]

CONNECTIONS = DocumentStore("connection", "connections")
SOURCE_CONNECTIONS = DocumentStore("sourceConnection", "sourceConnections")
TARGET_CONNECTIONS = DocumentStore("targetConnection", "targetConnections")
FLOWS = DocumentStore("flow", "flows")
RUNS = DocumentStore("run", "runs")
DATASETS = DocumentStore("dataset", "dataSets")
BATCHES = DocumentStore("batch", "batches")
MAPPING_SETS = DocumentStore("mappingSet", "mappingSets")
#: Every version of a mapping set (flows pin ``mappingVersion``); id = ``{mappingSetId}:{version}``.
MAPPING_SET_VERSIONS = DocumentStore("mappingSetVersion", "mappingSets")
#: Tenant classes, field groups, data types and schemas; ``parent_id`` holds the resource type.
XDM_RESOURCES = DocumentStore("xdm", "schemas")
DESCRIPTORS = DocumentStore("descriptor", "descriptors")
