from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mapping.maphelp import run
from xdmflow.mapping import functions_catalog, operators_catalog, validate_expression
from xdmflow.mapping.parser import ExpressionSyntaxError, parse_expression

REQUIRED = """concat explode instr replacestr substr lower lcase upper ucase split join lpad rpad left right
ltrim rtrim trim equals equalsIgnoreCase length extract_regex matches_regex sha1 sha256 sha512 md5 crc32
get_url_protocol get_url_host get_url_port get_url_path get_url_query_str get_url_encoded
get_url_decoded now
timestamp format dformat date date_part set_date_part make_date_time make_timestamp zone_date_to_utc
zone_date_to_zone is_empty to_object str_to_object contains_key nullify get_keys get_values map_get_values
map_has_keys add_to_map object_to_map array_to_map to_map arrays_to_object coalesce first last add_to_array
join_arrays to_array size_of upsert_array_append upsert_array_replace decode iif min max to_bigint to_decimal
to_float to_integer json_to_object uuid guid""".split()


def test_catalog_lists_every_required_function_with_shape() -> None:
    cat = functions_catalog()
    names = {f["function"].lower() for f in cat}
    missing = [n for n in REQUIRED if n.lower() not in names]
    assert missing == []
    for f in cat:
        assert set(f) >= {
            "category",
            "function",
            "description",
            "syntax",
            "returns",
            "returnType",
            "example",
            "result",
            "params",
            "since",
        }
        for i, p in enumerate(f["params"]):
            assert p["position"] == i + 1 and {"name", "description", "type", "dataType"} <= set(p)
    concat = next(f for f in cat if f["function"] == "concat")
    assert concat["syntax"] == "concat(strings...)" and concat["category"] == "String"


def test_catalog_examples_parse() -> None:
    for f in functions_catalog():
        if f["example"]:
            parse_expression(f["example"])


def test_operators_catalog() -> None:
    ops = operators_catalog()
    by = {(o["operatorSymbol"], o["numberOfOperands"]): o for o in ops}
    assert by[("+", 2)]["methodName"] == "add"
    assert by[("-", 1)]["methodName"] == "negate"
    assert by[("~", 1)]["methodName"] == "complement"
    assert by[("!", 1)]["methodName"] == "not"
    assert all(
        set(o) == {"operatorSymbol", "methodName", "numberOfOperands", "description", "example"} for o in ops
    )


def test_validate_expression() -> None:
    assert validate_expression('concat("Hi", "there")') == []
    assert validate_expression('concat("Hi", ') == [
        {"message": "unexpected end of expression", "position": 13}
    ]
    errs = validate_expression("lower(a, b)")
    assert errs == [{"message": "function lower() takes 1 argument(s), got 2", "position": 0}]
    assert validate_expression("unknown_fn(1)")[0]["message"] == "unknown function 'unknown_fn'"
    assert validate_expression("x", {"y": "string"})[0]["message"].startswith("source field 'x'")
    assert validate_expression('!split(a, ",")')[0]["message"] == "operand of '!' must be boolean, got array"


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=string.printable + "éß€${}", max_size=40))
def test_parser_never_crashes_unexpectedly(text: str) -> None:
    try:
        parse_expression(text)
    except ExpressionSyntaxError as e:
        assert 0 <= e.pos <= len(text)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), min_size=1, max_size=20))
def test_string_functions_match_python(values: list[str | None]) -> None:
    assert run("upper(s)", s=values) == [None if v is None else v.upper() for v in values] or any(
        v is not None and len(v.upper()) != len(v) for v in values
    )
    assert run("length(s)", s=values) == [None if v is None else len(v) for v in values]
    assert run("left(s, 3)", s=values) == [None if v is None else v[:3] for v in values]
    assert run("substr(s, 1, 2)", s=values) == [None if v is None else v[1:3] for v in values]


def test_literal_arguments_checked_statically() -> None:
    def msgs(text: str) -> list[str]:
        return [e["message"] for e in validate_expression(text)]

    assert "unknown pattern letter 'b'" in msgs('format(now(), "yyyy-bb")')[0]
    assert "unknown date component 'fortnight'" in msgs('date_part("fortnight", now())')[0]
    assert "unknown time zone 'Mars/Olympus'" in msgs('zone_date_to_zone(now(), "Mars/Olympus")')[0]
    assert "invalid regular expression" in msgs('matches_regex(a, "(")')[0]
    assert "unsupported charset" in msgs('sha1(a, "EBCDIC")')[0]
    assert "string literal key" in msgs("to_object(k, 1)")[0]
    assert "key/value pairs" in msgs('to_map("a", 1, "b")')[0]
    assert msgs("date(s, \"yyyy-MM-dd'T'HH:mm:ss.SSSXXX\")") == []
