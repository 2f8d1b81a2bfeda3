"""The PayPal connector against the emulator over a real socket: spec, explore, reads, increments."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pyarrow as pa
import pytest

from tests.connectors.paypal.paypalhelp import Emulator, expected_keys, keys, read_all
from xdmflow.connectors.base import ReadRequest, ReadResult
from xdmflow.connectors.paypal import PayPalConnector
from xdmflow.connectors.paypal.client import base_url
from xdmflow.connectors.registry import get_connector
from xdmflow.emulators.paypal import EmulatorConfig
from xdmflow.errors import SourceFatalError

TX = "PayPal.Transactions"
START = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 45 * 86_400))  # covers `days=40`


def epoch(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def test_spec_shape() -> None:
    spec = PayPalConnector.spec
    assert spec.id == "221c7626-58f6-4eec-8ee2-042b0226f03b" and spec.secret_params == {"clientSecret"}
    body = spec.body
    assert body["providerId"] == "0ed90a81-07f4-4586-8190-b40eccef1c5a" and body["version"] == "1.0"
    auth = body["authSpec"][0]
    assert auth["name"] == "Client-Id-Secret Based Authentication"
    schema = auth["spec"]
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["properties"]["host"]["default"] == "api.sandbox.paypal.com"
    assert schema["properties"]["clientSecret"]["format"] == "password"
    assert set(schema["required"]) == {"clientId", "clientSecret"}
    jsonschema.validate(
        {"tableName": TX, "columns": [{"name": "Transaction_Id"}]}, body["sourceSpec"]["spec"]
    )
    assert body["exploreSpec"]["type"] == "Tabular"
    assert body["attributes"]["category"] == "Payments" and body["attributes"]["isSource"] is True
    assert isinstance(get_connector(spec.id), PayPalConnector)


def test_host_forms() -> None:
    assert base_url("api.sandbox.paypal.com") == "https://api.sandbox.paypal.com"
    assert base_url(None) == "https://api.sandbox.paypal.com"
    assert base_url("http://127.0.0.1:8780/") == "http://127.0.0.1:8780"
    with pytest.raises(SourceFatalError):
        base_url("ftp://x")


def test_explore_and_describe(big_emulator: Emulator, connector: PayPalConnector) -> None:
    auth = big_emulator.auth()
    items = [i.to_api() for i in connector.explore(auth, "root", None)]
    names = [i["name"] for i in items]
    assert names[:4] == [
        "PayPal.Billing_Plans",
        "PayPal.Billing_Plans_Payment_Definition",
        "PayPal.Billing_Plans_Payment_Definition_Charge_Models",
        "PayPal.Catalog_Products",
    ]
    assert TX in names and "PayPal.Balances" in names
    assert all(i["type"] == "table" and i["path"] == i["name"] and i["canPreview"] for i in items)
    products = connector.describe(auth, "PayPal.Catalog_Products")
    cols = {c.name: c.to_api() for c in products.columns}
    assert list(cols)[:4] == ["Product_Id", "Product_Name", "Description", "Type"]
    assert cols["Product_Id"] == {"name": "Product_Id", "type": "string", "xdm": {"type": "string"}}
    assert cols["Create_Time"] == {
        "name": "Create_Time",
        "type": "string",
        "meta:xdmType": "date-time",
        "xdm": {"type": "string", "format": "date-time"},
    }
    assert products.preview is None and products.format == "flat"
    with pytest.raises(SourceFatalError, match="no table"):
        connector.describe(auth, "test1.Mytable")
    with pytest.raises(SourceFatalError):
        connector.explore(auth, "folder", "x")


@pytest.mark.parametrize("table", ["PayPal.Catalog_Products", TX, "PayPal.Balances"])
def test_preview(big_emulator: Emulator, connector: PayPalConnector, table: str) -> None:
    desc = connector.describe(big_emulator.auth(), table, preview=True, preview_rows=7)
    assert isinstance(desc.preview, pa.Table)
    assert 0 < desc.preview.num_rows <= 7
    assert desc.preview.column_names == [c.name for c in desc.columns]


def test_full_transactions_read_is_exact(big_emulator: Emulator, connector: PayPalConnector) -> None:
    """20k+ rows, a burst over the 10,000 cap: windows split, nothing lost, nothing duplicated."""
    table, result = read_all(
        connector,
        big_emulator.auth(),
        TX,
        params={"windowDays": 31},
        delta_column="Transaction_Updated_Date",
        batch_size=4_000,
    )
    got = keys(table)
    assert len(got) == len(set(got)), "duplicates"
    refreshed = epoch(result.extensions["lastRefreshedDatetime"])
    assert set(got) == expected_keys(big_emulator.state, 0, refreshed)
    assert len(got) >= 20_000
    assert result.extensions["splits"] >= 1, "the flash-sale window must have hit RESULTSET_TOO_LARGE"
    assert table.schema.field("Transaction_Initiation_Date").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("Transaction_Id").type == pa.string()
    ids = set(table["Transaction_Id"].to_pylist())
    assert any("E" in i and i.replace("E", "").isdigit() for i in ids), (
        "scientific-looking ids kept as strings"
    )
    assert max(table["Transaction_Updated_Date"].to_pylist()) <= datetime.fromtimestamp(refreshed, UTC)
    assert result.new_watermark == result.extensions["lastRefreshedDatetime"] or (
        epoch(result.new_watermark) <= refreshed
    )
    codes = Counter(table["Transaction_Event_Code"].to_pylist())
    assert codes["T1107"] > 0 and codes["T1300"] > 0, "refunds and non-balance-affecting rows are read"
    jpy = [
        v
        for v, c in zip(
            table["Transaction_Amount_Value"].to_pylist(),
            table["Transaction_Amount_Currency"].to_pylist(),
            strict=True,
        )
        if c == "JPY"
    ]
    assert jpy and all("." not in v for v in jpy)


def test_list_tables(big_emulator: Emulator, connector: PayPalConnector) -> None:
    auth = big_emulator.auth()
    products, _ = read_all(connector, auth, "PayPal.Catalog_Products")
    assert (
        products.num_rows == 60
        and products["Type"].null_count == 0
        and products["Update_Time"].null_count == 0
    )
    plans, _ = read_all(connector, auth, "PayPal.Billing_Plans")
    assert plans.num_rows == len(big_emulator.state.data.plans)
    defs, _ = read_all(connector, auth, "PayPal.Billing_Plans_Payment_Definition")
    assert defs.num_rows == sum(len(p["cycles"]) for p in big_emulator.state.data.plans)
    assert set(defs["Plan_Id"].to_pylist()) == set(plans["Plan_Id"].to_pylist())
    charges, _ = read_all(connector, auth, "PayPal.Billing_Plans_Payment_Definition_Charge_Models")
    assert set(charges["Type"].to_pylist()) == {"TAX", "SETUP_FEE"}
    assert set(charges["Payment_Definition_Id"].to_pylist()) <= set(defs["Payment_Definition_Id"].to_pylist())
    balances, _ = read_all(connector, auth, "PayPal.Balances")
    assert balances.num_rows == 6 and balances["Primary"].to_pylist().count(True) == 1
    projected, _ = read_all(
        connector,
        auth,
        "PayPal.Catalog_Products",
        params={"columns": [{"name": "Product_Id"}, {"name": "Update_Time"}]},
    )
    assert projected.column_names == ["Product_Id", "Update_Time"]


def test_products_delta_on_update_time(big_emulator: Emulator, connector: PayPalConnector) -> None:
    auth = big_emulator.auth()
    full, first = read_all(connector, auth, "PayPal.Catalog_Products", delta_column="Update_Time")
    newest = max(full["Update_Time"].to_pylist())
    assert first.new_watermark == newest.strftime("%Y-%m-%dT%H:%M:%SZ")
    again, second = read_all(
        connector, auth, "PayPal.Catalog_Products", delta_column="Update_Time", watermark=first.new_watermark
    )
    assert again.num_rows >= 1 and min(again["Update_Time"].to_pylist()) >= newest
    assert second.new_watermark == first.new_watermark


def _small(make_emulator: Any, **config: Any) -> Emulator:
    base = {
        "n_transactions": 3_000,
        "days": 40,
        "burst_fraction": 0.0,
        "n_products": 5,
        "latency_seconds": 3600.0,
    }
    return make_emulator(seed=11, config=EmulatorConfig(**{**base, **config}))


def test_deep_splits_and_window_edges(make_emulator: Any, connector: PayPalConnector) -> None:
    emu = _small(make_emulator, max_result_items=120)
    auth = emu.auth()
    start = emu.state.data.anchor - 20 * 86_400
    edges = [start + k * 86_400 for k in range(0, 5)]
    emu.admin(
        "transactions",
        {"transactions": [{"transaction_id": f"EDGE{k:013d}", "initiation": t} for k, t in enumerate(edges)]},
    )
    iso_start = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    table, result = read_all(connector, auth, TX, params={"startDate": iso_start, "windowDays": 1})
    got = keys(table)
    assert len(got) == len(set(got))
    assert set(got) == expected_keys(emu.state, start, epoch(result.extensions["lastRefreshedDatetime"]))
    assert sum(1 for k in got if k[0].startswith("EDGE")) == 5
    assert result.extensions["splits"] == 0
    table, result = read_all(connector, auth, TX, params={"startDate": iso_start, "windowDays": 31})
    assert result.extensions["splits"] >= 3 and sorted(keys(table)) == sorted(got)


def test_more_than_the_cap_in_one_second_fails_loudly(make_emulator: Any, connector: PayPalConnector) -> None:
    emu = _small(make_emulator, max_result_items=3)
    moment = emu.state.data.anchor - 5 * 86_400 + 17
    emu.admin(
        "transactions",
        {"transactions": [{"transaction_id": f"SAME{k:013d}", "initiation": moment} for k in range(5)]},
    )
    iso = datetime.fromtimestamp(moment - 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(SourceFatalError, match="within one second"):
        read_all(connector, emu.auth(), TX, params={"startDate": iso, "windowDays": 1})


def test_incremental_with_late_rows_and_status_changes(
    make_emulator: Any, connector: PayPalConnector
) -> None:
    """Late-arriving rows and P->S flips come back in the next incremental read, once each."""
    emu = _small(make_emulator)
    emu.admin("clock", {"now": datetime.fromtimestamp(emu.state.data.anchor + 600, UTC).isoformat()})
    auth = emu.auth()
    params = {"lookbackHours": 24, "windowDays": 31, "startDate": "2020-01-01T00:00:00Z"}
    first, r1 = read_all(connector, auth, TX, params=params, delta_column="Transaction_Updated_Date")
    assert first.num_rows > 2_000
    l1 = epoch(r1.extensions["lastRefreshedDatetime"])
    assert epoch(r1.new_watermark) <= l1
    state = emu.state
    pending = next(
        t
        for t in state.store.search(l1 - 20 * 3600, l1, balance_only=False, filters={})
        if t.status == "P" or t.initiation < l1
    )
    emu.admin("clock", {"advance_seconds": 2 * 3600})
    emu.admin(
        "transactions",
        {
            "transactions": [
                {
                    "transaction_id": "LATE0000000000001",
                    "initiation": l1 - 5 * 3600,
                    "amount": 4200,
                },  # late arrival
                {"transaction_id": "LATE0000000000002", "initiation": l1 + 1800, "amount": 99},  # after L1
                {"transaction_id": pending.transaction_id, "event_code": pending.event_code, "status": "V"},
                {
                    "transaction_id": "REFUND00000000001",
                    "event_code": "T1107",
                    "amount": -pending.amount,
                    "reference_id": pending.transaction_id,
                    "reference_type": "TXN",
                },
            ]
        },
    )
    second, r2 = read_all(
        connector,
        auth,
        TX,
        params=params,
        delta_column="Transaction_Updated_Date",
        watermark=r1.new_watermark,
    )
    got = keys(second)
    assert len(got) == len(set(got))
    assert {("LATE0000000000001", "T0006"), ("LATE0000000000002", "T0006"), pending.key} <= set(got)
    row = second.filter(pa.compute.equal(second["Transaction_Id"], pending.transaction_id)).to_pylist()
    assert [r["Transaction_Status"] for r in row if r["Transaction_Event_Code"] == pending.event_code] == [
        "V"
    ]
    assert second.num_rows < first.num_rows / 4, "only the lookback is re-read"
    assert ("REFUND00000000001", "T1107") not in set(got), "stamped now: not published before L2"
    l2 = epoch(r2.extensions["lastRefreshedDatetime"])
    assert epoch(r2.new_watermark) > epoch(r1.new_watermark) and epoch(r2.new_watermark) <= l2
    # after de-duplication on the key (newest update wins), the union is exactly the source
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for rows in (first.to_pylist(), second.to_pylist()):
        for r in rows:
            k = (r["Transaction_Id"], r["Transaction_Event_Code"])
            if k not in merged or r["Transaction_Updated_Date"] >= merged[k]["Transaction_Updated_Date"]:
                merged[k] = r
    assert set(merged) == expected_keys(state, 0, l2)
    assert merged[pending.key]["Transaction_Status"] == "V"


def test_partitions_cover_the_read(make_emulator: Any, connector: PayPalConnector) -> None:
    emu = _small(make_emulator)
    auth = emu.auth()
    request = ReadRequest(TX, {"tableName": TX, "windowDays": 10, "startDate": START})
    parts = connector.partitions(auth, request)
    assert len(parts) >= 4 and all(p.window_start is not None for p in parts)
    assert all(a.window_end == b.window_start for a, b in zip(parts, parts[1:], strict=False))
    seen: list[tuple[str, str]] = []
    for part in parts:
        batches = list(connector.read(auth, part, ReadResult()))
        seen += keys(pa.Table.from_batches(batches)) if batches else []
    assert len(seen) == len(set(seen))
    assert set(seen) == expected_keys(
        emu.state, int(parts[0].window_start or 0), int(parts[-1].window_end or 0)
    )
    assert connector.partitions(auth, ReadRequest("PayPal.Balances", {"tableName": "PayPal.Balances"})) == [
        ReadRequest("PayPal.Balances", {"tableName": "PayPal.Balances"})
    ]


def test_balance_affecting_only_and_pacing(make_emulator: Any) -> None:
    emu = _small(make_emulator)
    params = {"startDate": START, "windowDays": 31}
    paced = PayPalConnector(requests_per_minute=300)  # one call per 0.2 s
    started = time.monotonic()
    everything, result = read_all(paced, emu.auth(), TX, params=params)
    assert result.extensions["requests"] >= 5
    assert time.monotonic() - started >= 0.2 * (result.extensions["requests"] - 1) * 0.9
    assert result.input_bytes > 100_000
    only, _ = read_all(PayPalConnector(), emu.auth(), TX, params={**params, "balanceAffectingOnly": True})
    assert "T1300" in everything["Transaction_Event_Code"].to_pylist()
    assert "T1300" not in only["Transaction_Event_Code"].to_pylist()
    assert 0 < only.num_rows < everything.num_rows
