"""The Stripe connector against the emulator: every table equals the emulator's objects, paging
at 100 with a pinned Stripe-Version, updates and deletes from events, late refunds and disputes,
visibility lag covered by the look-back, windows, backoff and clear errors."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from tests.connectors.stripe.stripehelp import Emulator, small_config
from xdmflow.connectors.base import ReadRequest, ReadResult
from xdmflow.connectors.http.retry import RetryPolicy
from xdmflow.connectors.stripe import StripeConnector
from xdmflow.connectors.stripe.spec import STRIPE_VERSION
from xdmflow.connectors.stripe.streams import format_time
from xdmflow.connectors.stripe.tables import TABLES
from xdmflow.emulators.stripe import DEFAULT_RESTRICTED_KEY
from xdmflow.errors import SourceAuthError, SourceFatalError, SourceRetriableError
from xdmflow.testing.connector_suite import read_all

DAY = 86_400
RESOURCE = {"invoice_lines": "invoices"}


def _read(connector: StripeConnector, emu: Emulator, table: str, **kw: Any) -> tuple[pa.Table, ReadResult]:
    request = ReadRequest(object=table, source_params={"tableName": table, **kw.pop("params", {})}, **kw)
    return read_all(connector, emu.auth(), request)


def _expected_ids(emu: Emulator, table: str) -> set[str]:
    if table == "invoice_lines":
        return {line["id"] for inv in emu.objects("invoices") for line in inv["lines"]["data"]}
    return {o["id"] for o in emu.objects(table)}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_full_read_is_exactly_the_emulators_objects(
    connector: StripeConnector, emulator: Emulator, table: str
) -> None:
    got, result = _read(connector, emulator, table, batch_size=50)
    assert set(got.column("id").to_pylist()) == _expected_ids(emulator, table)
    assert got.num_rows == len(_expected_ids(emulator, table)), "no duplicates"
    assert got.schema == TABLES[table].schema
    if table in ("charges", "refunds", "disputes", "invoices", "subscriptions", "payouts"):
        objs = {o["id"]: o for o in emulator.objects(table)}
        for row in got.to_pylist():
            assert row["status"] == objs[row["id"]]["status"]


def test_paging_at_100_with_pinned_version(connector: StripeConnector, emulator: Emulator) -> None:
    before = len(emulator.state.requests)
    got, _ = _read(connector, emulator, "charges")
    calls = [r for r in emulator.state.requests[before:] if r["path"] == "/v1/charges"]
    n = len(emulator.objects("charges"))
    assert got.num_rows == n and len(calls) == -(-n // 100)
    assert all(("limit", "100") in c["params"] for c in calls)
    assert [dict(c["params"]).get("starting_after") for c in calls[1:]] == [
        r["id"] for r in got.to_pylist()[99::100][: len(calls) - 1]
    ]
    assert {c["version"] for c in emulator.state.requests[before:]} == {STRIPE_VERSION}
    subs = [r for r in emulator.state.requests if r["path"] == "/v1/subscriptions"]
    assert not subs
    _read(connector, emulator, "subscriptions")
    assert ("status", "all") in [r for r in emulator.state.requests if r["path"] == "/v1/subscriptions"][0][
        "params"
    ]


def test_zero_and_three_decimal_amounts(connector: StripeConnector, emulator: Emulator) -> None:
    for amount, currency in ((1500, "jpy"), (1500, "usd"), (1500, "kwd"), (-7, "eur")):
        emulator.admin("charges", {"customer": None, "amount": amount, "currency": currency})
    got, _ = _read(connector, emulator, "charges")
    values = {(r["amount"], r["currency"]): r["amount_value"] for r in got.to_pylist()}
    assert values[(1500, "jpy")] == "1500" and values[(1500, "usd")] == "15.00"
    assert values[(1500, "kwd")] == "1.500" and values[(-7, "eur")] == "-0.07"


def _incremental(
    connector: StripeConnector, emu: Emulator, table: str, watermark: str
) -> tuple[pa.Table, ReadResult]:
    return _read(connector, emu, table, delta_column="updated", watermark=watermark)


def test_late_refunds_and_disputes_arrive_in_the_next_read(
    connector: StripeConnector, emulator: Emulator
) -> None:
    marks = {
        t: _read(connector, emulator, t, delta_column="updated")[1].new_watermark
        for t in ("charges", "refunds", "disputes")
    }
    old = [
        c
        for c in emulator.objects("charges")
        if c["status"] == "succeeded" and not c["refunded"] and not c["disputed"]
    ]
    assert old[0]["created"] < emulator.state.store.now() - 20 * DAY
    emulator.admin("clock", {"advance": 3 * DAY})
    refund = emulator.admin("refunds", {"charge": old[0]["id"], "amount": 1})
    dispute = emulator.admin("disputes", {"charge": old[1]["id"]})
    emulator.admin("clock", {"advance": DAY})
    emulator.admin("close_dispute", {"dispute": dispute["id"], "won": True})
    refunds, r = _incremental(connector, emulator, "refunds", marks["refunds"])
    assert refunds.column("id").to_pylist() == [refund["id"]] and r.extensions["readMode"] == "events"
    disputes, _ = _incremental(connector, emulator, "disputes", marks["disputes"])
    assert disputes.select(["id", "status"]).to_pylist() == [{"id": dispute["id"], "status": "won"}]
    charges, _ = _incremental(connector, emulator, "charges", marks["charges"])
    rows = {r["id"]: r for r in charges.to_pylist()}
    assert set(rows) == {old[0]["id"], old[1]["id"]}
    assert rows[old[0]["id"]]["amount_refunded"] == 1 and rows[old[1]["id"]]["disputed"] is True


def test_invoice_transitions_and_lines(connector: StripeConnector, emulator: Emulator) -> None:
    _, first = _read(connector, emulator, "invoices", delta_column="updated")
    cus = emulator.objects("customers")[0]["id"]
    price = next(p for p in emulator.objects("prices") if p["type"] == "recurring")["id"]
    emulator.admin("clock", {"advance": 60})
    inv = emulator.admin(
        "invoices",
        {"customer": cus, "lines": [{"amount": 700, "price": price}, {"amount": 300, "price": price}]},
    )
    got, second = _incremental(connector, emulator, "invoices", first.new_watermark)
    assert got.select(["id", "status"]).to_pylist() == [{"id": inv["id"], "status": "draft"}]
    emulator.admin("clock", {"advance": 60})
    emulator.admin("finalize_invoice", {"invoice": inv["id"]})
    emulator.admin("pay_invoice", {"invoice": inv["id"]})  # same second: the connector re-reads the invoice
    got, _ = _incremental(connector, emulator, "invoices", second.new_watermark)
    assert got.select(["id", "status", "amount_paid"]).to_pylist() == [
        {"id": inv["id"], "status": "paid", "amount_paid": 1000}
    ]
    assert got.column("paid_at").to_pylist()[0] is not None
    lines, _ = _incremental(connector, emulator, "invoice_lines", second.new_watermark)
    assert sorted(lines.column("amount").to_pylist()) == [300, 700] and set(
        lines.column("invoice").to_pylist()
    ) == {inv["id"]}


def test_deletes_and_cancels_from_events(connector: StripeConnector, emulator: Emulator) -> None:
    marks = {
        t: _read(connector, emulator, t, delta_column="updated")[1].new_watermark
        for t in ("customers", "subscriptions")
    }
    emulator.admin("clock", {"advance": 60})
    cus = emulator.objects("customers")[0]["id"]
    sub = emulator.objects("subscriptions")[0]["id"]
    emulator.admin("delete_customer", {"customer": cus})
    emulator.admin("cancel_subscription", {"subscription": sub})
    got, _ = _incremental(connector, emulator, "customers", marks["customers"])
    assert got.select(["id", "is_deleted"]).to_pylist() == [{"id": cus, "is_deleted": True}]
    got, _ = _incremental(connector, emulator, "subscriptions", marks["subscriptions"])
    assert got.select(["id", "status", "is_deleted"]).to_pylist() == [
        {"id": sub, "status": "canceled", "is_deleted": False}
    ]


def test_visibility_lag_is_covered_by_the_lookback(connector: StripeConnector, make_emulator: Any) -> None:
    emu: Emulator = make_emulator(config=small_config(visibility_lag=5))
    _, first = _read(connector, emu, "charges", delta_column="updated")
    emu.admin("clock", {"advance": 30})
    late = emu.admin("charges", {"customer": None, "amount": 4242, "currency": "usd"})
    got, second = _incremental(connector, emu, "charges", first.new_watermark)
    assert late["id"] not in (got.column("id").to_pylist() if got.num_rows else [])  # not visible yet
    emu.admin("clock", {"advance": 10})
    got, _ = _incremental(connector, emu, "charges", second.new_watermark)
    assert late["id"] in got.column("id").to_pylist()


def test_cursor_older_than_30_days_rereads_in_full(connector: StripeConnector, emulator: Emulator) -> None:
    _, first = _read(connector, emulator, "customers", delta_column="updated")
    emulator.admin("clock", {"advance": 31 * DAY})
    got, result = _incremental(connector, emulator, "customers", first.new_watermark)
    assert result.extensions["readMode"] == "full re-read" and "30 days" in result.extensions["notice"]
    assert set(got.column("id").to_pylist()) == _expected_ids(emulator, "customers")


def test_windows_partition_a_full_read(connector: StripeConnector, emulator: Emulator) -> None:
    start = min(c["created"] for c in emulator.objects("charges"))
    request = ReadRequest(
        object="charges",
        source_params={"tableName": "charges", "startDate": format_time(start), "windowDays": 7},
    )
    parts = connector.partitions(emulator.auth(), request)
    assert len(parts) >= 5 and parts[-1].window_end is None
    ids = [i for p in parts for i in read_all(connector, emulator.auth(), p)[0].column("id").to_pylist()]
    assert sorted(ids) == sorted(_expected_ids(emulator, "charges"))
    calls = [dict(r["params"]) for r in emulator.state.requests if r["path"] == "/v1/charges"]
    assert any("created[gte]" in c and "created[lt]" in c for c in calls)


@pytest.mark.parametrize("kind", ["rate_limit", "lock_timeout", "api_error"])
def test_backoff_on_429_and_lock_timeout(connector: StripeConnector, emulator: Emulator, kind: str) -> None:
    emulator.admin("faults", {"kind": kind, "count": 3, "path": "/v1/customers"})
    got, result = _read(connector, emulator, "customers")
    assert set(got.column("id").to_pylist()) == _expected_ids(emulator, "customers")
    assert result.extensions["retries"] == 3 and emulator.state.stats[f"fault_{kind}"] == 3


def test_rate_limit_exhausted_is_retriable(emulator: Emulator) -> None:
    emulator.admin("faults", {"kind": "rate_limit", "count": 50})
    connector = StripeConnector(
        retry=RetryPolicy(initial_delay=0.01, max_delay=0.02, max_attempts=3, total_budget=5)
    )
    with pytest.raises(SourceRetriableError, match="429"):
        _read(connector, emulator, "charges")


def test_real_rate_limit_is_obeyed(connector: StripeConnector, make_emulator: Any) -> None:
    emu: Emulator = make_emulator(config=small_config(rate_limit_rps=20.0))
    got, result = _read(connector, emu, "balance_transactions", params={})
    for t in ("charges", "payment_intents", "customers"):
        _read(connector, emu, t)
    assert set(got.column("id").to_pylist()) == _expected_ids(emu, "balance_transactions")


def test_restricted_key_names_the_resource(connector: StripeConnector, emulator: Emulator) -> None:
    auth = emulator.auth(DEFAULT_RESTRICTED_KEY)
    connector.check(auth)
    assert read_all(connector, auth, ReadRequest(object="charges"))[0].num_rows
    for table, resource in (("payouts", "payouts"), ("balance_transactions", "balance_transactions")):
        with pytest.raises(SourceAuthError) as info:
            read_all(connector, auth, ReadRequest(object=table))
        assert (
            f"may not read {resource}" in info.value.message
            and DEFAULT_RESTRICTED_KEY not in info.value.message
        )


def test_bad_table_column_and_delta_are_clear(connector: StripeConnector, emulator: Emulator) -> None:
    with pytest.raises(SourceFatalError, match="no table"):
        _read(connector, emulator, "nope")
    with pytest.raises(SourceFatalError, match="no column"):
        _read(connector, emulator, "charges", params={"columns": [{"name": "nope"}]})
    with pytest.raises(SourceFatalError, match="cannot be the delta column"):
        _read(connector, emulator, "charges", delta_column="amount", watermark="2027-01-01T00:00:00Z")


def test_created_delta_on_immutable_table(connector: StripeConnector, emulator: Emulator) -> None:
    _, first = _read(connector, emulator, "balance_transactions", delta_column="updated")
    emulator.admin("clock", {"advance": 60})
    ch = emulator.admin("charges", {"customer": None, "amount": 100, "currency": "usd"})
    got, result = _incremental(connector, emulator, "balance_transactions", first.new_watermark)
    assert result.extensions["readMode"] == "created"
    assert ch["balance_transaction"] in got.column("id").to_pylist()
