from __future__ import annotations

import pyarrow as pa
import pytest

from tests.mapping.maphelp import run, run_with_failures


def test_concat_strings_numbers_nulls_unicode() -> None:
    out = run('concat(a, " ", b)', a=["Jöhn", None, None, "x"], b=["Dœ", "y", None, None])
    assert out == ["Jöhn Dœ", " y", " ", "x "]  # null arguments are skipped
    assert run("concat(a, b)", a=[None], b=[None]) == [None]
    assert run("concat(a, n)", a=["v", "v"], n=[1, None]) == ["v1", "v"]
    assert run('concat("Hi", " ", "there")', rows=2) == ["Hi there", "Hi there"]


def test_plus_concatenates_when_a_side_is_string() -> None:
    assert run('a + "-" + b', a=["x", None], b=[1, 2]) == ["x-1", None]
    assert run("a + b", a=[1, 2], b=[3, None]) == [4, None]


def test_lower_upper_aliases_unicode_empty() -> None:
    assert run("lower(s)", s=["ÀBC", "", None]) == ["àbc", "", None]
    assert run("lcase(s)", s=["ÀBC"]) == ["àbc"]
    assert run("upper(s)", s=["straße", ""]) == ["STRASSE", ""] or run("upper(s)", s=["straße"])[
        0
    ].startswith("STRA")
    assert run("ucase(s)", s=["abc"]) == ["ABC"]


def test_trim_family() -> None:
    s = ["  a b  ", "", None, "\tx\n"]
    assert run("trim(s)", s=s) == ["a b", "", None, "x"]
    assert run("ltrim(s)", s=s) == ["a b  ", "", None, "x\n"]
    assert run("rtrim(s)", s=s) == ["  a b", "", None, "\tx"]


def test_substr_left_right() -> None:
    assert run('substr("This is a substring test", 7, 8)', rows=1) == [" a subst"]
    assert run("substr(s, 1, 2)", s=["héllo", "", None]) == ["él", "", None]
    assert run("substr(s, i, 2)", s=["abcdef", "abcdef"], i=[0, 3]) == ["ab", "de"]
    assert run("left(s, 2)", s=["abc", "a", None]) == ["ab", "a", None]
    assert run("right(s, 2)", s=["abc", "a", None]) == ["bc", "a", None]
    assert run("right(s, 0)", s=["abc"]) == [""]


def test_instr() -> None:
    assert run('instr("adobe.com", "com")', rows=1) == [6]
    assert run('instr(s, "x")', s=["abc", "xx", None, "éx"]) == [-1, 0, None, 1]
    assert run('instr(s, "a", 0, 2)', s=["banana"]) == [3]
    assert run('instr(s, "a", 4)', s=["banana"]) == [5]
    assert run('instr(s, "z", 0, 2)', s=["banana"]) == [-1]


def test_replacestr_split_explode_join() -> None:
    assert run('replacestr(s, "re", "replace")', s=["This is a string re test", None]) == [
        "This is a string replace test",
        None,
    ]
    assert run('split(s, ",")', s=["a,b,,c", "", None]) == [["a", "b", "", "c"], [""], None]
    assert run("explode(s)", s=["a,b"]) == [["a", "b"]]
    assert run('explode(s, " +")', s=["Hi,   there!"]) == [["Hi,", "there!"]]
    assert run('join(" ", split(s, ","))', s=["a,b", None]) == ["a b", None]
    assert run('join("-", a, b, c)', a=["x"], b=[None], c=["z"]) == ["x-z"]


def test_lpad_rpad_multi_char_and_single_char() -> None:
    assert run('lpad("bat", 8, "yz")', rows=1) == ["yzyzybat"]
    assert run('rpad("bat", 8, "yz")', rows=1) == ["batyzyzy"]
    assert run('lpad(s, 4, "0")', s=["7", "12345", None, ""]) == ["0007", "12345", None, "0000"]
    assert run('rpad(s, 3, "é")', s=["a"]) == ["aéé"]


def test_equals_methods_and_function_form() -> None:
    assert run('s.equals("abc")', s=["abc", "ABC", None]) == [True, False, False]
    assert run('s.equalsIgnoreCase("abc")', s=["abc", "ABC", "x"]) == [True, True, False]
    assert run("equals(a, b)", a=["x", None], b=["x", None]) == [True, True]
    assert run('"S".equalsIgnoreCase("s")', rows=1) == [True]


def test_length() -> None:
    assert run("length(s)", s=["héllo", "", None]) == [5, 0, None]


def test_extract_and_matches_regex() -> None:
    out = run('extract_regex(s, "([^,]+),[^,]*,([^,]+)")', s=["E259,E259B_009,1_1", "nomatch", None])
    assert out == [["E259,E259B_009,1_1", "E259", "1_1"], None, None]
    assert run('matches_regex(s, "([^,]+),[^,]*,([^,]+)")', s=["E259,E259B_009,1_1", "x"]) == [True, False]
    # full match, not search
    assert run('matches_regex(s, "b")', s=["abc", "b"]) == [False, True]
    # RE2 cannot do lookahead, and no backtracking engine takes over (it could stall the process):
    # each row is rejected with the pattern's error (a constant pattern fails the mapping's check)
    assert run('matches_regex(s, "a(?=b).*")', s=["abc", "acb"]) == [None, None]


def test_bad_regex_rejects_rows() -> None:
    values, failed = run_with_failures('extract_regex(s, "(")', s=["a", "b"])
    assert values == [None, None] and failed == [0, 1]


def test_numbers_coerced_to_strings() -> None:
    assert run("upper(n)", n=pa.array([1, 2], pa.int64())) == ["1", "2"]
    assert run("lower(b)", b=[True, False]) == ["true", "false"]


@pytest.mark.parametrize("expr", ['lower("")', 'trim("")', 'substr("", 0, 3)', 'concat("", "")'])
def test_empty_string_literals(expr: str) -> None:
    assert run(expr, rows=1) == [""]
