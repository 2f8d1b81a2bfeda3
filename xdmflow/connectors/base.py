"""The connector protocol: spec / check / explore (discover) / read -> Arrow record batches.

A connector is a plugin registered under the entry-point group ``xdmflow.connectors``
(see ``xdmflow.connectors.registry``). It knows nothing of HTTP routing, the metadata
store or the lake: it gets the base connection's auth params (secrets already decrypted)
and the source connection's params as plain dicts, and answers with plain data or Arrow.

Object types follow the Flow Service explore API: ``root`` lists tables (tabular sources)
or the top folder (file sources); ``folder`` lists a folder; ``table`` / ``file`` describe
one object (columns, optional preview rows).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from xdmflow.connectors.policy import Reach

__all__ = [
    "Column",
    "ExploreItem",
    "ObjectDescription",
    "ReadRequest",
    "ReadResult",
    "ParseReject",
    "RECORD_COLUMN",
    "FILE_KEY",
    "with_positions",
    "take_positions",
    "Connector",
    "ConnectionSpec",
]

ObjectType = Literal["root", "folder", "table", "file"]


@dataclass(frozen=True)
class ConnectionSpec:
    """What ``GET /connectionSpecs`` serves for one connector (the platform's shape).

    ``body`` is the full ConnectionSpecItemDTO except audit fields: ``id``, ``name``,
    ``providerId``, ``version``, ``authSpec`` (list of {name, type, spec: JSON Schema}),
    ``sourceSpec`` / ``targetSpec``, ``exploreSpec``, ``attributes``, ``permissionsInfo``.
    ``secret_params`` names the auth params that are secrets (encrypted at rest, never echoed).
    """

    id: str
    name: str
    body: Mapping[str, Any]
    secret_params: frozenset[str] = frozenset()
    is_source: bool = True
    is_target: bool = False


@dataclass(frozen=True)
class Column:
    """One column of a table or file, in the explore API's shape.

    ``type`` is the source-side type name (``string``, ``integer``, ``double``, ``boolean``,
    ``date``, ``date-time``...), ``xdm`` the XDM type it maps to, e.g.
    ``{"type": "string", "format": "date-time"}``; ``meta_xdm_type`` is ``meta:xdmType``.
    """

    name: str
    type: str
    xdm: Mapping[str, Any]
    meta_xdm_type: str | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.meta_xdm_type:
            out["meta:xdmType"] = self.meta_xdm_type
        out["xdm"] = dict(self.xdm)
        return out


@dataclass(frozen=True)
class ExploreItem:
    """An entry of an explore listing (root / folder)."""

    type: Literal["table", "folder", "file"]
    name: str
    path: str
    can_preview: bool = True
    can_fetch_schema: bool = True

    def to_api(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "path": self.path,
            "canPreview": self.can_preview,
            "canFetchSchema": self.can_fetch_schema,
        }


#: The column a file reader adds, when asked (``numbered``), with each row's record number in its
#: file (the numbering of :class:`ParseReject`); the pipeline takes it off before mapping.
RECORD_COLUMN = "__xdmflow_record"
#: The schema metadata key of such a batch naming its file.
FILE_KEY = b"xdmflow.file"


def with_positions(
    batch: pa.RecordBatch, numbers: np.ndarray | None, filename: str | None = None
) -> pa.RecordBatch:
    """``batch`` with its rows' record numbers as :data:`RECORD_COLUMN` and/or its file's name."""
    if numbers is not None:
        batch = batch.append_column(RECORD_COLUMN, pa.array(np.asarray(numbers, dtype=np.int64)))
    if filename is not None:
        batch = batch.replace_schema_metadata({**(batch.schema.metadata or {}), FILE_KEY: filename.encode()})
    return batch


def take_positions(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, np.ndarray | None, str | None]:
    """``(batch without the positions, record numbers or None, file name or None)``."""
    numbers = None
    index = batch.schema.get_field_index(RECORD_COLUMN)
    if index >= 0:
        numbers = batch.column(index).to_numpy(zero_copy_only=False)
        batch = batch.remove_column(index)
    meta = batch.schema.metadata or {}
    filename = meta.get(FILE_KEY)
    if filename is not None:
        rest = {k: v for k, v in meta.items() if k != FILE_KEY}
        batch = batch.replace_schema_metadata(rest or None)
    return batch, numbers, None if filename is None else filename.decode()


@dataclass
class ParseReject:
    """A source record that cannot be parsed at all (wrong column count, an invalid JSON line,
    bytes that are not valid in the file's encoding): it becomes a row error of the run.

    ``row`` is the 1-based record number within ``filename`` (delimited files: data rows,
    the header excluded; JSON lines: non-blank lines); ``text`` is the raw record.
    """

    filename: str
    row: int
    text: str
    reason: str

    @property
    def message(self) -> str:
        """The row error's message, the same through every ingestion path."""
        return f"Row is corrupted and cannot be read: {self.reason}"


@dataclass(frozen=True)
class ObjectDescription:
    """The description of one table or file: its columns and, when asked, preview rows."""

    columns: list[Column]
    format: str = "flat"
    preview: pa.Table | None = None
    # file sources: what was detected / used (fileType, delimiter, compression, encoding)
    properties: Mapping[str, Any] = field(default_factory=dict)
    # records of the previewed sample that cannot be parsed (shown flagged, not an error)
    rejects: list[ParseReject] = field(default_factory=list)


@dataclass(frozen=True)
class ReadRequest:
    """What to read.

    * ``object`` - the table name (``PayPal.Transactions``) or file path / pattern;
    * ``source_params`` - the source connection's ``params`` and ``data.properties`` merged
      (e.g. ``{"tableName": ..., "columns": [...]}`` or ``{"path": ..., "recursive": true,
      "columnDelimiter": ","}``) plus ``format`` (``tabular|delimited|json|parquet``);
    * ``delta_column`` - the incremental column (Copy transformation), ``None`` = full read;
    * ``watermark`` - the last committed value of ``delta_column`` (as an ISO-8601 UTC string
      for timestamps, or the raw value), ``None`` = from the beginning. Rows with
      ``delta > watermark`` (or ``>=`` plus de-duplication where the source needs it, see
      ``watermark_inclusive``) are read;
    * ``window_end`` - optional upper bound (epoch seconds, exclusive) for windowed sources;
    * ``batch_size`` - target rows per record batch (memory bound);
    * ``ingested_files`` - file sources: ``{path: signature}`` of every file already ingested
      by the flow (kept by the runs package beside the watermark), ``None`` = not tracked yet
      (files are then selected by ``mtime > watermark``);
    * ``changed_files`` - file sources: what to do with an ingested file whose signature
      changed (the flow's ``options.changedFiles``: ``reread`` or ``skip``);
    * ``numbered`` - file sources: positions on the batches (see below).
    """

    object: str
    source_params: Mapping[str, Any] = field(default_factory=dict)
    delta_column: str | None = None
    watermark: Any = None
    window_start: float | None = None
    window_end: float | None = None
    batch_size: int = 65_536
    #: Read ``delta >= watermark`` instead of ``>``: set by the pipeline when it holds the
    #: de-duplication state of the rows at the watermark (sources that honour it re-read them).
    watermark_inclusive: bool = False
    ingested_files: Mapping[str, str] | None = None
    changed_files: str = "reread"
    #: File sources: add each row's record number in its file and the file's name to the
    #: batches (:func:`with_positions`); set by the pipeline, which takes them off again.
    numbered: bool = False


@dataclass
class ReadResult:
    """Filled in by ``Connector.read`` while it yields, read by the pipeline afterwards.

    ``new_watermark`` is the highest ``delta_column`` value seen (same representation as
    ``ReadRequest.watermark``); the pipeline stores it only after the lake commit.
    """

    new_watermark: Any = None
    input_bytes: int = 0
    input_files: int = 0
    extensions: dict[str, Any] = field(default_factory=dict)
    #: File sources: ``{path: signature}`` of the files this read ingested (or skipped as
    #: changed); the runs package adds them to the flow's file set after the commit.
    files: dict[str, str] | None = None
    #: Records that could not be parsed, appended while reading (the pipeline drains the list).
    rejects: list[ParseReject] = field(default_factory=list)


class Connector(abc.ABC):
    """A source (or target) connector plugin."""

    #: The connection spec this connector serves.
    spec: ConnectionSpec

    @abc.abstractmethod
    def check(self, auth: Mapping[str, Any]) -> None:
        """Verify the credentials/connectivity; raise ``SourceAuthError`` or ``SourceRetriableError``."""

    @abc.abstractmethod
    def explore(
        self, auth: Mapping[str, Any], object_type: ObjectType, object: str | None
    ) -> list[ExploreItem]:
        """List tables (root) or folder contents."""

    @abc.abstractmethod
    def describe(
        self,
        auth: Mapping[str, Any],
        object: str,
        *,
        preview: bool = False,
        preview_rows: int = 100,
        options: Mapping[str, Any] | None = None,
    ) -> ObjectDescription:
        """Describe a table or file: its columns, and preview rows when ``preview``."""

    @abc.abstractmethod
    def read(
        self, auth: Mapping[str, Any], request: ReadRequest, result: ReadResult
    ) -> Iterator[pa.RecordBatch]:
        """Yield the object's rows as Arrow record batches with bounded memory.

        Raises ``SourceError`` subclasses; never swallows a 4xx from the source.
        """

    def reach(self, auth: Mapping[str, Any]) -> Reach:
        """The hosts and local folders these auth params make the connector reach.

        The services check them against the operator's ``AccessPolicy`` (``XDMFLOW_LOCAL_ROOTS``,
        ``XDMFLOW_ALLOWED_HOSTS``) before every create, update, test, explore and run. A connector
        that reaches anything must say so here; the default reaches nothing.
        """
        return Reach()

    def dedupe_policy(self, request: ReadRequest) -> tuple[tuple[str, ...], float] | None:
        """``(key columns, horizon seconds)`` when an incremental read re-reads rows it may have
        returned before (a look-back window for late data); ``None`` when it never does.

        The pipeline then drops rows whose key and delta value were already ingested.
        """
        return None

    def primary_key(self, request: ReadRequest) -> tuple[str, ...] | None:
        """The columns identifying one object of the table read (upsert datasets key on them);
        ``None`` when the source has no such key."""
        return None

    def partitions(self, auth: Mapping[str, Any], request: ReadRequest) -> list[ReadRequest]:
        """Split a read into independent partitions (files, windows, key ranges).

        The default is one partition: the request itself.
        """
        return [request]
