"""The lake and uploaded batch files on s3:// (a moto S3 server started by the test): a dataset, a
Batch Ingestion batch (small and chunked files), a file flow run, reading back through the Data
Access API and ``xdmflow datasets head``."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec.config
import pytest
from fastapi.testclient import TestClient

from tests.catalog.cathelp import EXPORT, IMPORT, complete, create_batch, upload
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
from tests.runtime.runtimehelp import xdmflow_command
from xdmflow.cli.demo import free_port
from xdmflow.lake.lake import namespace_for
from xdmflow.runtime import build_app
from xdmflow.settings import Settings

BUCKET = "xdmflow-lake"
KEY, SECRET = "lake-access-key", "lake-secret-value-1234"
FIELDS = {"id": {"type": "string"}, "n": {"type": "integer"}}


@pytest.fixture
def s3() -> Iterator[dict[str, Any]]:
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET
    )
    client.create_bucket(Bucket=BUCKET)
    saved = {k: fsspec.config.conf.get(k) for k in ("s3", "s3a")}
    try:
        yield {"url": url, "client": client}
    finally:
        for k, v in saved.items():  # the deployment's S3 defaults are process-wide: restore them
            if v is None:
                fsspec.config.conf.pop(k, None)
            else:
                fsspec.config.conf[k] = v
        server.stop()


def keys(s3: dict[str, Any], prefix: str) -> list[str]:
    pages = s3["client"].get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def s3_env(s3: dict[str, Any]) -> dict[str, str]:
    return {
        "XDMFLOW_LAKE_URL": f"s3://{BUCKET}/lake",
        "XDMFLOW_S3_ENDPOINT_URL": s3["url"],
        "XDMFLOW_S3_REGION": "us-east-1",
        "XDMFLOW_S3_ACCESS_KEY_ID": KEY,
        "XDMFLOW_S3_SECRET_ACCESS_KEY": SECRET,
    }


def test_lake_and_uploads_on_s3(s3: dict[str, Any], tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = make_settings(
        home,
        f"sqlite:///{tmp_path / 'meta.db'}",
        lake_url=f"s3://{BUCKET}/lake",
        s3_endpoint_url=s3["url"],
        s3_region="us-east-1",
        s3_access_key_id=KEY,
        s3_secret_access_key=SECRET,
        scheduler_interval_seconds=0.2,
        workers=1,
    )
    assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())
    with TestClient(build_app(settings, role="all")) as client:
        api = Api(client)
        schema = adhoc_schema(api, FIELDS)
        ds = dataset(api, schema["$id"])
        guid = schema["meta:datasetNamespace"]

        # -- Batch Ingestion: a small file and a chunked large file, kept on S3 -----------
        batch = create_batch(api, ds, "json")
        small = b"".join(json.dumps({guid: {"id": f"b{i}", "n": i}}).encode() + b"\n" for i in range(5))
        assert upload(api, batch, ds, "small.json", small).status_code == 201
        big = b"".join(json.dumps({guid: {"id": f"c{i}", "n": i}}).encode() + b"\n" for i in range(2000))
        url = f"{IMPORT}/batches/{batch}/datasets/{ds}/files/dir/big.json"
        assert api.post(f"{url}?action=INITIALIZE").status_code == 201
        binary = {"Content-Type": "application/octet-stream"}
        half = len(big) // 2
        for start, end in ((half, len(big) - 1), (0, half - 1)):  # out of order
            r = api.patch(
                url,
                content=big[start : end + 1],
                headers={**binary, "Content-Range": f"bytes {start}-{end}/*"},
            )
            assert r.status_code == 200, r.text
        assert api.request("HEAD", url).headers["Range"] == f"bytes=0-{len(big) - 1}"
        assert api.post(f"{url}?action=COMPLETE").status_code == 201
        uploaded = keys(s3, f"lake/_uploads/{batch}/")
        assert sorted(uploaded) == [
            f"lake/_uploads/{batch}/files/dir/big.json",
            f"lake/_uploads/{batch}/files/small.json",
        ]
        body = s3["client"].get_object(Bucket=BUCKET, Key=f"lake/_uploads/{batch}/files/dir/big.json")
        assert body["Body"].read() == big
        assert not (home / "uploads").exists()
        out = complete(api, batch)
        assert out.status_code == 200, out.text
        assert out.json()["status"] == "success", out.json()
        assert not (home / "uploads-staging" / batch).exists()  # staged copies dropped

        # -- a file flow run commits to the S3 lake --------------------------------------------
        data = tmp_path / "data"
        data.mkdir()
        (data / "rows.csv").write_text("id,n\n" + "".join(f"f{i},{i}\n" for i in range(7)))
        past = time.time() - 60
        os.utime(data / "rows.csv", (past, past))
        flow = ok(
            api.post(
                f"{FS}/flows",
                json={
                    "name": "csv to s3",
                    "flowSpec": {"id": CLOUD, "version": "1.0"},
                    "sourceConnectionIds": [files_source(api, tmp_path, "data/rows.csv")],
                    "targetConnectionIds": [target_connection(api, ds)],
                    "scheduleParams": {"startTime": int(time.time()), "frequency": "once"},
                },
            )
        )["id"]
        [run] = wait_runs(api, flow)
        assert run["state"] == "success", run["metrics"]
        assert run["metrics"]["recordSummary"]["outputRecordCount"] == 7

        # every lake file is on S3: Parquet data, Iceberg metadata and manifests, diagnostics
        lake_keys = keys(s3, "lake/")
        assert sum(k.endswith(".parquet") and "/data/batch=" in k for k in lake_keys) >= 2
        assert any(k.endswith(".metadata.json") for k in lake_keys)
        assert any(k.endswith(".avro") for k in lake_keys)
        assert not (home / "lake").exists()

        # -- reading back: Data Access preview, the batch's files, the CLI ------------------
        expected = {f"b{i}" for i in range(5)} | {f"c{i}" for i in range(2000)} | {f"f{i}" for i in range(7)}
        preview = ok(api.get(f"{EXPORT}/datasets/{ds}/preview?limit=1000"))
        ids = [r[guid]["id"] for r in preview["data"]]
        assert len(ids) == len(set(ids)) == 1000 and set(ids) <= expected
        everything = api.ctx.lake.scan(namespace_for(api.creds["org_id"], "prod"), ds)
        assert sorted(r["id"] for r in everything.column(guid).to_pylist()) == sorted(expected)
        files = ok(api.get(f"{EXPORT}/batches/{batch}/files"))["data"]
        assert files
        r = api.get(f"{EXPORT}/files/{files[0]['dataSetFileId']}")
        assert r.status_code == 200, r.text

    env = {k: v for k, v in os.environ.items() if not k.startswith("XDMFLOW_")}
    env.update(
        s3_env(s3),
        XDMFLOW_HOME=str(home),  # the operator runs the CLI on the service host, with its home
        XDMFLOW_DATABASE_URL=settings.resolved_database_url,
    )
    res = subprocess.run(
        [*xdmflow_command(), "datasets", "head", ds, "-n", "1000", "--json"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr.decode()
    rows = [json.loads(line) for line in res.stdout.decode().splitlines() if line.strip()]
    got = [r["id"] for r in rows]  # ad-hoc columns by their source names; the API's preview is capped
    assert len(got) == len(set(got)) == 1000 and set(got) <= expected
    assert SECRET not in res.stdout.decode() + res.stderr.decode()


def test_settings_choose_the_upload_area() -> None:
    local = Settings(home=Path("/srv/x"))
    assert local.resolved_uploads_url == "/srv/x/uploads"
    assert Settings(home=Path("/srv/x"), lake_url="/shared/lake").resolved_uploads_url == "/srv/x/uploads"
    assert Settings(lake_url="s3://b/lake/").resolved_uploads_url == "s3://b/lake/_uploads"
    assert Settings(lake_url="s3://b/lake", uploads_url="s3://c/up").resolved_uploads_url == "s3://c/up"
