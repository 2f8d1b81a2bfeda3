"""Bulk charges for the benchmark: the emulator's ``seed`` admin operation adds many charges at
once (vectorised, deterministic by seed), and they page like any other charge - newest first
with the id tie-break, exclusive cursors, 100 per page - so the connector reads exactly them.
Functional only: the speed itself is measured by the bench, not asserted here."""

from __future__ import annotations

from typing import Any

import httpx

from tests.connectors.stripe.stripehelp import Emulator, small_config
from xdmflow.connectors.base import ReadRequest
from xdmflow.connectors.stripe import StripeConnector
from xdmflow.emulators.stripe import DEFAULT_SECRET_KEY, DataConfig
from xdmflow.testing.connector_suite import read_all

DAY = 86_400


def _seeded_ids(emu: Emulator, before: set[str]) -> list[str]:
    return [c["id"] for c in emu.objects("charges") if c["id"] not in before]


def test_seed_adds_charges_deterministically_and_they_page_newest_first(
    connector: StripeConnector, make_emulator: Any
) -> None:
    a: Emulator = make_emulator(seed=3)
    b: Emulator = make_emulator(seed=3)
    c: Emulator = make_emulator(seed=4)
    before = {x["id"] for x in a.objects("charges")}
    # 2,500 charges in one hour: many share a second, so the id tie-break is exercised
    out = a.admin("seed", {"charges": 2500, "days": 1 / 24})
    assert out == {"charges": 2500, "total": len(before) + 2500}
    b.admin("seed", {"charges": 2500, "days": 1 / 24})
    c.admin("seed", {"charges": 2500, "days": 1 / 24})
    seeded = _seeded_ids(a, before)
    assert len(seeded) == len(set(seeded)) == 2500
    assert seeded == _seeded_ids(b, before), "same seed, same charges"
    assert set(seeded).isdisjoint(_seeded_ids(c, before)), "another seed, other charges"
    objs = {x["id"]: x for x in a.objects("charges")}
    now = a.state.store.now()
    assert all(now - 3600 <= objs[i]["created"] < now for i in seeded)
    assert all(objs[i]["status"] == "succeeded" and objs[i]["amount"] > 0 for i in seeded)
    assert len({objs[i]["created"] for i in seeded}) < 2500, "ties on created"

    got, _ = read_all(connector, a.auth(), ReadRequest(object="charges", batch_size=1000))
    ids = got.column("id").to_pylist()
    assert len(ids) == len(objs) and set(ids) == set(objs)
    # the order Stripe lists in: created descending, then id descending
    expected = sorted(objs.values(), key=lambda o: (o["created"], o["id"]), reverse=True)
    assert ids == [o["id"] for o in expected]
    calls = [r for r in a.state.requests if r["path"] == "/v1/charges"]
    assert len(calls) == -(-len(objs) // 100)


def test_seed_option_and_pages_around_a_cursor(make_emulator: Any) -> None:
    emu: Emulator = make_emulator(
        config=small_config(data=DataConfig(n_customers=1, n_charges=0, n_products=0, bulk_charges=1200))
    )
    assert emu.admin("state")["counts"]["charges"] == 1200
    h = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}
    first = httpx.get(f"{emu.url}/v1/charges", params={"limit": 100}, headers=h).json()
    pivot = first["data"][-1]["id"]
    after = httpx.get(f"{emu.url}/v1/charges", params={"limit": 100, "starting_after": pivot}, headers=h)
    before = httpx.get(f"{emu.url}/v1/charges", params={"limit": 99, "ending_before": pivot}, headers=h)
    order = [o["id"] for o in sorted(emu.objects("charges"), key=lambda o: (o["created"], o["id"]))][::-1]
    k = order.index(pivot)
    assert [o["id"] for o in first["data"]] == order[:100]
    assert [o["id"] for o in after.json()["data"]] == order[k + 1 : k + 101] and after.json()["has_more"]
    assert [o["id"] for o in before.json()["data"]] == order[k - 99 : k]
    r = httpx.post(f"{emu.url}/_emulator/seed", json={"charges": 10, "days": 0})
    assert r.status_code == 400 and "start < end" in r.json()["error"]
