"""Fill a metadata store with many flows (and runs): a sample through the HTTP API, the bulk
through the services layer — the same ``create_flow`` / ``enqueue_run`` the API handlers call,
with the same validation, documents and schedule rows — in sessions of a few hundred."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.systems.service import CLOUD, FS, LAKE, BenchService

__all__ = ["populate", "principal"]


def principal(svc: BenchService) -> Any:
    """The ``Principal`` of the service's default client in the ``prod`` sandbox."""
    from xdmflow.services import identity
    from xdmflow.services.identity import Principal
    from xdmflow.store.tables import Org

    creds = svc.ctx.credentials
    with svc.ctx.db.session() as s:
        org = s.get(Org, creds["org_id"])
        sb = identity.get_sandbox(s, org.id, "prod")
        return Principal(
            client_id=creds["client_id"],
            org_id=org.id,
            sandbox_name=sb.name,
            sandbox_id=sb.id,
            sandbox_type=sb.type,
            tenant_id=org.tenant_id,
        )


def populate(
    svc: BenchService,
    data_root: Path,
    flows: int,
    *,
    schedule: dict[str, Any],
    runs_per_flow: int = 0,
    api_sample: int = 20,
    chunk: int = 500,
    log: bool = True,
) -> list[str]:
    """Create ``flows`` enabled flows (``api_sample`` of them over HTTP); returns their ids."""
    from xdmflow.runs.queue import enqueue_run
    from xdmflow.services.document_stores import FLOWS
    from xdmflow.services.flows import create_flow
    from xdmflow.store.documents import Scope

    schema_id, _ = svc.target("populate")
    ds = svc.dataset(schema_id, "populate")
    src = svc.files_source(data_root, "full/tx.csv")
    tgt = svc.call(
        "POST",
        f"{FS}/targetConnections",
        json={
            "name": "populate target",
            "data": {"format": "parquet_xdm"},
            "params": {"dataSetId": ds},
            "connectionSpec": {"id": LAKE, "version": "1.0"},
        },
    )["id"]

    def body(i: int) -> dict[str, Any]:
        return {
            "name": f"flow {i:05d}",
            "flowSpec": {"id": CLOUD, "version": "1.0"},
            "sourceConnectionIds": [src],
            "targetConnectionIds": [tgt],
            "scheduleParams": schedule,
        }

    t0 = time.perf_counter()
    ids = [svc.call("POST", f"{FS}/flows", json=body(i))["id"] for i in range(min(api_sample, flows))]
    p = principal(svc)
    scope = Scope(p.org_id, p.sandbox_name)
    i = len(ids)
    while i < flows:
        with svc.ctx.db.session() as s:
            for j in range(i, min(i + chunk, flows)):
                ids.append(create_flow(s, p, body(j))["id"])
        i = min(i + chunk, flows)
    if runs_per_flow:
        audit = {"createdAt": 0, "updatedAt": 0, "createdBy": "bench", "updatedBy": "bench"}
        for start in range(0, len(ids), chunk):
            with svc.ctx.db.session() as s:
                for fid in ids[start : start + chunk]:
                    flow = FLOWS.get(s, scope, fid)
                    for k in range(runs_per_flow):
                        now = int(time.time() * 1000)
                        enqueue_run(
                            s,
                            flow,
                            params={"startTime": 1_700_000_000 + k},
                            audit={**audit, "createdAt": now, "updatedAt": now},
                            trigger="ondemand",
                        )
    if log:
        print(
            f"    populated {flows:,} flows ({runs_per_flow} run(s) each) "
            f"in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    return ids
