"""kill -9 in the middle of a run, then a restart: no duplicate and no missing row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.csv as pcsv

from tests.flowservice.conftest import CAT, CLOUD, FS, LAKE, LOCAL, SR
from xdmflow.cli.demo import free_port

ROWS = 3_000_000


def start(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "XDMFLOW_HOME": str(home),
        "XDMFLOW_LOCAL_ROOTS": str(home.parent),  # the test data is written beside the home
        "XDMFLOW_PG_PORT": "0",  # no PostgreSQL port for this test service
        "XDMFLOW_WORKERS": "1",
        "XDMFLOW_SCHEDULER_INTERVAL_SECONDS": "0.2",
        "XDMFLOW_RUN_STALE_SECONDS": "2",
        "XDMFLOW_HEARTBEAT_SECONDS": "0.5",
        "XDMFLOW_SECRET_KEY": "crash-test-key",
    }
    env.pop("XDMFLOW_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "xdmflow.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    _, err = proc.communicate()
    raise AssertionError(err.decode() or "server did not start")


class Client:
    def __init__(self, home: Path, port: int) -> None:
        import json

        creds = json.loads((home / "credentials.json").read_text())
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        tok = self.http.post(
            "/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
        ).json()
        self.h = {
            "Authorization": f"Bearer {tok['access_token']}",
            "x-api-key": creds["client_id"],
            "x-gw-ims-org-id": creds["org_id"],
            "Content-Type": "application/json",
        }

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kw: Any) -> Any:
        r = self.http.request(method, path, headers=self.h, **kw)
        assert r.status_code < 300, r.text
        return r.json() if r.content else None


def test_kill_9_mid_run_then_restart(tmp_path: Path) -> None:
    home, data = tmp_path / "home", tmp_path / "data"
    data.mkdir()
    ids = pa.array([f"id-{i:08d}" for i in range(ROWS)])
    pcsv.write_csv(pa.table({"id": ids, "n": pa.array(range(ROWS), pa.int64())}), data / "big.csv")
    port = free_port()
    proc = start(home, port)
    c: Client | None = None
    try:
        c = Client(home, port)
        cls = c.call(
            "POST",
            f"{SR}/tenant/classes",
            json={
                "title": "big",
                "type": "object",
                "allOf": [
                    {"$ref": "https://ns.adobe.com/xdm/data/adhoc"},
                    {
                        "properties": {
                            "_adhoc": {
                                "type": "object",
                                "properties": {"id": {"type": "string"}, "n": {"type": "integer"}},
                            }
                        }
                    },
                ],
            },
        )
        schema = c.call(
            "POST",
            f"{SR}/tenant/schemas",
            json={"title": "big", "type": "object", "allOf": [{"$ref": cls["$id"]}]},
        )
        ds = c.call(
            "POST",
            f"{CAT}/dataSets",
            json={
                "name": "big",
                "schemaRef": {"id": schema["$id"], "contentType": "application/vnd.adobe.xed+json;version=1"},
            },
        )[0].split("/")[-1]
        base = c.call(
            "POST",
            f"{FS}/connections",
            json={
                "name": "f",
                "auth": {"specName": "Local Folder", "params": {"rootPath": str(data)}},
                "connectionSpec": {"id": LOCAL},
            },
        )["id"]
        src = c.call(
            "POST",
            f"{FS}/sourceConnections",
            json={
                "name": "s",
                "baseConnectionId": base,
                "data": {"format": "delimited"},
                "params": {"path": "big.csv"},
                "connectionSpec": {"id": LOCAL},
            },
        )["id"]
        tgt = c.call(
            "POST",
            f"{FS}/targetConnections",
            json={"name": "t", "params": {"dataSetId": ds}, "connectionSpec": {"id": LAKE}},
        )["id"]
        flow = c.call(
            "POST",
            f"{FS}/flows",
            json={
                "name": "big",
                "flowSpec": {"id": CLOUD},
                "sourceConnectionIds": [src],
                "targetConnectionIds": [tgt],
                "scheduleParams": {"startTime": int(time.time()), "frequency": "once"},
            },
        )["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = c.call("GET", f"{FS}/runs?property=flowId=={flow}")["items"]
            if runs and runs[0]["state"] == "inProgress":
                break
            time.sleep(0.05)
        time.sleep(0.3)
        assert runs[0]["state"] == "inProgress", runs
        run_id = runs[0]["id"]
        proc.send_signal(signal.SIGKILL)
        proc.communicate()  # reaps it and closes its stderr pipe
        c.close()

        proc = start(home, port)
        c = Client(home, port)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run = c.call("GET", f"{FS}/runs/{run_id}")["items"][0]
            if run["state"] in ("success", "failed"):
                break
            time.sleep(0.2)
        assert run["state"] in ("success", "failed"), run
        if run["state"] == "failed":
            c.call("POST", f"{FS}/runs/{run_id}/action?op=RE_TRIGGER")
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                runs = [
                    r
                    for r in c.call("GET", f"{FS}/runs?property=flowId=={flow}")["items"]
                    if r["id"] != run_id
                ]
                if runs and runs[0]["state"] in ("success", "failed"):
                    break
                time.sleep(0.2)
            assert runs[0]["state"] == "success", runs[0]["metrics"]
    finally:
        if c is not None:
            c.close()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)

    from xdmflow.lake.lake import Lake, namespace_for
    from xdmflow.settings import Settings

    settings = Settings(home=home)
    lake = Lake.from_settings(settings)
    import json

    org = json.loads((home / "credentials.json").read_text())["org_id"]
    table = lake.scan(namespace_for(org, "prod"), ds)
    assert table.num_rows == ROWS
    guid = schema["meta:datasetNamespace"]
    got = table.column(guid).combine_chunks().field("id")
    assert len(set(got.to_pylist())) == ROWS
    lake.close()
