"""File reads a run asks to number (``ReadRequest.numbered``): each row carries its record number
in its file and the batch its file's name, as Batch Ingestion numbers them (from 1, records that
cannot be parsed keep their numbers), so a flow's row errors name the file and the record."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from xdmflow.connectors.base import ParseReject, take_positions
from xdmflow.connectors.files.formats import FormatOptions, iter_delimited_range, iter_file


def _opener(path: Path) -> Any:
    @contextmanager
    def opener(random_access: bool) -> Iterator[Any]:
        with pa.OSFile(str(path), "rb") if random_access else path.open("rb") as f:
            yield f

    return opener


def _numbers(batches: Iterator[pa.RecordBatch]) -> tuple[list[int], set[str], list[str]]:
    numbers: list[int] = []
    files: set[str] = set()
    columns: list[str] = []
    for batch in batches:
        plain, nums, name = take_positions(batch)
        assert nums is not None and name is not None
        numbers += nums.tolist()
        files.add(name)
        columns = plain.schema.names
        assert plain.schema.metadata is None or b"xdmflow.file" not in plain.schema.metadata
    return numbers, files, columns


def test_csv_rows_are_numbered_around_the_rows_that_do_not_parse(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"id,name\n1,a\n2,b,extra\n3,c\n4\n5,e\n")
    rejects: list[ParseReject] = []
    opts = FormatOptions(file_type="delimited")
    batches = iter_file(_opener(path), opts, 2, rejects=rejects.append, name="in/a.csv", numbered=True)
    numbers, files, columns = _numbers(batches)
    assert numbers == [1, 3, 5] and files == {"in/a.csv"} and columns == ["id", "name"]
    assert [r.row for r in rejects] == [2, 4]


def test_a_byte_range_of_a_csv_numbers_from_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(b"id\n" + b"".join(f"{i}\n".encode() for i in range(1, 101)))
    size = path.stat().st_size
    opts = FormatOptions(file_type="delimited")
    got: list[int] = []
    for a, b in ((0, size // 2), (size // 2, size)):
        batches = iter_delimited_range(
            _opener(path), opts, 16, a, b, rejects=lambda r: None, name="b.csv", numbered=True
        )
        got += _numbers(batches)[0]
    assert got == list(range(1, 101))


def test_json_lines_are_numbered_by_line(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(b'{"id": 1}\n{broken\n{"id": 3}\n{"id": 4}\n')
    rejects: list[ParseReject] = []
    opts = FormatOptions(file_type="json")
    numbers, files, columns = _numbers(
        iter_file(_opener(path), opts, 10, rejects=rejects.append, name="c.json", numbered=True)
    )
    assert numbers == [1, 3, 4] and columns == ["id"]
    assert [r.row for r in rejects] == [2]


def test_parquet_row_groups_are_numbered_from_their_place_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"id": list(range(30))}), path, row_group_size=10)
    opts = FormatOptions(file_type="parquet")
    whole = _numbers(iter_file(_opener(path), opts, 7, name="d.parquet", numbered=True))[0]
    assert whole == list(range(1, 31))
    second = _numbers(iter_file(_opener(path), opts, 7, [1], name="d.parquet", numbered=True))[0]
    assert second == list(range(11, 21))


def test_unnumbered_reads_are_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(b"id\n1\n2\n")
    [batch] = list(iter_file(_opener(path), FormatOptions(), 10, rejects=lambda r: None, name="e.csv"))
    assert batch.schema.names == ["id"] and not (batch.schema.metadata or {})


def test_json_array_elements_are_read_as_lines(tmp_path: Path) -> None:
    """A top-level array goes through the JSON-lines reader: element n is record n, and an
    element that is not a record is that record's row error, not a failed read."""
    path = tmp_path / "f.json"
    path.write_text('[\n {"id": 1, "o": {"k": "a"}},\n 2,\n {"id": 3, "o": {"k": "c"}}\n]\n')
    rejects: list[ParseReject] = []
    opts = FormatOptions(file_type="json")
    batches = list(iter_file(_opener(path), opts, 10, rejects=rejects.append, name="f.json", numbered=True))
    numbers, files, columns = _numbers(iter(batches))
    assert numbers == [1, 3] and files == {"f.json"} and columns == ["id", "o"]
    assert [(r.row, r.text) for r in rejects] == [(2, "2")]
