"""File increments never lose or silently double data (issue 13, defect 7).

The set of ingested files (path, size, mtime) is kept beside the flow's watermark: a file moved
in late with an old mtime is read, an unchanged file is not read again, and a file changed in
place is read again whole (``options.changedFiles: reread``, the default) or skipped
(``skip``) — the run says which, with the file names.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.conftest import Api, make_settings
from tests.flowservice.conftest import (
    CLOUD,
    FS,
    adhoc_schema,
    dataset,
    files_source,
    ok,
    target_connection,
    wait_runs,
)
from xdmflow.connectors.registry import get_connector
from xdmflow.lake.lake import namespace_for
from xdmflow.pipeline.run import execute
from xdmflow.runs import execute as run_execute
from xdmflow.runs.claim import claim_next, stale_runs
from xdmflow.runtime import build_app
from xdmflow.store.tables import RunQueue, Watermark

FIELDS = {"id": {"type": "string"}, "name": {"type": "string"}}


def _csv(path: Path, ids: range, *, age: float = 0.0) -> None:
    path.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in ids), encoding="utf-8")
    if age:
        old = time.time() - age
        os.utime(path, (old, old))


class FileFlow:
    """A Local Files flow over ``<tmp>/data/*.csv`` into an ad-hoc dataset; runs on demand."""

    def __init__(self, api: Api, tmp_path: Path, options: dict[str, Any] | None = None) -> None:
        self.api = api
        self.data = tmp_path / "data"
        self.data.mkdir()
        schema = adhoc_schema(api, FIELDS)
        self.guid = schema["meta:datasetNamespace"]
        self.ds = dataset(api, schema["$id"])
        self.body = {
            "name": "files",
            "flowSpec": {"id": CLOUD, "version": "1.0"},
            "sourceConnectionIds": [files_source(api, tmp_path, "data/*.csv")],
            "targetConnectionIds": [target_connection(api, self.ds)],
            "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
            "options": options or {},
        }
        self.runs = 0

    def start(self) -> dict[str, Any]:
        """Create the flow (its first run starts now) and wait for that run."""
        self.id = ok(self.api.post(f"{FS}/flows", json=self.body))["id"]
        self.runs = 1
        return self._last()

    def run(self) -> dict[str, Any]:
        now = str(int(time.time()))
        ok(self.api.post(f"{FS}/runs", json={"flowId": self.id, "params": {"startTime": now}}))
        self.runs += 1
        return self._last()

    def _last(self) -> dict[str, Any]:
        run = wait_runs(self.api, self.id, count=self.runs)[-1]
        assert run["state"] == "success", run["metrics"]
        return run

    def ids(self) -> list[int]:
        ns = namespace_for(self.api.creds["org_id"], "prod")
        return sorted(int(r["id"]) for r in self.api.ctx.lake.scan(ns, self.ds).column(self.guid).to_pylist())


def _out(run: dict[str, Any]) -> int:
    return int(run["metrics"]["recordSummary"]["outputRecordCount"])


def _warnings(run: dict[str, Any]) -> list[dict[str, Any]]:
    copy = next(a for a in run["activities"] if a["id"] == "copyActivity")
    return list(copy["statusSummary"].get("warnings") or [])


def test_a_late_file_with_an_old_mtime_is_read_and_unchanged_files_are_not(
    service: Api, tmp_path: Path
) -> None:
    flow = FileFlow(service, tmp_path)
    _csv(flow.data / "a.csv", range(1, 4))
    assert _out(flow.start()) == 3
    # moved in afterwards, keeping an mtime a day older than everything already read
    _csv(flow.data / "late.csv", range(4, 6), age=86_400)
    second = flow.run()
    assert _out(second) == 2 and second["metrics"]["fileSummary"]["inputFileCount"] == 1
    assert flow.ids() == [1, 2, 3, 4, 5]
    third = flow.run()  # nothing new, nothing changed: nothing read again
    assert _out(third) == 0 and third["metrics"]["fileSummary"]["inputFileCount"] == 0
    assert _warnings(third) == []
    assert flow.ids() == [1, 2, 3, 4, 5]


def test_a_file_grown_in_place_is_read_again_whole_and_the_run_says_so(service: Api, tmp_path: Path) -> None:
    flow = FileFlow(service, tmp_path)
    _csv(flow.data / "a.csv", range(1, 4))
    _csv(flow.data / "b.csv", range(10, 12))
    assert _out(flow.start()) == 5
    _csv(flow.data / "a.csv", range(1, 6))  # two rows appended in place
    second = flow.run()
    assert _out(second) == 5  # the whole of a.csv, not b.csv
    assert flow.ids() == [1, 1, 2, 2, 3, 3, 4, 5, 10, 11]
    [warning] = _warnings(second)
    assert warning["code"] == "CONNECTOR-FILES-REREAD" and warning["files"] == ["/data/a.csv"]
    assert second["metrics"]["customSummary"]["source"]["changedFilesReread"] == ["/data/a.csv"]
    third = flow.run()  # its new version is the ingested one now
    assert _out(third) == 0 and _warnings(third) == []


def test_a_changed_file_is_skipped_and_reported_with_changed_files_skip(service: Api, tmp_path: Path) -> None:
    flow = FileFlow(service, tmp_path, {"changedFiles": "skip"})
    _csv(flow.data / "a.csv", range(1, 4))
    assert _out(flow.start()) == 3
    _csv(flow.data / "a.csv", range(1, 6))  # changed in place: not read
    _csv(flow.data / "c.csv", range(20, 22))  # new: read
    second = flow.run()
    assert _out(second) == 2
    assert flow.ids() == [1, 2, 3, 20, 21]
    [warning] = _warnings(second)
    assert warning["code"] == "CONNECTOR-FILES-SKIPPED" and warning["files"] == ["/data/a.csv"]
    assert second["metrics"]["customSummary"]["source"]["changedFilesSkipped"] == ["/data/a.csv"]
    # a run that reads nothing still reports the skipped file
    _csv(flow.data / "a.csv", range(1, 7))
    third = flow.run()
    assert _out(third) == 0 and [w["code"] for w in _warnings(third)] == ["CONNECTOR-FILES-SKIPPED"]
    fourth = flow.run()  # reported once per change
    assert _out(fourth) == 0 and _warnings(fourth) == []
    assert flow.ids() == [1, 2, 3, 20, 21]


def test_changed_files_is_validated_at_create_and_patch(service: Api, tmp_path: Path) -> None:
    flow = FileFlow(service, tmp_path, {"changedFiles": "append"})
    bad = service.post(f"{FS}/flows", json=flow.body)
    assert bad.status_code == 400, bad.text
    assert "changedFiles" in bad.text
    flow.body["options"] = {}
    _csv(flow.data / "a.csv", range(1, 2))
    flow.start()
    etag = ok(service.get(f"{FS}/flows/{flow.id}"))["items"][0]["etag"]
    ops = [{"op": "add", "path": "/options/changedFiles", "value": "sometimes"}]
    r = service.patch(f"{FS}/flows/{flow.id}", json=ops, headers={"If-Match": etag})
    assert r.status_code == 400, r.text
    assert "changedFiles" in r.text
    ops = [{"op": "add", "path": "/options/changedFiles", "value": "skip"}]  # as the guide shows
    ok(service.patch(f"{FS}/flows/{flow.id}", json=ops, headers={"If-Match": etag}))
    assert ok(service.get(f"{FS}/flows/{flow.id}"))["items"][0]["options"]["changedFiles"] == "skip"


def test_an_mtime_only_watermark_of_an_older_version_keeps_its_files_as_ingested(
    service: Api, tmp_path: Path
) -> None:
    flow = FileFlow(service, tmp_path)
    _csv(flow.data / "a.csv", range(1, 4))
    assert _out(flow.start()) == 3
    with service.ctx.db.session() as s:  # the state an older version left: just the mtime
        [mark] = s.query(Watermark).filter(Watermark.flow_id == flow.id).all()
        assert set(mark.value["files"]) == {"/data/a.csv"}
        mark.value = {"value": mark.value["value"], "dedupe": None}
    _csv(flow.data / "b.csv", range(4, 6))
    os.utime(flow.data / "b.csv", (time.time() + 5, time.time() + 5))
    assert _out(flow.run()) == 2  # a.csv is not read again
    _csv(flow.data / "late.csv", range(6, 7), age=86_400)
    assert _out(flow.run()) == 1  # the set has taken over: a late file is read
    assert flow.ids() == [1, 2, 3, 4, 5, 6]


def test_a_run_recovered_after_its_commit_records_its_files(tmp_path: Path, db_url: str) -> None:
    """A worker dies between the lake commit and its bookkeeping: recovery records the file set
    from the run's intent, so the file is not read again (no duplicates after a crash)."""
    settings = make_settings(tmp_path / "home", db_url)
    with TestClient(build_app(settings, role="api")) as client:  # no loops: the test is the worker
        api = Api(client)
        ctx = api.ctx
        flow = FileFlow(api, tmp_path)
        _csv(flow.data / "a.csv", range(1, 4))
        flow.body["scheduleParams"] = {"startTime": str(int(time.time()) + 86_400), "frequency": "once"}
        flow.id = ok(api.post(f"{FS}/flows", json=flow.body))["id"]
        run_id = ok(api.post(f"{FS}/runs", json={"flowId": flow.id}))["id"]
        claim = claim_next(ctx.db, "worker-that-dies")
        assert claim is not None and claim.run_id == run_id
        run = run_execute._mark_started(ctx, run_id)
        assert run is not None
        with ctx.db.session() as s:
            spec, _facts = run_execute.build_spec(s, ctx, run)
        execute(
            spec,
            get_connector(spec.connector_spec_id),
            ctx.lake,
            before_commit=lambda r: run_execute._save_intent(ctx, claim, spec, r),
        )
        with ctx.db.session() as s:
            assert s.query(Watermark).filter(Watermark.flow_id == flow.id).first() is None  # not yet
            s.execute(update(RunQueue).where(RunQueue.run_id == run_id).values(heartbeat_at=0))
        (recovery,) = stale_runs(ctx.db, 1000, "recoverer")
        run_execute.recover_run(ctx, recovery)
        assert ok(api.get(f"{FS}/runs/{run_id}"))["items"][0]["state"] == "success"
        with ctx.db.session() as s:
            [mark] = s.query(Watermark).filter(Watermark.flow_id == flow.id).all()
            assert set(mark.value["files"]) == {"/data/a.csv"}
        assert flow.ids() == [1, 2, 3]
