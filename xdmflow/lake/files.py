"""Parquet data files of a batch: reshaping Arrow data and writing rolling files.

Used by :class:`xdmflow.lake.lake.BatchWriter` on one machine and, through
:func:`write_parquet_files`, by distributed executors whose workers write a batch's
partitions and hand the resulting :class:`DataFileInfo` list to the coordinator, which then
calls :meth:`xdmflow.lake.lake.Lake.commit_files` once.

Files of a batch live under ``<table location>/data/batch=<batch id>/`` and are named
``part-<nnnnn>-<uuid>.parquet``, so a batch's files (committed or orphaned) are recognisable.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from xdmflow.errors import BadRequestError, InternalError, ValidationFailedError

__all__ = [
    "DataFileInfo",
    "ParquetFileRoller",
    "batch_data_dir",
    "check_batch_id",
    "conform",
    "conform_batch",
    "delete_files",
    "read_parquet_files",
    "strip_scheme",
    "write_parquet_files",
]

log = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
DEFAULT_TARGET_FILE_BYTES = 128 * 1024 * 1024
DEFAULT_ROW_GROUP_ROWS = 128 * 1024


@dataclass(frozen=True)
class DataFileInfo:
    """One Parquet file written for a batch (picklable; crosses process boundaries)."""

    path: str
    record_count: int
    byte_size: int


def check_batch_id(batch_id: str) -> str:
    """Return ``batch_id`` if it is safe as a path segment, else raise ``BadRequestError``."""
    if not _SAFE_ID.match(batch_id) or ".." in batch_id:
        raise BadRequestError(f"Invalid batch id {batch_id!r}: use letters, digits, '_', '-' or '.'.")
    return batch_id


def batch_data_dir(table_location: str, batch_id: str) -> str:
    """The directory holding the data files of ``batch_id`` in a table."""
    return f"{table_location.rstrip('/')}/data/batch={check_batch_id(batch_id)}"


# -- reshaping -----------------------------------------------------------------------------


def conform(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """Reshape ``arr`` to ``target``: struct children matched by name (missing ones become
    null, extra ones are an error), lists/maps rebuilt around their reshaped children,
    primitives cast (safely: ``int32`` -> ``int16`` fails on out-of-range values)."""
    if arr.type.equals(target):
        return arr
    mask = arr.is_null() if arr.null_count else None
    if pa.types.is_struct(target):
        if not pa.types.is_struct(arr.type):
            raise ValidationFailedError(f"Expected a struct, got {arr.type}.")
        by_name = {arr.type.field(i).name: i for i in range(arr.type.num_fields)}
        extra = set(by_name) - {f.name for f in target}
        if extra:
            raise ValidationFailedError(f"Unknown nested fields {sorted(extra)}: evolve the schema first.")
        children = [
            conform(arr.field(by_name[f.name]), f.type) if f.name in by_name else pa.nulls(len(arr), f.type)
            for f in target
        ]
        return pa.StructArray.from_arrays(children, fields=list(target), mask=mask)
    if pa.types.is_map(target):
        if not pa.types.is_map(arr.type):
            raise ValidationFailedError(f"Expected a map, got {arr.type}.")
        offsets, entries = _rebased(arr)
        keys = conform(entries.field(0), target.key_type)
        items = conform(entries.field(1), target.item_type)
        return pa.MapArray.from_arrays(offsets, keys, items, type=target, mask=mask)
    if pa.types.is_list(target):
        if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)):
            raise ValidationFailedError(f"Expected a list, got {arr.type}.")
        offsets, values = _rebased(arr)
        return pa.ListArray.from_arrays(offsets, conform(values, target.value_type), type=target, mask=mask)
    return arr.cast(target)


def _rebased(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Offsets starting at 0 (int32) and the child values they cover, for a possibly sliced
    list/map array (Arrow refuses a null mask together with sliced offsets)."""
    offsets = arr.offsets
    first = offsets[0].as_py()
    last = offsets[len(offsets) - 1].as_py()
    rebased = pc.subtract(offsets, pa.scalar(first, offsets.type)).cast(pa.int32())
    return rebased, arr.values.slice(first, last - first)


def conform_batch(data: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Reshape a record batch to ``schema`` (columns by name; see :func:`conform`)."""
    extra = set(data.schema.names) - set(schema.names)
    if extra:
        raise ValidationFailedError(
            f"Data has fields the dataset does not have: {sorted(extra)}. Evolve the schema first.",
            details={"fields": sorted(extra)},
        )
    columns = []
    for f in schema:
        idx = data.schema.get_field_index(f.name)
        columns.append(conform(data.column(idx), f.type) if idx >= 0 else pa.nulls(data.num_rows, f.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _batches(data: pa.RecordBatch | pa.Table) -> Iterable[pa.RecordBatch]:
    if isinstance(data, pa.Table):
        return data.to_batches()
    return [data]


# -- writing -------------------------------------------------------------------------------


class ParquetFileRoller:
    """Streams record batches into Parquet files of one batch, rolling to a new file once the
    current one reaches ``target_file_bytes`` (compressed, on storage) or ``max_rows_per_file``.

    Row groups are written by a background thread one row group behind :meth:`write` (its
    errors surface at the next ``write`` or at ``close``), so encoding and compression overlap
    the caller's reading and mapping. Memory is bounded by three row groups (``row_group_rows``:
    the one being filled, the queued one, the one being written) plus the writer's buffers.
    Call :meth:`close` to finish and get the files, or :meth:`abort` to delete everything
    written so far (including a half-written file).
    """

    def __init__(
        self,
        location: str,
        batch_id: str,
        schema: pa.Schema,
        *,
        target_file_bytes: int = DEFAULT_TARGET_FILE_BYTES,
        max_rows_per_file: int | None = None,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
        compression: str = "zstd",
        storage_options: dict[str, Any] | None = None,
        background: bool = True,
    ) -> None:
        self.directory = batch_data_dir(location, batch_id)
        self.schema = schema
        self.target_file_bytes = target_file_bytes
        self.max_rows_per_file = max_rows_per_file
        self.row_group_rows = row_group_rows
        self.compression = compression
        self._fs, self._root = fsspec.core.url_to_fs(self.directory, **(storage_options or {}))
        self._buffer: list[pa.RecordBatch] = []
        self._buffered_rows = 0
        self._paths: list[str] = []
        self._done: list[DataFileInfo] = []
        self._stream: Any = None
        self._writer: pq.ParquetWriter | None = None
        self._file_rows = 0
        self._closed = False
        # Row groups are encoded and compressed by one writer thread, one row group behind the
        # caller, so the next batch is read and mapped while this one is written.
        self._background = background
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=1)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def written_paths(self) -> list[str]:
        """Every file started so far (complete or not)."""
        return list(self._paths)

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        """Add rows (any shape :func:`conform` can reshape to the file schema)."""
        if self._closed:
            raise InternalError("writer is closed")
        for batch in _batches(data):
            if batch.num_rows == 0:
                continue
            self._buffer.append(conform_batch(batch, self.schema))
            self._buffered_rows += batch.num_rows
            if self._buffered_rows >= self.row_group_rows:
                self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        table = pa.Table.from_batches(self._buffer, schema=self.schema)
        self._buffer, self._buffered_rows = [], 0
        if not self._background:
            self._write_table(table)
            return
        self._raise_writer_error()
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name="xdmflow-parquet", daemon=True)
            self._thread.start()
        while True:  # wait for room, but notice a writer that died meanwhile
            try:
                self._queue.put(table, timeout=0.5)
                break
            except queue.Full:
                self._raise_writer_error()

    def _drain(self) -> None:
        while True:
            table = self._queue.get()
            if table is None or self._error is not None:
                if table is None:
                    return
                continue  # after a failure: swallow the rest until the sentinel
            try:
                self._write_table(table)
            except BaseException as exc:  # handed to the caller at its next write or close
                self._error = exc

    def _raise_writer_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _join_writer(self) -> None:
        """Wait until every queued row group is written (or the writer failed)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _write_table(self, table: pa.Table) -> None:
        start = 0
        while start < table.num_rows:
            if self._writer is None:
                self._open()
            take = table.num_rows - start
            if self.max_rows_per_file is not None:
                take = min(take, self.max_rows_per_file - self._file_rows)
            assert self._writer is not None
            self._writer.write_table(table.slice(start, take), row_group_size=self.row_group_rows)
            self._file_rows += take
            start += take
            full_rows = self.max_rows_per_file is not None and self._file_rows >= self.max_rows_per_file
            if full_rows or self._stream.tell() >= self.target_file_bytes:
                self._finish_file()

    def _open(self) -> None:
        name = f"part-{len(self._paths):05d}-{uuid.uuid4()}.parquet"
        path = f"{self._root.rstrip('/')}/{name}"
        self._paths.append(f"{self.directory}/{name}")
        self._fs.makedirs(self._root, exist_ok=True)
        self._stream = self._fs.open(path, "wb")
        self._writer = pq.ParquetWriter(self._stream, self.schema, compression=self.compression)
        self._file_rows = 0

    def _finish_file(self) -> None:
        assert self._writer is not None
        self._writer.close()
        self._stream.close()
        uri = self._paths[-1]
        size = int(self._fs.size(f"{self._root.rstrip('/')}/{uri.rsplit('/', 1)[1]}"))
        self._done.append(DataFileInfo(uri, self._file_rows, size))
        self._writer, self._stream, self._file_rows = None, None, 0

    def close(self) -> list[DataFileInfo]:
        """Flush and close; returns the complete files (none when no rows were written)."""
        if not self._closed:
            self._flush()
            self._join_writer()
            self._raise_writer_error()
            if self._writer is not None:
                self._finish_file()
            self._closed = True
        return list(self._done)

    def abort(self) -> None:
        """Close without finishing and delete every file this roller started."""
        self._closed = True
        self._buffer = []
        if self._thread is not None:
            self._error = self._error or RuntimeError("aborted")  # the writer skips what is queued
            self._join_writer()
        try:
            if self._writer is not None:
                self._writer.close()
            if self._stream is not None:
                self._stream.close()
        except Exception:  # best effort: the files are deleted right below
            log.warning("could not close an aborted Parquet file", exc_info=True)
        self._writer = self._stream = None
        delete_files(self._paths)
        self._paths, self._done = [], []


def read_parquet_files(paths: list[str], target: pa.Schema, limit: int | None) -> Iterator[pa.RecordBatch]:
    """Read data files as record batches in ``target`` (missing columns null), up to ``limit`` rows.

    Used by scans instead of pyiceberg's reader: pyiceberg 0.12's projection turns null lists
    into ``[]``. Columns are matched by name (xdmflow evolution never renames).
    """
    remaining = limit
    for path in paths:
        fs, fpath = fsspec.core.url_to_fs(path)
        with fs.open(fpath, "rb") as fh:
            for batch in pq.ParquetFile(fh).iter_batches():
                if remaining is not None:
                    if remaining <= 0:
                        return
                    batch = batch.slice(0, remaining)
                    remaining -= batch.num_rows
                yield conform_batch(batch, target)


def strip_scheme(path: str) -> str:
    """A path without its scheme (``file:///a`` → ``/a``, ``s3://b/k`` → ``b/k``), for comparing
    the URLs Iceberg records with the paths an fsspec filesystem lists."""
    scheme, sep, rest = path.partition("://")
    return rest if sep and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum() else path


def delete_files(paths: Iterable[str]) -> None:
    """Delete files (missing ones are ignored)."""
    for p in paths:
        fs, path = fsspec.core.url_to_fs(p)
        try:
            fs.rm(path)
        except (FileNotFoundError, NotADirectoryError):  # never created: nothing to delete
            pass


def write_parquet_files(
    location: str,
    batch_id: str,
    batches: Iterable[pa.RecordBatch | pa.Table],
    *,
    schema: pa.Schema,
    target_file_bytes: int = DEFAULT_TARGET_FILE_BYTES,
    max_rows_per_file: int | None = None,
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
) -> list[DataFileInfo]:
    """Write ``batches`` as Parquet files of ``batch_id`` under the table ``location``.

    Args:
        location: the table location (``Lake.table_location``).
        batch_id: the batch the files belong to.
        batches: record batches or tables in (or reshapeable to) ``schema``.
        schema: the file schema with Iceberg field ids (``Lake.write_schema``).

    Returns:
        The files written; nothing is committed. On error every file written is deleted.
    """
    roller = ParquetFileRoller(
        location,
        batch_id,
        schema,
        target_file_bytes=target_file_bytes,
        max_rows_per_file=max_rows_per_file,
        row_group_rows=row_group_rows,
    )
    try:
        for b in batches:
            roller.write(b)
        return roller.close()
    except BaseException:
        roller.abort()
        raise
