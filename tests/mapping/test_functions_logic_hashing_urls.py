from __future__ import annotations

import hashlib
import re
import zlib

import pyarrow as pa
import pytest

from tests.mapping.maphelp import run, run_with_failures
from xdmflow.mapping.functions.logic import uuid_array


@pytest.mark.parametrize("algo", ["sha1", "sha256", "sha512", "md5"])
def test_hashes_match_hashlib_and_null(algo: str) -> None:
    out = run(f"{algo}(s)", s=["my text", "", "été", None])
    assert out == [hashlib.new(algo, v.encode()).hexdigest() for v in ["my text", "", "été"]] + [None]


def test_hash_charsets() -> None:
    assert run('md5(s, "UTF-16")', s=["a"]) == [hashlib.md5("a".encode("utf-16-be")).hexdigest()]
    assert run('sha1(s, "ISO-8859-1")', s=["é"]) == [hashlib.sha1("é".encode("latin-1")).hexdigest()]
    _, failed = run_with_failures('sha256(s, "US-ASCII")', s=["ok", "é"])
    assert failed == [1]
    _, failed = run_with_failures('md5(s, "EBCDIC")', s=["x"])
    assert failed == [0]


def test_crc32() -> None:
    assert run("crc32(s)", s=["my text"]) == [format(zlib.crc32(b"my text"), "x")]


def test_url_functions() -> None:
    u = ["https://user@platform.adobe.com:8443/home/a%20b?x=1&y=2#frag", "sftp://example.com//home/joe", None]
    assert run("get_url_protocol(u)", u=u) == ["https", "sftp", None]
    assert run("get_url_host(u)", u=u) == ["platform.adobe.com", "example.com", None]
    assert run("get_url_port(u)", u=u) == [8443, 22, None]
    assert run("get_url_port(u)", u=["http://a.b/"]) == [80]
    assert run("get_url_path(u)", u=u) == ["/home/a%20b", "//home/joe", None]
    assert run("get_url_path(u, true)", u=u[:1]) == ["/home/a%20b?x=1&y=2#frag"]
    q = "foo://example.com:8042/over/there?name=ferret#nose"
    assert run('get_url_query_str(u, "append")', u=[q]) == [[("name", "ferret"), ("_anchor_", "nose")]]
    assert run('get_url_query_str(u, "remove")', u=[q]) == [[("name", "ferret")]]
    assert run('get_url_query_str(u, "retain")', u=[q]) == [[("name", "ferret#nose")]]
    assert run('get_url_encoded("https://a.b/c d")', rows=1) == ["https%3A%2F%2Fa.b%2Fc%20d"]
    assert run("get_url_decoded(u)", u=["https%3A%2F%2Fa.b%2Fc%20d"]) == ["https://a.b/c d"]


def test_iif_and_ternary() -> None:
    assert run('iif(a > 1, "big", "small")', a=[2, 1, None]) == ["big", "small", "small"]
    assert run('iif("s".equalsIgnoreCase("S"), "True", "False")', rows=1) == ["True"]
    assert run("a > 1 ? a : 0", a=[5, 0]) == [5, 0]
    assert run("iif(c, 1, 2.5)", c=[True, False]) == [1.0, 2.5]


def test_decode() -> None:
    expr = 'decode(code, "ca", "California", "pa", "Pennsylvania", "N/A")'
    assert run(expr, code=["ca", "pa", "ny", None]) == ["California", "Pennsylvania", "N/A", "N/A"]
    assert run('decode(code, "ca", "California")', code=["ny", "ca"]) == [None, "California"]
    assert run('decode(n, 1, "one", 2, "two")', n=[2, 3]) == ["two", None]


def test_min_max_ignore_nulls() -> None:
    assert run("min(a, b, 3)", a=[1, None, 5], b=[2, 4, None]) == [1, 3, 3]
    assert run("max(a, b)", a=[1.5, None], b=[2, None]) == [2.0, None]
    assert run('max("a", "b")', rows=1) == ["b"]


def test_type_conversions() -> None:
    assert run("to_integer(s)", s=["12", " 7 ", None]) == [12, 7, None]
    assert run('to_bigint("1000000.0")', rows=1) == [1000000]
    assert run("to_bigint(f)", f=[1000000.34]) == [1000000]
    assert run("to_decimal(s)", s=["20.5", "-1e3"]) == [20.5, -1000.0]
    assert run("to_float(s)", s=["12.3456"]) == [12.3456]
    values, failed = run_with_failures("to_integer(s)", s=["1", "abc", "99999999999"])
    assert values == [1, None, None] and failed == [1, 2]


def test_arithmetic_and_division_by_zero() -> None:
    assert run("a * 2 + b / 2", a=[1, 2], b=[4.0, 1.0]) == [4.0, 4.5]
    assert run("a % 3", a=[7, -7]) == [1, -1]
    assert run("a - b", a=["10", "x"], b=[3, 3])[:1] == [7.0]
    values, failed = run_with_failures("a / b", a=[1, 2], b=[0, 2])
    assert values == [None, 1] and failed == [0]
    assert run("-a", a=[3]) == [-3]
    assert run("~a", a=[33]) == [-34]


def test_logic_and_comparison_with_nulls() -> None:
    assert run("a && b", a=[True, False, None], b=[None, None, False]) == [None, False, False]
    assert run("a || b", a=[True, False], b=[None, None]) == [True, None]
    assert run("a == b", a=[None, "x", "x"], b=[None, None, "x"]) == [True, False, True]
    assert run("a != b", a=[None, "x"], b=[None, None]) == [False, True]
    assert run('a == "1"', a=[1, 2]) == [True, False]
    assert run("!a", a=["true", "no"]) == [False, True]


def test_json_to_object() -> None:
    out = run("json_to_object(s)", s=['{"a": 1, "b": "x"}', None])
    assert out == [{"a": 1, "b": "x"}, None]
    _, failed = run_with_failures("json_to_object(s)", s=["{bad"])
    assert failed == [0]


def test_uuid_and_guid_are_unique_v4() -> None:
    out = run("uuid()", rows=1000)
    assert len(set(out)) == 1000
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", u) for u in out
    )
    assert len(run("guid()", rows=3)) == 3
    assert uuid_array(0).to_pylist() == []


def test_nullify() -> None:
    assert run("nullify()", rows=2) == [None, None]


def test_unknown_function_at_runtime_raises() -> None:
    with pytest.raises(ValueError, match="unknown function"):
        run("nope(a)", a=[1])


def test_index_into_arrays_and_structs() -> None:
    arr = pa.array([[{"sku": "a"}, {"sku": "b"}], [], None])
    assert run("items[1].sku", items=arr) == ["b", None, None]
    assert run("items[0]", items=pa.array([[1, 2], [3]])) == [1, 3]
