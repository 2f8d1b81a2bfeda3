"""The PayPal connector through the shared connector contract suite, against the emulator.

Two tables: ``PayPal.Transactions`` (windowed Transaction Search, incremental on
``Transaction_Updated_Date`` with its look-back) and ``PayPal.Catalog_Products`` (a paged list,
incremental on ``Update_Time``). Rows are added through the emulator's admin API; "source down"
is both a closed port and the emulator shut down under a live connection.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pyarrow as pa
import pytest

from tests.connectors.connhelp import free_port
from tests.connectors.paypal.paypalhelp import FAST_RETRY, Emulator
from xdmflow.connectors.base import ReadRequest, ReadResult
from xdmflow.connectors.http.retry import RetryPolicy
from xdmflow.connectors.paypal import PayPalConnector
from xdmflow.emulators.paypal import EmulatorConfig
from xdmflow.pipeline.dedupe import DedupeState
from xdmflow.testing.connector_suite import ConnectorContract, ContractCase, read_as_pipeline

#: fail fast when the source is down (a few quick attempts instead of a 30-minute budget)
DOWN_RETRY = RetryPolicy(initial_delay=0.01, multiplier=2.0, max_delay=0.05, max_attempts=4, total_budget=5)

EMPTY = EmulatorConfig(n_transactions=0, days=10, burst_fraction=0.0, n_products=3, latency_seconds=600.0)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _down_auth() -> dict[str, str]:
    return {"host": f"http://127.0.0.1:{free_port()}", "clientId": "someone", "clientSecret": "down-secret-1"}


def _txn(tid: str, initiation: int, amount: int, currency: str = "USD") -> dict[str, Any]:
    return {"transaction_id": tid, "initiation": initiation, "amount": amount, "currency": currency}


def _txn_row(tid: str, value: str, currency: str = "USD") -> dict[str, str]:
    return {
        "Transaction_Id": tid,
        "Transaction_Event_Code": "T0006",
        "Transaction_Amount_Value": value,
        "Transaction_Amount_Currency": currency,
    }


class TestPayPalTransactionsContract(ConnectorContract):
    @pytest.fixture
    def contract_case(self, make_emulator: Any) -> ContractCase:
        emu: Emulator = make_emulator(seed=31, config=EMPTY)
        now = int(time.time())
        emu.admin(
            "transactions",
            {
                "transactions": [
                    _txn("CONTRACT000000001", now - 3 * 86_400, 4200),
                    _txn("CONTRACT000000002", now - 2 * 86_400, 150, "JPY"),
                    _txn("CONTRACT000000003", now - 86_400, -995),
                ]
            },
        )

        def add_rows(rows: list[dict[str, Any]]) -> None:
            # one late arrival (initiated before the last read's newest row, inside the look-back)
            # and one fresh row; both before PayPal's last_refreshed_datetime (now - 600 s)
            late, fresh = rows
            emu.admin(
                "transactions",
                {
                    "transactions": [
                        {**_txn(late["Transaction_Id"], now - 86_400 - 3600, 1), "updated": now - 1800},
                        _txn(fresh["Transaction_Id"], now - 1200, 2500, "EUR"),
                    ]
                },
            )

        return ContractCase(
            connector=PayPalConnector(retry=DOWN_RETRY, timeout=10.0),
            good_auth=emu.auth(),
            bad_auth=emu.auth(secret="not-the-emulator-secret"),
            down_auth=_down_auth(),
            stop_source=emu.stop,
            object="PayPal.Transactions",
            source_params={
                "tableName": "PayPal.Transactions",
                "startDate": _iso(now - 10 * 86_400),
                "windowDays": 3,
            },
            delta_column="Transaction_Updated_Date",
            rows=[
                _txn_row("CONTRACT000000001", "42.00"),
                _txn_row("CONTRACT000000002", "150", "JPY"),
                _txn_row("CONTRACT000000003", "-9.95"),
            ],
            key="Transaction_Id",
            add_rows=add_rows,
            new_rows=[_txn_row("CONTRACT000000004", "0.01"), _txn_row("CONTRACT000000005", "25.00", "EUR")],
        )


class TestPayPalProductsContract(ConnectorContract):
    @pytest.fixture
    def contract_case(self, make_emulator: Any) -> ContractCase:
        emu: Emulator = make_emulator(seed=32, config=EMPTY)
        known = [{"Product_Id": p["id"], "Product_Name": p["name"]} for p in emu.state.data.products]
        assert len(known) == 3

        def add_rows(rows: list[dict[str, Any]]) -> None:
            emu.admin(
                "products", {"products": [{"id": r["Product_Id"], "name": r["Product_Name"]} for r in rows]}
            )

        return ContractCase(
            connector=PayPalConnector(retry=DOWN_RETRY, timeout=10.0),
            good_auth=emu.auth(),
            bad_auth=emu.auth(secret="not-the-emulator-secret"),
            down_auth=_down_auth(),
            stop_source=emu.stop,
            object="PayPal.Catalog_Products",
            source_params={"tableName": "PayPal.Catalog_Products"},
            delta_column="Update_Time",
            rows=known,
            key="Product_Id",
            add_rows=add_rows,
            new_rows=[{"Product_Id": "PROD-CONTRACT0001", "Product_Name": "Contract Widget"}],
        )


def test_products_admin_changes_are_read_once(make_emulator: Any) -> None:
    """A product changed after a read comes back in the next incremental read, once."""
    emu: Emulator = make_emulator(seed=33, config=EMPTY)
    connector, auth = PayPalConnector(retry=FAST_RETRY), emu.auth()

    def request(watermark: Any = None) -> ReadRequest:
        return ReadRequest(
            "PayPal.Catalog_Products",
            {"tableName": "PayPal.Catalog_Products"},
            delta_column="Update_Time",
            watermark=watermark,
        )

    first, r1, state = read_as_pipeline(connector, auth, request(), None)
    assert first.num_rows == 3
    target = emu.state.data.products[0]["id"]
    emu.admin("products", {"products": [{"id": target, "name": "Renamed"}]})
    second, r2, state = read_as_pipeline(connector, auth, request(r1.new_watermark), state)
    assert second.select(["Product_Id", "Product_Name"]).to_pylist() == [
        {"Product_Id": target, "Product_Name": "Renamed"}
    ]
    third, r3, _ = read_as_pipeline(connector, auth, request(r2.new_watermark), state)
    assert third.num_rows == 0 and r3.new_watermark == r2.new_watermark
    with pytest.raises(httpx.HTTPStatusError, match="400"):
        emu.admin("products", {"products": [{"id": "x", "colour": "red"}]})


def test_incremental_runs_deliver_each_version_once(make_emulator: Any) -> None:
    """Several incremental runs, as the pipeline does them (look-back re-reads + its DedupeState):
    late rows, status flips, a 429 storm and expired tokens on the way; every transaction arrives,
    no (key, version) twice."""
    config = EmulatorConfig(
        n_transactions=1_000, days=12, burst_fraction=0.0, n_products=3, latency_seconds=3600.0
    )
    emu: Emulator = make_emulator(seed=34, config=config)
    emu.admin("config", {"error_rate_429": 0.15})
    now = emu.state.data.anchor + 600
    emu.admin("clock", {"now": now})
    connector, auth = PayPalConnector(retry=FAST_RETRY), emu.auth()
    params = {"tableName": "PayPal.Transactions", "startDate": _iso(now - 13 * 86_400), "windowDays": 1}
    delivered: list[tuple[str, str, Any]] = []
    late_keys: list[tuple[str, str]] = []
    watermark: Any = None
    state: dict[str, Any] | None = None
    refreshed = 0
    for run in range(4):
        if run:
            now += 6 * 3600
            emu.admin("clock", {"now": now})
            late = f"LATE{run:013d}"
            emu.admin(
                "transactions",
                {
                    "transactions": [
                        _txn(late, refreshed - 2 * 3600, 700 + run),  # before the last watermark
                        _txn(f"NEW{run:014d}", now - 3600 - 900, 100 + run),  # just published
                    ]
                },
            )
            late_keys.append((late, "T0006"))
        request = ReadRequest(
            "PayPal.Transactions",
            params,
            delta_column="Transaction_Updated_Date",
            watermark=watermark,
            batch_size=400,
        )
        policy = connector.dedupe_policy(request)
        assert policy is not None
        dedupe = DedupeState.from_state(state, policy[0], "Transaction_Updated_Date", policy[1])
        result = ReadResult()
        batches = []
        for n, batch in enumerate(connector.read(auth, request, result)):
            if n == 0:
                emu.admin("tokens/expire", {})  # the token dies in the middle of the run
            batches.append(dedupe.filter(batch)[0])
        state = dedupe.next_state(result.new_watermark)
        table = pa.Table.from_batches(batches)
        delivered += list(
            zip(
                table["Transaction_Id"].to_pylist(),
                table["Transaction_Event_Code"].to_pylist(),
                table["Transaction_Updated_Date"].to_pylist(),
                strict=True,
            )
        )
        watermark = result.new_watermark
        refreshed = int(datetime.fromisoformat(result.extensions["lastRefreshedDatetime"]).timestamp())
        if run:
            assert table.num_rows < 300, "an incremental run delivers the new versions only"
    assert len(delivered) == len(set(delivered)), "a version was delivered twice"
    keys = {(tid, code) for tid, code, _ in delivered}
    assert keys == {t.key for t in emu.state.store.search(0, refreshed - 1, balance_only=False, filters={})}
    assert all(sum(1 for d in delivered if d[:2] == k) == 1 for k in late_keys)
    stats = emu.state.stats
    assert stats["injected_429"] > 0 and stats["invalid_token"] >= 3
