from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from tests.mapping.maphelp import run, run_with_failures
from xdmflow.mapping.casts import TS_TYPE
from xdmflow.mapping.javadate import (
    DatePatternError,
    PatternToken,
    format_timestamps,
    java_to_strftime,
    parse_timestamps,
    tokenize_pattern,
)


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_tokenizer_letters_quotes_and_escaped_quote() -> None:
    toks = tokenize_pattern("yyyy-MM-dd'T'HH:mm 'o''clock' ''")
    assert toks[0] == PatternToken("y", 4)
    assert PatternToken("", 0, "T") in toks
    assert toks[-1] == PatternToken("", 0, " o'clock '")


@pytest.mark.parametrize("bad", ["yyyy-MM-dd 'T", "yyyy-bb", "yyyy [MM]", "GGGG"])
def test_tokenizer_rejects_bad_patterns(bad: str) -> None:
    with pytest.raises(DatePatternError):
        tokenize_pattern(bad)


@pytest.mark.parametrize(
    ("java", "strf"),
    [
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "%Y-%m-%dT%H:%M:%S.%f%z"),
        ("uuuu/MM/dd", "%Y/%m/%d"),
        ("dd MMM yy hh:mm a", "%d %b %y %I:%M %p"),
        ("EEEE, MMMM d", "%A, %B %d"),
        ("HH:mm z", "%H:%M %Z"),
        ("'100%' yyyy", "100%% %Y"),
    ],
)
def test_java_to_strftime(java: str, strf: str) -> None:
    assert java_to_strftime(java) == strf


def _ts_array(*values: datetime | None, tz: str = "UTC") -> pa.Array:
    return pa.array(values, pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us", tz=tz))


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2019-03-07T05:04:09.123Z"),
        ("yy/M/d H:m:s", "19/3/7 5:4:9"),
        ("MMM MMMM EEE EEEE", "Mar March Thu Thursday"),
        ("hh a", "05 AM"),
        ("SSSSSS", "123456"),
        ("D", "66"),
        ("'at' HH'h' ''", "at 05h '"),
        ("yyyyMMdd", "20190307"),
        ("Z", "+0000"),
    ],
)
def test_format_patterns(pattern: str, expected: str) -> None:
    arr = _ts_array(datetime(2019, 3, 7, 5, 4, 9, 123456, tzinfo=UTC), None)
    assert format_timestamps(arr, pattern).to_pylist() == [expected, None]


def test_format_in_other_zone_uses_local_time_and_offset() -> None:
    arr = _ts_array(ts(2019, 7, 1, 12, 0, 0), tz="Europe/Paris")
    assert format_timestamps(arr, "yyyy-MM-dd HH:mm XXX").to_pylist() == ["2019-07-01 14:00 +02:00"]
    assert format_timestamps(arr, "VV").to_pylist() == ["Europe/Paris"]


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("yyyy-MM-dd HH:mm", "2019-10-23 11:24", ts(2019, 10, 23, 11, 24)),
        ("dd/MMM/yyyy:HH:mm:ss Z", "10/Oct/2000:13:55:36 -0700", ts(2000, 10, 10, 20, 55, 36)),
        ("MM/dd/yy", "02/29/24", ts(2024, 2, 29)),
        (
            "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
            "2020-01-01T10:00:00.250+05:30",
            datetime(2020, 1, 1, 4, 30, 0, 250000, UTC),
        ),
        ("d MMMM yyyy h:mm a", "5 March 2021 1:05 PM", ts(2021, 3, 5, 13, 5)),
        ("d MMMM yyyy h:mm a", "5 march 2021 12:05 am", ts(2021, 3, 5, 0, 5)),
        ("yyyy-MM-dd HH:mm VV", "2019-01-15 08:00 America/New_York", ts(2019, 1, 15, 13, 0)),
        ("yyyyMMddHHmmss", "20191023112400", ts(2019, 10, 23, 11, 24)),
        ("EEE, dd MMM yyyy HH:mm:ss X", "Wed, 23 Oct 2019 11:24:00 Z", ts(2019, 10, 23, 11, 24)),
    ],
)
def test_parse_patterns(pattern: str, text: str, expected: datetime) -> None:
    out = parse_timestamps(pa.array([text, None]), pattern)
    assert out.type == TS_TYPE
    assert out.to_pylist() == [expected, None]


@pytest.mark.parametrize("text", ["2019-10-23", "2019-02-30 10:00", "2019-10-23 25:00", "garbage", ""])
def test_parse_non_matching_gives_null(text: str) -> None:
    assert parse_timestamps(pa.array([text]), "yyyy-MM-dd HH:mm").to_pylist() == [None]


def test_parse_with_default_zone() -> None:
    out = parse_timestamps(pa.array(["2019-01-15 08:00"]), "yyyy-MM-dd HH:mm", default_tz="Europe/Paris")
    assert out.to_pylist() == [ts(2019, 1, 15, 7, 0)]


# -- functions -----------------------------------------------------------------------------


def test_date_function_one_two_three_args() -> None:
    assert run('date("2019-10-23 11:24", "yyyy-MM-dd HH:mm")', rows=1) == [ts(2019, 10, 23, 11, 24)]
    assert run("date(s)", s=["2019-10-23T11:24:00+02:00", "2019-10-23"]) == [
        ts(2019, 10, 23, 9, 24),
        ts(2019, 10, 23),
    ]
    out = run('date(s, "dd.MM.yyyy", "2000-01-01T00:00:00Z")', s=["01.02.2003", "bad", None])
    assert out == [ts(2003, 2, 1), ts(2000, 1, 1), ts(2000, 1, 1)]


def test_date_rows_that_do_not_parse_fail() -> None:
    values, failed = run_with_failures('date(s, "yyyy-MM-dd")', s=["2020-01-01", "nope", None])
    assert values == [ts(2020, 1, 1), None, None]
    assert failed == [1]


def test_format_and_dformat() -> None:
    assert run('format(date(s), "yyyy/MM/dd HH:mm")', s=["2019-10-23T11:24:00Z", None]) == [
        "2019/10/23 11:24",
        None,
    ]
    assert run("dformat(ms, \"yyyy-MM-dd'T'HH:mm:ss.SSSX\")", ms=[1571829875000]) == [
        "2019-10-23T11:24:35.000Z"
    ]


@pytest.mark.parametrize(
    ("comp", "value"),
    [
        ("year", 2020),
        ("yyyy", 2020),
        ("quarter", 4),
        ("month", 10),
        ("dayofyear", 275),
        ("day", 1),
        ("weekday", 4),
        ("hour", 23),
        ("hh12", 11),
        ("minute", 5),
        ("second", 7),
        ("millisecond", 123),
        ("SSS", 123),
    ],
)
def test_date_part(comp: str, value: int) -> None:
    assert run(f'date_part("{comp}", date(s))', s=["2020-10-01T23:05:07.123Z"]) == [value]


def test_set_date_part_and_make_date_time() -> None:
    assert run('set_date_part("month", 4, date(s))', s=["2016-11-09T11:44:44.797Z"]) == [
        datetime(2016, 4, 9, 11, 44, 44, 797000, UTC)
    ]
    assert run('make_date_time(2019, 10, 17, 11, 55, 12, 999000000, "America/Los_Angeles")', rows=1) == [
        datetime(2019, 10, 17, 18, 55, 12, 999000, UTC)
    ]
    assert run("make_timestamp(y, 1, 2)", y=[2020, None]) == [ts(2020, 1, 2), None]
    _, failed = run_with_failures("make_date_time(2019, m, 1)", m=[13, 1])
    assert failed == [0]


def test_zone_conversions() -> None:
    out = run('zone_date_to_zone(date(s), "Asia/Tokyo")', s=["2020-01-01T00:00:00Z"])
    assert out[0].utcoffset() == timedelta(hours=9)
    assert out[0].astimezone(UTC) == ts(2020, 1, 1)
    assert run('format(zone_date_to_zone(date(s), "Asia/Tokyo"), "HH:mm")', s=["2020-01-01T00:00:00Z"]) == [
        "09:00"
    ]
    assert run("zone_date_to_utc(date(s))", s=["2020-01-01T09:00:00+09:00"]) == [ts(2020, 1, 1)]
    assert run("zone_date_to_utc(date(s))", s=["2020-01-01T09:00:00+09:00"])[0].tzinfo is not None


def test_now_and_timestamp_are_constant_per_batch() -> None:
    assert run("now()", rows=2) == [ts(2019, 10, 23, 11, 24, 35)] * 2
    assert run("timestamp()", rows=1) == [1571829875000]


def test_comparisons_on_dates() -> None:
    out = run('date(s) > date("2020-01-01T00:00:00Z")', s=["2021-01-01T00:00:00Z", "2019-01-01T00:00:00Z"])
    assert out == [True, False]
    assert datetime(2020, 1, 1, tzinfo=UTC) == ts(2020, 1, 1)
