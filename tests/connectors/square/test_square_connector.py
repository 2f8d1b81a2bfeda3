"""The Square connector against the emulator: exact objects and latest states, every location,
late refunds in the next incremental read, eventual consistency, OAuth renewal, 429 backoff."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from tests.connectors.square.squarehelp import FAST_RETRY, SquareEmulator
from xdmflow.connectors.base import ReadRequest
from xdmflow.connectors.square import SquareConnector
from xdmflow.connectors.square.tables import decimal_amount
from xdmflow.emulators.square import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    SquareConfig,
)
from xdmflow.errors import SourceAuthError, SourceFatalError
from xdmflow.testing.connector_suite import read_all, read_as_pipeline


def request(
    table: str, delta: str | None = "updated_at", watermark: Any = None, **params: Any
) -> ReadRequest:
    return ReadRequest(
        object=table, source_params={"tableName": table, **params}, delta_column=delta, watermark=watermark
    )


def states(t: pa.Table, *cols: str) -> dict[str, tuple[Any, ...]]:
    rows = t.select(["id", *cols]).to_pylist()
    return {r["id"]: tuple(r[c] for c in cols) for r in rows}


def payment_state(p: dict[str, Any]) -> tuple[Any, ...]:
    return (p["status"], p["amount_money"]["amount"], (p.get("refunded_money") or {}).get("amount"))


def test_full_read_is_exactly_the_emulators_objects_across_every_location(square: SquareEmulator) -> None:
    connector = SquareConnector(retry=FAST_RETRY)
    got, result = read_all(connector, square.auth(), request("Square.Payments", delta=None))
    expected = {p["id"]: payment_state(p) for p in square.state.dump("payments")}
    assert states(got, "status", "amount_amount", "refunded_amount") == expected
    assert len({p["location_id"] for p in square.state.dump("payments")}) == 3
    assert result.new_watermark is None
    for kind, table, cols in [
        ("refunds", "Square.Refunds", ("status", "payment_id")),
        ("customers", "Square.Customers", ("email_address", "version")),
        ("catalog", "Square.Catalog_Objects", ("version", "is_deleted")),
        ("orders", "Square.Orders", ("state", "version")),
        ("locations", "Square.Locations", ("name", "status")),
    ]:
        got, _ = read_all(connector, square.auth(), request(table, delta=None))
        want = {o["id"]: tuple(o[c] for c in cols) for o in square.state.dump(kind)}
        assert states(got, *cols) == want, table


def test_late_refunds_and_changes_arrive_in_the_next_incremental_read(square: SquareEmulator) -> None:
    connector, auth = SquareConnector(retry=FAST_RETRY), square.auth()
    first, r1, state = read_as_pipeline(connector, auth, request("Square.Payments"), None)
    assert first.num_rows == len(square.state.dump("payments"))
    refunds0, rr1, rstate = read_as_pipeline(connector, auth, request("Square.Refunds"), None)

    square.admin("clock", {"advance_seconds": 3 * 86_400})  # three days later
    old = [p for p in square.state.dump("payments") if not p.get("refund_ids")][:2]
    square.admin(f"payments/{old[0]['id']}/refund", {"amount": old[0]["amount_money"]["amount"]})
    square.admin(f"payments/{old[1]['id']}/refund", {"amount": 1})
    new = square.admin("payments", {"amount": 777})

    second, r2, state = read_as_pipeline(
        connector, auth, request("Square.Payments", watermark=r1.new_watermark), state
    )
    latest = {p["id"]: payment_state(p) for p in square.state.dump("payments")}
    assert states(second, "status", "amount_amount", "refunded_amount") == {
        pid: latest[pid] for pid in (old[0]["id"], old[1]["id"], new["id"])
    }
    refunds, rr2, _ = read_as_pipeline(
        connector, auth, request("Square.Refunds", watermark=rr1.new_watermark), rstate
    )
    assert set(refunds["payment_id"].to_pylist()) == {old[0]["id"], old[1]["id"]}
    assert r2.new_watermark > r1.new_watermark

    third, _, _ = read_as_pipeline(
        connector, auth, request("Square.Payments", watermark=r2.new_watermark), state
    )
    assert third.num_rows == 0  # nothing changed since: nothing again


def test_an_object_that_becomes_visible_late_is_read_once(make_square: Callable[..., SquareEmulator]) -> None:
    emu = make_square(config=SquareConfig(n_payments=20, visibility_lag_seconds=120))
    emu.admin("clock", {"advance_seconds": 600})  # the seeded objects are visible by now
    connector, auth = SquareConnector(retry=FAST_RETRY), emu.auth()
    first, r1, state = read_as_pipeline(connector, auth, request("Square.Payments"), None)
    assert first.num_rows == 20
    emu.admin("clock", {"advance_seconds": 1})
    late = emu.admin("payments", {"amount": 500})  # updated now, visible in 120 s
    emu.admin("clock", {"advance_seconds": 5})
    other = emu.admin("payments", {"amount": 600})
    emu.state.payments[other["id"]].visible_from = emu.state.now()  # this one shows at once
    second, r2, state = read_as_pipeline(
        connector, auth, request("Square.Payments", watermark=r1.new_watermark), state
    )
    assert second["id"].to_pylist() == [other["id"]]  # the late one is not visible yet
    emu.admin("clock", {"advance_seconds": 300})
    third, _, _ = read_as_pipeline(
        connector, auth, request("Square.Payments", watermark=r2.new_watermark), state
    )
    assert third["id"].to_pylist() == [late["id"]]  # inside the look-back: read, and only it


def test_orders_and_customers_incremental(square: SquareEmulator) -> None:
    connector, auth = SquareConnector(retry=FAST_RETRY), square.auth()
    _, o1, ostate = read_as_pipeline(connector, auth, request("Square.Orders"), None)
    _, c1, cstate = read_as_pipeline(connector, auth, request("Square.Customers"), None)
    square.admin("clock", {"advance_seconds": 3600})
    order = square.state.dump("orders")[5]
    square.admin(f"orders/{order['id']}/state", {"state": "CANCELED"})
    cust = square.state.dump("customers")[3]
    square.admin(f"customers/{cust['id']}", {"email_address": "changed@example.com"})
    orders, _, _ = read_as_pipeline(
        connector, auth, request("Square.Orders", watermark=o1.new_watermark), ostate
    )
    assert states(orders, "state") == {order["id"]: ("CANCELED",)}
    customers, _, _ = read_as_pipeline(
        connector, auth, request("Square.Customers", watermark=c1.new_watermark), cstate
    )
    assert states(customers, "email_address") == {cust["id"]: ("changed@example.com",)}


def test_oauth_refresh_token_renews_an_expired_access_token(square: SquareEmulator) -> None:
    connector = SquareConnector(retry=FAST_RETRY)
    oauth = {
        "host": square.url,
        "refreshToken": DEFAULT_REFRESH_TOKEN,
        "clientId": DEFAULT_CLIENT_ID,
        "clientSecret": DEFAULT_CLIENT_SECRET,
    }
    got, result = read_all(connector, oauth, request("Square.Locations", delta=None))
    assert got.num_rows == 3 and result.extensions["squareTokenRefreshes"] == 1
    token, _, _ = square.state.issue_token()
    square.admin("expire_tokens", {})
    got, result = read_all(
        connector, {**oauth, "accessToken": token}, request("Square.Locations", delta=None)
    )
    assert got.num_rows == 3 and result.extensions["squareTokenRefreshes"] == 1
    with pytest.raises(SourceAuthError, match="refreshToken") as e:
        connector.check({"host": square.url, "accessToken": token})
    assert token not in str(e.value)


def test_rate_limits_are_retried_and_errors_are_clear(square: SquareEmulator) -> None:
    connector = SquareConnector(retry=FAST_RETRY)
    square.admin("rate_limit", {"next": 3})
    got, _ = read_all(connector, square.auth(), request("Square.Locations", delta=None))
    assert got.num_rows == 3
    with pytest.raises(SourceFatalError, match="no table"):
        read_all(connector, square.auth(), request("Square.Nope", delta=None))
    with pytest.raises(SourceFatalError, match="cannot be the delta column"):
        read_all(
            connector,
            square.auth(),
            request("Square.Payments", delta="status", watermark="2026-01-01T00:00:00Z"),
        )
    with pytest.raises(SourceAuthError) as e:
        connector.check(square.auth(accessToken="EAAA-secret-but-wrong-1234"))
    assert "EAAA-secret-but-wrong-1234" not in str(e.value)


def test_amounts_are_minor_units_with_a_decimal_per_currency(square: SquareEmulator) -> None:
    assert decimal_amount(1050, "USD") == "10.50"
    assert decimal_amount(1050, "JPY") == "1050"
    assert decimal_amount(1050, "KWD") == "1.050"
    jpy = square.admin("payments", {"amount": 1050, "currency": "JPY"})
    got, _ = read_all(
        SquareConnector(retry=FAST_RETRY), square.auth(), request("Square.Payments", delta=None)
    )
    row = next(r for r in got.to_pylist() if r["id"] == jpy["id"])
    assert (row["amount_amount"], row["amount_currency"], row["amount_amount_decimal"]) == (
        1050,
        "JPY",
        "1050",
    )
