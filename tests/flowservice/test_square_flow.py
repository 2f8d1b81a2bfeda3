"""Square through the whole service: a CRMToAEP flow on the Square emulator lands exactly the
emulator's payments, and the next incremental run brings the late refunds as new states."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Api
from tests.flowservice.conftest import CRM, FS, adhoc_schema, dataset, ok, target_connection
from xdmflow.cli.demo import ServiceThread, free_port
from xdmflow.emulators.square import DEFAULT_ACCESS_TOKEN, SquareConfig, SquareState, create_app
from xdmflow.lake.lake import namespace_for

SQUARE = "2acf109f-9b66-4d5e-bc18-ebb2adcff8d5"
FIELDS = {
    "id": {"type": "string"},
    "status": {"type": "string"},
    "location_id": {"type": "string"},
    "amount_amount": {"type": "integer"},
    "refunded_amount": {"type": "integer"},
    "updated_at": {"type": "string", "format": "date-time"},
}


@pytest.fixture
def square() -> Iterator[tuple[str, SquareState]]:
    app = create_app(5, config=SquareConfig(n_payments=180, refund_fraction=0.1))
    server = ServiceThread(app, free_port()).start()
    try:
        yield server.url, app.state.emulator
    finally:
        server.stop()


def run_now(api: Api, flow_id: str) -> None:
    now = str(int(time.time()))
    ok(
        api.post(
            f"{FS}/runs",
            json={
                "flowId": flow_id,
                "params": {"startTime": now, "windowStartTime": "0", "windowEndTime": now},
            },
        )
    )


def wait_done(api: Api, flow_id: str, count: int, timeout: float = 90) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = ok(api.get(f"{FS}/runs?property=flowId=={flow_id}&orderby=createdAt"))["items"]
        done = [r for r in runs if r["state"] in ("success", "failed")]
        if len(done) >= count:
            return done
        time.sleep(0.2)
    raise AssertionError(f"runs of {flow_id} did not finish")


def test_square_flow_full_then_incremental(service: Api, square: tuple[str, SquareState]) -> None:
    api, (url, state) = service, square
    base = ok(
        api.post(
            f"{FS}/connections",
            json={
                "name": "square",
                "auth": {
                    "specName": "OAuth2 Refresh Code",
                    "params": {"host": url, "accessToken": DEFAULT_ACCESS_TOKEN},
                },
                "connectionSpec": {"id": SQUARE, "version": "1.0"},
            },
        )
    )["id"]
    got = ok(api.get(f"{FS}/connections/{base}"))["items"][0]
    assert DEFAULT_ACCESS_TOKEN not in str(got)
    src = ok(
        api.post(
            f"{FS}/sourceConnections",
            json={
                "name": "square payments",
                "baseConnectionId": base,
                "data": {"format": "tabular"},
                "params": {"tableName": "Square.Payments"},
                "connectionSpec": {"id": SQUARE, "version": "1.0"},
            },
        )
    )["id"]
    schema = adhoc_schema(api, FIELDS, title="square payments")
    ds = dataset(api, schema["$id"], name="square payments")
    tgt = target_connection(api, ds)
    flow = ok(
        api.post(
            f"{FS}/flows",
            json={
                "name": "square payments",
                "flowSpec": {"id": CRM, "version": "1.0"},
                "sourceConnectionIds": [src],
                "targetConnectionIds": [tgt],
                "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}],
                "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
            },
        )
    )["id"]
    [first] = wait_done(api, flow, 1)
    assert first["state"] == "success", first["metrics"]
    guid = schema["meta:datasetNamespace"]
    ns = namespace_for(api.creds["org_id"], "prod")

    def lake_states() -> list[tuple[Any, ...]]:
        rows = api.ctx.lake.scan(ns, ds).column(guid).to_pylist()
        return sorted(
            ((r["id"], r["status"], r["amount_amount"], r["refunded_amount"]) for r in rows), key=str
        )

    def emulator_states(ids: set[str] | None = None) -> list[tuple[Any, ...]]:
        return sorted(
            (
                (
                    p["id"],
                    p["status"],
                    p["amount_money"]["amount"],
                    (p.get("refunded_money") or {}).get("amount"),
                )
                for p in state.dump("payments")
                if ids is None or p["id"] in ids
            ),
            key=str,
        )

    before = emulator_states()
    assert lake_states() == before  # every location, exact objects and states

    # days later: two refunds of old payments and a new payment
    state.advance(2 * 86_400)
    old = [p for p in state.dump("payments") if not p.get("refund_ids")][:2]
    state.refund(old[0]["id"], old[0]["amount_money"]["amount"])
    state.refund(old[1]["id"], 5)
    new = state.add_payment(amount=4321)
    run_now(api, flow)
    second = wait_done(api, flow, 2)[1]
    assert second["state"] == "success", second["metrics"]
    assert second["metrics"]["recordSummary"]["outputRecordCount"] == 3
    # append mode keeps the history: the first run's states plus exactly the three new states
    changed = {old[0]["id"], old[1]["id"], new["id"]}
    assert lake_states() == sorted(before + emulator_states(changed), key=str)
