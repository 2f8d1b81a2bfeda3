"""CPU-heavy request work runs off the event loop, time-limited (issue 13: no input stalls the service)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.catalog.cathelp import profile_schema
from tests.conftest import Api, make_settings
from xdmflow.api.app import create_app
from xdmflow.runtime import build_context

PREVIEW = "/data/foundation/conversion/mappingSets/preview"


def _heavy_preview(schema_id: str, rows: int) -> dict[str, Any]:
    return {
        "outputSchema": {"schemaRef": {"id": schema_id}},
        "mappings": [
            {
                "sourceType": "EXPRESSION",
                "source": 'join(",", extract_regex(s, p))',  # row by row: a pattern per row
                "destination": "person.name.firstName",
            },
            {"sourceType": "EXPRESSION", "source": "upper(s)", "destination": "person.name.lastName"},
        ],
        "sampleData": [{"s": f"ab{i}cd", "p": f"b{i % 97}"} for i in range(rows)],
    }


def test_health_answers_while_a_preview_runs(api: Api) -> None:
    body = _heavy_preview(profile_schema(api), 8000)
    result: dict[str, Any] = {}

    def preview() -> None:
        result["response"] = api.post(PREVIEW, json=body)

    worker = threading.Thread(target=preview)
    worker.start()
    time.sleep(0.3)  # the preview is being read / computed
    answered_during_preview = []
    for _ in range(3):
        r = api.client.get("/health")
        assert r.status_code == 200
        answered_during_preview.append(worker.is_alive())
    worker.join(timeout=120)
    assert result["response"].status_code == 200, result["response"].text
    assert len(result["response"].json()) == 8000
    assert all(answered_during_preview), "/health waited for the preview"


def test_a_preview_past_its_time_limit_is_a_504(tmp_path: Path) -> None:
    with TestClient(
        create_app(make_settings(tmp_path / "home", preview_timeout_seconds=0.05), context=build_context)
    ) as client:
        api = Api(client)
        body = _heavy_preview(profile_schema(api), 8000)
        r = api.post(PREVIEW, json=body)
        assert r.status_code == 504, r.text
        assert "XDMFLOW_PREVIEW_TIMEOUT_SECONDS" in r.json()["detail"]
        assert r.headers["content-type"].startswith("application/problem+json")
        # the service still answers meanwhile
        assert client.get("/health").status_code == 200
