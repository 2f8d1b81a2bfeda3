"""The files connector's read-ahead: same batches in the same order, errors in order, and the
stream opened, read and closed by the producer thread — also when the consumer stops early."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from xdmflow.connectors.files.formats import FormatOptions, _read_ahead, iter_file
from xdmflow.errors import SourceFatalError


def _batches(n: int, log: list[str]) -> Iterator[pa.RecordBatch]:
    log.append(f"open:{threading.current_thread().name}")
    try:
        for i in range(n):
            yield pa.record_batch({"i": [i]})
    finally:
        log.append(f"close:{threading.current_thread().name}")


def test_same_batches_in_order_and_closed_by_the_producer() -> None:
    log: list[str] = []
    got = [b.column(0)[0].as_py() for b in _read_ahead(lambda: _batches(50, log))]
    assert got == list(range(50))
    assert log == ["open:xdmflow-read-ahead", "close:xdmflow-read-ahead"]


def test_consumer_stopping_early_stops_and_closes_the_producer() -> None:
    log: list[str] = []
    gen = _read_ahead(lambda: _batches(1000, log))
    assert isinstance(gen, Generator)
    assert next(gen).column(0)[0].as_py() == 0
    gen.close()  # waits for the producer: the stream is closed when close() returns
    assert log == ["open:xdmflow-read-ahead", "close:xdmflow-read-ahead"]
    assert not any(t.name == "xdmflow-read-ahead" for t in threading.enumerate())


def test_errors_arrive_after_the_batches_before_them() -> None:
    def failing() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"i": [1]})
        raise ValueError("boom")

    gen = _read_ahead(failing)
    assert next(gen).num_rows == 1
    with pytest.raises(ValueError, match="boom"):
        next(gen)


def test_iter_file_reads_a_csv_through_the_read_ahead(tmp_path: Path) -> None:
    table = pa.table({"id": [str(i) for i in range(10_000)], "v": ["x"] * 10_000})
    pacsv.write_csv(table, tmp_path / "t.csv")

    def opener(random_access: bool) -> pa.NativeFile:
        return (
            pa.OSFile(str(tmp_path / "t.csv")) if random_access else pa.input_stream(str(tmp_path / "t.csv"))
        )

    out = pa.Table.from_batches(list(iter_file(opener, FormatOptions(), 1_000)))
    assert out.num_rows == 10_000 and out.column("id").to_pylist() == table.column("id").to_pylist()

    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")

    def bad(random_access: bool) -> pa.NativeFile:
        return pa.OSFile(str(tmp_path / "bad.parquet"))

    with pytest.raises(SourceFatalError, match="could not be parsed as parquet"):
        list(iter_file(bad, FormatOptions(file_type="parquet"), 1_000))


def test_json_lines_come_in_full_batches_in_order_with_bad_lines_rejected(tmp_path: Path) -> None:
    # Arrow parses a block in 1 MiB chunks; the reader must still hand out batch_size batches
    lines = [f'{{"id": "{i}", "v": "{"x" * 200}"}}' for i in range(30_000)]
    lines[12_345] = '{"id": broken'
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects: list[object] = []

    def opener(random_access: bool) -> pa.NativeFile:
        return pa.OSFile(str(path)) if random_access else pa.input_stream(str(path))

    batches = list(iter_file(opener, FormatOptions(file_type="json"), 10_000, rejects=rejects.append))
    assert [b.num_rows for b in batches] == [10_000, 10_000, 9_999]
    ids = pa.Table.from_batches(batches).column("id").to_pylist()
    assert ids == [str(i) for i in range(30_000) if i != 12_345]
    assert len(rejects) == 1
