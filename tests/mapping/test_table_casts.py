"""``mapping.casts.cast_table``: Batch Ingestion's whole-table casts go through Data Prep's casts."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from xdmflow.mapping.casts import TS_TYPE, cast_table, describe


def test_cast_table_fails_only_the_values_that_cannot_convert() -> None:
    raw = pa.table(
        {
            "at": ["2024-01-02 03:04:05", "2024-01-02T03:04:05+01:00", "1700000000000", "abc", None],
            "ok": ["yes", "n", "true", "maybe", None],
            "n": ["12", " 7 ", "1.5", "12.0", None],
            "extra": ["x", "y", "z", "w", "v"],
        }
    )
    target = pa.schema([("at", TS_TYPE), ("ok", pa.bool_()), ("n", pa.int64()), ("missing", pa.string())])
    out, problems = cast_table(raw, target)
    assert out.schema == target
    rows = out.to_pylist()
    assert rows[0] == {
        "at": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "ok": True,
        "n": 12,
        "missing": None,
    }
    assert rows[1]["at"] == dt.datetime(2024, 1, 2, 2, 4, 5, tzinfo=dt.UTC)
    assert rows[1]["n"] == 7 and rows[1]["ok"] is False
    bad = {p.path: p.mask.tolist() for p in problems}
    # bare digits are not a date-time here, "1.5"/"12.0" are not integers, "maybe" is no boolean
    assert bad == {
        "at": [False, False, True, True, False],
        "ok": [False, False, False, True, False],
        "n": [False, False, True, True, False],
    }
    by_path = {p.path: p for p in problems}
    assert describe(by_path["n"], raw, 2) == "cannot convert value '1.5' of 'n' to long"
    assert describe(by_path["at"], raw, 3) == "cannot convert value 'abc' of 'at' to date-time"


def test_cast_table_marks_the_row_of_a_bad_list_element_and_struct_child() -> None:
    raw = pa.table({"tags": [["1", "2"], ["3", "x"], None], "o": [{"v": "1"}, {"v": "2"}, {"v": "q"}]})
    target = pa.schema([("tags", pa.list_(pa.int64())), ("o", pa.struct([("v", pa.int32())]))])
    out, problems = cast_table(raw, target)
    bad = {p.path: p.mask.tolist() for p in problems}
    assert bad == {"tags": [False, True, False], "o.v": [False, False, True]}
    assert out.column("tags").to_pylist()[0] == [1, 2]
    assert out.column("o").to_pylist()[1] == {"v": 2}
