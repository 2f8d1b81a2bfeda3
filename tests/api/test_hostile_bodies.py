"""Hostile bodies: deep nesting, oversize, and the type confusions that were 500s (issue 13, defect 9)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.catalog.cathelp import profile_schema
from tests.conftest import Api, make_settings
from xdmflow.api.app import create_app
from xdmflow.api.deps import json_depth
from xdmflow.runtime import build_context

FLOW = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CAT = "/data/foundation/catalog"
CONV = "/data/foundation/conversion"


def _deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


@pytest.mark.parametrize(
    "path",
    [f"{FLOW}/connections", f"{CONV}/mappingSets/preview", f"{CAT}/dataSets", f"{SR}/tenant/schemas"],
)
def test_deeply_nested_json_is_a_400(api: Api, path: str) -> None:
    raw = _deep(990)
    assert len(raw) < 8000
    r = api.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert "nested" in r.text and "XDMFLOW_MAX_JSON_DEPTH" in r.text


def test_deep_array_in_a_patch_is_a_400(api: Api) -> None:
    raw = "[" * 5000 + "]" * 5000
    r = api.patch(
        f"{FLOW}/flows/x", content=raw, headers={"Content-Type": "application/json", "If-Match": '"1"'}
    )
    assert r.status_code == 400 and r.json()["type"].startswith("https://ns.adobe.com/aep/errors/FLOW-"), (
        r.text
    )


def test_nesting_within_the_limit_passes_the_check(api: Api) -> None:
    r = api.post(f"{FLOW}/connections", content=_deep(60), headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "nested" not in r.text  # the service's own complaint, not the depth's


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth(b'{"a": "[[[[{{{{", "b": ["\\"[["]}') == 2
    assert json_depth(b"[]") == 1 and json_depth(b'"x"') == 0
    assert json_depth(b"[" * 100_000) == 100_000


def test_max_depth_is_a_setting(tmp_path: Path) -> None:
    with TestClient(
        create_app(make_settings(tmp_path / "home", max_json_depth=5), context=build_context)
    ) as client:
        api = Api(client)
        r = api.post(f"{FLOW}/connections", content=_deep(6), headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "5 levels" in r.text


def test_oversize_body_is_a_413(tmp_path: Path) -> None:
    with TestClient(
        create_app(make_settings(tmp_path / "home", max_body_bytes=2000), context=build_context)
    ) as client:
        api = Api(client)
        big = {"name": "x" * 3000}
        r = api.post(f"{FLOW}/connections", json=big)
        assert r.status_code == 413, r.text
        # no content-length (chunked): the streamed size is checked too
        r = api.post(
            f"{FLOW}/connections",
            content=iter([b'{"name": "', b"x" * 3000, b'"}']),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 413, r.text


def _mapping_body(schema_id: str, output_schema: object) -> dict[str, object]:
    return {
        "outputSchema": output_schema,
        "xdmSchema": schema_id,
        "mappings": [{"sourceType": "ATTRIBUTE", "source": "a", "destination": "person.name.firstName"}],
    }


@pytest.mark.parametrize("op", ["mappingSets", "mappingSets/preview", "mappingSets/validate"])
def test_output_schema_as_a_list_is_a_400(api: Api, op: str) -> None:
    schema_id = profile_schema(api)
    body = _mapping_body(schema_id, [{"schemaRef": {"id": schema_id}}])
    if op.endswith("preview"):
        body["sampleData"] = [{"a": "x"}]
    r = api.post(f"{CONV}/{op}", json=body)
    assert r.status_code == 400, r.text
    assert "outputSchema" in r.json()["detail"]


@pytest.mark.parametrize(
    "schema_ref", [None, [], "x", {"id": None}, {"id": 5}, {"id": ["a"]}, {"contentType": "x"}]
)
def test_dataset_with_a_bad_schema_ref_is_a_400(api: Api, schema_ref: object) -> None:
    r = api.post(f"{CAT}/dataSets", json={"name": "d", "schemaRef": schema_ref})
    assert r.status_code == 400, r.text
    assert "schemaRef" in r.json()["detail"]


@pytest.mark.parametrize("expression", ["0²", "3²", "9" * 5000])
def test_odd_number_literals_are_a_400(api: Api, expression: str) -> None:
    """Found by the fuzzer: digits ``str.isdigit`` accepts but ``int()`` refuses were a 500."""
    r = api.post(f"{CONV}/languages/el/validate", json={"expression": expression})
    assert r.status_code == 400, r.text
    assert r.json()["valid"] is False
