"""The API anchor: a minimal FastAPI app answering the same two paths with the same JSON bodies
(captured from xdmflow), no auth, no store. Served by uvicorn in its own process:

    BENCH_BODIES=/path/bodies.json uvicorn bench.systems.minimal_app:app --port 8081
"""

from __future__ import annotations

import json
import os
from typing import Any

from fastapi import FastAPI

_bodies: dict[str, Any] = json.loads(open(os.environ["BENCH_BODIES"], encoding="utf-8").read())

app = FastAPI()


@app.get("/data/foundation/flowservice/flows/{flow_id}")
def get_flow(flow_id: str) -> Any:
    return _bodies["flow"]


@app.get("/data/foundation/flowservice/runs")
def list_runs(property: str = "") -> Any:
    return _bodies["runs"]
