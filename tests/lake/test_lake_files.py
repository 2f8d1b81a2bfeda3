"""Reshaping Arrow data to the file schema and rolling Parquet files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xdmflow.errors import BadRequestError, ValidationFailedError
from xdmflow.lake.files import ParquetFileRoller, check_batch_id, conform, write_parquet_files

ITEM = pa.struct([("n", pa.int16()), ("s", pa.string())])
XDM = pa.schema(
    [
        ("l", pa.list_(pa.field("element", ITEM))),
        ("m", pa.map_(pa.string(), pa.int8())),
        ("o", pa.struct([("b", pa.int16()), ("a", pa.string())])),
    ]
)
FILE = pa.schema(
    [
        ("l", pa.list_(pa.field("element", pa.struct([("n", pa.int32()), ("s", pa.string())])))),
        ("m", pa.map_(pa.string(), pa.int32())),
        (
            "o",
            pa.struct([("a", pa.string()), ("b", pa.int32()), ("c", pa.float64())]),
        ),  # reordered + new field
    ]
)
ROWS: list[dict[str, Any]] = [
    {"l": [{"n": 1, "s": "x"}, None], "m": [("a", 1), ("b", None)], "o": {"b": 1, "a": "p"}},
    {"l": None, "m": None, "o": None},
    {"l": [], "m": [], "o": {"b": None, "a": None}},
    {"l": [{"n": -3, "s": None}], "m": [("z", -128)], "o": {"b": 7, "a": "q"}},
]


@pytest.mark.parametrize("start", [0, 1, 2])
def test_conform_rebuilds_sliced_nested_arrays_exactly(start: int) -> None:
    table = pa.Table.from_pylist(ROWS, schema=XDM)
    for name in ("l", "m", "o"):
        arr = table.column(name).chunk(0).slice(start)
        out = conform(arr, FILE.field(name).type)
        assert out.type == FILE.field(name).type
        expected = [r[name] for r in ROWS[start:]]
        if name == "o":
            expected = [None if v is None else {"a": v["a"], "b": v["b"], "c": None} for v in expected]
        assert out.to_pylist() == expected
        back = conform(out, XDM.field(name).type) if name != "o" else None
        if back is not None:
            assert back.to_pylist() == expected


def test_conform_rejects_unknown_nested_fields_and_overflow() -> None:
    arr = pa.array([{"a": "x", "zz": 1}], pa.struct([("a", pa.string()), ("zz", pa.int32())]))
    with pytest.raises(ValidationFailedError, match="zz"):
        conform(arr, FILE.field("o").type)
    with pytest.raises(pa.ArrowInvalid):
        conform(pa.array([70000], pa.int32()), pa.int16())


def test_files_roll_at_the_size_target(tmp_path: Path) -> None:
    table = pa.Table.from_pylist(ROWS * 50, schema=XDM)  # 200 rows
    chunks = [table.slice(i, 60) for i in range(0, 200, 60)]
    files = write_parquet_files(
        str(tmp_path), "b1", chunks, schema=FILE, target_file_bytes=1, row_group_rows=50
    )
    assert [f.record_count for f in files] == [60, 60, 60, 20]
    assert sum(pq.read_metadata(f.path).num_rows for f in files) == 200
    assert all(f.byte_size == Path(f.path).stat().st_size for f in files)
    assert all(Path(f.path).parent.name == "batch=b1" for f in files)


def test_failed_write_deletes_its_files(tmp_path: Path) -> None:
    good = pa.Table.from_pylist(ROWS, schema=XDM)

    def data():  # type: ignore[no-untyped-def]
        yield good
        raise RuntimeError("source died")

    with pytest.raises(RuntimeError):
        write_parquet_files(str(tmp_path), "b2", data(), schema=FILE, row_group_rows=1)
    folder = tmp_path / "data" / "batch=b2"
    assert not folder.exists() or list(folder.iterdir()) == []


@pytest.mark.parametrize("background", [True, False])
def test_roller_writes_the_same_files_in_the_background(tmp_path: Path, background: bool) -> None:
    roller = ParquetFileRoller(
        str(tmp_path), "b", FILE, row_group_rows=2, max_rows_per_file=4, background=background
    )
    for _ in range(5):
        roller.write(pa.Table.from_pylist(ROWS, schema=XDM))
    files = roller.close()
    assert sum(f.record_count for f in files) == 5 * len(ROWS)
    assert [f.record_count for f in files[:-1]] == [4] * (len(files) - 1)
    got = pq.read_table([f.path for f in files])
    assert got.num_rows == 5 * len(ROWS)


def test_a_failing_background_write_surfaces_and_leaves_nothing(tmp_path: Path) -> None:
    roller = ParquetFileRoller(str(tmp_path), "b", FILE, row_group_rows=1)
    roller.write(pa.Table.from_pylist(ROWS, schema=XDM))
    roller.close()  # a first complete file, then break the target folder under the writer
    roller = ParquetFileRoller(str(tmp_path / "gone"), "b", FILE, row_group_rows=1)
    (tmp_path / "gone").write_text("not a folder")  # makedirs below it fails in the writer thread
    with pytest.raises(Exception):  # noqa: B017 - whatever the filesystem raises
        for _ in range(10):
            roller.write(pa.Table.from_pylist(ROWS, schema=XDM))
        roller.close()
    roller.abort()
    assert roller.written_paths == []


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "a..b", ".hidden", "x" * 200])
def test_batch_ids_must_be_path_safe(bad: str) -> None:
    with pytest.raises(BadRequestError):
        check_batch_id(bad)
