"""The one bad-row policy of file reading: records that cannot be parsed become row errors.

Used by the flows' file reader (:mod:`xdmflow.connectors.files.formats`) and by Batch Ingestion
(``connectors/files/uploaded.py``), so a malformed record gets the same row error — file, 1-based
record number, reason — through either path:

* delimited text: a row with the wrong number of columns (pyarrow's ``invalid_row_handler``);
  a value whose bytes are not valid UTF-8 (values are read as binary and validated per column,
  vectorised; only a column that fails is looked at value by value);
* JSON lines: a block of lines that does not parse is split in halves until the failing lines
  are isolated (:func:`parse_json_lines`), so good data costs one parse.

Record numbers are 1-based within the file: delimited files count data rows (the header is not
a record); a JSON line's number is its line in the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pjson

from xdmflow.connectors.base import ParseReject

__all__ = ["CsvRows", "json_line_blocks", "json_reason", "parse_json_lines", "read_json_block"]

UTF8_REASON = "a value is not valid UTF-8"


class CsvRows:
    """Collects one delimited file's unparseable rows and numbers the rows that did parse.

    Pass :meth:`on_invalid` as the reader's ``invalid_row_handler`` (the reader must run with
    ``use_threads=False`` so record numbers are known); call :meth:`good` on every batch the
    reader yields, in order: it validates UTF-8 (binary columns), returns the batch with its
    bad rows removed and string columns, and moves every reject found so far to ``sink``.
    """

    def __init__(
        self, filename: str, sink: Callable[[ParseReject], None], *, header: bool, first: int = 1
    ) -> None:
        self.filename = filename
        self.sink = sink
        # pyarrow numbers the rows it reads from 1, the header (or a skipped header) included
        self._offset = (1 if header else 0) - (first - 1)
        self._next = first  # the record number of the next record not yet seen
        self._skipped: list[int] = []  # record numbers of invalid rows not yet passed
        #: The record numbers of the rows :meth:`good` returned last.
        self.last_numbers: np.ndarray = np.zeros(0, dtype=np.int64)

    def on_invalid(self, row: Any) -> str:
        number = int(row.number) - self._offset if row.number is not None else self._next
        self._skipped.append(number)
        self.sink(
            ParseReject(
                self.filename,
                number,
                str(row.text),
                f"expected {row.expected_columns} columns, found {row.actual_columns}",
            )
        )
        return "skip"

    def _numbers(self, n: int) -> np.ndarray:
        """The record numbers of the next ``n`` parsed rows (around the skipped ones)."""
        skipped = sorted(s for s in self._skipped if s >= self._next)
        cand = np.arange(self._next, self._next + n + len(skipped), dtype=np.int64)
        if skipped:
            cand = cand[~np.isin(cand, np.asarray(skipped, dtype=np.int64))]
        nums = cand[:n]
        if n:
            self._next = int(nums[-1]) + 1
        self._skipped = [s for s in skipped if s >= self._next]
        return nums

    def good(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """``batch`` with binary columns checked and cast to strings, undecodable rows rejected."""
        numbers = self._numbers(batch.num_rows)
        bad: np.ndarray | None = None
        columns = []
        for col in batch.columns:
            if not pa.types.is_binary(col.type):
                columns.append(col)
                continue
            try:
                columns.append(col.cast(pa.string()))
            except (pa.ArrowInvalid, UnicodeDecodeError):
                mask = np.zeros(batch.num_rows, dtype=bool)
                for i, v in enumerate(col.to_pylist()):  # only a column holding a bad value
                    if v is not None:
                        try:
                            v.decode("utf-8")
                        except UnicodeDecodeError:
                            mask[i] = True
                bad = mask if bad is None else bad | mask
                columns.append(col)
        if bad is None:
            self.last_numbers = numbers
            return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
        for i in np.flatnonzero(bad).tolist():
            values = [c[i].as_py() for c in batch.columns]
            text = ",".join(
                "" if v is None else (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))
                for v in values
            )
            self.sink(ParseReject(self.filename, int(numbers[i]), text, UTF8_REASON))
        kept = batch.filter(pa.array(~bad))
        self.last_numbers = numbers[~bad]
        return pa.RecordBatch.from_arrays(
            [c.cast(pa.string()) if pa.types.is_binary(c.type) else c for c in kept.columns],
            names=batch.schema.names,
        )


def json_reason(message: str) -> str:
    """The reason of an unparseable JSON line, from pyarrow's message."""
    msg = message.replace("JSON parse error: ", "")
    if " in row " in msg:
        msg = msg.rsplit(" in row ", 1)[0]
    if "unexpected field" in msg:
        return "the record has a field the dataset's schema does not have"
    return f"the record cannot be read: {msg}"


def json_line_blocks(read: Callable[[int], bytes], size: int) -> Iterator[tuple[int, bytes]]:
    """A JSON-lines stream in blocks of whole lines: ``(1-based number of its first line, block)``,
    every block ending in a newline; ``read(size)`` returns ``b""`` at the end."""
    line, carry = 1, b""
    while True:
        data = read(size)
        if not data:
            if carry and not carry.isspace():
                yield line, carry if carry.endswith(b"\n") else carry + b"\n"
            return
        cut = data.rfind(b"\n")
        if cut < 0:
            carry += data
            continue
        # one copy of the block at most (none when it ends a line and nothing is carried over)
        if cut + 1 == len(data):
            head = carry + data if carry else data
        else:
            head = b"".join((carry, memoryview(data)[: cut + 1]))
        carry = data[cut + 1 :]
        yield line, head
        line += head.count(b"\n")


def parse_json_lines(
    block: bytes,
    line: int,
    filename: str,
    parse: Callable[[bytes], pa.Table],
    fallback: Callable[[bytes], pa.Table | None] | None = None,
) -> Iterator[tuple[int, pa.Table] | ParseReject]:
    """Parse a block of whole JSON lines starting at 1-based ``line``: ``(first line, table)``
    for the parts that parse, a :class:`ParseReject` for each line that does not.

    ``parse`` raises ``ArrowInvalid`` for a block it cannot read; ``fallback`` may still read it
    (e.g. with inferred types) before the block is split in halves.
    """
    if not block or block.isspace():  # (no copy of the block, unlike ``strip``)
        return
    try:
        table = parse(block)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        inferred = fallback(block) if fallback is not None else None
        if inferred is not None:
            yield line, inferred
            return
        body = block[:-1] if block.endswith(b"\n") else block
        if b"\n" not in body:
            text = body.decode("utf-8", errors="replace")
            yield ParseReject(filename, line, text, json_reason(str(exc)))
            return
        mid = block.rfind(b"\n", 0, len(block) // 2)
        if mid < 0:
            mid = block.find(b"\n")
        first, second = block[: mid + 1], block[mid + 1 :]
        yield from parse_json_lines(first, line, filename, parse, fallback)
        yield from parse_json_lines(second, line + first.count(b"\n"), filename, parse, fallback)
        return
    yield line, table


def read_json_block(block: bytes, schema: pa.Schema | None) -> pa.Table:
    """One block of JSON lines, with ``schema``'s types when given (new fields are an error)."""
    opts = (
        pjson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
        if schema is not None
        else pjson.ParseOptions()
    )
    return pjson.read_json(pa.py_buffer(block), parse_options=opts)


def relaxed_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` for the JSON reader: dates as text, maps left out (it infers them as structs)."""
    return pa.schema([pa.field(f.name, _relax(f.type)) for f in schema if not pa.types.is_map(f.type)])


def _relax(t: pa.DataType) -> pa.DataType:
    if pa.types.is_date32(t):
        return pa.string()
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _relax(f.type)) for f in t if not pa.types.is_map(f.type)])
    if pa.types.is_list(t):
        return pa.list_(pa.field(t.value_field.name, _relax(t.value_type)))
    return t


def fits(found: pa.DataType, shape: pa.DataType) -> bool:
    """Whether every struct field of ``found`` (nested, in lists too) exists in ``shape``."""
    if pa.types.is_map(shape) and pa.types.is_struct(found):
        return all(fits(f.type, shape.item_type) for f in found)
    if pa.types.is_struct(found):
        if not pa.types.is_struct(shape):
            return False
        names = {f.name: f.type for f in shape}
        return all(f.name in names and fits(f.type, names[f.name]) for f in found)
    if pa.types.is_list(found) and pa.types.is_list(shape):
        return fits(found.value_type, shape.value_type)
    return True


def shaped_json_parser(
    shape: pa.Schema,
) -> tuple[Callable[[bytes], pa.Table], Callable[[bytes], pa.Table | None]]:
    """``(parse, fallback)`` for :func:`parse_json_lines` reading records of a known ``shape``
    (a dataset's): parsed with its types (fields it lacks are an error of the line); a block the
    typed parse refuses is parsed again with inferred types if it has no field ``shape`` lacks
    (the cast onto the shape then decides, value by value)."""
    relaxed = relaxed_schema(shape)
    opts = pjson.ParseOptions(explicit_schema=relaxed, unexpected_field_behavior="infer")
    whole = pa.struct(list(shape))  # maps included: an inferred struct may fill a map field

    def parse(data: bytes) -> pa.Table:
        table = pjson.read_json(pa.py_buffer(data), parse_options=opts)
        if not fits(pa.struct(list(table.schema)), whole):
            raise pa.ArrowInvalid("JSON parse error: unexpected field")
        return table

    def fallback(data: bytes) -> pa.Table | None:
        try:
            table = pjson.read_json(pa.py_buffer(data))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        return table if fits(pa.struct(list(table.schema)), whole) else None

    return parse, fallback
