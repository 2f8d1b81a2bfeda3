"""Stripe: N charges read through the Stripe emulator (over HTTP, 100 per page) into the lake.

* xdmflow: the pipeline (``execute``: StripeConnector → auto mapping → validation → Parquet →
  one Iceberg commit) into a dataset of the charge fields;
* dlt: its REST API source (``dlt.sources.rest_api``) over the same emulator, with a paginator
  doing Stripe's ``starting_after = data[-1].id``, loaded as Parquet on the filesystem
  destination (no mapping, no validation: the cheaper job).

The emulator runs in its own process (bulk charges, no rate limit). Timed from the first request
to the committed result.

    python -m bench.systems.stripe_bench --workdir /tmp/xdmflow-bench --system xdmflow --rows 20000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import Measurement, Timer, emit

SYSTEMS = ("xdmflow", "dlt")
KEY = "sk_test_xdmflowEmulatorSecretKey0001"


def _serve(port: int, rows: int) -> None:
    import uvicorn

    from xdmflow.emulators.stripe import DataConfig, EmulatorConfig, create_app

    data = DataConfig(n_customers=1, n_charges=0, n_products=0, days=400, bulk_charges=rows)
    app = create_app(
        0, now=1_800_000_000, config=EmulatorConfig(data=data, rate_limit_rps=None, ticking=False)
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", date_header=False, access_log=False)


def start_emulator(rows: int) -> tuple[Any, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = multiprocessing.get_context("spawn").Process(target=_serve, args=(port, rows), daemon=True)
    proc.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/_emulator/state", timeout=5).raise_for_status()
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the Stripe emulator did not start")


def run_xdmflow(work: Path, url: str, rows: int, repeat: int) -> Measurement:
    from xdmflow.connectors.base import ReadRequest
    from xdmflow.connectors.stripe import StripeConnector
    from xdmflow.connectors.stripe.tables import CHARGES
    from xdmflow.lake.lake import Lake
    from xdmflow.pipeline.run import RunSpec, execute
    from xdmflow.schema.compiled import CompiledSchema, XdmField

    xdm = {"string": "string", "integer": "long", "boolean": "boolean"}
    fields = []
    for c in CHARGES.columns:
        kind = "date-time" if c.meta_xdm_type == "date-time" else xdm[c.type]
        fields.append(XdmField(name=c.name, path=c.name, xdm_type=kind))  # type: ignore[arg-type]
    schema = CompiledSchema(
        id="https://ns.adobe.com/tenant/schemas/stripe-bench",
        version="1.0",
        title="Stripe charges",
        class_id="https://ns.adobe.com/xdm/data/record",
        fields=tuple(sorted(fields, key=lambda f: f.name)),
    )
    m = Measurement("xdmflow", "stripe charges (HTTP)", rows)
    connector = StripeConnector()
    for i in range(repeat):
        root = work / "out" / "xdmflow-stripe"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        lake = Lake(f"sqlite:///{root / 'meta.db'}", str(root / "lake"))
        lake.create_table("bench__prod", "charges", schema)
        spec = RunSpec(
            run_id=f"r{i}",
            batch_id=f"b{i}",
            connector_spec_id=connector.spec.id,
            auth={"host": url, "accessToken": KEY},
            read=ReadRequest(object="charges", source_params={"tableName": "charges"}, batch_size=10_000),
            plan=None,
            target=schema,
            namespace="bench__prod",
            dataset_id="charges",
        )
        with Timer() as t:
            result = execute(spec, connector, lake)
        lake.close()
        m.rows_out = result.output_records
        m.rejected = result.failed_records
        m.seconds.append(t.seconds)
        m.wall_seconds.append(t.seconds)
        print(f"    xdmflow stripe run {i + 1}: {t.seconds:.2f} s, {m.rows_out:,} rows", flush=True)
    return m


def run_dlt(work: Path, url: str, rows: int, repeat: int) -> Measurement:
    import dlt
    from dlt.sources.helpers.rest_client.paginators import BasePaginator
    from dlt.sources.rest_api import rest_api_source

    class StartingAfter(BasePaginator):
        """Stripe's cursor: ``starting_after`` = the last object's id while ``has_more``."""

        def __init__(self) -> None:
            super().__init__()
            self.last: str | None = None

        def update_state(self, response: Any, data: list[Any] | None = None) -> None:
            body = response.json()
            items = body.get("data") or []
            self._has_next_page = bool(body.get("has_more")) and bool(items)
            self.last = items[-1]["id"] if items else None

        def update_request(self, request: Any) -> None:
            request.params = {**(request.params or {}), "starting_after": self.last}

    m = Measurement("dlt (REST API source)", "stripe charges (HTTP)", rows)
    for i in range(repeat):
        out = work / "out" / "dlt-stripe"
        pipes = work / "dlt-pipelines"
        for d in (out, pipes / f"stripe_{i}"):
            shutil.rmtree(d, ignore_errors=True)
        out.mkdir(parents=True)
        source = rest_api_source(
            {
                "client": {"base_url": f"{url}/v1/", "auth": {"type": "bearer", "token": KEY}},
                "resources": [
                    {
                        "name": "charges",
                        "endpoint": {
                            "path": "charges",
                            "params": {"limit": 100},
                            "data_selector": "data",
                            "paginator": StartingAfter(),
                        },
                    }
                ],
            }
        )
        pipe = dlt.pipeline(
            pipeline_name=f"stripe_{i}",
            pipelines_dir=str(pipes),
            destination=dlt.destinations.filesystem(bucket_url=out.as_uri()),
            dataset_name="bench",
        )
        with Timer() as t:
            info = pipe.run(source, loader_file_format="parquet")
        info.raise_on_failed_jobs()
        trace = pipe.last_trace
        normalize = trace.last_normalize_info if trace is not None else None
        m.rows_out = int(normalize.row_counts.get("charges", 0)) if normalize is not None else 0
        m.seconds.append(t.seconds)
        m.wall_seconds.append(t.seconds)
        print(f"    dlt stripe run {i + 1}: {t.seconds:.2f} s, {m.rows_out:,} rows", flush=True)
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--system", choices=SYSTEMS, required=True)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json-out")
    a = ap.parse_args()
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    proc, url = start_emulator(a.rows)
    try:
        total = httpx.get(f"{url}/_emulator/state").json()["counts"]["charges"]
        run = run_xdmflow if a.system == "xdmflow" else run_dlt
        m = run(a.workdir, url, total, a.repeat)
    finally:
        proc.kill()
        proc.join(timeout=10)
    emit(a.json_out, [m])


if __name__ == "__main__":
    main()
