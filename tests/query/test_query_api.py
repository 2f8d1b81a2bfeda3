"""The Query Service API at /data/foundation/query: queries through their states, cancel, CTAS, listing."""

from __future__ import annotations

import time
from typing import Any

from tests.query.qhelp import csv_dataset

Q = "/data/foundation/query"


def wait(api: Any, qid: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = api.get(f"{Q}/queries/{qid}").json()
        if body["state"] not in ("SUBMITTED", "IN_PROGRESS"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"query {qid} did not finish")


def test_query_runs_to_success_and_ctas_creates_a_dataset(api_both: Any) -> None:
    api = api_both
    _, ns = csv_dataset(api)
    r = api.post(
        f"{Q}/queries", json={"dbName": "prod:all", "sql": "SELECT * FROM orders_2024", "name": "all"}
    )
    assert r.status_code == 202, r.text
    q = r.json()
    assert q["state"] == "SUBMITTED" and q["request"]["sql"] == "SELECT * FROM orders_2024"
    done = wait(api, q["id"])
    assert done["state"] == "SUCCESS" and done["rowCount"] == 2, done
    r = api.post(
        f"{Q}/queries", json={"sql": f"CREATE TABLE copy_of AS SELECT {ns}.name AS who FROM orders_2024"}
    )
    assert r.status_code == 202 and r.json()["isCTAS"] is True
    done = wait(api, r.json()["id"])
    assert done["state"] == "SUCCESS" and done["rowCount"] == 2, done
    names = [d["name"] for d in api.get("/data/foundation/catalog/dataSets").json().values()]
    assert "copy_of" in names
    listed = api.get(f"{Q}/queries?orderby=-created&limit=1").json()
    assert (
        len(listed["queries"]) == 1 and listed["queries"][0]["isCTAS"] is True and "next" in listed["_links"]
    )
    only = api.get(f"{Q}/queries?property=name==all").json()["queries"]
    assert [x["request"]["name"] for x in only] == ["all"]


def test_failed_and_refused_and_bad_bodies(api: Any) -> None:
    r = api.post(f"{Q}/queries", json={"sql": "COPY (SELECT 1) TO '/tmp/x.csv'"})
    assert r.status_code == 400 and "not allowed" in r.text
    r = api.post(f"{Q}/queries", json={"sql": "SELECT * FROM nope"})
    assert r.status_code == 202
    done = wait(api, r.json()["id"])
    assert done["state"] == "FAILED" and done["errors"][0]["code"] == "42P01", done
    assert api.post(f"{Q}/queries", json={"sql": ""}).status_code == 400
    assert api.post(f"{Q}/queries", json={"sql": "SELECT 1", "bogus": 1}).status_code == 400
    assert api.post(f"{Q}/queries", json={"sql": "SELECT 1", "dbName": "other:all"}).status_code == 400
    r = api.post(f"{Q}/queries", json={"sql": "SELECT 1"})
    done = wait(api, r.json()["id"])
    assert api.patch(f"{Q}/queries/{done['id']}", json={"op": "cancel"}).status_code == 400
    assert api.patch(f"{Q}/queries/{done['id']}", json={"op": "explode"}).status_code == 400
    assert api.get(f"{Q}/queries/nope").status_code == 404


def test_cancel_kills_a_running_query(api: Any) -> None:
    r = api.post(f"{Q}/queries", json={"sql": "SELECT count(*) FROM range(100000000000) a"})
    qid = r.json()["id"]
    deadline = time.monotonic() + 10
    while api.get(f"{Q}/queries/{qid}").json()["state"] == "SUBMITTED" and time.monotonic() < deadline:
        time.sleep(0.05)
    r = api.patch(f"{Q}/queries/{qid}", json={"op": "cancel"})
    assert r.status_code == 202, r.text
    assert wait(api, qid)["state"] == "KILLED"


def test_other_org_cannot_see_queries_and_connection_parameters(api: Any) -> None:
    r = api.post(f"{Q}/queries", json={"sql": "SELECT 1"})
    qid = r.json()["id"]
    other = api.as_other("QUERYOTHER00000000000000@AdobeOrg")
    assert other.get(f"{Q}/queries/{qid}").status_code == 404
    assert other.get(f"{Q}/queries").json()["queries"] == []
    params = api.get(f"{Q}/connection_parameters").json()
    assert params["username"] == api.creds["org_id"] and params["dbName"] == "prod:all"
    assert params["token"] == api.token


def test_a_busy_pg_port_leaves_the_api_up(tmp_path: Any) -> None:
    import socket

    from fastapi.testclient import TestClient

    from tests.conftest import Api, make_settings
    from xdmflow.runtime import build_app

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = make_settings(tmp_path / "home", pg_port=port)
        with TestClient(build_app(settings, role="api")) as client:
            api = Api(client)
            assert api.get(f"{Q}/connection_parameters").json()["port"] == 0
            assert api.get("/data/foundation/catalog/dataSets").status_code == 200
