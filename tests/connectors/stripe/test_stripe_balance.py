"""Balance transactions that change state: ``pending`` until ``available_on``, then
``available`` when the emulator's clock passes it (with a ``balance.available`` event), read by
the connector's next incremental read and kept as one row per transaction by an upsert flow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Api
from tests.connectors.stripe.stripehelp import (
    Emulator,
    connector_registered,
    dataset_rows,
    run_again,
    stripe_connection,
    stripe_flow,
)
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
from xdmflow.connectors.base import ReadRequest
from xdmflow.connectors.stripe import StripeConnector
from xdmflow.connectors.stripe.streams import format_time
from xdmflow.emulators.stripe import DEFAULT_SECRET_KEY
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
    with connector_registered():
        yield


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
    base = stripe_connection(api, emu.url, f"stripe balance {mode}")
    return stripe_flow(api, base, "balance_transactions", FIELDS, f"stripe_balance_{mode}", mode=mode)


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
        assert {r["id"]: r["status"] for r in dataset_rows(api, ds, guid)} == {
            i: t["status"] for i, t in txns.items()
        }

    # a day and a half: the oldest pending one settles, the two others are re-read unchanged
    emulator.admin("clock", {"advance": 3 * DAY // 2})
    settled = [i for i in pending if _txns(emulator)[i]["status"] == "available"]
    assert len(settled) == 1
    for flow_id, _, _ in flows.values():
        run_again(api, flow_id, 2)
    up = {r["id"]: r["status"] for r in dataset_rows(api, *flows["upsert"][1:])}
    assert (
        up == {i: t["status"] for i, t in _txns(emulator).items()} and list(up.values()).count("pending") == 2
    )
    history = [(r["id"], r["status"]) for r in dataset_rows(api, *flows["append"][1:])]
    assert len(history) == len(set(history)) == len(txns) + 1, "no duplicates of the unchanged rows"

    # another day: all of them are available
    emulator.admin("clock", {"advance": DAY})
    for flow_id, _, _ in flows.values():
        run_again(api, flow_id, 3)
    rows = dataset_rows(api, *flows["upsert"][1:])
    txns = _txns(emulator)
    assert len(rows) == len({r["id"] for r in rows}) == len(txns), "one row per transaction"
    assert {r["id"]: r["status"] for r in rows} == dict.fromkeys(txns, "available")
    assert {r["id"]: (r["amount"], r["net"], r["currency"]) for r in rows} == {
        i: (t["amount"], t["net"], t["currency"]) for i, t in txns.items()
    }
    history = [(r["id"], r["status"]) for r in dataset_rows(api, *flows["append"][1:])]
    assert sorted(history) == sorted([(i, "available") for i in txns] + [(i, "pending") for i in pending]), (
        "append keeps each status a transaction had, once"
    )
