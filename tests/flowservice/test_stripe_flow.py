"""Stripe flows end to end: the service (API + scheduler + worker) reads the Stripe emulator.

The datasets must hold exactly the emulator's objects (ids and latest states compared, not
counts): after a full run, and after incremental runs across 30 simulated days of changes
(new charges, late refunds and disputes, dispute closings). The upsert dataset has one row per
charge in its latest state; the append dataset keeps every version, whose newest per id is the
latest state. A cursor older than Stripe's 30-day event window falls back to a full re-read,
said in the run's source summary.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from tests.conftest import Api
from tests.connectors.stripe.stripehelp import (
    connector_registered,
    dataset_rows,
    run_again,
    stripe_connection,
    stripe_flow,
)
from tests.flowservice.conftest import CRM, FS, ok, wait_runs
from xdmflow.connectors.http.retry import RetryPolicy
from xdmflow.connectors.stripe import StripeConnector
from xdmflow.connectors.stripe.spec import SPEC_ID
from xdmflow.emulators.stripe import DEFAULT_SECRET_KEY, DataConfig, EmulatorConfig, EmulatorState, create_app

DAY = 86_400
FIELDS = {
    "id": {"type": "string"},
    "status": {"type": "string"},
    "amount": {"type": "integer"},
    "amount_refunded": {"type": "integer"},
    "amount_value": {"type": "string"},
    "currency": {"type": "string"},
    "refunded": {"type": "boolean"},
    "disputed": {"type": "boolean"},
    "updated": {"type": "string", "format": "date-time"},
}
STATE = ("status", "amount", "amount_refunded", "currency", "refunded", "disputed")


class Stripe:
    def __init__(self, url: str, state: EmulatorState) -> None:
        self.url = url
        self.state = state

    def simulate(self, days: int) -> None:
        with self.state.store.lock:
            self.state.payments.simulate(days, charges_per_day=4)

    def charges(self) -> dict[str, dict[str, Any]]:
        return {c["id"]: {k: c[k] for k in STATE} for c in self.state.store.all("charges")}


@pytest.fixture
def stripe_emulator() -> Iterator[Stripe]:
    config = EmulatorConfig(
        data=DataConfig(n_customers=8, n_charges=120, days=20), rate_limit_rps=None, ticking=False
    )
    app = create_app(11, config=config)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", date_header=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    # the connector through the registry in-process (the installed entry points may predate it)
    connector = StripeConnector(retry=RetryPolicy(initial_delay=0.01, max_delay=0.05, total_budget=20))
    try:
        with connector_registered(connector):
            yield Stripe(f"http://127.0.0.1:{port}", app.state.emulator)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _flow(api: Api, stripe: Stripe, mode: str, name: str) -> tuple[str, str, str]:
    base = stripe_connection(api, stripe.url, f"stripe {name}")
    return stripe_flow(api, base, "charges", FIELDS, name, mode=mode)


def _latest(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: r["updated"]):
        out[r["id"]] = {k: r[k] for k in STATE}
    return out


def test_charges_full_incremental_upsert_and_append(service: Api, stripe_emulator: Stripe) -> None:
    api, stripe = service, stripe_emulator
    up_flow, up_ds, up_ns = _flow(api, stripe, "upsert", "charges_upsert")
    ap_flow, ap_ds, ap_ns = _flow(api, stripe, "append", "charges_append")
    for flow in (up_flow, ap_flow):
        [run] = wait_runs(api, flow)
        assert run["state"] == "success", run["metrics"]
    expected = stripe.charges()
    up = dataset_rows(api, up_ds, up_ns)
    assert len(up) == len(expected) and _latest(up) == expected
    assert _latest(dataset_rows(api, ap_ds, ap_ns)) == expected

    # a late refund and a late dispute of charges from weeks ago, then 30 days of changes,
    # read by one incremental run every 10 days
    old = [
        c
        for c in stripe.state.store.all("charges")
        if c["status"] == "succeeded" and not c["refunded"] and not c["disputed"]
    ]
    with stripe.state.store.lock:
        stripe.state.store.advance(DAY)
        stripe.state.payments.refund(old[0]["id"], 100)
        stripe.state.payments.dispute(old[1]["id"])
    run = run_again(api, up_flow, 2)
    assert run["metrics"]["customSummary"]["source"]["readMode"] == "events"
    got = {r["id"]: r for r in dataset_rows(api, up_ds, up_ns)}
    assert got[old[0]["id"]]["amount_refunded"] == 100 and got[old[1]["id"]]["disputed"] is True
    run_again(api, ap_flow, 2)
    n = 3
    for _ in range(3):
        stripe.simulate(10)
        run_again(api, up_flow, n)
        run_again(api, ap_flow, n)
        n += 1
    expected = stripe.charges()
    changed = {i for i, c in expected.items() if c["refunded"] or c["disputed"] or c["amount_refunded"]}
    assert len(changed) > 5, "the simulation changed charges after they landed"
    up = dataset_rows(api, up_ds, up_ns)
    assert len(up) == len({r["id"] for r in up}), "upsert keeps one row per charge"
    assert _latest(up) == expected
    history = dataset_rows(api, ap_ds, ap_ns)
    assert len(history) > len(expected), "append keeps the earlier versions"
    assert _latest(history) == expected

    # no run for 31 days: the cursor is past the event window, the next run re-reads in full
    with stripe.state.store.lock:
        stripe.state.store.advance(31 * DAY)
    run = run_again(api, up_flow, n)
    source = run["metrics"]["customSummary"]["source"]
    assert source["readMode"] == "full re-read" and "30 days" in source["notice"]
    assert _latest(dataset_rows(api, up_ds, up_ns)) == stripe.charges()


def test_write_mode_is_validated(service: Api, stripe_emulator: Stripe) -> None:
    api, stripe = service, stripe_emulator
    flow_id, ds, guid = _flow(api, stripe, "upsert", "charges_keys")
    [run] = wait_runs(api, flow_id)
    assert run["state"] == "success", run["metrics"]
    flow = ok(api.get(f"{FS}/flows/{flow_id}"))["items"][0]
    body = {
        "name": "bad mode",
        "flowSpec": {"id": CRM, "version": "1.0"},
        "sourceConnectionIds": flow["sourceConnectionIds"],
        "targetConnectionIds": flow["targetConnectionIds"],
        "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
    }
    r = api.post(f"{FS}/flows", json={**body, "options": {"writeMode": "merge"}})
    assert r.status_code == 400 and "writeMode" in r.text
    bad = ok(
        api.post(
            f"{FS}/flows",
            json={**body, "name": "bad key", "options": {"writeMode": "upsert", "keyColumns": ["nope"]}},
        )
    )
    [run] = wait_runs(api, bad["id"])
    assert run["state"] == "failed"
    assert "keyColumns names nope" in str(run["metrics"]["statusSummary"]), run["metrics"]["statusSummary"]
    # the explicit key (the dataset path of the id) is the same as the derived one
    good = ok(
        api.post(
            f"{FS}/flows",
            json={
                **body,
                "name": "explicit key",
                "options": {"writeMode": "upsert", "keyColumns": [f"{guid}.id"]},
            },
        )
    )
    [run] = wait_runs(api, good["id"])
    assert run["state"] == "success", run["metrics"]
    rows = dataset_rows(api, ds, guid)
    assert len(rows) == len({r["id"] for r in rows}) == len(stripe.charges())


def test_connection_spec_and_explore(service: Api, stripe_emulator: Stripe) -> None:
    api, stripe = service, stripe_emulator
    spec = ok(api.get(f"{FS}/connectionSpecs/{SPEC_ID}"))["items"][0]
    assert spec["name"] == "Stripe" and spec["attributes"]["category"] == "Payments"
    assert [a["name"] for a in spec["authSpec"]] == ["OAuth2 Refresh Code", "API Key"]
    crm = ok(api.get(f"{FS}/flowSpecs/{CRM}"))["items"][0]
    assert SPEC_ID in crm["sourceConnectionSpecIds"]
    base = ok(
        api.post(
            f"{FS}/connections",
            json={
                "name": "stripe explore",
                "auth": {"specName": "API Key", "params": {"apiKey": DEFAULT_SECRET_KEY, "host": stripe.url}},
                "connectionSpec": {"id": SPEC_ID, "version": "1.0"},
            },
        )
    )["id"]
    conn = ok(api.get(f"{FS}/connections/{base}"))["items"][0]
    assert DEFAULT_SECRET_KEY not in str(conn), "the key is never returned"
    root = ok(api.get(f"{FS}/connections/{base}/explore?objectType=root"))
    assert "charges" in [i["path"] for i in root]


def test_stripe_host_obeys_allowed_hosts(stripe_emulator: Stripe, tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from tests.conftest import make_settings
    from xdmflow.api.app import create_app as api_app
    from xdmflow.runtime import build_context

    connector = StripeConnector()
    port = int(stripe_emulator.url.rsplit(":", 1)[1])
    assert connector.reach({"accessToken": DEFAULT_SECRET_KEY, "host": stripe_emulator.url}).hosts == (
        ("127.0.0.1", port),
    )
    assert connector.reach({"accessToken": DEFAULT_SECRET_KEY}).hosts == (("api.stripe.com", 443),)
    body = {
        "name": "stripe",
        "auth": {
            "specName": "OAuth2 Refresh Code",
            "params": {"accessToken": DEFAULT_SECRET_KEY, "host": stripe_emulator.url},
        },
        "connectionSpec": {"id": SPEC_ID, "version": "1.0"},
    }
    for allowed, status in (([], 400), ([f"127.0.0.1:{port}"], 200)):
        settings = make_settings(tmp_path / f"home{len(allowed)}", None, allowed_hosts=allowed)
        with TestClient(api_app(settings, context=build_context)) as client:
            r = Api(client).post(f"{FS}/connections", json=body)
        assert (r.status_code == 400) == (status == 400), r.text
        if status == 400:
            assert "XDMFLOW_ALLOWED_HOSTS" in r.text and DEFAULT_SECRET_KEY not in r.text
