"""String and regex functions (platform-api.md §4.3 "String", "Regex")."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from xdmflow import regexes
from xdmflow.mapping.functions._base import (
    EvalContext,
    Value,
    any_array,
    as_int,
    as_str,
    const,
    null_of,
    register,
    rowwise,
)

S = "String"


@register(
    "concat",
    S,
    [("strings", "string")],
    "string",
    min_args=1,
    max_args=None,
    description="Concatenates the given strings; null arguments are skipped (all null gives null).",
    example='concat("Hi", " ", "there")',
    result='"Hi there"',
)
def concat(ctx: EvalContext, args: list[Value]) -> Value:
    strs = [as_str(ctx, a) for a in args]
    if len(strs) == 1:
        return strs[0]
    joined = pc.binary_join_element_wise(*strs, "", null_handling="replace", null_replacement="")
    if any(s.is_valid if isinstance(s, pa.Scalar) else s.null_count == 0 for s in strs):
        return joined  # one argument is never null: no row is all null (and no copy of ``joined``)
    all_null = None
    for s in strs:
        m = pc.is_null(s)
        all_null = m if all_null is None else pc.and_(all_null, m)
    return pc.if_else(all_null, null_of(), joined)


@register(
    "explode",
    S,
    [("string", "string"), ("regex", "string")],
    "array",
    min_args=1,
    description="Splits a string by a regex (default ',') into an array.",
    example='explode("Hi, there!", " ")',
    result='["Hi,", "there!"]',
)
def explode(ctx: EvalContext, args: list[Value]) -> Value:
    s = as_str(ctx, args[0])
    pattern = const(args[1]) if len(args) > 1 else ","
    if pattern is None:
        return rowwise(
            ctx,
            lambda v, p: None if v is None else regexes.compile(p or ",").split(v),
            [s, args[1]],
            pa.list_(pa.string()),
        )
    try:
        return pc.split_pattern_regex(s, pattern=pattern)
    except pa.ArrowInvalid:
        rx = regexes.compile(pattern)
        return rowwise(ctx, lambda v: None if v is None else rx.split(v), [s], pa.list_(pa.string()))


def _instr_py(s: str | None, sub: str | None, start: int = 0, occurrence: int = 1) -> int | None:
    if s is None or sub is None:
        return None
    pos = max(int(start), 0)
    found = -1
    for _ in range(max(int(occurrence), 1)):
        found = s.find(sub, pos)
        if found < 0:
            return -1
        pos = found + 1
    return found


@register(
    "instr",
    S,
    [("input", "string"), ("substring", "string"), ("start", "number"), ("occurrence", "number")],
    "number",
    min_args=2,
    description='Position of a substring as the documented example shows it (instr("adobe.com", "com") = 6, '
    "i.e. a 0-based index like Java's indexOf); -1 when absent. START is a 0-based offset, OCCURRENCE "
    "picks the n-th match.",
    example='instr("adobe.com", "com")',
    result="6",
)
def instr(ctx: EvalContext, args: list[Value]) -> Value:
    s = as_str(ctx, args[0])
    sub = as_str(ctx, args[1])
    if len(args) == 2 and isinstance(sub, pa.Scalar) and sub.is_valid and not isinstance(s, pa.Scalar):
        # find_substring counts bytes: exact for ASCII data, else count characters per value
        if pc.all(pc.string_is_ascii(s)).as_py() in (True, None):
            return pc.cast(pc.find_substring(s, pattern=sub.as_py()), pa.int64())
    rest = [as_int(ctx, a) for a in args[2:]]
    return rowwise(ctx, _instr_py, [s, sub, *rest], pa.int64())


@register(
    "replacestr",
    S,
    [("input", "string"), ("find", "string"), ("replace", "string")],
    "string",
    description="Replaces every occurrence of FIND (literal) by REPLACE.",
    example='replacestr("This is a string re test", "re", "replace")',
    result='"This is a string replace test"',
)
def replacestr(ctx: EvalContext, args: list[Value]) -> Value:
    s, find, rep = (as_str(ctx, a) for a in args)
    f, r = const(find), const(rep)
    if isinstance(find, pa.Scalar) and isinstance(rep, pa.Scalar) and f is not None and r is not None and f:
        return pc.replace_substring(s, pattern=f, replacement=r)
    return rowwise(
        ctx,
        lambda v, a, b: None if v is None or a is None else v.replace(a, b or ""),
        [s, find, rep],
        pa.string(),
    )


def _slice(ctx: EvalContext, s: Value, start: Value, stop: Value | None) -> Value:
    a, b = const(start), (const(stop) if stop is not None else None)
    if isinstance(start, pa.Scalar) and (stop is None or isinstance(stop, pa.Scalar)):
        if a is None or (stop is not None and b is None):
            return null_of()
        if stop is None:
            return pc.utf8_slice_codeunits(s, start=int(a))
        return pc.utf8_slice_codeunits(s, start=int(a), stop=int(b or 0))
    args = [s, start] + ([stop] if stop is not None else [])

    def py(v: str | None, x: int | None, y: int | None = None) -> str | None:
        if v is None or x is None:
            return None
        return v[x:y] if y is not None else v[x:]

    return rowwise(ctx, py, args, pa.string())


@register(
    "substr",
    S,
    [("input", "string"), ("start_index", "number"), ("length", "number")],
    "string",
    min_args=2,
    description="Substring from a 0-based index, LENGTH characters long.",
    example='substr("This is a substring test", 7, 8)',
    result='" a subst"',
)
def substr(ctx: EvalContext, args: list[Value]) -> Value:
    s = as_str(ctx, args[0])
    start = as_int(ctx, args[1])
    if len(args) == 2:
        return _slice(ctx, s, start, None)
    length = as_int(ctx, args[2])
    if isinstance(start, pa.Scalar) and isinstance(length, pa.Scalar):
        if not start.is_valid or not length.is_valid:
            return null_of()
        st = max(int(start.as_py()), 0)
        return pc.utf8_slice_codeunits(s, start=st, stop=st + max(int(length.as_py()), 0))
    stop = pc.add(start, length)
    return _slice(ctx, s, start, stop)


@register(
    "lower",
    S,
    [("input", "string")],
    "string",
    aliases=["lcase"],
    description="Lower-cases a string.",
    example='lower("HeLLo")',
    result='"hello"',
)
def lower(ctx: EvalContext, args: list[Value]) -> Value:
    return pc.utf8_lower(as_str(ctx, args[0]))


@register(
    "upper",
    S,
    [("input", "string")],
    "string",
    aliases=["ucase"],
    description="Upper-cases a string.",
    example='upper("HeLLo")',
    result='"HELLO"',
)
def upper(ctx: EvalContext, args: list[Value]) -> Value:
    return pc.utf8_upper(as_str(ctx, args[0]))


@register(
    "split",
    S,
    [("input", "string"), ("separator", "string")],
    "array",
    description="Splits a string on a literal separator.",
    example='split("Hello world", " ")',
    result='["Hello", "world"]',
)
def split(ctx: EvalContext, args: list[Value]) -> Value:
    s, sep = as_str(ctx, args[0]), as_str(ctx, args[1])
    if isinstance(sep, pa.Scalar) and sep.is_valid and sep.as_py():
        return pc.split_pattern(s, pattern=sep.as_py())
    return rowwise(
        ctx,
        lambda v, p: None if v is None or p is None else (v.split(p) if p else list(v)),
        [s, sep],
        pa.list_(pa.string()),
    )


@register(
    "join",
    S,
    [("separator", "string"), ("objects", "any")],
    "string",
    min_args=2,
    max_args=None,
    description="Joins an array (or the remaining arguments) with a separator; nulls are skipped.",
    example='join(" ", ["Hello", "world"])',
    result='"Hello world"',
)
def join(ctx: EvalContext, args: list[Value]) -> Value:
    sep = as_str(ctx, args[0])
    if len(args) == 2 and pa.types.is_list(args[1].type) and isinstance(sep, pa.Scalar):
        lst = args[1]
        if not pa.types.is_string(lst.type.value_type):
            lst = lst.cast(pa.list_(pa.string()))
        return pc.binary_join(lst, sep.as_py())
    parts = [as_str(ctx, a) for a in args[1:]]
    if isinstance(sep, pa.Scalar) and sep.is_valid:
        return pc.binary_join_element_wise(*parts, sep.as_py(), null_handling="skip")
    return rowwise(
        ctx,
        lambda s, *v: None if s is None else s.join(x for x in v if x is not None),
        [sep, *parts],
        pa.string(),
    )


def _pad_py(left: bool) -> Any:
    def pad(v: str | None, n: int | None, p: str | None) -> str | None:
        if v is None or n is None:
            return None
        if len(v) >= n:
            return v
        p = p if p else " "
        need = n - len(v)
        fill = (p * (need // len(p) + 1))[:need]
        return fill + v if left else v + fill

    return pad


def _pad(ctx: EvalContext, args: list[Value], left: bool) -> Value:
    s, n, p = as_str(ctx, args[0]), as_int(ctx, args[1]), as_str(ctx, args[2])
    pv, nv = const(p), const(n)
    if (
        isinstance(p, pa.Scalar)
        and isinstance(n, pa.Scalar)
        and pv is not None
        and len(pv) == 1
        and nv is not None
    ):
        fn = pc.utf8_lpad if left else pc.utf8_rpad
        return fn(s, width=int(nv), padding=pv)
    return rowwise(ctx, _pad_py(left), [s, n, p], pa.string())


@register(
    "lpad",
    S,
    [("input", "string"), ("count", "number"), ("padding", "string")],
    "string",
    description="Left-pads to COUNT characters with PADDING repeated.",
    example='lpad("bat", 8, "yz")',
    result='"yzyzybat"',
)
def lpad(ctx: EvalContext, args: list[Value]) -> Value:
    return _pad(ctx, args, True)


@register(
    "rpad",
    S,
    [("input", "string"), ("count", "number"), ("padding", "string")],
    "string",
    description="Right-pads to COUNT characters with PADDING repeated.",
    example='rpad("bat", 8, "yz")',
    result='"batyzyzy"',
)
def rpad(ctx: EvalContext, args: list[Value]) -> Value:
    return _pad(ctx, args, False)


@register(
    "left",
    S,
    [("string", "string"), ("count", "number")],
    "string",
    description="The first COUNT characters.",
    example='left("abcde", 2)',
    result='"ab"',
)
def left(ctx: EvalContext, args: list[Value]) -> Value:
    s, n = as_str(ctx, args[0]), as_int(ctx, args[1])
    if isinstance(n, pa.Scalar):
        if not n.is_valid:
            return null_of()
        return pc.utf8_slice_codeunits(s, start=0, stop=max(int(n.as_py()), 0))
    return rowwise(ctx, lambda v, k: None if v is None or k is None else v[: max(k, 0)], [s, n], pa.string())


@register(
    "right",
    S,
    [("string", "string"), ("count", "number")],
    "string",
    description="The last COUNT characters.",
    example='right("abcde", 2)',
    result='"de"',
)
def right(ctx: EvalContext, args: list[Value]) -> Value:
    s, n = as_str(ctx, args[0]), as_int(ctx, args[1])
    if isinstance(n, pa.Scalar):
        if not n.is_valid:
            return null_of()
        k = int(n.as_py())
        if k <= 0:
            return pc.utf8_slice_codeunits(s, start=0, stop=0)
        return pc.utf8_slice_codeunits(s, start=-k)
    return rowwise(
        ctx, lambda v, k: None if v is None or k is None else (v[-k:] if k > 0 else ""), [s, n], pa.string()
    )


@register(
    "ltrim",
    S,
    [("string", "string")],
    "string",
    description="Removes leading whitespace.",
    example='ltrim("  hi")',
    result='"hi"',
)
def ltrim(ctx: EvalContext, args: list[Value]) -> Value:
    return pc.utf8_ltrim_whitespace(as_str(ctx, args[0]))


@register(
    "rtrim",
    S,
    [("string", "string")],
    "string",
    description="Removes trailing whitespace.",
    example='rtrim("hi  ")',
    result='"hi"',
)
def rtrim(ctx: EvalContext, args: list[Value]) -> Value:
    return pc.utf8_rtrim_whitespace(as_str(ctx, args[0]))


@register(
    "trim",
    S,
    [("string", "string")],
    "string",
    description="Removes surrounding whitespace.",
    example='trim("  hi  ")',
    result='"hi"',
)
def trim(ctx: EvalContext, args: list[Value]) -> Value:
    return pc.utf8_trim_whitespace(as_str(ctx, args[0]))


@register(
    "equals",
    S,
    [("string1", "string"), ("string2", "string")],
    "boolean",
    description="Whether two strings are equal (also written S1.equals(S2)).",
    example='"abc".equals("abc")',
    result="true",
)
def equals(ctx: EvalContext, args: list[Value]) -> Value:
    a, b = as_str(ctx, args[0]), as_str(ctx, args[1])
    return pc.fill_null(pc.equal(a, b), pc.and_(pc.is_null(a), pc.is_null(b)))


@register(
    "equalsIgnoreCase",
    S,
    [("string1", "string"), ("string2", "string")],
    "boolean",
    description="Case-insensitive string equality (also S1.equalsIgnoreCase(S2)).",
    example='"ABC".equalsIgnoreCase("abc")',
    result="true",
)
def equals_ignore_case(ctx: EvalContext, args: list[Value]) -> Value:
    a, b = pc.utf8_lower(as_str(ctx, args[0])), pc.utf8_lower(as_str(ctx, args[1]))
    return pc.fill_null(pc.equal(a, b), pc.and_(pc.is_null(a), pc.is_null(b)))


@register(
    "length",
    S,
    [("string", "string")],
    "number",
    description="Number of characters.",
    example='length("abc")',
    result="3",
)
def length(ctx: EvalContext, args: list[Value]) -> Value:
    return pc.cast(pc.utf8_length(as_str(ctx, args[0])), pa.int64())


# -- regex ---------------------------------------------------------------------------------


@register(
    "extract_regex",
    "Regular expression",
    [("string", "string"), ("regex", "string")],
    "array",
    description="The whole match followed by each capture group, or null when no match.",
    example='extract_regex("E259,E259B_009,1_1", "([^,]+),[^,]*,([^,]+)")',
    result='["E259,E259B_009,1_1", "E259", "1_1"]',
)
def extract_regex(ctx: EvalContext, args: list[Value]) -> Value:
    s, rx = as_str(ctx, args[0]), as_str(ctx, args[1])

    def py(v: str | None, p: str | None) -> list[str | None] | None:
        if v is None or p is None:
            return None
        m = regexes.compile(p).search(v)  # compiled once per pattern (cached)
        if m is None:
            return None
        return [m.group(0), *m.groups()]

    return rowwise(ctx, py, [s, rx], pa.list_(pa.string()), reason="invalid regular expression")


@register(
    "matches_regex",
    "Regular expression",
    [("string", "string"), ("regex", "string")],
    "boolean",
    description="Whether the whole string matches the regex.",
    example='matches_regex("E259,E259B_009,1_1", "([^,]+),[^,]*,([^,]+)")',
    result="true",
)
def matches_regex(ctx: EvalContext, args: list[Value]) -> Value:
    s, rx = as_str(ctx, args[0]), as_str(ctx, args[1])
    p = const(rx)
    if isinstance(rx, pa.Scalar) and p is not None and not any_array([rx]):
        try:
            return pc.match_substring_regex(s, pattern=f"^(?:{p})$")
        except pa.ArrowInvalid:
            pass  # not valid for Arrow's RE2 options: each row reports the pattern's error
    return rowwise(
        ctx,
        lambda v, q: None if v is None or q is None else regexes.compile(q).fullmatch(v) is not None,
        [s, rx],
        pa.bool_(),
        reason="invalid regular expression",
    )
