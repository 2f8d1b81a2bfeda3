"""Balance transactions that change state: ``pending`` until ``available_on``, then
``available`` when the emulator's clock passes it (with a ``balance.available`` event), read by
the connector's next incremental read and kept as one row per transaction by an upsert flow."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Api
from tests.connectors.stripe.stripehelp import FAST_RETRY, Emulator
from tests.flowservice.conftest import (  # noqa: F401 - service is a fixture
    CRM,
    FS,
    adhoc_schema,
    dataset,
    ok,
    service,
    target_connection,
    wait_runs,
)
from xdmflow.connectors import registry
from xdmflow.connectors.base import ReadRequest
from xdmflow.connectors.stripe import StripeConnector
from xdmflow.connectors.stripe.spec import SPEC_ID
from xdmflow.connectors.stripe.streams import format_time
from xdmflow.emulators.stripe import DEFAULT_SECRET_KEY
from xdmflow.lake.lake import namespace_for
from xdmflow.testing.connector_suite import read_all

DAY = 86_400


def _txns(emu: Emulator) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in emu.objects("balance_transactions")}


def _recent_payments(emu: Emulator) -> None:
    """Two charges and a refund in the last day: their balance transactions are pending."""
    now = emu.state.store.now()
    a = emu.admin("charges", {"customer": None, "amount": 1200, "currency": "usd", "created": now - DAY})
    emu.admin("charges", {"customer": None, "amount": 900, "currency": "jpy", "created": now - 3600})
    emu.admin("refunds", {"charge": a["id"], "amount": 200, "created": now - 600})


def test_pending_becomes_available_when_the_clock_passes(emulator: Emulator) -> None:
    ch = emulator.admin("charges", {"customer": None, "amount": 2500, "currency": "usd"})
    txn = _txns(emulator)[ch["balance_transaction"]]
    assert txn["status"] == "pending" and txn["available_on"] == txn["created"] + 2 * DAY
    emulator.admin("clock", {"advance": 2 * DAY - 1})
    h = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}
    url = f"{emulator.url}/v1/balance_transactions/{txn['id']}"
    assert httpx.get(url, headers=h).json()["status"] == "pending"
    emulator.admin("clock", {"advance": 1})
    assert httpx.get(url, headers=h).json()["status"] == "available"
    events = httpx.get(
        f"{emulator.url}/v1/events",
        params={"type": "balance.available", "created[gte]": txn["available_on"]},
        headers=h,
    ).json()["data"]
    assert [e["created"] for e in events] == [txn["available_on"]]
    balance = events[0]["data"]["object"]
    assert balance["object"] == "balance" and {"available", "pending"} <= set(balance)
    # the seeded history settled as its clock moved
    now = emulator.state.store.now()
    for t in _txns(emulator).values():
        assert t["status"] == ("available" if t["available_on"] <= now else "pending"), t


def test_incremental_read_picks_up_the_change(connector: StripeConnector, emulator: Emulator) -> None:
    _recent_payments(emulator)
    auth = emulator.auth()
    read = ReadRequest(object="balance_transactions", delta_column="updated")
    first, r1 = read_all(connector, auth, read)
    pending = {r["id"] for r in first.to_pylist() if r["status"] == "pending"}
    assert len(pending) == 3
    oldest = min(r["created"] for r in first.to_pylist() if r["status"] == "pending")
    assert r1.extensions["pendingSince"] == format_time(int(oldest.timestamp()))
    assert r1.new_watermark <= format_time(int(oldest.timestamp()) + 300)
    emulator.admin("clock", {"advance": 3 * DAY})
    second, r2 = read_all(connector, auth, ReadRequest(**{**read.__dict__, "watermark": r1.new_watermark}))
    rows = {r["id"]: r for r in second.to_pylist()}
    assert pending <= set(rows) and all(rows[i]["status"] == "available" for i in pending)
    txns = _txns(emulator)
    assert all(int(rows[i]["updated"].timestamp()) == txns[i]["available_on"] for i in pending)
    assert "pendingSince" not in r2.extensions and r2.new_watermark == format_time(emulator.state.store.now())


@pytest.fixture
def registered() -> Iterator[None]:
    """The connector in the registry in-process (the installed entry points may predate it)."""
    found = registry._load()
    added = SPEC_ID not in found
    if added:
        found[SPEC_ID] = StripeConnector(retry=FAST_RETRY, timeout=10.0)
    try:
        yield
    finally:
        if added:
            found.pop(SPEC_ID, None)


FIELDS = {
    "id": {"type": "string"},
    "status": {"type": "string"},
    "amount": {"type": "integer"},
    "net": {"type": "integer"},
    "currency": {"type": "string"},
    "type": {"type": "string"},
    "available_on": {"type": "string", "format": "date-time"},
    "updated": {"type": "string", "format": "date-time"},
}


def _flow(api: Api, emu: Emulator, mode: str) -> tuple[str, str, str]:
    schema = adhoc_schema(api, FIELDS, title=f"stripe balance {mode}")
    ds = dataset(api, schema["$id"], name=f"stripe_balance_{mode}")
    base = ok(
        api.post(
            f"{FS}/connections",
            json={
                "name": f"stripe balance {mode}",
                "auth": {
                    "specName": "OAuth2 Refresh Code",
                    "params": {"accessToken": DEFAULT_SECRET_KEY, "host": emu.url},
                },
                "connectionSpec": {"id": SPEC_ID, "version": "1.0"},
            },
        )
    )["id"]
    src = ok(
        api.post(
            f"{FS}/sourceConnections",
            json={
                "name": "balance transactions",
                "baseConnectionId": base,
                "data": {"format": "tabular"},
                "params": {"tableName": "balance_transactions"},
                "connectionSpec": {"id": SPEC_ID, "version": "1.0"},
            },
        )
    )["id"]
    flow = ok(
        api.post(
            f"{FS}/flows",
            json={
                "name": f"stripe balance {mode}",
                "flowSpec": {"id": CRM, "version": "1.0"},
                "sourceConnectionIds": [src],
                "targetConnectionIds": [target_connection(api, ds)],
                "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": "updated"}}}],
                "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
                "options": {"writeMode": mode},
            },
        )
    )
    return flow["id"], ds, schema["meta:datasetNamespace"]


def _rows(api: Api, ds: str, guid: str) -> list[dict[str, Any]]:
    ns = namespace_for(api.creds["org_id"], "prod")
    return [r[guid] for r in api.ctx.lake.scan(ns, ds).to_pylist()]


def _run_again(api: Api, flow_id: str, count: int) -> None:
    ok(api.post(f"{FS}/runs", json={"flowId": flow_id, "params": {"startTime": str(int(time.time()))}}))
    run = wait_runs(api, flow_id, count=count)[-1]
    assert run["state"] == "success", run["metrics"]


def test_upsert_flow_keeps_one_available_row_per_transaction(
    service: Api,  # noqa: F811
    emulator: Emulator,
    registered: None,
) -> None:
    """Upsert: one row per transaction in its latest status; append: every status a transaction
    had, once each (the unchanged pending rows re-read by the second run are dropped)."""
    api = service
    _recent_payments(emulator)
    flows = {mode: _flow(api, emulator, mode) for mode in ("upsert", "append")}
    for flow_id, _, _ in flows.values():
        [run] = wait_runs(api, flow_id)
        assert run["state"] == "success", run["metrics"]
    txns = _txns(emulator)
    pending = sorted(i for i, t in txns.items() if t["status"] == "pending")
    assert len(pending) == 3
    for _, ds, guid in flows.values():
        assert {r["id"]: r["status"] for r in _rows(api, ds, guid)} == {
            i: t["status"] for i, t in txns.items()
        }

    # a day and a half: the oldest pending one settles, the two others are re-read unchanged
    emulator.admin("clock", {"advance": 3 * DAY // 2})
    settled = [i for i in pending if _txns(emulator)[i]["status"] == "available"]
    assert len(settled) == 1
    for flow_id, _, _ in flows.values():
        _run_again(api, flow_id, 2)
    up = {r["id"]: r["status"] for r in _rows(api, *flows["upsert"][1:])}
    assert (
        up == {i: t["status"] for i, t in _txns(emulator).items()} and list(up.values()).count("pending") == 2
    )
    history = [(r["id"], r["status"]) for r in _rows(api, *flows["append"][1:])]
    assert len(history) == len(set(history)) == len(txns) + 1, "no duplicates of the unchanged rows"

    # another day: all of them are available
    emulator.admin("clock", {"advance": DAY})
    for flow_id, _, _ in flows.values():
        _run_again(api, flow_id, 3)
    rows = _rows(api, *flows["upsert"][1:])
    txns = _txns(emulator)
    assert len(rows) == len({r["id"] for r in rows}) == len(txns), "one row per transaction"
    assert {r["id"]: r["status"] for r in rows} == dict.fromkeys(txns, "available")
    assert {r["id"]: (r["amount"], r["net"], r["currency"]) for r in rows} == {
        i: (t["amount"], t["net"], t["currency"]) for i, t in txns.items()
    }
    history = [(r["id"], r["status"]) for r in _rows(api, *flows["append"][1:])]
    assert sorted(history) == sorted([(i, "available") for i in txns] + [(i, "pending") for i in pending]), (
        "append keeps each status a transaction had, once"
    )
