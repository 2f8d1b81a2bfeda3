"""The emulator honours the PayPal contract (payment-apis.md §1.11), over a real socket."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.connectors.paypal.paypalhelp import Emulator
from xdmflow.emulators.paypal import EmulatorConfig, create_app

PATH = "/v1/reporting/transactions"


def fmt(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def search(emu: Emulator, token: str, start: datetime, end: datetime, **params: str | int) -> httpx.Response:
    query = {"start_date": fmt(start), "end_date": fmt(end), **params}
    return httpx.get(f"{emu.url}{PATH}", params=query, headers={"Authorization": f"Bearer {token}"})


def test_token_endpoint(big_emulator: Emulator) -> None:
    url = f"{big_emulator.url}/v1/oauth2/token"
    bad = httpx.post(
        url, auth=("xdmflow-emulator-client", "wrong"), data={"grant_type": "client_credentials"}
    )
    assert bad.status_code == 401
    assert bad.json() == {"error": "invalid_client", "error_description": "Client Authentication failed"}
    assert httpx.post(url, data={"grant_type": "client_credentials"}).status_code == 401
    no_grant = httpx.post(url, auth=("xdmflow-emulator-client", "xdmflow-emulator-secret"))
    assert no_grant.status_code == 400
    ok = httpx.post(
        url,
        auth=("xdmflow-emulator-client", "xdmflow-emulator-secret"),
        data={"grant_type": "client_credentials"},
    )
    body = ok.json()
    assert ok.status_code == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 32400
    assert "https://uri.paypal.com/services/reporting/search/read" in body["scope"].split()


def test_transaction_search_rules(big_emulator: Emulator) -> None:
    emu, token = big_emulator, big_emulator.token()
    now = datetime.now(UTC)
    missing = httpx.get(
        f"{emu.url}{PATH}", params={"end_date": fmt(now)}, headers={"Authorization": f"Bearer {token}"}
    )
    assert missing.status_code == 400 and missing.json()["name"] == "INVALID_REQUEST"
    no_seconds = search(emu, token, now - timedelta(days=1), now, start_date="2026-01-01T00:00Z")
    assert no_seconds.status_code == 400
    too_long = search(emu, token, now - timedelta(days=32), now - timedelta(hours=4))
    body = too_long.json()
    assert too_long.status_code == 400 and body["details"][0]["issue"] == "Date range is greater than 31 days"
    assert {"name", "message", "debug_id", "details", "links"} <= set(body)
    assert search(emu, token, now - timedelta(days=2), now, page_size=501).status_code == 400
    assert search(emu, token, now - timedelta(days=2), now, page=0).status_code == 400
    late = search(emu, token, now - timedelta(hours=1), now)
    assert (
        late.status_code == 400
        and late.json()["message"] == "Data for the given start date is not available."
    )
    capped = search(emu, token, now - timedelta(days=45), now - timedelta(days=15))
    assert capped.status_code == 400 and capped.json()["name"] == "RESULTSET_TOO_LARGE"
    assert capped.json()["maximum_items"] == 10_000
    too_old = search(emu, token, now - timedelta(days=3 * 365 + 2), now - timedelta(days=3 * 365 - 20))
    assert too_old.status_code == 400


def test_auth_errors_on_api_calls(big_emulator: Emulator) -> None:
    emu = big_emulator
    now = datetime.now(UTC)
    start, end = now - timedelta(days=2), now
    assert httpx.get(f"{emu.url}{PATH}").json()["name"] == "AUTHENTICATION_FAILURE"
    unknown = search(emu, "A21AAnot-a-token", start, end)
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_token"
    token = emu.token()
    assert search(emu, token, start, end).status_code == 200
    emu.admin("tokens/expire", {})
    assert search(emu, token, start, end).json()["error"] == "invalid_token"
    r = httpx.post(
        f"{emu.url}/v1/oauth2/token",
        auth=("no-reporting-client", "no-reporting-secret"),
        data={"grant_type": "client_credentials"},
    )
    forbidden = search(emu, r.json()["access_token"], start, end)
    assert forbidden.status_code == 403 and forbidden.json()["name"] == "NOT_AUTHORIZED"


def test_generated_data_has_the_traps(big_emulator: Emulator) -> None:
    """>= 20k rows over >= 90 days, refunds, duplicate ids, odd ids, currencies, negative fees."""
    state = big_emulator.state
    rows = state.store.search(0, 2**40, balance_only=False, filters={})
    assert len(rows) >= 20_000 and len(state.data.products) >= 50
    assert (max(t.initiation for t in rows) - min(t.initiation for t in rows)) >= 90 * 86_400
    by_id = Counter(t.transaction_id for t in rows)
    assert any(n > 1 for n in by_id.values())
    assert len({t.key for t in rows}) == len(rows)
    ids = {t.transaction_id: t for t in rows}
    refunds = [t for t in rows if t.event_code == "T1107"]
    assert refunds and all(t.amount < 0 and t.reference_id in ids for t in refunds)
    assert any(ids[t.reference_id or ""].status == "V" for t in refunds)
    assert any(re.fullmatch(r"\d{17}", t.transaction_id) for t in rows)
    assert any(re.fullmatch(r"\dE\d{15}", t.transaction_id) for t in rows)
    assert {"USD", "EUR", "GBP", "JPY"} <= {t.currency for t in rows}
    assert any(t.updated > t.initiation for t in rows)
    assert state.data.pending_flips, "some pending rows flip to S later"


def test_rendering_and_defaults(big_emulator: Emulator) -> None:
    emu, token = big_emulator, big_emulator.token()
    now = datetime.now(UTC)
    start, end = now - timedelta(days=10), now - timedelta(days=1)
    default = search(emu, token, start, end, page_size=500).json()
    first = default["transaction_details"][0]
    assert first["payer_info"] == {} and first["cart_info"] == {} and first["transaction_info"]
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", first["transaction_info"]["transaction_initiation_date"]
    )
    assert default["total_pages"] == -(-default["total_items"] // 500)
    assert {link["rel"] for link in default["links"]} >= {"self", "last"}
    everything = search(
        emu, token, start, end, page_size=500, balance_affecting_records_only="N", fields="all"
    ).json()
    assert everything["total_items"] > default["total_items"], "non-balance-affecting rows hidden by default"
    assert everything["transaction_details"][0]["payer_info"]
    infos = [d["transaction_info"] for d in everything["transaction_details"]]
    for info in infos:
        value = info["transaction_amount"]["value"]
        decimals = 0 if info["transaction_amount"]["currency_code"] == "JPY" else 2
        pattern = r"-?\d+" if decimals == 0 else r"-?\d+\.\d{2}"
        assert re.fullmatch(pattern, value), value
    assert any(info["fee_amount"]["value"].startswith("-") for info in infos)
    page2 = search(emu, token, start, end, page_size=500, page=2).json()
    assert page2["page"] == 2 and page2["transaction_details"][0] != first


def test_balances_products_plans(big_emulator: Emulator) -> None:
    emu, token = big_emulator, big_emulator.token()
    auth = {"Authorization": f"Bearer {token}"}
    bal = httpx.get(f"{emu.url}/v1/reporting/balances", headers=auth).json()
    assert {b["currency"] for b in bal["balances"]} >= {"USD", "EUR", "GBP", "JPY"}
    assert [b["primary"] for b in bal["balances"]].count(True) == 1
    assert (
        httpx.get(f"{emu.url}/v1/catalogs/products", params={"page_size": 21}, headers=auth).status_code
        == 400
    )
    page = httpx.get(
        f"{emu.url}/v1/catalogs/products", params={"page_size": 20, "page": 2}, headers=auth
    ).json()
    assert "total_items" not in page and len(page["products"]) == 20
    assert set(page["products"][0]) == {"id", "name", "description", "create_time", "links"}
    assert {link["rel"] for link in page["links"]} == {"self", "next", "last"}
    total = httpx.get(
        f"{emu.url}/v1/catalogs/products", params={"total_required": "true"}, headers=auth
    ).json()
    assert total["total_items"] == 60 and total["total_pages"] == 6
    detail = httpx.get(page["products"][0]["links"][0]["href"], headers=auth).json()
    assert {"type", "category", "update_time"} <= set(detail)
    missing = httpx.get(f"{emu.url}/v1/catalogs/products/PROD-NOPE", headers=auth)
    assert missing.status_code == 404 and missing.json()["name"] == "RESOURCE_NOT_FOUND"
    plans = httpx.get(f"{emu.url}/v1/billing/plans", params={"page_size": 20}, headers=auth).json()["plans"]
    assert plans and "billing_cycles" not in plans[0]
    product_id = plans[0]["product_id"]
    mine = httpx.get(f"{emu.url}/v1/billing/plans", params={"product_id": product_id}, headers=auth).json()[
        "plans"
    ]
    assert mine and all(p["product_id"] == product_id for p in mine)
    full = httpx.get(f"{emu.url}/v1/billing/plans/{plans[0]['id']}", headers=auth).json()
    assert full["billing_cycles"] and full["payment_preferences"]


def test_deterministic_for_a_seed() -> None:
    fixed = datetime(2026, 6, 1, 12, tzinfo=UTC)
    config = EmulatorConfig(n_transactions=500, days=30)

    def snapshot(seed: int) -> list[tuple[str, str, int, int]]:
        state = create_app(seed, now=lambda: fixed, config=config).state.emulator
        return [
            (*t.key, t.initiation, t.amount)
            for t in state.store.search(0, 2**40, balance_only=False, filters={})
        ]

    assert snapshot(3) == snapshot(3)
    assert snapshot(3) != snapshot(4)


def test_clock_flips_pending_rows_and_admin_upserts(make_emulator: object) -> None:
    emu = make_emulator(seed=5)  # type: ignore[operator]
    state = emu.state
    when, tid, code = state.data.pending_flips[0]
    before = state.store._by_key[(tid, code)]
    assert before.status == "P"
    initiation = before.initiation
    emu.admin("clock", {"advance_seconds": when - int(datetime.now(UTC).timestamp()) + 60})
    emu.admin("state")
    after = state.store._by_key[(tid, code)]
    assert after.status == "S" and after.updated == when and after.initiation == initiation
    added = emu.admin(
        "transactions",
        {
            "transactions": [
                {
                    "transaction_id": "1E234567890123456",
                    "amount": 1500,
                    "currency": "JPY",
                    "initiation": "2026-01-01T00:00:00Z",
                }
            ]
        },
    )
    info = added["transaction_details"][0]["transaction_info"]
    assert info["transaction_id"] == "1E234567890123456" and info["transaction_amount"]["value"] == "1500"
    config = emu.admin("config", {"latency_seconds": 0, "error_rate_429": 0.5})
    assert config["latency_seconds"] == 0 and config["error_rate_429"] == 0.5
    bad = httpx.post(f"{emu.url}/_emulator/config", json={"n_transactions": 1})
    assert bad.status_code == 400


@pytest.mark.parametrize("rate", [1.0])
def test_injected_failures_have_paypal_shape(make_emulator: object, rate: float) -> None:
    emu = make_emulator(config=EmulatorConfig(n_transactions=100, error_rate_429=rate, retry_after_seconds=2))  # type: ignore[operator]
    r = httpx.post(f"{emu.url}/v1/oauth2/token", auth=("a", "b"), data={"grant_type": "client_credentials"})
    assert (
        r.status_code == 429 and r.json()["name"] == "RATE_LIMIT_REACHED" and r.headers["retry-after"] == "2"
    )
    emu.admin("config", {"error_rate_429": 0.0, "error_rate_5xx": 1.0})
    r = httpx.post(f"{emu.url}/v1/oauth2/token", auth=("a", "b"), data={"grant_type": "client_credentials"})
    assert r.status_code in (500, 503) and r.json()["debug_id"]


def test_rate_limit_bucket(make_emulator: object) -> None:
    emu = make_emulator(config=EmulatorConfig(n_transactions=100, rate_limit_per_minute=5))  # type: ignore[operator]
    token = emu.token()
    statuses = [
        httpx.get(
            f"{emu.url}/v1/reporting/balances", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        for _ in range(8)
    ]
    assert statuses[:4] == [200] * 4 and statuses.count(429) >= 3
