"""File formats: delimited text, JSON (lines or top-level arrays) and Parquet -> Arrow batches.

Every reader streams: ``pyarrow.csv.open_csv`` (block by block), ``pyarrow.json.open_json``
(JSON lines in UTF-8), an incremental decoder for top-level JSON arrays (or other encodings)
and ``ParquetFile.iter_batches``. Memory is bounded by the block size and ``batch_size``.

Delimited values are read as **strings** by default (empty field = null); the mapping casts
them. ``inferTypes: true`` lets pyarrow infer types from the first block instead (a later
value that does not fit then fails the read).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from xdmflow.connectors.base import RECORD_COLUMN, ParseReject, with_positions
from xdmflow.connectors.files.rows import (
    CsvRows,
    json_line_blocks,
    parse_json_lines,
    read_json_block,
    shaped_json_parser,
)
from xdmflow.errors import SourceFatalError

__all__ = [
    "FormatOptions",
    "byte_splittable",
    "detect_file_type",
    "iter_delimited_range",
    "iter_file",
    "line_start",
    "sample_file",
]

#: Where a reader puts the records it cannot parse (``None``: such a record fails the read).
RejectSink = Callable[[ParseReject], None] | None

Opener = Callable[
    [bool], Any
]  # opener(random_access) -> pyarrow NativeFile (decompressed unless random access)

_TYPE_BY_EXT = {
    ".csv": "delimited", ".tsv": "delimited", ".txt": "delimited", ".psv": "delimited",
    ".json": "json", ".jsonl": "json", ".ndjson": "json",
    ".parquet": "parquet", ".pq": "parquet",
}  # fmt: skip
_COMPRESSION_BY_EXT = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bzip2"}
_ARROW_CODEC = {"gzip": "gzip", "bzip2": "bz2"}
_BLOCK = 4 << 20
#: Delimited text read with given (text) types. 16 MiB blocks (batches nearer ``batch_size``) were
#: tried: the 10M-row flow's peak RSS went from 690 MB to 1,180 MB (the read-ahead and the batches
#: in flight hold four times the bytes) and it ran no faster (9.8 s vs 8.8 s), so 4 MiB it is.
_TYPED_BLOCK = 4 << 20
_JSON_BLOCK = 16 << 20  # JSON lines: ~50k rows of the bench's data per block


def _strip_compression(name: str) -> tuple[str, str | None]:
    low = name.lower()
    for ext, comp in _COMPRESSION_BY_EXT.items():
        if low.endswith(ext):
            return low[: -len(ext)], comp
    return low, None


def detect_file_type(name: str) -> str | None:
    """``delimited`` / ``json`` / ``parquet`` from the file name (ignoring .gz/.bz2), else ``None``."""
    base, _ = _strip_compression(name)
    dot = base.rfind(".")
    return _TYPE_BY_EXT.get(base[dot:]) if dot >= 0 else None


def _char(value: Any, default: str | None) -> str | None:
    if value is None:
        return default
    text = str(value)
    if text == "":
        return None
    named = {"\\t": "\t", "tab": "\t", "\\u0001": "\x01", "space": " "}
    text = named.get(text.lower(), text)
    if len(text) != 1:
        raise SourceFatalError(f"A delimiter, quote or escape must be one character, not {value!r}.")
    return text


@dataclass(frozen=True)
class FormatOptions:
    """How to parse a file; built from a source connection's params or explore's query options.

    Accepted keys (platform names first): ``fileType``/``format``, ``columnDelimiter``,
    ``header``, ``quoteChar``, ``escapeChar``, ``encoding``, ``compressionType``
    (``auto``/``none``/``gzip``/``bzip2``), ``inferTypes``.
    """

    file_type: str = "delimited"
    delimiter: str = ","
    header: bool = True
    quote: str | None = '"'
    escape: str | None = None
    encoding: str = "UTF-8"
    compression: str = "auto"
    infer_types: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any], name: str = "") -> FormatOptions:
        """Options from ``params``; the file type falls back to the extension of ``name``."""
        file_type = str(params.get("fileType") or params.get("format") or "").lower()
        if file_type in ("", "tabular", "auto"):
            file_type = detect_file_type(name) or "delimited"
        if file_type not in ("delimited", "json", "parquet"):
            raise SourceFatalError(f"Unsupported file type {file_type!r}: use delimited, json or parquet.")
        compression = str(params.get("compressionType") or params.get("compression") or "auto").lower()
        compression = {"gz": "gzip", "bz2": "bzip2", "": "auto"}.get(compression, compression)
        if compression not in ("auto", "none", "gzip", "bzip2"):
            raise SourceFatalError(f"Unsupported compressionType {compression!r}: use gzip, bzip2 or none.")
        encoding = str(params.get("encoding") or "UTF-8")
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise SourceFatalError(f"Unknown encoding {encoding!r}.") from None
        header = params.get("header", True)
        return cls(
            file_type=file_type,
            delimiter=_char(params.get("columnDelimiter", params.get("delimiter")), ",") or ",",
            header=header if isinstance(header, bool) else str(header).lower() in ("true", "1", "yes"),
            quote=_char(params.get("quoteChar", params.get("quote")), '"'),
            escape=_char(params.get("escapeChar", params.get("escape")), None),
            encoding=encoding,
            compression=compression,
            infer_types=bool(params.get("inferTypes", False)),
        )

    def codec(self, name: str) -> str | None:
        """The pyarrow codec to decompress ``name`` with (``None``: plain)."""
        if self.compression == "none" or self.file_type == "parquet":
            return None
        comp = _strip_compression(name)[1] if self.compression == "auto" else self.compression
        return _ARROW_CODEC.get(comp or "")

    def properties(self, name: str) -> dict[str, Any]:
        """What was used, as explore's file description reports it."""
        props: dict[str, Any] = {"fileType": self.file_type}
        if self.file_type != "parquet":
            comp = _strip_compression(name)[1] if self.compression == "auto" else self.compression
            props.update(compressionType=comp or "none", encoding=self.encoding)
        if self.file_type == "delimited":
            props.update(columnDelimiter=self.delimiter, header=self.header)
        return props


def _rebatch(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        for start in range(0, batch.num_rows, size):
            yield batch.slice(start, size)


def _csv_reader(
    stream: Any,
    opts: FormatOptions,
    types: Mapping[str, pa.DataType] | None,
    column_names: list[str] | None = None,
    rows: CsvRows | None = None,
) -> Any:
    # use_threads=False: a threaded reader reads ahead in the background, and a read in flight when
    # its stream is closed (the probe, a consumer stopping early) may hit a reused file descriptor.
    read = pacsv.ReadOptions(
        block_size=_BLOCK if types is None else _TYPED_BLOCK,
        encoding=opts.encoding,
        autogenerate_column_names=not opts.header and column_names is None,
        column_names=column_names,
        use_threads=False,
    )
    parse = pacsv.ParseOptions(
        delimiter=opts.delimiter,
        quote_char=opts.quote or False,
        escape_char=opts.escape or False,
        double_quote=opts.escape is None,
        newlines_in_values=True,
        invalid_row_handler=rows.on_invalid if rows is not None else None,
    )
    convert = pacsv.ConvertOptions(
        column_types=dict(types or {}),
        strings_can_be_null=True,
        null_values=[""] if types is not None else None,
    )
    return pacsv.open_csv(stream, read_options=read, parse_options=parse, convert_options=convert)


def header_names(opener: Opener, opts: FormatOptions) -> list[str]:
    """The column names (``f0``, ``f1``... without a header) from the file's first row.

    Read synchronously into memory (no pyarrow reader: a reader's background read-ahead
    must never outlive the stream it reads).
    """
    with opener(False) as probe:
        head = probe.read(1 << 20)
    text = codecs.getincrementaldecoder(opts.encoding)(errors="replace").decode(head).lstrip("\ufeff")
    dialect: dict[str, Any] = {"delimiter": opts.delimiter, "escapechar": opts.escape}
    if opts.quote:
        dialect.update(quotechar=opts.quote, doublequote=opts.escape is None)
    else:
        dialect.update(quoting=csv.QUOTE_NONE)
    row = next(csv.reader(io.StringIO(text), **dialect), [])
    return row if opts.header else [f"f{i}" for i in range(len(row))]


def _row_types(names: list[str], opts: FormatOptions, rows: CsvRows | None) -> dict[str, pa.DataType]:
    """Every column as text; as bytes when bad rows are collected from a UTF-8 file (validated
    per batch by :class:`CsvRows`, so an undecodable value is a row error, not a failed read)."""
    binary = rows is not None and codecs.lookup(opts.encoding).name == "utf-8"
    return dict.fromkeys(names, pa.binary() if binary else pa.string())


def _checked(
    batches: Iterator[pa.RecordBatch], rows: CsvRows | None, numbered: bool = False
) -> Iterator[pa.RecordBatch]:
    if numbered and rows is None:
        yield from _counted(batches)
        return
    for batch in batches:
        if rows is None:
            yield batch
            continue
        good = rows.good(batch)
        yield with_positions(good, rows.last_numbers) if numbered else good


def _counted(batches: Iterator[pa.RecordBatch], first: int = 1) -> Iterator[pa.RecordBatch]:
    """The batches with their record numbers, counted from ``first`` (no record is skipped)."""
    for batch in batches:
        yield with_positions(batch, np.arange(first, first + batch.num_rows, dtype=np.int64))
        first += batch.num_rows


def _iter_delimited(
    opener: Opener, opts: FormatOptions, batch_size: int, rows: CsvRows | None = None, numbered: bool = False
) -> Iterator[pa.RecordBatch]:
    types = None if opts.infer_types else _row_types(header_names(opener, opts), opts, rows)
    with opener(False) as stream:
        reader = iter(_csv_reader(stream, opts, types, rows=rows))
        yield from _rebatch(_checked(reader, rows, numbered), batch_size)


def _chunks(stream: Any, encoding: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)()
    while True:
        data = stream.read(1 << 20)
        if not data:
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail
            return
        yield decoder.decode(data)


def _json_values(chunks: Iterator[str]) -> Iterator[Any]:
    """Values of a JSON-lines text or of a top-level array, decoded incrementally."""
    decoder = json.JSONDecoder()
    buf, i, eof, depth = "", 0, False, 0
    while True:
        while i < len(buf) and buf[i] in " \t\r\n,\ufeff":
            i += 1
        if i >= len(buf):
            nxt = None if eof else next(chunks, None)
            if nxt is None:
                return
            buf, i = buf[i:] + nxt, 0
            continue
        if buf[i] in "[]" and (depth == 0 or buf[i] == "]"):
            depth += 1 if buf[i] == "[" else -1
            i += 1
            continue
        try:
            value, end = decoder.raw_decode(buf, i)
            if end < len(buf) or eof or isinstance(value, dict | list):
                yield value
                i = end
                continue
        except json.JSONDecodeError as exc:
            if eof:
                raise SourceFatalError(f"Invalid JSON: {exc.msg} near character {exc.pos}.") from None
        nxt = next(chunks, None)
        if nxt is None:
            eof = True
        else:
            buf, i = buf[i:] + nxt, 0


def _iter_json_lines(
    opener: Opener,
    batch_size: int,
    sink: Callable[[ParseReject], None],
    name: str,
    numbered: bool = False,
    shape: pa.Schema | None = None,
    array: bool = False,
) -> Iterator[pa.RecordBatch]:
    """JSON lines in blocks; the first block that parses fixes the types (or ``shape``'s, see
    ``rows.shaped_json_parser``), a line that does not parse (or does not fit them) goes to
    ``sink`` (see ``rows.parse_json_lines``). ``array``: the file is one JSON array, whose
    elements are read as the lines (element ``n`` is record ``n``; see :func:`_array_blocks`)."""
    schema: pa.Schema | None = None

    def typed(block: bytes) -> pa.Table:
        return read_json_block(block, schema)

    parse: Callable[[bytes], pa.Table] = typed
    fallback: Callable[[bytes], pa.Table | None] | None = None
    if shape is not None:
        parse, fallback = shaped_json_parser(shape)

    # Arrow parses a block in 1 MiB chunks on its threads, so one block's table comes in
    # chunks of a few thousand rows: tables are gathered and cut into ``batch_size`` batches
    # (small batches made every later step pay its per-batch cost many times over).
    pending: list[pa.Table] = []
    pending_rows = 0
    with opener(False) as stream:
        blocks = _array_blocks(stream, batch_size) if array else json_line_blocks(stream.read, _JSON_BLOCK)
        for line, head in blocks:
            for item in parse_json_lines(head, line, name, parse, fallback):
                if isinstance(item, ParseReject):
                    sink(item)
                    continue
                line_of_first, table = item
                if schema is None:
                    schema = table.schema
                if numbered:
                    first = np.arange(line_of_first, line_of_first + table.num_rows, dtype=np.int64)
                    table = table.append_column(RECORD_COLUMN, pa.array(first))
                if pending and table.schema != pending[0].schema:  # never merge different types
                    yield from pa.concat_tables(pending).combine_chunks().to_batches(max_chunksize=batch_size)
                    pending, pending_rows = [], 0
                pending.append(table)
                pending_rows += table.num_rows
                if pending_rows >= batch_size:
                    whole = pa.concat_tables(pending).combine_chunks()
                    cut = (pending_rows // batch_size) * batch_size
                    yield from whole.slice(0, cut).to_batches(max_chunksize=batch_size)
                    pending = [whole.slice(cut)] if cut < pending_rows else []
                    pending_rows -= cut
    if pending_rows:
        yield from pa.concat_tables(pending).combine_chunks().to_batches(max_chunksize=batch_size)


def _iter_json(
    opener: Opener,
    opts: FormatOptions,
    batch_size: int,
    sink: RejectSink = None,
    name: str = "",
    numbered: bool = False,
    shape: pa.Schema | None = None,
) -> Iterator[pa.RecordBatch]:
    with opener(False) as probe:
        head = probe.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    utf8 = codecs.lookup(opts.encoding).name == "utf-8"
    lines = head[:1] != b"[" and utf8
    if utf8 and sink is not None:  # lines, or an array's elements as lines: one JSON reader
        yield from _iter_json_lines(opener, batch_size, sink, name, numbered, shape, array=not lines)
        return
    whole = _iter_json_whole(opener, opts, batch_size, lines)
    yield from _counted(whole) if numbered else whole


def _array_blocks(stream: Any, batch_size: int) -> Iterator[tuple[int, bytes]]:
    """The elements of the top-level JSON array in ``stream`` as blocks of JSON lines, with the
    1-based number of each block's first element: DuckDB splits the array (in C++, streaming,
    each element as its JSON text) and Arrow joins each batch's elements with newlines."""
    con = duckdb.connect()
    try:
        rel = con.read_json(stream, format="array", records="false", columns={"json": "JSON"})
        first = 1
        for batch in rel.to_arrow_reader(batch_size):
            texts = batch.column(0).cast(pa.string())
            n = len(texts)
            if not n:
                continue
            joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, n], pa.int32()), texts), "\n")
            yield first, joined[0].as_py().encode() + b"\n"
            first += n
    except (duckdb.Error, OSError) as exc:  # DuckDB's errors reach the Arrow stream as OSError
        if isinstance(exc, OSError) and "Invalid Input Error" not in str(exc):
            raise  # reading the file failed: the store's error, not the JSON's
        reason = str(exc).split("Invalid Input Error:", 1)[-1].strip()
        raise SourceFatalError(f"Invalid JSON array: {reason}") from None
    finally:
        con.close()


def _iter_json_whole(
    opener: Opener, opts: FormatOptions, batch_size: int, lines: bool
) -> Iterator[pa.RecordBatch]:
    """JSON lines without a reject sink (the first bad line fails the read), or a JSON array."""
    if lines:
        with opener(False) as stream:
            reader = pajson.open_json(
                stream, read_options=pajson.ReadOptions(block_size=_BLOCK, use_threads=False)
            )
            yield from _rebatch(iter(reader), batch_size)
        return
    schema: pa.Schema | None = None
    rows: list[dict[str, Any]] = []
    with opener(False) as stream:
        for value in _json_values(_chunks(stream, opts.encoding)):
            if not isinstance(value, dict):
                raise SourceFatalError("JSON records must be objects ({...}); found a bare value.")
            rows.append(value)
            if len(rows) >= batch_size:
                batch, schema = _to_batch(rows, schema)
                rows = []
                yield batch
        if rows:
            yield _to_batch(rows, schema)[0]


def _to_batch(rows: list[dict[str, Any]], schema: pa.Schema | None) -> tuple[pa.RecordBatch, pa.Schema]:
    if schema is None:
        inferred = pa.Table.from_pylist(rows).schema
        schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in inferred])
    return pa.RecordBatch.from_pylist(rows, schema=schema), schema


def _iter_parquet(
    opener: Opener, batch_size: int, row_groups: list[int] | None = None, numbered: bool = False
) -> Iterator[pa.RecordBatch]:
    with opener(True) as f:
        pf = pq.ParquetFile(f)
        if not numbered:
            yield from pf.iter_batches(batch_size=batch_size, row_groups=row_groups)
            return
        groups = list(range(pf.num_row_groups)) if row_groups is None else list(row_groups)
        starts = np.cumsum([0] + [pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)])
        for group in groups:  # one group at a time: each group's rows are numbered from its start
            batches = pf.iter_batches(batch_size=batch_size, row_groups=[group])
            yield from _counted(batches, int(starts[group]) + 1)


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


def _read_ahead(make: Callable[[], Iterator[pa.RecordBatch]], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """Yield what ``make()`` yields, produced up to ``depth`` batches ahead in a thread.

    The producer thread creates, drives and closes the generator itself, so its stream is
    opened, read and closed by one thread and no read is ever in flight when it closes — also
    when the consumer stops early (it signals, the producer stops after the current batch and
    closes, the consumer waits for it). Exceptions reach the consumer in order. Memory: at
    most ``depth`` batches wait in the queue.
    """
    out: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            gen = make()
            try:
                for batch in gen:
                    if not put(batch):
                        return
            finally:
                close = getattr(gen, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Raised(exc))
            return
        put(_END)

    worker = threading.Thread(target=produce, name="xdmflow-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = out.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        worker.join()


def iter_file(
    opener: Opener,
    opts: FormatOptions,
    batch_size: int,
    row_groups: list[int] | None = None,
    *,
    rejects: RejectSink = None,
    name: str = "",
    numbered: bool = False,
    json_shape: pa.Schema | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream one file as record batches of at most ``batch_size`` rows.

    With ``rejects``, a record of file ``name`` that cannot be parsed (wrong column count,
    undecodable bytes, an invalid JSON line) is handed to it instead of failing the read.
    ``numbered`` adds each row's record number in the file and the file's name to the batches
    (:func:`xdmflow.connectors.base.with_positions`): a run's row errors name the file and record.
    ``json_shape`` reads JSON lines with a known shape's types (a dataset's, for Batch Ingestion)
    instead of the types of the file's first block.

    The file is parsed one batch ahead in a thread of its own (:func:`_read_ahead`), so parsing
    overlaps with what the caller does with the previous batch (mapping, validation, writing).
    """

    def batches() -> Iterator[pa.RecordBatch]:
        if opts.file_type == "delimited":
            rows = CsvRows(name, rejects, header=opts.header) if rejects is not None else None
            return _iter_delimited(opener, opts, batch_size, rows, numbered)
        if opts.file_type == "json":
            return _iter_json(opener, opts, batch_size, rejects, name, numbered, json_shape)
        return _iter_parquet(opener, batch_size, row_groups, numbered)

    try:
        for batch in _read_ahead(batches):
            yield with_positions(batch, None, name) if numbered else batch
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, ValueError) as exc:
        if "unexpected field" in str(exc) or "changed from" in str(exc).lower():
            raise SourceFatalError(
                f"The {opts.file_type} file changes shape after its first block ({exc}): the column set "
                "and types are taken from the first 4 MiB of each file; split the file or make its "
                "first records carry every field."
            ) from exc
        raise SourceFatalError(f"The file could not be parsed as {opts.file_type}: {exc}") from exc


def sample_file(
    opener: Opener, opts: FormatOptions, rows: int, *, rejects: RejectSink = None, name: str = ""
) -> pa.Table:
    """The first ``rows`` rows with types *inferred* (for describe: column types and preview);
    with ``rejects``, records that cannot be parsed go there instead of failing the sample."""
    sample_opts = FormatOptions(**{**opts.__dict__, "infer_types": True})
    out: list[pa.RecordBatch] = []
    count = 0
    for batch in iter_file(opener, sample_opts, max(rows, 1), rejects=rejects, name=name):
        out.append(batch)
        count += batch.num_rows
        if count >= rows:
            break
    if not out:
        if opts.file_type == "parquet":
            with opener(True) as f:
                return pq.ParquetFile(f).schema_arrow.empty_table()
        return pa.table({})
    return pa.Table.from_batches(out).slice(0, rows)


def row_group_count(opener: Opener) -> int:
    """How many row groups a Parquet file has."""
    with opener(True) as f:
        return int(pq.ParquetFile(f).num_row_groups)


# -- byte ranges (partitions of one big delimited file) ----------------------------------------

_SPLIT_ENCODINGS = {"utf-8", "utf-8-sig", "ascii", "latin-1", "iso8859-1", "iso8859-15", "cp1252"}


def byte_splittable(opener: Opener, opts: FormatOptions, name: str) -> bool:
    """Whether a delimited file can be cut at line boundaries into independent byte ranges.

    Only uncompressed files in an ASCII-compatible encoding, and only when no record can span
    lines: quoting disabled, or no quote (or escape) character anywhere in the file after its
    header line (whose quotes must close on it) — a quoted field may hold a newline. The check
    reads the file once (a byte search).
    """
    if opts.file_type != "delimited" or opts.codec(name) is not None:
        return False
    if codecs.lookup(opts.encoding).name not in _SPLIT_ENCODINGS:
        return False
    special = [c.encode() for c in (opts.quote, opts.escape) if c]
    if not special:
        return True
    with opener(True) as f:
        head = b""
        while b"\n" not in head:
            more = f.read(1 << 16)
            if not more:
                break
            head += more
        first, _, chunk = head.partition(b"\n")
        # a quoted header (``"id","name"``) is fine as long as its quotes close on its line
        if opts.escape and opts.escape.encode() in first:
            return False
        if opts.quote and first.count(opts.quote.encode()) % 2:
            return False
        while True:
            if any(s in chunk for s in special):
                return False
            chunk = f.read(8 << 20)
            if not chunk:
                return True


def line_start(f: Any, pos: int, size: int) -> int:
    """The offset of the first line starting at or after ``pos`` (``size`` if none) in a
    random-access file ``f``; offset 0 always starts a line."""
    if pos <= 0:
        return 0
    if pos >= size:
        return size
    f.seek(pos - 1)
    at = pos - 1
    while True:
        chunk = f.read(1 << 16)
        if not chunk:
            return size
        i = chunk.find(b"\n")
        if i >= 0:
            return at + i + 1
        at += len(chunk)


class _RangeReader(io.RawIOBase):
    """The bytes ``[start, end)`` of a random-access file, as a stream."""

    def __init__(self, f: Any, start: int, end: int) -> None:
        self._f = f
        self._f.seek(start)
        self._left = max(0, end - start)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._left)
        if n <= 0:
            return 0
        data = self._f.read(n)
        buffer[: len(data)] = data
        self._left -= len(data)
        return len(data)


def _lines_before(f: Any, pos: int) -> int:
    f.seek(0)
    count, left = 0, pos
    while left > 0:
        chunk = f.read(min(left, 8 << 20))
        if not chunk:
            break
        count += chunk.count(b"\n")
        left -= len(chunk)
    return count


def iter_delimited_range(
    opener: Opener,
    opts: FormatOptions,
    batch_size: int,
    start: int,
    end: int,
    *,
    rejects: RejectSink = None,
    name: str = "",
    numbered: bool = False,
) -> Iterator[pa.RecordBatch]:
    """The records of a delimited file whose lines *start* in ``[start, end)`` (``numbered``:
    see :func:`iter_file`).

    Ranges that tile a file read each record exactly once (see :func:`byte_splittable` for
    when that holds). The header row belongs to the range starting at 0; the others get the
    column names from it.
    """
    names = header_names(opener, opts)
    try:
        with opener(True) as f:
            size = f.size()
            a, b = line_start(f, start, size), line_start(f, end, size)
            if a >= b:
                return
            own_header = a == 0 and opts.header
            rows = None
            if rejects is not None:
                # no record spans lines in a splittable file: record numbers are line numbers
                before = 0 if a == 0 else _lines_before(f, a) - (1 if opts.header else 0)
                rows = CsvRows(name, rejects, header=own_header, first=before + 1)
            types = None if opts.infer_types else _row_types(names, opts, rows)
            stream = io.BufferedReader(_RangeReader(f, a, b), buffer_size=1 << 20)
            reader = _csv_reader(stream, opts, types, None if own_header else names, rows=rows)
            for batch in _rebatch(_checked(iter(reader), rows, numbered), batch_size):
                yield with_positions(batch, None, name) if numbered else batch
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, ValueError) as exc:
        raise SourceFatalError(f"The file could not be parsed as {opts.file_type}: {exc}") from exc
