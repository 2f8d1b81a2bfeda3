"""Rejected rows and input-file metadata of batches (error diagnostics)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from xdmflow.errors import BadRequestError, NotFoundError
from xdmflow.lake.diagnostics import ErrorStore, row_error


@pytest.fixture
def store(tmp_path: Path) -> ErrorStore:
    return ErrorStore(str(tmp_path / "lake"))


def test_write_list_read_row_errors(store: ErrorStore, tmp_path: Path) -> None:
    parsing = [
        row_error(
            3,
            [{"code": "1401", "message": "Row is corrupted and cannot be read, please fix and resend."}],
            corrupt_record="{missingQuotes: 'v1'}",
            filename="input.json",
        )
    ]
    conversion = [
        row_error(
            i,
            [{"code": "1555", "message": "A required field is missing.", "path": "person.name"}],
            data={"_id": f"id-{i}", "ts": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)},
            filename="input.json",
        )
        for i in range(5)
    ]
    assert store.write_row_errors("B1", "parsing", parsing) == ["row_errors/parsing_errors_0.json"]
    assert store.write_row_errors("B1", "conversion", conversion, records_per_file=2) == [
        "row_errors/conversion_errors_0.json",
        "row_errors/conversion_errors_1.json",
        "row_errors/conversion_errors_2.json",
    ]
    assert store.write_input_files("B1", ["a.json", "dir/b.json"]) == "input_files/fileMetaData1.json"
    on_disk = tmp_path / "lake" / "_diagnostics" / "B1" / "row_errors" / "parsing_errors_0.json"
    assert on_disk.is_file()

    top = store.list("B1")
    assert [(e.name, e.is_dir) for e in top] == [("input_files", True), ("row_errors", True)]
    listing = store.list("B1", "row_errors")
    assert [e.name for e in listing] == [
        "conversion_errors_0.json",
        "conversion_errors_1.json",
        "conversion_errors_2.json",
        "parsing_errors_0.json",
    ]
    assert all(e.length > 0 and e.path == f"row_errors/{e.name}" for e in listing)
    assert listing[3].length == on_disk.stat().st_size
    assert [e.path for e in store.list("B1", "row_errors/parsing_errors_0.json")] == [
        "row_errors/parsing_errors_0.json"
    ]

    first = json.loads(store.read("B1", "row_errors/parsing_errors_0.json").splitlines()[0])
    assert first == {
        "_corrupt_record": "{missingQuotes: 'v1'}",
        "_errors": [
            {"code": "1401", "message": "Row is corrupted and cannot be read, please fix and resend."}
        ],
        "_filename": "input.json",
        "_row": 3,
    }
    conv = list(store.records("B1", "row_errors/conversion_errors_0.json"))
    assert conv[0]["_errors"][0]["path"] == "person.name" and conv[0]["_id"] == "id-0"
    assert conv[0]["ts"].startswith("2024-01-01")
    assert sorted(r["_row"] for r in store.rows("B1")) == [0, 1, 2, 3, 3, 4]
    assert [json.loads(x) for x in store.read("B1", "input_files/fileMetaData1.json").splitlines()] == [
        {"path": "a.json"},
        {"path": "dir/b.json"},
    ]


def test_filename_defaults_to_the_diagnostics_file(store: ErrorStore) -> None:
    store.write_row_errors(
        "B2", "parsing", [row_error(1, [{"code": "1401", "message": "bad"}], corrupt_record="x")]
    )
    rec = next(store.records("B2", "row_errors/parsing_errors_0.json"))
    assert rec["_filename"] == "parsing_errors_0.json"


def test_missing_and_invalid(store: ErrorStore) -> None:
    assert store.write_row_errors("B3", "conversion", []) == []
    assert not store.exists("B3")
    assert list(store.rows("B3")) == []
    with pytest.raises(NotFoundError):
        store.list("B3", "row_errors")
    with pytest.raises(NotFoundError):
        store.read("B3", "row_errors/x.json")
    with pytest.raises(BadRequestError):
        store.read("B3", "../../etc/passwd")
    with pytest.raises(BadRequestError):
        store.list("../x")
    store.write_input_files("B4", ["f"])
    store.delete("B4")
    assert not store.exists("B4")


def test_works_on_an_fsspec_url() -> None:
    store = ErrorStore(f"memory://diag-{id(object())}")
    store.write_row_errors(
        "B5", "parsing", [row_error(0, [{"code": "1401", "message": "m"}], corrupt_record="{")]
    )
    assert [e.name for e in store.list("B5", "row_errors")] == ["parsing_errors_0.json"]
    assert next(store.rows("B5"))["_corrupt_record"] == "{"
