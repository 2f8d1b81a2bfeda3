"""Query templates and scheduled queries: CRUD, a query from a template, schedules fired by the
lease-holding scheduler loop (a frozen clock) as ordinary query objects, disable, isolation."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from tests.query.qhelp import add_batch, csv_dataset
from tests.query.test_query_api import wait
from xdmflow.scheduler.loop import SchedulerLoop
from xdmflow.services.query_schedules import fire_query_schedules

Q = "/data/foundation/query"
OTHER = "QUERYSCHEDOTHER000000000@AdobeOrg"


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _loop(api: Any, clock: list[float]) -> SchedulerLoop:
    return SchedulerLoop(
        api.ctx.db,
        1.0,
        clock=lambda: clock[0],
        lease_seconds=30.0,
        queries=functools.partial(fire_query_schedules, api.ctx),
    )


def _wait_run(api: Any, sid: str, run_id: str) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 60  # a loaded machine links slowly
    run: dict[str, Any] = api.get(f"{Q}/schedules/{sid}/runs/{run_id}").json()
    while not run["queryId"] and run["state"] == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.05)  # recorded, its query not yet linked (a background scheduler)
        run = api.get(f"{Q}/schedules/{sid}/runs/{run_id}").json()
    if not run["queryId"]:
        return run
    wait(api, run["queryId"])
    out: dict[str, Any] = api.get(f"{Q}/schedules/{sid}/runs/{run_id}").json()
    return out


def test_template_crud_and_a_query_from_a_template(api_both: Any) -> None:
    api = api_both
    _, ns = csv_dataset(api)
    sql = f"SELECT {ns}.name AS who FROM $tbl WHERE {ns}.qty >= $min"
    r = api.post(
        f"{Q}/query-templates",
        json={"name": "by qty", "sql": sql, "queryParameters": {"tbl": "orders_2024", "min": "1"}},
    )
    assert r.status_code == 202, r.text
    t = r.json()
    tid = t["id"]
    assert t["sql"] == sql and t["userId"] and t["_links"]["update"]["method"] == "PUT"
    assert api.get(f"{Q}/query-templates/{tid}").json()["name"] == "by qty"
    api.post(f"{Q}/query-templates", json={"name": "second", "sql": "SELECT 1"})
    listed = api.get(f"{Q}/query-templates?orderby=-created&limit=1").json()
    assert [x["name"] for x in listed["templates"]] == ["second"] and "next" in listed["_links"]
    oldest = api.get(f"{Q}/query-templates?orderby=%2Bcreated&limit=1").json()
    assert [x["name"] for x in oldest["templates"]] == ["by qty"] and oldest["_page"]["orderby"] == "+created"
    assert api.get(f"{Q}/query-templates?orderby=name").status_code == 400
    assert api.get(f"{Q}/query-templates?property=sql~x").status_code == 400
    assert [x["id"] for x in api.get(f"{Q}/query-templates?property=name~qty").json()["templates"]] == [tid]
    assert api.get(f"{Q}/query-templates/count").json()["totalCount"] == 2

    # a query from the template: its defaults, overridden per query
    r = api.post(f"{Q}/queries", json={"templateId": tid, "queryParameters": {"min": "2"}})
    assert r.status_code == 202, r.text
    assert r.json()["request"]["name"] == "by qty"
    done = wait(api, r.json()["id"])
    assert done["state"] == "SUCCESS" and done["rowCount"] == 1, done
    assert done["effectiveSQL"] == sql.replace("$tbl", "orders_2024").replace("$min", "2")

    # PUT replaces it; the next query sees the new SQL
    r = api.put(
        f"{Q}/query-templates/{tid}",
        json={"name": "all rows", "sql": "SELECT * FROM $tbl", "queryParameters": {"tbl": "orders_2024"}},
    )
    assert r.status_code == 202 and r.json()["name"] == "all rows", r.text
    done = wait(api, api.post(f"{Q}/queries", json={"templateId": tid}).json()["id"])
    assert done["rowCount"] == 2, done

    # bad input: missing parameter, forbidden SQL, both sql and templateId, unknown fields
    r = api.post(f"{Q}/query-templates", json={"name": "x", "sql": "SELECT * FROM $a WHERE $b"})
    assert r.status_code == 202  # incomplete templates are fine; running one without values is not
    r = api.post(f"{Q}/queries", json={"templateId": r.json()["id"]})
    assert r.status_code == 400 and "$a" in r.text and "$b" in r.text
    r = api.post(f"{Q}/query-templates", json={"name": "x", "sql": "COPY (SELECT 1) TO '/tmp/q.csv'"})
    assert r.status_code == 400 and "not allowed" in r.text
    r = api.post(
        f"{Q}/query-templates",
        json={
            "name": "x",
            "sql": "SELECT * FROM $t",
            "queryParameters": {"t": "pg_catalog.pg_class; COPY (SELECT 1) TO '/tmp/q.csv'"},
        },
    )
    assert r.status_code == 400
    assert api.post(f"{Q}/queries", json={"templateId": tid, "sql": "SELECT 1"}).status_code == 400
    assert (
        api.post(f"{Q}/query-templates", json={"name": "x", "sql": "SELECT 1", "bogus": 1}).status_code == 400
    )

    # another org sees none of it and cannot run it
    other = api.as_other(OTHER)
    assert other.get(f"{Q}/query-templates/{tid}").status_code == 404
    assert other.get(f"{Q}/query-templates").json()["templates"] == []
    assert other.post(f"{Q}/queries", json={"templateId": tid}).status_code == 400
    assert other.delete(f"{Q}/query-templates/{tid}").status_code == 404

    assert api.delete(f"{Q}/query-templates/{tid}").status_code == 202
    assert api.get(f"{Q}/query-templates/{tid}").status_code == 404


def test_a_ctas_schedule_fires_through_the_scheduler_and_disable_stops_it(api_both: Any) -> None:
    api = api_both
    ds, ns = csv_dataset(api)
    r = api.post(
        f"{Q}/schedules",
        json={
            "query": {
                "dbName": "prod:all",
                "sql": f"INSERT INTO orders_2024 (name, amount, qty) SELECT {ns}.name, {ns}.amount * 10, "
                f"{ns}.qty FROM orders_2024 WHERE {ns}.qty = 1",
                "name": "nightly copy",
            },
            "schedule": {"schedule": "0 2 * * *", "startDate": "2030-01-01 00:00:00+00:00"},
        },
    )
    assert r.status_code == 202, r.text
    sched = r.json()
    sid = sched["id"]
    assert sched["state"] == "ENABLED" and sched["schedule"]["schedule"] == "0 2 * * *"
    assert "_private" not in str(sched) and "clientId" not in str(sched)

    clock = [_ts("2030-01-01 01:59:59")]
    loop = _loop(api, clock)
    assert loop.step() == []  # not due yet
    clock[0] = _ts("2030-01-01 02:00:30")
    made = loop.step()
    assert len(made) == 1 and loop.is_leader
    assert loop.step() == []  # the fire time has its run: exactly once
    run = _wait_run(api, sid, made[0])
    assert run["state"] == "SUCCESS", run["taskStatusList"]
    assert run["externalTrigger"] is False and run["taskStatusList"][0]["state"] == "SUCCESS"
    assert run["created"].startswith("2030-01-01T02:00:00")
    # the INSERT committed a batch through the lake: the dataset now has 3 rows
    q = api.post(
        f"{Q}/queries", json={"sql": f"SELECT count(*) AS n FROM orders_2024 WHERE {ns}.amount = 15"}
    )
    assert wait(api, q.json()["id"])["rowCount"] == 1
    batches = api.get(f"/data/foundation/catalog/batches?dataSet={ds}").json()
    assert len(batches) == 2

    runs = api.get(f"{Q}/schedules/{sid}/runs").json()
    assert [x["id"] for x in runs["runsSchedules"]] == made
    assert api.get(f"{Q}/schedules/{sid}/runs?property=state==FAILED").json()["runsSchedules"] == []

    # two days later: only the newest missed fire time runs (no back-fill)
    clock[0] = _ts("2030-01-03 09:00:00")
    made2 = loop.step()
    assert len(made2) == 1
    assert _wait_run(api, sid, made2[0])["created"].startswith("2030-01-03T02:00:00")

    # a delete needs the schedule disabled first
    assert api.delete(f"{Q}/schedules/{sid}").status_code == 400
    r = api.patch(
        f"{Q}/schedules/{sid}", json={"body": [{"op": "replace", "path": "/state", "value": "disable"}]}
    )
    assert r.status_code == 202 and r.json()["state"] == "DISABLED", r.text
    clock[0] = _ts("2030-01-05 09:00:00")
    assert loop.step() == []  # disabled: no run

    # a manual trigger runs even a disabled schedule
    r = api.post(f"{Q}/schedules/{sid}/runs")
    assert r.status_code == 202, r.text
    trig = _wait_run(api, sid, r.json()["runId"])
    assert trig["externalTrigger"] is True and trig["state"] == "SUCCESS"
    assert (
        len(api.get(f"{Q}/schedules/{sid}/runs?property=externalTrigger==true").json()["runsSchedules"]) == 1
    )
    assert api.patch(f"{Q}/schedules/{sid}/runs/{made[0]}", json={"op": "cancel"}).status_code == 400

    # enabled again: no catch-up of the days it was off, only the newest due fire time runs
    r = api.patch(f"{Q}/schedules/{sid}", json=[{"op": "replace", "path": "/state", "value": "enable"}])
    assert r.status_code == 202 and r.json()["state"] == "ENABLED", r.text
    clock[0] = _ts("2030-01-06 09:00:00")
    made3 = loop.step()
    assert len(made3) == 1
    assert _wait_run(api, sid, made3[0])["created"].startswith("2030-01-06T02:00:00")
    r = api.patch(f"{Q}/schedules/{sid}", json=[{"op": "replace", "path": "/state", "value": "disable"}])
    assert r.status_code == 202

    # another org sees none of it
    other = api.as_other(OTHER)
    assert other.get(f"{Q}/schedules/{sid}").status_code == 404
    assert other.get(f"{Q}/schedules").json()["schedules"] == []
    assert other.get(f"{Q}/schedules/{sid}/runs").status_code == 404
    assert other.get(f"{Q}/schedules/{sid}/runs/{made[0]}").status_code == 404
    assert other.post(f"{Q}/schedules/{sid}/runs").status_code == 404

    assert api.delete(f"{Q}/schedules/{sid}").status_code == 202
    assert api.get(f"{Q}/schedules/{sid}").status_code == 404


def test_a_ctas_schedule_from_a_template_creates_a_dataset_until_its_end_date(api: Any) -> None:
    _, ns = csv_dataset(api)
    tpl = api.post(
        f"{Q}/query-templates",
        json={"name": "copy", "sql": f"CREATE TABLE $target AS SELECT {ns}.name AS who FROM orders_2024"},
    ).json()
    r = api.post(
        f"{Q}/schedules",
        json={
            "query": {"templateId": tpl["id"], "queryParameters": {"target": "orders_copy"}},
            "schedule": {
                "schedule": "*/15 * * * *",
                "startDate": "2030-06-01T00:00:00Z",
                "endDate": "2030-06-01T01:00:00Z",
            },
        },
    )
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    clock = [_ts("2030-06-01 00:00:05")]
    loop = _loop(api, clock)
    made = loop.step()
    run = _wait_run(api, sid, made[0])
    assert run["state"] == "SUCCESS" and run["referenced_datasets"], run
    names = [d["name"] for d in api.get("/data/foundation/catalog/dataSets").json().values()]
    assert "orders_copy" in names
    done = wait(api, api.post(f"{Q}/queries", json={"sql": "SELECT * FROM orders_copy"}).json()["id"])
    assert done["state"] == "SUCCESS" and done["rowCount"] == 2
    # the second fire finds the table its first fire created: it appends to it (the platform's
    # "create and append into new dataset"), one more batch, no second dataset
    clock[0] = _ts("2030-06-01 00:15:01")
    run2 = _wait_run(api, sid, loop.step()[0])
    assert run2["state"] == "SUCCESS", run2["taskStatusList"]
    assert run2["rowCount"] == 2 and run2["referenced_datasets"] == run["referenced_datasets"]
    names = [d["name"] for d in api.get("/data/foundation/catalog/dataSets").json().values()]
    assert names.count("orders_copy") == 1
    done = wait(api, api.post(f"{Q}/queries", json={"sql": "SELECT * FROM orders_copy"}).json()["id"])
    assert done["state"] == "SUCCESS" and done["rowCount"] == 4
    # the dataset deleted: the next fire creates it again, the one after appends to the new one
    created = run["referenced_datasets"][0]["id"]
    assert api.delete(f"/data/foundation/catalog/dataSets/{created}").status_code in (200, 204)
    for fire, count in (("2030-06-01 00:30:01", 2), ("2030-06-01 00:45:01", 4)):
        clock[0] = _ts(fire)
        later = _wait_run(api, sid, loop.step()[0])
        assert later["state"] == "SUCCESS", later["taskStatusList"]
        assert later["referenced_datasets"][0]["id"] != created
        q = api.post(f"{Q}/queries", json={"sql": "SELECT * FROM orders_copy"}).json()["id"]
        assert wait(api, q)["rowCount"] == count
    # past the end date nothing fires
    clock[0] = _ts("2030-06-02 00:00:00")
    assert loop.step() == []


def test_a_ctas_schedule_onto_a_table_it_did_not_create_fails_clearly(api: Any) -> None:
    _, ns = csv_dataset(api)
    csv_dataset(api, name="Orders Copy")  # an ingested dataset holds the name (table orders_copy)
    good = {"schedule": "0 * * * *", "startDate": "2030-01-01 00:00:00"}
    for target in ("orders_copy", '"Orders Copy"'):
        sql = f"CREATE TABLE {target} AS SELECT {ns}.name AS who FROM orders_2024"
        sid = api.post(f"{Q}/schedules", json={"query": {"sql": sql}, "schedule": good}).json()["id"]
        run = _wait_run(api, sid, api.post(f"{Q}/schedules/{sid}/runs").json()["runId"])
        message = run["taskStatusList"][0]["message"]
        assert run["state"] == "FAILED" and "already exists" in message and "schedule" in message, run
    # an ad-hoc CTAS onto an existing table fails too (it never appends)
    sql = f"CREATE TABLE orders_2024 AS SELECT {ns}.name AS who FROM orders_2024"
    q = api.post(f"{Q}/queries", json={"sql": sql})
    done = wait(api, q.json()["id"])
    assert done["state"] == "FAILED" and "already exists" in done["errors"][0]["message"]
    names = [d["name"] for d in api.get("/data/foundation/catalog/dataSets").json().values()]
    assert sorted(names) == ["Orders 2024", "Orders Copy"]


def test_the_tick_loads_only_the_due_schedules(api_both: Any) -> None:
    from sqlalchemy import event

    from xdmflow.store.tables import Document

    api = api_both
    for start in ("2030-01-01 00:00:00", "2031-01-01 00:00:00", "2032-01-01 00:00:00"):
        r = api.post(
            f"{Q}/schedules",
            json={"query": {"sql": "SELECT 1"}, "schedule": {"schedule": "0 * * * *", "startDate": start}},
        )
        assert r.status_code == 202, r.text
    loaded: list[str] = []

    def on_load(target: Document, _ctx: Any) -> None:
        if target.kind == "querySchedule":
            loaded.append(target.id)

    event.listen(Document, "load", on_load)
    try:
        assert fire_query_schedules(api.ctx, _ts("2029-12-31 23:00:00")) == []
        assert loaded == []  # nothing due: no schedule document read at all
        made = fire_query_schedules(api.ctx, _ts("2030-01-01 00:00:10"))
        assert len(made) == 1 and len(set(loaded)) == 1  # only the due one
    finally:
        event.remove(Document, "load", on_load)


def test_bad_schedules_are_400(api: Any) -> None:
    good = {"schedule": "0 2 * * *", "startDate": "2030-01-01 00:00:00+00:00"}
    for sched in (
        {**good, "schedule": "0 2 * *"},
        {**good, "schedule": "0 0 2 * * *"},  # seconds field: not the 5-field subset
        {**good, "schedule": "61 2 * * *"},
        {**good, "schedule": "every day"},
        {**good, "startDate": "tomorrow"},
        {**good, "endDate": "2029-01-01 00:00:00+00:00"},
        {**good, "maxActiveRuns": 0},
        {"schedule": "0 2 * * *"},
    ):
        r = api.post(f"{Q}/schedules", json={"query": {"sql": "SELECT 1"}, "schedule": sched})
        assert r.status_code == 400, (sched, r.text)
    for query in (
        {},
        {"sql": "SELECT 1", "templateId": "x"},
        {"templateId": "nope"},
        {"sql": "ATTACH 'x.db'"},
        {"sql": "SELECT 1", "dbName": "dev:all"},
    ):
        r = api.post(f"{Q}/schedules", json={"query": query, "schedule": good})
        assert r.status_code == 400, (query, r.text)
    sid = api.post(f"{Q}/schedules", json={"query": {"sql": "SELECT 1"}, "schedule": good}).json()["id"]
    body: dict[str, Any]
    for body in (
        {"body": [{"op": "replace", "path": "/state", "value": "pause"}]},
        {"body": [{"op": "remove", "path": "/state", "value": "disable"}]},
        {"body": [{"op": "replace", "path": "/schedule/schedule", "value": "bad cron"}]},
        {"body": []},
    ):
        r = api.patch(f"{Q}/schedules/{sid}", json=body)
        assert r.status_code == 400, (body, r.text)
    r = api.patch(
        f"{Q}/schedules/{sid}", json=[{"op": "replace", "path": "/schedule/schedule", "value": "5 4 * * 0"}]
    )
    assert r.status_code == 202 and r.json()["schedule"]["schedule"] == "5 4 * * 0", r.text
    assert api.get(f"{Q}/schedules/nope").status_code == 404


def test_a_schedule_with_another_ingested_batch_sees_it(api: Any) -> None:
    ds, ns = csv_dataset(api)
    sid = api.post(
        f"{Q}/schedules",
        json={
            "query": {"sql": "SELECT * FROM orders_2024"},
            "schedule": {"schedule": "0 * * * *", "startDate": "2030-01-01 00:00:00"},
        },
    ).json()["id"]
    loop = _loop(api, [_ts("2030-01-01 00:00:00")])
    run = _wait_run(api, sid, loop.step()[0])
    assert run["rowCount"] == 2
    add_batch(api, ds, b"name,amount,qty\ncy,3.5,3\n", "more.csv")
    loop.clock = lambda: _ts("2030-01-01 01:00:00")
    run = _wait_run(api, sid, loop.step()[0])
    assert run["state"] == "SUCCESS" and run["rowCount"] == 3


def test_a_run_whose_query_was_never_submitted_fails_after_a_grace_period(api: Any) -> None:
    from xdmflow.services import query_schedules as qs
    from xdmflow.store.documents import Scope

    good = {"schedule": "0 2 * * *", "startDate": "2030-01-01 00:00:00+00:00"}
    sid = api.post(f"{Q}/schedules", json={"query": {"sql": "SELECT 1"}, "schedule": good}).json()["id"]
    api.patch(f"{Q}/schedules/{sid}", json=[{"op": "replace", "path": "/state", "value": "disable"}])
    scope = Scope(api.creds["org_id"], "prod")
    with api.ctx.db.session() as s:  # the scheduler recorded the run, then its process died
        sched = qs._Sched.of(qs.SCHEDULES.get(s, scope, sid))
        assert qs._record_run(s, sched, "crashed", int(_ts("2030-01-01 02:00:00")), external=False)
    assert api.get(f"{Q}/schedules/{sid}/runs/crashed").json()["state"] == "IN_PROGRESS"
    assert api.delete(f"{Q}/schedules/{sid}").status_code == 400  # an active run
    with api.ctx.db.session() as s:
        (doc,) = qs.SCHEDULE_RUNS.query(s, scope, ids=["crashed"])
        qs.SCHEDULE_RUNS.save(s, doc, {**doc.body, "recordedAt": doc.body["recordedAt"] - 301_000})
    run = api.get(f"{Q}/schedules/{sid}/runs/crashed").json()
    assert run["state"] == "FAILED" and "never submitted" in run["taskStatusList"][0]["message"]
    assert api.delete(f"{Q}/schedules/{sid}").status_code == 202


def test_a_disabled_client_s_schedule_runs_fail(api: Any) -> None:
    from xdmflow.store.tables import ApiClient

    other = api.as_other(OTHER)
    good = {"schedule": "0 2 * * *", "startDate": "2030-01-01 00:00:00+00:00"}
    sid = other.post(f"{Q}/schedules", json={"query": {"sql": "SELECT 1"}, "schedule": good}).json()["id"]
    with api.ctx.db.session() as s:
        client = s.get(ApiClient, other.creds["client_id"])
        client.disabled = True
    made = _loop(api, [_ts("2030-01-01 02:00:00")]).step()
    assert len(made) == 1
    run = other.client.get(f"{Q}/schedules/{sid}/runs/{made[0]}", headers=api.as_other(OTHER).headers).json()
    assert run["state"] == "FAILED" and "disabled" in run["taskStatusList"][0]["message"], run
    assert run["queryId"] is None


def test_two_schedulers_at_once_start_one_run_per_fire_time(api_both: Any) -> None:
    import threading

    api = api_both
    good = {"schedule": "*/5 * * * *", "startDate": "2030-01-01 00:00:00+00:00"}
    sids = [
        api.post(f"{Q}/schedules", json={"query": {"sql": f"SELECT {i}"}, "schedule": good}).json()["id"]
        for i in range(4)
    ]
    now = _ts("2030-01-01 00:05:00")
    barrier = threading.Barrier(2)
    made: list[list[str]] = [[], []]

    def fire(i: int) -> None:
        barrier.wait()
        made[i] = fire_query_schedules(api.ctx, now)

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(made[0]) + len(made[1]) == 4, made
    for sid in sids:
        runs = api.get(f"{Q}/schedules/{sid}/runs").json()["runsSchedules"]
        assert len(runs) == 1 and runs[0]["created"].startswith("2030-01-01T00:05:00"), runs
        _wait_run(api, sid, runs[0]["id"])


def test_the_served_scheduler_fires_a_query_schedule(tmp_path: Any) -> None:
    """``xdmflow serve`` (role ``all``): the background scheduler loop fires schedules by itself."""
    import time

    from fastapi.testclient import TestClient

    from tests.conftest import Api, make_settings
    from xdmflow.runtime import build_app

    settings = make_settings(tmp_path / "home", scheduler_interval_seconds=0.2, scheduler_lease_seconds=5.0)
    with TestClient(build_app(settings, role="all")) as client:
        api = Api(client)
        r = api.post(
            f"{Q}/schedules",
            json={
                "query": {"sql": "SELECT 42 AS answer"},
                "schedule": {"schedule": "* * * * *", "startDate": "2020-01-01 00:00:00+00:00"},
            },
        )
        assert r.status_code == 202, r.text
        sid = r.json()["id"]
        deadline = time.monotonic() + 20
        runs: list[dict[str, Any]] = []
        while not runs and time.monotonic() < deadline:
            time.sleep(0.1)
            runs = api.get(f"{Q}/schedules/{sid}/runs").json()["runsSchedules"]
        assert len(runs) == 1, "the scheduler loop did not fire the due schedule"
        run = _wait_run(api, sid, runs[0]["id"])
        assert run["state"] == "SUCCESS" and run["rowCount"] == 1, run


def test_max_active_runs_skips_fires_and_cancel_kills_a_run(api: Any) -> None:
    import time

    r = api.post(
        f"{Q}/schedules",
        json={
            "query": {"sql": "SELECT count(*) FROM range(100000000000) a"},
            "schedule": {"schedule": "* * * * *", "startDate": "2030-01-01 00:00:00", "maxActiveRuns": 1},
        },
    )
    sid = r.json()["id"]
    clock = [_ts("2030-01-01 00:00:00")]
    loop = _loop(api, clock)
    (first,) = loop.step()
    run = api.get(f"{Q}/schedules/{sid}/runs/{first}").json()
    assert run["state"] == "IN_PROGRESS"
    deadline = time.monotonic() + 10
    while (
        api.get(f"{Q}/queries/{run['queryId']}").json()["state"] == "SUBMITTED"
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    clock[0] = _ts("2030-01-01 00:01:00")
    assert loop.step() == []  # one run is still running: this fire time is skipped
    r = api.patch(f"{Q}/schedules/{sid}/runs/{first}", json={"op": "cancel"})
    assert r.status_code == 202, r.text
    assert wait(api, run["queryId"])["state"] == "KILLED"
    run = api.get(f"{Q}/schedules/{sid}/runs/{first}").json()
    assert run["state"] == "FAILED"
    assert api.patch(f"{Q}/schedules/{sid}/runs/{first}", json={"op": "pause"}).status_code == 400
    clock[0] = _ts("2030-01-01 00:02:00")
    (second,) = loop.step()
    q = api.get(f"{Q}/schedules/{sid}/runs/{second}").json()["queryId"]
    assert api.patch(f"{Q}/queries/{q}", json={"op": "cancel"}).status_code == 202
    assert wait(api, q)["state"] == "KILLED"
    # the pool is free again (a query cancelled before it started never runs): a new query finishes
    assert (
        wait(api, api.post(f"{Q}/queries", json={"sql": "SELECT 1"}).json()["id"], timeout=20)["state"]
        == "SUCCESS"
    )
