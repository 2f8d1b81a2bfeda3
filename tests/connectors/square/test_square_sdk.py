"""The emulator as Square's official Python SDK (``squareup``) sees it: where they disagree, the
emulator is wrong. Lists auto-paginate, objects parse into the SDK's models, errors raise its
``ApiError`` with the categories and codes of our error bodies."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from square import Square
from square.core.api_error import ApiError

from tests.connectors.square.squarehelp import SquareEmulator
from xdmflow.emulators.square import (
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
)


@pytest.fixture
def sdk(square: SquareEmulator) -> Iterator[Callable[..., Square]]:
    """The SDK over the emulator, given one HTTP client that is closed at teardown (the client the SDK
    makes for itself is never closed)."""
    with httpx.Client(timeout=60) as http:

        def make(token: str = DEFAULT_ACCESS_TOKEN) -> Square:
            return Square(token=token, base_url=square.url, httpx_client=http)

        yield make


def test_payments_auto_paginate_per_location_and_default_to_the_main_location(
    square: SquareEmulator, sdk: Callable[..., Square]
) -> None:
    client = sdk()
    locations = client.locations.list().locations or []
    assert len(locations) == 3
    by_location: dict[str, set[str]] = {}
    for loc in locations:
        pager = client.payments.list(location_id=loc.id, begin_time="2013-01-01T00:00:00Z", limit=40)
        by_location[str(loc.id)] = {p.id for p in pager if p.id}
    everything = {p["id"] for p in square.state.dump("payments")}
    assert set().union(*by_location.values()) == everything
    main = client.payments.list(begin_time="2013-01-01T00:00:00Z")
    assert {p.id for p in main} == by_location[str(locations[0].id)]  # the API's default: main location only


def test_payment_models_parse_money_and_card_details(
    square: SquareEmulator, sdk: Callable[..., Square]
) -> None:
    client = sdk()
    first = square.state.dump("payments")[0]
    payment = client.payments.get(first["id"]).payment
    assert payment is not None and payment.amount_money is not None
    assert payment.amount_money.amount == first["amount_money"]["amount"]
    assert payment.amount_money.currency == "USD"
    assert payment.card_details is not None and payment.card_details.card is not None
    assert payment.card_details.card.last4 == first["card_details"]["card"]["last_4"]


def test_updated_at_filter_and_sort_field(square: SquareEmulator, sdk: Callable[..., Square]) -> None:
    client = sdk()
    refunded = [p for p in square.state.dump("payments") if p.get("refund_ids")]
    assert refunded
    cut = max(p["updated_at"] for p in square.state.dump("payments"))
    loc = refunded[0]["location_id"]
    got = list(
        client.payments.list(
            location_id=loc,
            begin_time="2013-01-01T00:00:00Z",
            updated_at_begin_time=cut,
            sort_field="UPDATED_AT",
        )
    )
    expected = [
        p for p in square.state.dump("payments") if p["location_id"] == loc and p["updated_at"] >= cut
    ]
    assert {p.id for p in got} == {p["id"] for p in expected}


def test_refunds_customers_orders_catalog(square: SquareEmulator, sdk: Callable[..., Square]) -> None:
    client = sdk()
    refunds = set()
    for loc in client.locations.list().locations or []:
        refunds |= {r.id for r in client.refunds.list(location_id=loc.id, begin_time="2013-01-01T00:00:00Z")}
    assert refunds == {r["id"] for r in square.state.dump("refunds")}
    assert {c.id for c in client.customers.list(limit=7)} == {c["id"] for c in square.state.dump("customers")}
    ids = [str(loc.id) for loc in client.locations.list().locations or []]
    orders = client.orders.search(
        location_ids=ids,
        limit=60,
        query={
            "filter": {"date_time_filter": {"updated_at": {"start_at": "2013-01-01T00:00:00Z"}}},
            "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"},
        },
    )
    assert orders.orders and len(orders.orders) == 60 and orders.cursor
    catalog = client.catalog.search(object_types=["ITEM"], include_deleted_objects=True)
    assert {o.id for o in catalog.objects or []} == {o["id"] for o in square.state.dump("catalog")}


def test_errors_raise_the_sdks_api_error_with_our_bodies(
    square: SquareEmulator, sdk: Callable[..., Square]
) -> None:
    with pytest.raises(ApiError) as bad_token:
        list(sdk("EAAA-not-a-token").payments.list())
    assert bad_token.value.status_code == 401
    assert bad_token.value.errors[0].code == "UNAUTHORIZED"
    assert bad_token.value.errors[0].category == "AUTHENTICATION_ERROR"

    ids = [loc["id"] for loc in square.state.dump("locations")]
    with pytest.raises(ApiError) as mismatch:
        sdk().orders.search(
            location_ids=ids,
            query={
                "filter": {"date_time_filter": {"updated_at": {"start_at": "2013-01-01T00:00:00Z"}}},
                "sort": {"sort_field": "CREATED_AT"},
            },
        )
    assert mismatch.value.status_code == 400
    assert mismatch.value.errors[0].field == "query.sort.sort_field"

    square.admin("rate_limit", {"next": 1})
    with pytest.raises(ApiError) as limited:
        sdk().locations.list(request_options={"max_retries": 0})
    assert limited.value.status_code == 429
    assert limited.value.errors[0].code == "RATE_LIMITED"


def test_oauth_refresh_and_expiry(square: SquareEmulator, sdk: Callable[..., Square]) -> None:
    anon = sdk("unused")
    token = anon.o_auth.obtain_token(
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        grant_type="refresh_token",
        refresh_token=DEFAULT_REFRESH_TOKEN,
    )
    assert token.access_token and token.expires_at
    assert sdk(token.access_token).locations.list().locations
    square.admin("expire_tokens", {})
    with pytest.raises(ApiError) as expired:
        sdk(token.access_token).locations.list()
    assert expired.value.status_code == 401
    assert expired.value.errors[0].code == "ACCESS_TOKEN_EXPIRED"
