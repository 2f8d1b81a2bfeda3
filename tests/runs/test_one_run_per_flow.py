"""One run of a flow at a time: queued behind, enforced by the store, never two commits at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from tests.conftest import Api, make_settings
from tests.flowservice.conftest import (
    CAT,
    CLOUD,
    FS,
    adhoc_schema,
    dataset,
    files_source,
    ok,
    target_connection,
)
from xdmflow.lake.lake import namespace_for
from xdmflow.runs.claim import claim_next, finish
from xdmflow.runtime import build_app
from xdmflow.store.db import Database
from xdmflow.store.tables import RunQueue

ROWS = 300_000


def queue(db: Database, flows: list[str]) -> list[str]:
    ids = [f"run-{i:04d}" for i in range(len(flows))]
    with db.session() as s:
        for i, (run_id, flow) in enumerate(zip(ids, flows, strict=True)):
            s.add(
                RunQueue(run_id=run_id, flow_id=flow, status="queued", attempts=0, not_before=0, created_at=i)
            )
    return ids


def test_a_flows_later_runs_wait_behind_its_held_run(db: Database) -> None:
    r0, r1, r2 = queue(db, ["f", "f", "g"])
    first = claim_next(db, "w1")
    assert first is not None and first.run_id == r0
    other = claim_next(db, "w2")  # r1 waits behind r0 (same flow); g's run is free
    assert other is not None and other.run_id == r2
    assert claim_next(db, "w3") is None
    assert finish(db, r0, "w1")
    nxt = claim_next(db, "w3")
    assert nxt is not None and nxt.run_id == r1


def test_the_store_refuses_two_held_runs_of_one_flow(db: Database) -> None:
    """Not only the claim query: the table itself holds at most one running run per flow."""
    r0, r1 = queue(db, ["f", "f"])
    with db.session() as s:
        s.execute(update(RunQueue).where(RunQueue.run_id == r0).values(status="running", claimed_by="a"))
    with pytest.raises(IntegrityError), db.session() as s:
        s.execute(update(RunQueue).where(RunQueue.run_id == r1).values(status="recovering", claimed_by="b"))
    with db.session() as s:
        assert s.get(RunQueue, r1).status == "queued"  # type: ignore[union-attr]


def test_racing_claimers_never_hold_two_runs_of_one_flow(db: Database) -> None:
    flows = [f"f{i % 3}" for i in range(30)]
    ids = queue(db, flows)
    by_run = dict(zip(ids, flows, strict=True))
    held: dict[str, str] = {}
    overlaps: list[str] = []
    done: list[str] = []
    lock = threading.Lock()
    dbs = [Database(db.url) for _ in range(6)]

    def claimer(d: Database, who: str) -> None:
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < 1.0:
            claim = claim_next(d, who)
            if claim is None:
                time.sleep(0.005)
                continue
            idle_since = time.monotonic()
            flow = by_run[claim.run_id]
            with lock:
                if flow in held:
                    overlaps.append(f"{claim.run_id} while {held[flow]}")
                held[flow] = claim.run_id
            time.sleep(0.01)
            with lock:
                del held[flow]
                done.append(claim.run_id)
            assert finish(d, claim.run_id, who)

    threads = [threading.Thread(target=claimer, args=(d, f"w{i}")) for i, d in enumerate(dbs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for d in dbs:
        d.dispose()
    assert overlaps == []
    assert sorted(done) == ids
    # runs of one flow were executed in their queue order
    for flow in set(flows):
        mine = [r for r in done if by_run[r] == flow]
        assert mine == sorted(mine)


@pytest.fixture
def service2(tmp_path: Path, db_url: str) -> Iterator[Api]:
    """The whole service with two worker threads, on SQLite and PostgreSQL."""
    settings = make_settings(tmp_path / "home", db_url, scheduler_interval_seconds=0.2, workers=2)
    with TestClient(build_app(settings, role="all")) as client:
        yield Api(client)


def test_on_demand_runs_queue_behind_a_scheduled_run_and_nothing_is_duplicated(
    service2: Api, tmp_path: Path
) -> None:
    api = service2
    data = tmp_path / "data"
    data.mkdir()
    ids = pa.array([f"id-{i:08d}" for i in range(ROWS)])
    pcsv.write_csv(pa.table({"id": ids, "n": pa.array(range(ROWS), pa.int64())}), data / "big.csv")
    schema = adhoc_schema(api, {"id": {"type": "string"}, "n": {"type": "integer"}})
    ds = dataset(api, schema["$id"])
    src = files_source(api, tmp_path, "data/big.csv")
    tgt = target_connection(api, ds)
    flow = ok(
        api.post(
            f"{FS}/flows",
            json={
                "name": "big",
                "flowSpec": {"id": CLOUD, "version": "1.0"},
                "sourceConnectionIds": [src],
                "targetConnectionIds": [tgt],
                "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
            },
        )
    )["id"]
    deadline = time.monotonic() + 60
    runs: list[dict[str, object]] = []
    while time.monotonic() < deadline:  # the scheduled run is in progress
        runs = ok(api.get(f"{FS}/runs?property=flowId=={flow}"))["items"]
        if runs and runs[0]["state"] == "inProgress":
            break
        time.sleep(0.02)
    assert runs and runs[0]["state"] == "inProgress", runs
    # on-demand runs while it is in progress: accepted, and queued behind it
    posted = [ok(api.post(f"{FS}/runs", json={"flowId": flow}))["id"] for _ in range(3)]
    time.sleep(0.6)  # more than a worker's poll interval: the free worker thread looked
    waiting = {r["id"]: r["state"] for r in ok(api.get(f"{FS}/runs?property=flowId=={flow}"))["items"]}
    assert [waiting[r] for r in posted].count("inProgress") <= 1
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = ok(api.get(f"{FS}/runs?property=flowId=={flow}&orderby=createdAt"))["items"]
        if len(runs) == 4 and all(r["state"] in ("success", "failed") for r in runs):
            break
        time.sleep(0.2)
    assert [r["state"] for r in runs] == ["success"] * 4, [r["metrics"] for r in runs]
    spans = sorted(
        (r["metrics"]["durationSummary"]["startedAtUTC"], r["metrics"]["durationSummary"]["completedAtUTC"])  # type: ignore[index]
        for r in runs
    )
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end, f"two runs of one flow overlapped: {spans}"
    table = api.ctx.lake.scan(namespace_for(api.creds["org_id"], "prod"), ds)
    assert table.num_rows == ROWS  # the later runs read nothing new: no row twice
    guid = schema["meta:datasetNamespace"]
    assert len({r["id"] for r in table.column(guid).to_pylist()}) == ROWS
    batches = ok(api.get(f"{CAT}/batches?dataSet={ds}&limit=100"))
    per_run: dict[str, int] = {}
    for b in batches.values():
        for run_id in (b.get("tags") or {}).get("runId", []):
            per_run[run_id] = per_run.get(run_id, 0) + 1
    assert set(per_run.values()) <= {1}
