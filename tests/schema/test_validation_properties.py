"""Property-based tests of the validation rules (hypothesis), against plain-Python oracles."""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema, XdmField
from xdmflow.schema.validation import validate

SETTINGS = settings(max_examples=60, deadline=None)


def schema_of(*fields: XdmField) -> CompiledSchema:
    return CompiledSchema(id="urn:test", version="1.0", title="t", class_id="urn:c", fields=fields)


def failing(schema: CompiledSchema, rows: list[dict[str, Any]]) -> set[tuple[int, str]]:
    result = validate(schema, pa.Table.from_pylist(rows, schema=to_arrow_schema(schema)))
    bad = {e.row for e in result.errors}
    assert [not v for v in result.valid.to_pylist()] == [i in bad for i in range(len(rows))]
    return {(e.row, e.path) for e in result.errors}


# --- required only when the parent is present -------------------------------------------
CHILD = XdmField(name="c", path="o.c", xdm_type="string", required=True)
OBJ = XdmField(
    name="o", path="o", xdm_type="object", children=(CHILD, XdmField(name="d", path="o.d", xdm_type="int"))
)
ITEM = XdmField(
    name="l",
    path="l",
    xdm_type="object",
    children=(XdmField(name="k", path="l.k", xdm_type="string", required=True),),
)
LIST = XdmField(name="l", path="l", xdm_type="array", items=ITEM)
child_value = st.one_of(st.none(), st.just(""), st.text(min_size=1, max_size=5))
obj_value = st.one_of(
    st.none(), st.fixed_dictionaries({"c": child_value, "d": st.none() | st.integers(0, 9)})
)
list_value = st.one_of(st.none(), st.lists(st.none() | st.fixed_dictionaries({"k": child_value}), max_size=4))


@SETTINGS
@given(st.lists(st.fixed_dictionaries({"o": obj_value, "l": list_value}), min_size=1, max_size=12))
def test_required_only_when_parent_present(rows: list[dict[str, Any]]) -> None:
    expected = set()
    for i, row in enumerate(rows):
        if row["o"] is not None and not row["o"]["c"]:
            expected.add((i, "o.c"))
        if any(el is not None and not el["k"] for el in row["l"] or ()):
            expected.add((i, "l.k"))
    assert failing(schema_of(OBJ, LIST), rows) == expected


# --- hard enum vs meta:enum ---------------------------------------------------------------
HARD = XdmField(name="h", path="h", xdm_type="string", enum=("a", "b"))
SOFT = XdmField(name="s", path="s", xdm_type="string", meta_enum=("a", "b"))
enum_value = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "", "A"]), st.text(max_size=3))


@SETTINGS
@given(st.lists(st.fixed_dictionaries({"h": enum_value, "s": enum_value}), min_size=1, max_size=12))
def test_hard_enum_restricts_meta_enum_does_not(rows: list[dict[str, Any]]) -> None:
    expected = {(i, "h") for i, r in enumerate(rows) if r["h"] is not None and r["h"] not in ("a", "b")}
    assert failing(schema_of(HARD, SOFT), rows) == expected


# --- integer ranges -------------------------------------------------------------------------
YEAR = XdmField(name="y", path="y", xdm_type="short", minimum=1, maximum=32767)
LONG = XdmField(name="g", path="g", xdm_type="long")
BYTE = XdmField(name="b", path="b", xdm_type="int", minimum=-5, maximum=5)
LIMIT = 2**53 - 1


@SETTINGS
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "y": st.none() | st.integers(-(2**15), 2**15 - 1),
                "g": st.none()
                | st.integers(-(2**63), 2**63 - 1)
                | st.sampled_from([LIMIT, LIMIT + 1, -LIMIT, -LIMIT - 1]),
                "b": st.none() | st.integers(-10, 10),
            }
        ),
        min_size=1,
        max_size=12,
    )
)
def test_integer_ranges(rows: list[dict[str, Any]]) -> None:
    expected = set()
    for i, r in enumerate(rows):
        if r["y"] is not None and not 1 <= r["y"] <= 32767:
            expected.add((i, "y"))
        if r["g"] is not None and abs(r["g"]) > LIMIT:
            expected.add((i, "g"))
        if r["b"] is not None and abs(r["b"]) > 5:
            expected.add((i, "b"))
    assert failing(schema_of(YEAR, LONG, BYTE), rows) == expected


# --- pattern is a search --------------------------------------------------------------------
PATTERNS = ["[0-1][0-9]-[0-9][0-9]", "^[A-Z]{3}$", "([A-Z]{2}-[A-Z0-9]{1,3}|)", "b+c", "^[0-9]{1,3}?$"]


@SETTINGS
@given(
    st.sampled_from(PATTERNS),
    st.lists(st.none() | st.text("AB019-xbc ", max_size=8), min_size=1, max_size=12),
)
def test_pattern_search_semantics(pattern: str, values: list[str | None]) -> None:
    field = XdmField(name="p", path="p", xdm_type="string", pattern=pattern)
    expected = {(i, "p") for i, v in enumerate(values) if v is not None and re.search(pattern, v) is None}
    assert failing(schema_of(field), [{"p": v} for v in values]) == expected


# --- email format ---------------------------------------------------------------------------
EMAIL = XdmField(name="e", path="e", xdm_type="string", format="email")


@SETTINGS
@given(st.lists(st.emails(), min_size=1, max_size=8))
def test_generated_emails_are_accepted(values: list[str]) -> None:
    assert failing(schema_of(EMAIL), [{"e": v} for v in values]) == set()


@SETTINGS
@given(
    st.lists(
        st.text(max_size=12).filter(lambda v: "@" not in v) | st.from_regex(r"\A\w+ \w*@\w+\.com\Z"),
        min_size=1,
        max_size=8,
    )
)
def test_strings_without_at_or_with_spaces_are_rejected(values: list[str]) -> None:
    assert failing(schema_of(EMAIL), [{"e": v} for v in values]) == {(i, "e") for i in range(len(values))}
