"""Fidelity of the Stripe emulator, judged by the official ``stripe`` SDK (16.x).

The SDK is pointed at the emulator with ``stripe.api_base``; it must page with
``auto_paging_iter``, retrieve objects, and raise its own exception types for our error
bodies. Where the SDK and the emulator disagree, the emulator is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.connectors.stripe.stripehelp import Emulator
from xdmflow.emulators.stripe import DEFAULT_RESTRICTED_KEY, DEFAULT_SECRET_KEY

stripe = pytest.importorskip("stripe")


@pytest.fixture
def sdk(emulator: Emulator) -> Iterator[Any]:
    saved = (stripe.api_base, stripe.api_key, stripe.max_network_retries)
    stripe.api_base = emulator.url
    stripe.api_key = DEFAULT_SECRET_KEY
    stripe.max_network_retries = 0
    try:
        yield stripe
    finally:
        stripe.api_base, stripe.api_key, stripe.max_network_retries = saved


def _newest_first(objs: list[dict[str, Any]]) -> list[str]:
    return [o["id"] for o in sorted(objs, key=lambda o: (o["created"], o["id"]), reverse=True)]


@pytest.mark.parametrize(
    ("cls", "resource", "params"),
    [
        ("Charge", "charges", {}),
        ("Refund", "refunds", {}),
        ("Customer", "customers", {}),
        ("PaymentIntent", "payment_intents", {}),
        ("Invoice", "invoices", {}),
        ("Subscription", "subscriptions", {"status": "all"}),
        ("BalanceTransaction", "balance_transactions", {}),
        ("Dispute", "disputes", {}),
        ("Payout", "payouts", {}),
        ("Product", "products", {}),
        ("Price", "prices", {}),
        ("Event", "events", {}),
    ],
)
def test_auto_paging_lists_every_object_newest_first(
    sdk: Any, emulator: Emulator, cls: str, resource: str, params: dict[str, Any]
) -> None:
    page = getattr(sdk, cls).list(limit=7, **params)
    assert page.object == "list" and page.url == f"/v1/{resource}"
    ids = [o.id for o in page.auto_paging_iter()]
    expected = emulator.objects(resource)
    if resource == "events":  # listed for 30 days only
        expected = [e for e in expected if e["created"] >= emulator.state.store.now() - 30 * 86_400]
    assert ids == _newest_first(expected)
    assert len(ids) == len(set(ids))


def test_retrieve_and_typed_objects(sdk: Any, emulator: Emulator) -> None:
    charge = emulator.objects("charges")[-1]
    got = sdk.Charge.retrieve(charge["id"])
    assert isinstance(got, sdk.Charge)
    assert got.id == charge["id"] and got.amount == charge["amount"] and got.currency == charge["currency"]
    pi = sdk.PaymentIntent.retrieve(got.payment_intent)
    assert pi.latest_charge == got.id
    inv = sdk.Invoice.retrieve(emulator.objects("invoices")[0]["id"])
    lines = [line.id for line in sdk.Invoice.list_lines(inv.id, limit=1).auto_paging_iter()]
    assert lines == [x["id"] for x in inv.lines.data]


def test_created_filters_and_ending_before(sdk: Any, emulator: Emulator) -> None:
    charges = emulator.objects("charges")
    middle = charges[len(charges) // 2]["created"]
    got = [c.id for c in sdk.Charge.list(limit=100, created={"gte": middle}).auto_paging_iter()]
    assert got == _newest_first([c for c in charges if c["created"] >= middle])
    got = [c.id for c in sdk.Charge.list(limit=100, created={"lt": middle}).auto_paging_iter()]
    assert got == _newest_first([c for c in charges if c["created"] < middle])
    newest = _newest_first(charges)
    before = sdk.Charge.list(limit=3, ending_before=newest[5])
    assert [c.id for c in before.data] == newest[2:5] and before.has_more


def test_subscription_default_hides_canceled(sdk: Any, emulator: Emulator) -> None:
    sub = emulator.objects("subscriptions")[0]
    emulator.admin("cancel_subscription", {"subscription": sub["id"]})
    default = {s.id for s in sdk.Subscription.list(limit=100).auto_paging_iter()}
    every = {s.id for s in sdk.Subscription.list(limit=100, status="all").auto_paging_iter()}
    assert sub["id"] not in default and sub["id"] in every
    assert sdk.Subscription.retrieve(sub["id"]).status == "canceled"


def test_deleted_customer(sdk: Any, emulator: Emulator) -> None:
    cus = emulator.objects("customers")[0]
    emulator.admin("delete_customer", {"customer": cus["id"]})
    got = sdk.Customer.retrieve(cus["id"])
    assert got.deleted is True
    assert cus["id"] not in {c.id for c in sdk.Customer.list(limit=100).auto_paging_iter()}
    events = sdk.Event.list(type="customer.deleted")
    assert [e.data.object.id for e in events.data] == [cus["id"]]


def test_bad_key_is_authentication_error(sdk: Any) -> None:
    sdk.api_key = "sk_test_notTheRightKey9876"
    with pytest.raises(sdk.AuthenticationError) as info:
        sdk.Charge.list()
    assert info.value.http_status == 401
    assert "9876" in info.value.user_message and "notTheRight" not in info.value.user_message
    assert info.value.request_id and info.value.request_id.startswith("req_")


def test_expired_oauth_token_is_authentication_error(sdk: Any, emulator: Emulator) -> None:
    sdk.api_key = emulator.admin("oauth/tokens", {"expires_in": 60})["access_token"]
    assert sdk.Customer.list(limit=1).data
    emulator.admin("clock", {"advance": 60})
    with pytest.raises(sdk.AuthenticationError) as info:
        sdk.Customer.list(limit=1)
    assert info.value.http_status == 401 and info.value.error.code == "api_key_expired"
    assert info.value.user_message.startswith("Expired API Key provided: sk_test_")


def test_invalid_request_errors(sdk: Any) -> None:
    with pytest.raises(sdk.InvalidRequestError) as info:
        sdk.Charge.list(limit=101)
    assert info.value.http_status == 400 and info.value.param == "limit"
    with pytest.raises(sdk.InvalidRequestError) as info:
        sdk.Charge.retrieve("ch_doesNotExist")
    assert info.value.http_status == 404 and info.value.code == "resource_missing"
    with pytest.raises(sdk.InvalidRequestError) as info:
        sdk.Charge.list(bogus="x")
    assert info.value.code == "parameter_unknown" and info.value.param == "bogus"
    with pytest.raises(sdk.InvalidRequestError):
        sdk.Event.list(type="charge.*", types=["charge.succeeded"])


def test_restricted_key_permission_error_names_resource(sdk: Any) -> None:
    sdk.api_key = DEFAULT_RESTRICTED_KEY
    assert sdk.Charge.list(limit=1).data
    with pytest.raises(sdk.PermissionError) as info:
        sdk.Payout.list()
    assert info.value.http_status == 403 and "rak_payout_read" in info.value.user_message


@pytest.mark.parametrize("kind", ["rate_limit", "lock_timeout"])
def test_429_is_rate_limit_error_with_should_retry(sdk: Any, emulator: Emulator, kind: str) -> None:
    emulator.admin("faults", {"kind": kind, "count": 1, "path": "/v1/charges"})
    with pytest.raises(sdk.RateLimitError) as info:
        sdk.Charge.list()
    assert info.value.http_status == 429 and info.value.json_body["error"]["code"] == kind
    assert info.value.headers.get("stripe-should-retry") == "true"
    assert sdk.Charge.list(limit=1).data  # the fault is used up


def test_sdk_retries_when_stripe_should_retry(sdk: Any, emulator: Emulator) -> None:
    sdk.max_network_retries = 2
    emulator.admin("faults", {"kind": "lock_timeout", "count": 1, "path": "/v1/customers"})
    assert sdk.Customer.list(limit=2).data
    assert emulator.state.stats["fault_lock_timeout"] == 1


def test_rate_limit_past_configured_rps(sdk: Any, emulator: Emulator) -> None:
    emulator.admin("config", {"rate_limit_rps": 3})
    with pytest.raises(sdk.RateLimitError):
        for _ in range(20):
            sdk.Customer.list(limit=1)


def test_stripe_version_echoed_and_validated(sdk: Any, emulator: Emulator) -> None:
    h = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}
    r = httpx.get(f"{emulator.url}/v1/charges", headers={**h, "Stripe-Version": "2022-11-15"})
    assert r.headers["stripe-version"] == "2022-11-15" and r.headers["request-id"].startswith("req_")
    client = sdk.StripeClient(
        DEFAULT_SECRET_KEY, base_addresses={"api": emulator.url}, stripe_version="2022-11-15"
    )
    assert client.v1.charges.list({"limit": 2}).data
    r = httpx.get(f"{emulator.url}/v1/charges", headers={**h, "Stripe-Version": "yesterday"})
    assert r.status_code == 400 and "Invalid Stripe API version" in r.json()["error"]["message"]


def test_visibility_lag(sdk: Any, emulator: Emulator) -> None:
    emulator.admin("config", {"visibility_lag": 5})
    ch = emulator.admin("charges", {"customer": None, "amount": 1234, "currency": "usd"})
    assert ch["id"] not in [c.id for c in sdk.Charge.list(limit=5).data]
    assert sdk.Charge.retrieve(ch["id"]).amount == 1234  # retrieve sees it at once
    emulator.admin("clock", {"advance": 5})
    assert ch["id"] in [c.id for c in sdk.Charge.list(limit=5).data]


def test_mutations_emit_events(sdk: Any, emulator: Emulator) -> None:
    charges = [
        c
        for c in emulator.objects("charges")
        if c["status"] == "succeeded" and not c["refunded"] and not c["disputed"]
    ]
    emulator.admin("clock", {"advance": 86_400})
    emulator.admin("refunds", {"charge": charges[0]["id"]})
    dp = emulator.admin("disputes", {"charge": charges[1]["id"]})
    emulator.admin("close_dispute", {"dispute": dp["id"], "won": False})
    cus = emulator.objects("customers")[1]["id"]
    price = next(p for p in emulator.objects("prices") if p["type"] == "recurring")["id"]
    inv = emulator.admin(
        "invoices", {"customer": cus, "lines": [{"amount": 500, "price": price, "description": "x"}]}
    )
    emulator.admin("finalize_invoice", {"invoice": inv["id"]})
    emulator.admin("pay_invoice", {"invoice": inv["id"]})
    events = list(
        sdk.Event.list(limit=100, created={"gte": emulator.state.store.now() - 10}).auto_paging_iter()
    )
    types = {e.type for e in events}
    assert {
        "charge.refunded",
        "refund.created",
        "charge.dispute.created",
        "charge.dispute.closed",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
    } <= types
    paid = next(e for e in events if e.type == "invoice.paid")
    assert paid.data.object.status == "paid" and paid.data.previous_attributes.status == "open"
    assert all(e.api_version == emulator.state.config.api_version for e in events)
    assert sdk.Invoice.retrieve(inv["id"]).status == "paid"
    assert {e.type for e in sdk.Event.list(type="charge.dispute.*", limit=100).auto_paging_iter()} >= {
        "charge.dispute.created",
        "charge.dispute.closed",
    }


def test_events_older_than_30_days_are_gone(sdk: Any, emulator: Emulator) -> None:
    now = emulator.state.store.now()
    listed = [e for e in emulator.objects("events") if e["created"] >= now - 30 * 86_400]
    oldest = min(listed, key=lambda e: e["created"])
    with pytest.raises(sdk.InvalidRequestError):  # past the window already
        sdk.Event.retrieve(min(emulator.objects("events"), key=lambda e: e["created"])["id"])
    assert sdk.Event.retrieve(oldest["id"]).id == oldest["id"]
    emulator.admin("clock", {"advance": 31 * 86_400})
    with pytest.raises(sdk.InvalidRequestError):
        sdk.Event.retrieve(oldest["id"])
    now = emulator.state.store.now()
    assert all(e.created >= now - 30 * 86_400 for e in sdk.Event.list(limit=100).auto_paging_iter())


def test_same_seed_same_history(make_emulator: Any) -> None:
    a, b = make_emulator(seed=3), make_emulator(seed=3)
    assert a.objects("charges") == b.objects("charges")
    assert a.objects("charges") != make_emulator(seed=4).objects("charges")


def test_idempotency_key_replays_and_conflicts(sdk: Any, emulator: Emulator) -> None:
    before = len(emulator.objects("customers"))
    a = sdk.Customer.create(email="idem@example.com", metadata={"k": "v"}, idempotency_key="key-1")
    b = sdk.Customer.create(email="idem@example.com", metadata={"k": "v"}, idempotency_key="key-1")
    assert a.id == b.id and a.metadata["k"] == "v"
    assert len(emulator.objects("customers")) == before + 1
    with pytest.raises(sdk.IdempotencyError):
        sdk.Customer.create(email="other@example.com", idempotency_key="key-1")
    c = sdk.Customer.create(email="idem@example.com", idempotency_key="key-2")
    assert c.id != a.id
    sdk.api_key = DEFAULT_RESTRICTED_KEY  # read-only
    with pytest.raises(sdk.PermissionError):
        sdk.Customer.create(email="nope@example.com")


def test_basic_auth_with_the_key_as_user(emulator: Emulator) -> None:
    r = httpx.get(f"{emulator.url}/v1/customers?limit=1", auth=(DEFAULT_SECRET_KEY, ""))
    assert r.status_code == 200 and r.json()["object"] == "list"
    r = httpx.get(f"{emulator.url}/v1/customers")
    assert r.status_code == 401 and "did not provide an API key" in r.json()["error"]["message"]
