from __future__ import annotations

import pyarrow as pa

from tests.mapping.maphelp import run, run_with_failures


def test_coalesce_first_last() -> None:
    assert run('coalesce(a, b, "z")', a=[None, "x", None], b=[None, None, "y"]) == ["z", "x", "y"]
    assert run("coalesce(a, b)", a=[None, 1], b=[2.5, None]) == [2.5, 1.0]
    assert run('first("1", "2", "3")', rows=1) == ["1"]
    assert run('last("1", "2", "3")', rows=1) == ["3"]
    lists = pa.array([["a", "b"], [], None, ["c"]])
    assert run("first(l)", l=lists) == ["a", None, None, "c"]
    assert run("last(l)", l=lists) == ["b", None, None, "c"]


def test_size_of_is_empty() -> None:
    assert run("size_of(l)", l=pa.array([[1, 2], [], None])) == [2, 0, None]
    assert run("is_empty(s)", s=["", "a", None]) == [True, False, True]
    assert run("is_empty(l)", l=pa.array([[], [1], None])) == [True, False, True]
    assert run('is_empty(split(s, ","))', s=["a"]) == [False]


def test_to_array_add_to_array_join_arrays() -> None:
    assert run('to_array(false, a, null, "2")', a=["1", None]) == [["1", "2"], ["2"]]
    assert run("to_array(true, a, b)", a=["1"], b=[None]) == [["1", None]]
    assert run('add_to_array(split(s, ","), "c", "d")', s=["a,b"]) == [["a", "b", "c", "d"]]
    assert run('join_arrays(split(a, ","), split(b, ","))', a=["a"], b=["b,c"]) == [["a", "b", "c"]]
    assert run('upsert_array_append(split(s, ","))', s=["a,b"]) == [["a", "b"]]
    assert run('upsert_array_replace(split(s, ","))', s=["a,b"]) == [["a", "b"]]


def test_to_object_and_arrays_to_object() -> None:
    assert run('to_object("firstName", a, "age", b)', a=["John", None], b=[3, 4]) == [
        {"firstName": "John", "age": 3},
        {"firstName": None, "age": 4},
    ]
    out = run('arrays_to_object("sku", split(a, ","), "qty", split(b, ","))', a=["x,y"], b=["1,2"])
    assert out == [[{"sku": "x", "qty": "1"}, {"sku": "y", "qty": "2"}]]


def test_str_to_object_get_values_get_keys() -> None:
    out = run('str_to_object(s, "=", ";")', s=["firstName=John;lastName=Doe", None])
    assert out == [[("firstName", "John"), ("lastName", "Doe")], None]
    assert run("str_to_object(s)", s=["a:1,b:2"]) == [[("a", "1"), ("b", "2")]]
    assert run('str_to_object(s).get("b")', s=["a:1,b:2", "a:3"]) == ["2", None]
    assert run('get_values(s, "lastName", "=", ";")', s=["firstName=John;lastName=Doe"]) == ["Doe"]
    assert run("get_keys(str_to_object(s))", s=["a:1,b:2"]) == [["a", "b"]]


def test_maps() -> None:
    assert run('map_get_values(str_to_object(s), "a")', s=["a:1,b:2", "b:3"]) == ["1", None]
    assert run('map_has_keys(str_to_object(s), "a")', s=["a:1", "b:2"]) == [True, False]
    assert run('to_map("a", x, "b", y)', x=["1"], y=[None]) == [[("a", "1")]]
    out = run('add_to_map(to_map("a", "1"), to_map("a", "2", "b", "3"))', rows=1)
    assert out == [[("a", "1"), ("b", "3")]]
    assert run('object_to_map("k", "v")', rows=1) == [[("k", "v")]]


def test_array_to_map() -> None:
    arr = pa.array([[{"sku": "a", "q": 1}, {"sku": "b", "q": 2}]])
    out = run('array_to_map(items, "sku")', items=arr)
    assert out == [[("a", {"sku": "a", "q": 1}), ("b", {"sku": "b", "q": 2})]]


def test_contains_key_checks_source_presence() -> None:
    assert run("contains_key(a)", a=["x", None]) == [True, False]
    assert run("contains_key(missing)", a=["x"]) == [False]


def test_to_object_requires_literal_keys() -> None:
    values, _ = run_with_failures('iif(true, "ok", "no")', rows=1)
    assert values == ["ok"]


def test_array_literals_evaluate() -> None:
    assert run('join(" ", ["Hello", "world"])', rows=1) == ["Hello world"]
    assert run("size_of([1, null, 2, 3])", rows=1) == [4]
    assert run("is_empty([1, null, 2, 3])", rows=1) == [False]
    assert run('["a", s]', s=["x", None]) == [["a", "x"], ["a", None]]
