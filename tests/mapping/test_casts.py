from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from xdmflow.mapping.casts import TS_TYPE, cast_to, el_type, to_string


def cast(
    values: list[object], target: pa.DataType, src: pa.DataType | None = None
) -> tuple[list[object], list[int]]:
    out, failed = cast_to(pa.array(values, src), target)
    assert out.type == target
    bad = [] if failed is None else [i for i, v in enumerate(failed.to_pylist()) if v]
    return out.to_pylist(), bad


def test_strings_to_integers_with_ranges() -> None:
    assert cast(["1", " 2 ", "-3", "+4", "5.0", "x", "", None], pa.int64()) == (
        [1, 2, -3, 4, 5, None, None, None],
        [5, 6],
    )
    assert cast(["127", "128", "-129"], pa.int8()) == ([127, None, None], [1, 2])
    assert cast(["32767", "40000"], pa.int16()) == ([32767, None], [1])
    assert cast(["1.5"], pa.int32()) == ([None], [0])


def test_strings_to_double() -> None:
    out, bad = cast(["1.5", "-2", "1e3", ".5", "12,34", "NaN", None], pa.float64())
    assert out[:4] == [1.5, -2.0, 1000.0, 0.5] and out[4] is None and bad == [4]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("FALSE", False),
        ("Yes", True),
        ("no", False),
        ("1", True),
        ("0", False),
        (" yes ", True),
    ],
)
def test_strings_to_boolean(text: str, value: bool) -> None:
    assert cast([text], pa.bool_()) == ([value], [])


def test_boolean_failures_and_numbers() -> None:
    assert cast(["maybe", None], pa.bool_()) == ([None, None], [0])
    assert cast([0, 2], pa.bool_(), pa.int64()) == ([False, True], [])


def test_strings_to_timestamps() -> None:
    out, bad = cast(
        [
            "2024-01-02T03:04:05Z",
            "2024-01-02T03:04:05.123+02:00",
            "2024-01-02 03:04:05",
            "2024-01-02",
            "1571829875000",
            "2024-02-30 00:00:00",
            "24/01/02",
            None,
        ],
        TS_TYPE,
    )
    assert out[:5] == [
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2024, 1, 2, 1, 4, 5, 123000, tzinfo=UTC),
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2024, 1, 2, tzinfo=UTC),
        datetime(2019, 10, 23, 11, 24, 35, tzinfo=UTC),
    ]
    assert bad == [5, 6]


def test_epoch_millis_numbers_and_dates() -> None:
    assert cast([0, None], TS_TYPE, pa.int64()) == ([datetime(1970, 1, 1, tzinfo=UTC), None], [])
    assert cast(["2024-02-29", "2024-02-29T23:00:00Z", "2023-02-29"], pa.date32()) == (
        [date(2024, 2, 29), date(2024, 2, 29), None],
        [2],
    )


def test_to_string_of_numbers_booleans_timestamps() -> None:
    assert cast([1, None], pa.string(), pa.int64()) == (["1", None], [])
    assert cast([True, False], pa.string()) == (["true", "false"], [])
    ts = pa.array([0, 1_500, 1_000_000], TS_TYPE)
    assert to_string(ts)[0].to_pylist() == [
        "1970-01-01T00:00:00Z",
        "1970-01-01T00:00:00.001500Z",
        "1970-01-01T00:00:01Z",
    ]


def test_overflowing_long_is_a_failure() -> None:
    assert cast(["99999999999999999999"], pa.int64()) == ([None], [0])


def test_el_type() -> None:
    assert el_type(pa.large_string()) == "string"
    assert el_type(pa.decimal128(10, 2)) == "number"
    assert el_type(pa.list_(pa.int8())) == "array"
    assert el_type(pa.map_(pa.string(), pa.int8())) == "map"
    assert el_type(pa.struct([("a", pa.int8())])) == "object"
    assert el_type(pa.date32()) == "datetime"
