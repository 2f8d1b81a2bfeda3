"""Batch Ingestion's uploaded files read as raw Arrow chunks, streaming, with row-level parse rejects.

The files of a batch (the upload area, ``services/ingest/uploads.py``) are read against the
dataset's shape; bad records follow the files connector's one bad-row policy
(:mod:`xdmflow.connectors.files.rows`), so a malformed record gets the same row error here and
in a flow.


* JSON Lines: blocks of lines parsed by ``pyarrow.json`` against the dataset's shape; a block
  that fails is split in halves until the failing lines are isolated (each rejected with the
  parser's reason), so good data costs one parse and only bad lines cost more.
* Multi-line JSON (a top-level array): the same reader; DuckDB splits the array into its elements
  (streamed, in C++), which are then parsed as the lines of a JSON-lines file.
* CSV: ``pyarrow.csv`` streaming reader, every value read as text; header names map to leaf
  fields (``name``, ``a.b``, or a field of the ad-hoc/tenant namespace object), so CSV needs a
  flat schema. Rows with the wrong number of columns are rejected.
* Parquet: the files connector's Parquet reader (:func:`~xdmflow.connectors.files.formats.iter_file`).

Unreadable files and bad headers raise :class:`FileFormatError` (the batch fails as a whole).
Row numbers are 1-based record numbers within the file (CSV: data rows, header excluded; a
malformed CSV row is numbered after the well-formed rows of its read block; blank JSON lines are
not counted).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from xdmflow.connectors.base import (
    ConnectionSpec,
    Connector,
    ExploreItem,
    ObjectDescription,
    ObjectType,
    ParseReject,
    ReadRequest,
    ReadResult,
    take_positions,
    with_positions,
)
from xdmflow.connectors.files.columns import arrow_column
from xdmflow.connectors.files.formats import FormatOptions, Opener, header_names, iter_file
from xdmflow.errors import BadRequestError, SourceFatalError
from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema

__all__ = [
    "Chunk",
    "ParseReject",
    "FileFormatError",
    "InputFormat",
    "UPLOADS_SPEC",
    "UploadedFilesConnector",
    "read_file",
]

BATCH_ROWS = 64 * 1024


class FileFormatError(BadRequestError):
    """A file cannot be read at all (bad format, bad header): the whole batch fails."""


@dataclass(frozen=True)
class InputFormat:
    """A batch's ``inputFormat`` (format lower-cased)."""

    format: str
    multiline: bool = False
    delimiter: str = ","
    quote: str = '"'
    escape: str | None = None
    header: bool = True
    charset: str = "utf-8"

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> InputFormat:
        """Parse and check ``inputFormat`` (400 naming the bad field)."""
        fmt = str(raw.get("format", "")).lower()
        if fmt not in ("json", "parquet", "csv"):
            raise BadRequestError(
                f"Invalid inputFormat.format {raw.get('format')!r}: use json, parquet or csv"
            )
        for key in ("delimiter", "quote", "escape"):
            v = raw.get(key)
            if v is not None and (not isinstance(v, str) or len(v) != 1):
                raise BadRequestError(f"inputFormat.{key} must be a single character")
        header = raw.get("header", True)
        if isinstance(header, str):
            header = header.lower() != "false"
        charset = str(raw.get("charset") or "utf-8")
        if fmt == "json" and charset.lower().replace("-", "") != "utf8":
            raise BadRequestError("JSON batches must be UTF-8 (inputFormat.charset)")
        multi = raw.get("isMultiLineJson", False)
        return cls(
            format=fmt,
            multiline=multi is True or str(multi).lower() == "true",
            delimiter=raw.get("delimiter") or ",",
            quote=raw.get("quote") or '"',
            escape=raw.get("escape"),
            header=bool(header),
            charset=charset,
        )


@dataclass
class Chunk:
    """Raw records of one file; row ``i`` has record number ``first_row + i``."""

    table: pa.Table
    first_row: int
    filename: str


#: Batch Ingestion's source: the files uploaded to a batch (internal: not a connection a tenant
#: creates; no auth, it reaches only the upload area the service gives it).
UPLOADS_SPEC = ConnectionSpec(
    id="batch-ingestion-uploads",
    name="Batch Ingestion uploads",
    body={"id": "batch-ingestion-uploads", "name": "Batch Ingestion uploads"},
)


class UploadedFilesConnector(Connector):
    """The files uploaded to one batch, read as the pipeline's source.

    Built for one batch (picklable): ``files`` are ``(name, local path)`` in upload order, read
    against the dataset's ``schema`` in the batch's ``fmt``. Its batches carry their file name
    and record numbers (:func:`~xdmflow.connectors.base.with_positions`), its unparseable records
    go to ``ReadResult.rejects``: a batch's rows become row errors as a flow's do.
    """

    spec = UPLOADS_SPEC

    def __init__(self, files: list[tuple[str, Path]], fmt: InputFormat, schema: CompiledSchema) -> None:
        self.files = list(files)
        self.fmt = fmt
        self.schema = schema

    def check(self, auth: Mapping[str, Any]) -> None:
        for name, path in self.files:
            if not path.is_file():
                raise FileFormatError(f"File {name} of the batch is missing")

    def explore(
        self, auth: Mapping[str, Any], object_type: ObjectType, object: str | None
    ) -> list[ExploreItem]:
        return [ExploreItem("file", name, name) for name, _ in self.files]

    def describe(
        self,
        auth: Mapping[str, Any],
        object: str,
        *,
        preview: bool = False,
        preview_rows: int = 100,
        options: Mapping[str, Any] | None = None,
    ) -> ObjectDescription:
        path = dict(self.files).get(object)
        if path is None:
            raise FileFormatError(f"File {object} is not part of the batch")
        for item in read_file(path, object, self.fmt, to_arrow_schema(self.schema), self.schema):
            if isinstance(item, Chunk):
                table = item.table
                return ObjectDescription(
                    [arrow_column(f.name, f.type) for f in table.schema],
                    preview=table.slice(0, preview_rows) if preview else None,
                )
        return ObjectDescription([])

    def read(
        self, auth: Mapping[str, Any], request: ReadRequest, result: ReadResult
    ) -> Iterator[pa.RecordBatch]:
        target = to_arrow_schema(self.schema)
        for name, path in self.files:
            result.input_files += 1
            result.input_bytes += path.stat().st_size
            for item in read_file(path, name, self.fmt, target, self.schema):
                if isinstance(item, ParseReject):
                    result.rejects.append(item)
                    continue
                first = item.first_row
                for batch in item.table.to_batches():
                    numbers = np.arange(first, first + batch.num_rows, dtype=np.int64)
                    first += batch.num_rows
                    yield with_positions(batch, numbers, name) if request.numbered else batch


def read_file(
    path: Path, name: str, fmt: InputFormat, target: pa.Schema, schema: CompiledSchema
) -> Iterator[Chunk | ParseReject]:
    """Chunks and parse rejects of one uploaded file, in file order."""
    if path.stat().st_size == 0:
        raise FileFormatError(f"File {name} is empty (error 106: empty dataset file)")
    if fmt.format == "parquet":
        yield from _parquet(path, name, target)
    elif fmt.format == "csv":
        yield from _csv(path, name, fmt, target, schema)
    else:  # JSON lines, or an array (isMultiLineJson): the elements are read as the lines
        yield from _json_lines(path, name, target)


def _check_columns(names: list[str], target: pa.Schema, name: str) -> None:
    extra = sorted(set(names) - set(target.names))
    if extra:
        raise FileFormatError(
            f"File {name} has columns the dataset's schema does not have: {', '.join(extra)}"
        )


def _local(path: Path) -> Opener:
    """An opener of the files connector's readers over a local file."""

    def opener(random_access: bool) -> Any:
        return pa.memory_map(str(path)) if random_access else pa.OSFile(str(path), "rb")

    return opener


def _parquet(path: Path, name: str, target: pa.Schema) -> Iterator[Chunk]:
    """The files connector's Parquet reader (read one batch ahead) over the uploaded file."""
    opener = _local(path)
    try:
        with opener(True) as f:
            names = pq.ParquetFile(f).schema_arrow.names
    except (pa.ArrowInvalid, OSError) as exc:
        raise FileFormatError(f"File {name} is not a readable Parquet file: {exc}") from None
    _check_columns(names, target, name)
    row = 1
    try:
        for batch in iter_file(opener, FormatOptions(file_type="parquet"), BATCH_ROWS, name=name):
            yield Chunk(pa.Table.from_batches([batch]), row, name)
            row += batch.num_rows
    except (SourceFatalError, pa.ArrowInvalid, OSError) as exc:
        raise FileFormatError(f"File {name} could not be read past record {row}: {exc}") from None


# -- JSON -------------------------------------------------------------------------------------


def _json_lines(path: Path, name: str, target: pa.Schema) -> Iterator[Chunk | ParseReject]:
    """The files connector's JSON-lines reader over the uploaded file, with the dataset's types."""
    rejects: list[ParseReject] = []
    opts = FormatOptions(file_type="json", compression="none")
    batches = iter_file(
        _local(path), opts, BATCH_ROWS, rejects=rejects.append, name=name, numbered=True, json_shape=target
    )
    try:
        yield from _chunks(batches, name, rejects, lambda plain: pa.Table.from_batches([plain]))
    except SourceFatalError as exc:
        raise FileFormatError(f"File {name} could not be read as JSON lines: {exc}") from None


# -- CSV --------------------------------------------------------------------------------------


def _csv_paths(header: list[str], schema: CompiledSchema, name: str) -> list[tuple[str, ...]]:
    paths = []
    for col in header:
        found = None
        for prefix in ("", schema.dataset_namespace, schema.tenant_namespace):
            if prefix is None:
                continue
            candidate = f"{prefix}.{col}" if prefix else col
            f = schema.field(candidate)
            if f is not None:
                found = candidate
                break
        if found is None:
            raise FileFormatError(f"CSV column {col!r} of file {name} is not a field of the dataset's schema")
        parts = found.split(".")
        level = schema.fields
        for i, part in enumerate(parts):
            node = next(x for x in level if x.name == part)
            if node.xdm_type in ("array", "map"):
                raise FileFormatError(
                    f"CSV column {col!r} maps to {found!r}, which is an {node.xdm_type}: "
                    "CSV needs a flat (ad-hoc) schema"
                )
            if i < len(parts) - 1:
                level = node.children
            elif node.xdm_type == "object":
                raise FileFormatError(f"CSV column {col!r} maps to the object {found!r}; name a leaf field")
        paths.append(tuple(parts))
    if len(set(paths)) != len(paths):
        raise FileFormatError(f"File {name} names the same field twice in its header")
    return paths


def _nest(columns: dict[tuple[str, ...], pa.Array], n: int) -> dict[str, pa.Array]:
    leaves: dict[str, pa.Array] = {}
    groups: dict[str, dict[tuple[str, ...], pa.Array]] = {}
    for path, arr in columns.items():
        if len(path) == 1:
            leaves[path[0]] = arr
        else:
            groups.setdefault(path[0], {})[path[1:]] = arr
    for key, sub in groups.items():
        children = _nest(sub, n)
        leaves[key] = pa.StructArray.from_arrays(list(children.values()), names=list(children))
    return leaves


def _runs(numbers: Any) -> Iterator[tuple[int, int]]:
    """``(start, length)`` of the runs of consecutive record numbers in ``numbers``."""
    if len(numbers) == 0:
        return
    breaks = np.flatnonzero(np.diff(numbers) != 1) + 1
    edges = [0, *breaks.tolist(), len(numbers)]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        yield a, b - a


def _csv(
    path: Path, name: str, fmt: InputFormat, target: pa.Schema, schema: CompiledSchema
) -> Iterator[Chunk | ParseReject]:
    """The files connector's delimited reader over the uploaded file; its columns (header names,
    or the schema's leaf fields in order without a header) nested onto the schema's fields."""
    try:
        codecs.lookup(fmt.charset)
    except LookupError as exc:
        raise FileFormatError(f"File {name} is not readable CSV: {exc}") from None
    opts = FormatOptions(
        file_type="delimited",
        delimiter=fmt.delimiter,
        header=fmt.header,
        quote=fmt.quote,
        escape=fmt.escape,
        encoding=fmt.charset,
        compression="none",
    )
    opener = _local(path)
    names = header_names(opener, opts)
    if fmt.header and (not names or all(not n.strip() for n in names)):
        raise FileFormatError(f"File {name} has an empty header row (error 118)")
    if not fmt.header:
        leaves = [f.path for f in schema.walk() if not f.children and f.items is None and f.values is None]
        names = leaves[: len(names)]
    paths = _csv_paths(names, schema, name)
    rejects: list[ParseReject] = []

    def nested(plain: pa.RecordBatch) -> pa.Table:
        return pa.table(_nest({p: plain.column(i) for i, p in enumerate(paths)}, plain.num_rows))

    batches = iter_file(opener, opts, BATCH_ROWS, rejects=rejects.append, name=name, numbered=True)
    try:
        yield from _chunks(batches, name, rejects, nested)
    except (SourceFatalError, pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise FileFormatError(f"File {name} could not be read as CSV: {exc}") from None


def _chunks(
    batches: Iterator[pa.RecordBatch],
    name: str,
    rejects: list[ParseReject],
    to_table: Callable[[pa.RecordBatch], pa.Table],
) -> Iterator[Chunk | ParseReject]:
    """The numbered batches of the files reader as chunks of consecutive records (a batch is split
    around the records that did not parse), in the upload's shape (``to_table``), and the rejects
    the reader handed over meanwhile."""
    for batch in batches:
        plain, numbers, _ = take_positions(batch)
        if plain.num_rows and numbers is not None:
            table = to_table(plain)
            for start, length in _runs(numbers):
                yield Chunk(table.slice(start, length), int(numbers[start]), name)
        yield from _drain(rejects)
    yield from _drain(rejects)


def _drain(rejects: list[ParseReject]) -> list[ParseReject]:
    """The rejects the reader (a read-ahead thread) has handed over so far, taken off the list."""
    n = len(rejects)
    taken = rejects[:n]
    del rejects[:n]
    return taken
