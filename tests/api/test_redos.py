"""No regular expression can stall the service: RE2 everywhere (issue 13, defect 5)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.catalog.cathelp import adhoc_schema, profile_schema
from tests.conftest import Api
from xdmflow import regexes

CONV = "/data/foundation/conversion"
SR = "/data/foundation/schemaregistry"


def _preview(api: Api, schema_id: str, expression: str, rows: list[dict[str, Any]]) -> Any:
    return api.post(
        f"{CONV}/mappingSets/preview",
        json={
            "outputSchema": {"schemaRef": {"id": schema_id}},
            "mappings": [
                {"sourceType": "EXPRESSION", "source": expression, "destination": "person.name.firstName"}
            ],
            "sampleData": rows,
        },
    )


def test_catastrophic_pattern_previews_in_linear_time(api: Api) -> None:
    schema_id = profile_schema(api)
    expr = 'join(",", extract_regex(s, "^(a+)+$"))'
    started = time.perf_counter()
    r = _preview(api, schema_id, expr, [{"s": "a" * 28 + "!"}, {"s": "a" * 5000 + "!"}, {"s": "aaa"}])
    elapsed = time.perf_counter() - started
    assert r.status_code == 200, r.text
    assert elapsed < 1.0, elapsed  # Python's re: 7.7 s for the first row alone, doubling per "a"
    out = r.json()
    assert out[0]["data"] == {} and out[1]["data"] == {}  # no match: null
    assert (
        out[2]["data"]["person"]["name"]["firstName"] == "aaa,aaa"
    )  # whole match, last iteration of the group


@pytest.mark.parametrize(
    "expr",
    ['iif(matches_regex(s, p), "y", "n")', 'join("-", explode(s, p))', 'join(",", extract_regex(s, p))'],
)
def test_patterns_from_the_data_are_linear_too(api: Api, expr: str) -> None:
    """A pattern from a column is evaluated row by row: by RE2, never by a backtracking engine."""
    schema_id = profile_schema(api)
    started = time.perf_counter()
    r = _preview(api, schema_id, expr, [{"s": "x" * 26, "p": "(x+x+)+y"}, {"s": "ab", "p": "b"}])
    assert r.status_code == 200, r.text
    assert time.perf_counter() - started < 2.0  # Python's re: seconds, doubling per "x"


def test_pattern_re2_cannot_run_is_a_mapping_error(api: Api) -> None:
    schema_id = profile_schema(api)
    r = _preview(api, schema_id, 'join(",", extract_regex(s, "(a)\\\\1"))', [{"s": "aa"}])
    assert r.status_code == 400, r.text
    assert "not supported" in r.text and "RE2" in r.text


def test_xdm_pattern_re2_cannot_run_is_refused(api: Api) -> None:
    with pytest.raises(AssertionError) as info:
        adhoc_schema(api, {"code": {"type": "string", "pattern": "^(?=x)x$"}})
    assert "RE2" in str(info.value) and "code" in str(info.value)


def test_regexes_refuses_backtracking_constructs() -> None:
    for bad in ("(a)\\1", "(?=a)", "(?<!a)b", "a++"):
        with pytest.raises(regexes.RegexError, match="RE2"):
            regexes.compile(bad)
    with pytest.raises(regexes.RegexError):
        regexes.compile(5)  # type: ignore[arg-type]
    assert regexes.compile("^(a+)+$").search("a" * 10_000 + "!") is None


def test_list_filters_use_re2(api: Api) -> None:
    """``property=title~regex`` (Schema Registry) and ``property=name~regex`` (Catalog) are linear."""
    title = "a" * 24 + "!"  # Python's re: seconds for ^(a+)+$, doubling per "a"
    profile_schema(api, title=title)
    accept = {"Accept": "application/vnd.adobe.xed-id+json"}
    started = time.perf_counter()
    r = api.get(f"{SR}/tenant/schemas?property=title~^(a%2B)%2B$", headers=accept)
    assert r.status_code == 200, r.text
    assert r.json()["results"] == []
    r = api.get(f"{SR}/tenant/schemas?property=title~^(a%2B)%2B!$", headers=accept)
    assert [x["title"] for x in r.json()["results"]] == [title]
    assert time.perf_counter() - started < 2.0
    r = api.get(f"{SR}/tenant/schemas?property=title~(a)%5C1", headers=accept)
    assert r.status_code == 400 and "RE2" in r.json()["detail"], r.text
    r = api.get("/data/foundation/catalog/dataSets?property=name~(a)%5C1")
    assert r.status_code == 400 and "RE2" in r.json()["detail"], r.text
