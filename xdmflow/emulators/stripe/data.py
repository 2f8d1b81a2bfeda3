"""Deterministic Stripe data and the state changes that happen to it after creation.

:class:`Payments` wraps the :class:`~xdmflow.emulators.stripe.store.Store` with the business
operations (a charge with its payment intent and balance transaction; refunds; disputes and
their closing; invoice draft -> open -> paid; subscription cancels; payouts; customer
deletes), each emitting the events Stripe emits. :meth:`Payments.generate` builds a seeded
history by running those operations in time order; :meth:`Payments.simulate` moves the clock
day by day applying seeded random changes (new charges, late refunds and disputes, invoice
cycles, cancels). Balance transactions settle (``pending`` -> ``available``) whenever the clock
passes their ``available_on`` (:meth:`Payments.settle`); :meth:`Payments.bulk` adds many bare
charges at once for benchmarks.
"""

from __future__ import annotations

import gc
import heapq
from dataclasses import dataclass
from typing import Any

import numpy as np

from xdmflow.emulators.stripe.store import ALPHABET, Store

__all__ = ["DataConfig", "Payments", "DAY", "ZERO_DECIMAL"]

DAY = 86_400
ZERO_DECIMAL = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)
_CURRENCIES = (("usd", 60), ("eur", 20), ("jpy", 15), ("gbp", 5))
_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Ken", "Radia", "Frances", "Niklaus")


@dataclass(frozen=True)
class DataConfig:
    """Size of the seeded history (all of it in the ``days`` before the start clock)."""

    n_customers: int = 20
    n_charges: int = 200
    n_products: int = 4
    days: int = 60
    refund_rate: float = 0.08
    dispute_rate: float = 0.03
    failure_rate: float = 0.05
    subscription_rate: float = 0.4
    #: extra bare charges (no payment intent, balance transaction nor events): bulk data for
    #: benchmarks, cheap to generate and to hold
    bulk_charges: int = 0


def _fee(amount: int, currency: str) -> int:
    fixed = 0 if currency in ZERO_DECIMAL else 30
    return int(round(amount * 0.029)) + fixed


class Payments:
    """Business operations over the store (each one emits Stripe's events)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rng = store.rng
        #: pending balance transactions: (available_on, id), a heap
        self._pending: list[tuple[int, str]] = []
        #: the account balance: currency -> {"available": net, "pending": net}
        self._balance: dict[str, dict[str, int]] = {}
        store.on_clock.append(self.settle)

    # -- helpers -------------------------------------------------------------------------------

    def currency(self) -> str:
        roll = self.rng.uniform(0, 100)
        for code, weight in _CURRENCIES:
            roll -= weight
            if roll <= 0:
                return code
        return "usd"

    def amount(self, currency: str) -> int:
        if currency in ZERO_DECIMAL:
            return self.rng.randint(5, 500) * 100
        return self.rng.randint(100, 50_000)

    # -- catalog and customers -----------------------------------------------------------------

    def product(self, name: str | None = None) -> dict[str, Any]:
        s = self.store
        now = s.now()
        n = len(s.resources["products"].by_id) + 1
        prod = s.put(
            "products",
            {
                "active": True,
                "created": now,
                "default_price": None,
                "description": f"Plan {n}",
                "images": [],
                "marketing_features": [],
                "metadata": {},
                "name": name or f"Product {n}",
                "package_dimensions": None,
                "shippable": None,
                "statement_descriptor": None,
                "tax_code": None,
                "type": "service",
                "unit_label": None,
                "updated": now,
                "url": None,
            },
        )
        currency = "usd" if n % 3 else "jpy"
        unit = (n * 1000) if currency == "usd" else n * 1000
        price = self.price(prod["id"], unit, currency, recurring=True)
        self.price(prod["id"], unit * 10, currency, recurring=False)
        s.update("products", prod["id"], {"default_price": price["id"], "updated": s.now()})
        return prod

    def price(self, product: str, unit_amount: int, currency: str, *, recurring: bool) -> dict[str, Any]:
        return self.store.put(
            "prices",
            {
                "active": True,
                "billing_scheme": "per_unit",
                "currency": currency,
                "custom_unit_amount": None,
                "lookup_key": None,
                "metadata": {},
                "nickname": "monthly" if recurring else "one-off",
                "product": product,
                "recurring": (
                    {"interval": "month", "interval_count": 1, "meter": None, "usage_type": "licensed"}
                    if recurring
                    else None
                ),
                "tax_behavior": "unspecified",
                "tiers_mode": None,
                "transform_quantity": None,
                "type": "recurring" if recurring else "one_time",
                "unit_amount": unit_amount,
                "unit_amount_decimal": str(unit_amount),
            },
        )

    def customer(self, email: str | None = None, name: str | None = None) -> dict[str, Any]:
        s = self.store
        n = len(s.resources["customers"].by_id) + 1
        first = _NAMES[self.rng.randrange(len(_NAMES))]
        return s.put(
            "customers",
            {
                "address": None,
                "balance": 0,
                "currency": None,
                "default_source": None,
                "delinquent": False,
                "description": None,
                "discount": None,
                "email": email or f"{first.lower()}.{n}@example.com",
                "invoice_prefix": f"INV{n:05d}",
                "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None},
                "metadata": {},
                "name": name or f"{first} Customer{n}",
                "next_invoice_sequence": 1,
                "phone": None,
                "preferred_locales": [],
                "shipping": None,
                "tax_exempt": "none",
                "test_clock": None,
            },
        )

    def delete_customer(self, customer: str) -> dict[str, Any]:
        return self.store.delete("customers", customer)

    # -- charges, refunds, disputes ------------------------------------------------------------

    def balance_transaction(
        self, amount: int, currency: str, source: str, kind: str, fee: int = 0
    ) -> dict[str, Any]:
        s = self.store
        now = s.now()
        # Stripe sends no event of its own for a balance transaction (balance.* events tell
        # the balance); it is pending until available_on, then available (see settle)
        txn = s.put(
            "balance_transactions",
            {
                "amount": amount,
                "available_on": now + 2 * DAY,
                "currency": currency,
                "description": None,
                "exchange_rate": None,
                "fee": fee,
                "fee_details": (
                    [
                        {
                            "amount": fee,
                            "application": None,
                            "currency": currency,
                            "description": "Stripe processing fees",
                            "type": "stripe_fee",
                        }
                    ]
                    if fee
                    else []
                ),
                "net": amount - fee,
                "reporting_category": kind,
                "source": source,
                "status": "pending",
                "type": kind,
            },
            event=None,
        )
        heapq.heappush(self._pending, (int(txn["available_on"]), txn["id"]))
        self._funds(txn["currency"])["pending"] += int(txn["net"])
        return txn

    def _funds(self, currency: str) -> dict[str, int]:
        return self._balance.setdefault(currency, {"available": 0, "pending": 0})

    def balance(self) -> dict[str, Any]:
        """The account's balance object (available and pending funds per currency)."""

        def funds(kind: str) -> list[dict[str, Any]]:
            return [
                {"amount": v[kind], "currency": c, "source_types": {"card": v[kind]}}
                for c, v in sorted(self._balance.items())
            ]

        return {
            "object": "balance",
            "available": funds("available"),
            "livemode": False,
            "pending": funds("pending"),
        }

    def settle(self, now: int | None = None) -> int:
        """Balance transactions whose ``available_on`` has passed become ``available``; one
        ``balance.available`` event per settling instant (dated then, carrying the balance).
        Runs whenever the clock moves and before every request (a ticking clock moves alone).
        Returns how many settled."""
        s = self.store
        now = s.now() if now is None else now
        settled = 0
        with s.lock:
            while self._pending and self._pending[0][0] <= now:
                at = self._pending[0][0]
                group = 0
                while self._pending and self._pending[0][0] == at:
                    _, txn_id = heapq.heappop(self._pending)
                    txn = s.get("balance_transactions", txn_id)
                    if txn is None or txn["status"] != "pending":
                        continue
                    txn["status"] = "available"
                    funds = self._funds(txn["currency"])
                    funds["pending"] -= int(txn["net"])
                    funds["available"] += int(txn["net"])
                    group += 1
                if group:
                    s.event("balance.available", self.balance(), created=at)
                settled += group
        return settled

    def charge(
        self,
        customer: str | None,
        amount: int | None = None,
        currency: str | None = None,
        *,
        failed: bool = False,
        description: str | None = None,
    ) -> dict[str, Any]:
        """A payment intent confirmed into a charge (and its balance transaction when it succeeds)."""
        s = self.store
        currency = currency or self.currency()
        amount = amount if amount is not None else self.amount(currency)
        pi = s.put(
            "payment_intents",
            {
                "amount": amount,
                "amount_capturable": 0,
                "amount_received": 0,
                "canceled_at": None,
                "cancellation_reason": None,
                "capture_method": "automatic",
                "client_secret": None,
                "confirmation_method": "automatic",
                "currency": currency,
                "customer": customer,
                "description": description,
                "last_payment_error": None,
                "latest_charge": None,
                "metadata": {},
                "payment_method": None,
                "payment_method_types": ["card"],
                "receipt_email": None,
                "status": "requires_payment_method",
            },
        )
        charge_id = s.new_id("ch_")
        txn = (
            None
            if failed
            else self.balance_transaction(amount, currency, charge_id, "charge", _fee(amount, currency))
        )
        pm = s.new_id("pm_")
        ch = s.put(
            "charges",
            {
                "id": charge_id,
                "amount": amount,
                "amount_captured": 0 if failed else amount,
                "amount_refunded": 0,
                "balance_transaction": txn["id"] if txn else None,
                "billing_details": {"address": None, "email": None, "name": None, "phone": None},
                "calculated_statement_descriptor": "XDMFLOW",
                "captured": not failed,
                "currency": currency,
                "customer": customer,
                "description": description,
                "disputed": False,
                "failure_code": "card_declined" if failed else None,
                "failure_message": "Your card was declined." if failed else None,
                "metadata": {},
                "outcome": {
                    "network_status": "declined_by_network" if failed else "approved_by_network",
                    "reason": "generic_decline" if failed else None,
                    "risk_level": "normal",
                    "seller_message": "The bank did not return any further details with this decline."
                    if failed
                    else "Payment complete.",
                    "type": "issuer_declined" if failed else "authorized",
                },
                "paid": not failed,
                "payment_intent": pi["id"],
                "payment_method": pm,
                "receipt_email": None,
                "refunded": False,
                "status": "failed" if failed else "succeeded",
            },
            event="failed" if failed else "succeeded",
        )
        s.update(
            "payment_intents",
            pi["id"],
            (
                {
                    "status": "requires_payment_method",
                    "latest_charge": ch["id"],
                    "payment_method": None,
                    "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
                }
                if failed
                else {
                    "status": "succeeded",
                    "amount_received": amount,
                    "latest_charge": ch["id"],
                    "payment_method": pm,
                }
            ),
            event="payment_failed" if failed else "succeeded",
        )
        return ch

    def refund(
        self, charge: str, amount: int | None = None, reason: str | None = "requested_by_customer"
    ) -> dict[str, Any]:
        s = self.store
        ch = s.get("charges", charge)
        if ch is None or ch["status"] != "succeeded":
            raise KeyError(charge)
        left = ch["amount"] - ch["amount_refunded"]
        amount = left if amount is None else min(int(amount), left)
        if amount <= 0:
            raise ValueError(f"charge {charge} is already fully refunded")
        refund_id = s.new_id("re_")
        txn = self.balance_transaction(-amount, ch["currency"], refund_id, "refund")
        refund = s.put(
            "refunds",
            {
                "id": refund_id,
                "amount": amount,
                "balance_transaction": txn["id"],
                "charge": charge,
                "currency": ch["currency"],
                "destination_details": {"card": {"type": "refund"}, "type": "card"},
                "metadata": {},
                "payment_intent": ch["payment_intent"],
                "reason": reason,
                "receipt_number": None,
                "source_transfer_reversal": None,
                "status": "succeeded",
                "transfer_reversal": None,
            },
        )
        refunded = ch["amount_refunded"] + amount
        s.update(
            "charges",
            charge,
            {"amount_refunded": refunded, "refunded": refunded >= ch["amount"]},
            event="refunded",
        )
        return refund

    def dispute(self, charge: str, reason: str = "fraudulent") -> dict[str, Any]:
        s = self.store
        ch = s.get("charges", charge)
        if ch is None or ch["status"] != "succeeded" or ch["disputed"]:
            raise KeyError(charge)
        now = s.now()
        txn = self.balance_transaction(
            -ch["amount"],
            ch["currency"],
            "",
            "adjustment",
            1500 if ch["currency"] not in ZERO_DECIMAL else 2000,
        )
        dp = s.put(
            "disputes",
            {
                "amount": ch["amount"],
                "balance_transactions": [txn],
                "charge": charge,
                "currency": ch["currency"],
                "evidence": {"customer_email_address": None, "uncategorized_text": None},
                "evidence_details": {
                    "due_by": now + 7 * DAY,
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                "is_charge_refundable": False,
                "metadata": {},
                "payment_intent": ch["payment_intent"],
                "reason": reason,
                "status": "needs_response",
            },
        )
        txn["source"] = dp["id"]
        s.update("charges", charge, {"disputed": True}, event="updated")
        return dp

    def close_dispute(self, dispute: str, won: bool) -> dict[str, Any]:
        return self.store.update("disputes", dispute, {"status": "won" if won else "lost"}, event="closed")

    # -- subscriptions and invoices ------------------------------------------------------------

    def subscribe(self, customer: str, price: str) -> dict[str, Any]:
        s = self.store
        p = s.get("prices", price)
        if p is None:
            raise KeyError(price)
        now = s.now()
        sub_id = s.new_id("sub_")
        item = {
            "id": s.new_id("si_"),
            "object": "subscription_item",
            "created": now,
            "current_period_end": now + 30 * DAY,
            "current_period_start": now,
            "metadata": {},
            "price": p,
            "quantity": 1,
            "subscription": sub_id,
        }
        sub = s.put(
            "subscriptions",
            {
                "id": sub_id,
                "billing_cycle_anchor": now,
                "cancel_at": None,
                "cancel_at_period_end": False,
                "canceled_at": None,
                "collection_method": "charge_automatically",
                "currency": p["currency"],
                "customer": customer,
                "ended_at": None,
                "items": {
                    "object": "list",
                    "data": [item],
                    "has_more": False,
                    "total_count": 1,
                    "url": f"/v1/subscription_items?subscription={sub_id}",
                },
                "latest_invoice": None,
                "metadata": {},
                "start_date": now,
                "status": "active",
            },
        )
        self.invoice_cycle(sub_id)
        return sub

    def cancel_subscription(self, subscription: str) -> dict[str, Any]:
        now = self.store.now()
        return self.store.update(
            "subscriptions",
            subscription,
            {"status": "canceled", "canceled_at": now, "ended_at": now},
            event="deleted",
        )

    def invoice(
        self, customer: str, subscription: str | None, lines: list[tuple[str, int, str]]
    ) -> dict[str, Any]:
        """A draft invoice with ``lines`` = [(description, amount, price id)]."""
        s = self.store
        now = s.now()
        cust = s.get("customers", customer) or {}
        inv_id = s.new_id("in_")
        currency = (s.get("prices", lines[0][2]) or {}).get("currency", "usd") if lines else "usd"
        data = [
            {
                "id": s.new_id("il_"),
                "object": "line_item",
                "amount": amount,
                "currency": currency,
                "description": desc,
                "discountable": True,
                "invoice": inv_id,
                "livemode": False,
                "metadata": {},
                "period": {"end": now + 30 * DAY, "start": now},
                "pricing": {
                    "price_details": {
                        "price": price,
                        "product": (s.get("prices", price) or {}).get("product"),
                    },
                    "type": "price_details",
                },
                "quantity": 1,
                "subscription": subscription,
            }
            for desc, amount, price in lines
        ]
        total = sum(a for _, a, _ in lines)
        return s.put(
            "invoices",
            {
                "id": inv_id,
                "account_country": "US",
                "amount_due": total,
                "amount_paid": 0,
                "amount_remaining": total,
                "attempt_count": 0,
                "attempted": False,
                "billing_reason": "subscription_cycle" if subscription else "manual",
                "collection_method": "charge_automatically",
                "currency": currency,
                "customer": customer,
                "customer_email": cust.get("email"),
                "due_date": None,
                "hosted_invoice_url": None,
                "lines": {
                    "object": "list",
                    "data": data,
                    "has_more": False,
                    "total_count": len(data),
                    "url": f"/v1/invoices/{inv_id}/lines",
                },
                "metadata": {},
                "number": None,
                "period_end": now,
                "period_start": now - 30 * DAY,
                "status": "draft",
                "status_transitions": {
                    "finalized_at": None,
                    "marked_uncollectible_at": None,
                    "paid_at": None,
                    "voided_at": None,
                },
                "subscription": subscription,
                "subtotal": total,
                "total": total,
            },
        )

    def finalize_invoice(self, invoice: str) -> dict[str, Any]:
        s = self.store
        inv = s.get("invoices", invoice)
        if inv is None or inv["status"] != "draft":
            raise KeyError(invoice)
        cust = s.get("customers", inv["customer"]) or {}
        seq = cust.get("next_invoice_sequence", 1)
        if cust:
            cust["next_invoice_sequence"] = seq + 1
        transitions = {**inv["status_transitions"], "finalized_at": s.now()}
        return s.update(
            "invoices",
            invoice,
            {
                "status": "open",
                "number": f"{cust.get('invoice_prefix', 'INV')}-{seq:04d}",
                "status_transitions": transitions,
                "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice}",
            },
            event="finalized",
        )

    def pay_invoice(self, invoice: str) -> dict[str, Any]:
        s = self.store
        inv = s.get("invoices", invoice)
        if inv is None or inv["status"] != "open":
            raise KeyError(invoice)
        self.charge(
            inv["customer"], inv["amount_due"], inv["currency"], description=f"Invoice {inv['number']}"
        )
        transitions = {**inv["status_transitions"], "paid_at": s.now()}
        return s.update(
            "invoices",
            invoice,
            {
                "status": "paid",
                "amount_paid": inv["amount_due"],
                "amount_remaining": 0,
                "attempt_count": 1,
                "attempted": True,
                "status_transitions": transitions,
            },
            event="paid",
        )

    def invoice_cycle(self, subscription: str, *, pay: bool = True) -> dict[str, Any]:
        """Bill a subscription: a draft invoice, finalized an hour later and paid (or left open)."""
        s = self.store
        sub = s.get("subscriptions", subscription)
        if sub is None:
            raise KeyError(subscription)
        item = sub["items"]["data"][0]
        price = item["price"]
        inv = self.invoice(
            sub["customer"], subscription, [(f"1 x {price['nickname']}", price["unit_amount"], price["id"])]
        )
        s.update("subscriptions", subscription, {"latest_invoice": inv["id"]})
        s.advance(3600)
        self.finalize_invoice(inv["id"])
        if pay:
            self.pay_invoice(inv["id"])
        return inv

    # -- payouts -------------------------------------------------------------------------------

    def payout(self, amount: int, currency: str = "usd") -> dict[str, Any]:
        s = self.store
        po_id = s.new_id("po_")
        txn = self.balance_transaction(-amount, currency, po_id, "payout")
        return s.put(
            "payouts",
            {
                "id": po_id,
                "amount": amount,
                "arrival_date": s.now() + 2 * DAY,
                "automatic": True,
                "balance_transaction": txn["id"],
                "currency": currency,
                "description": "STRIPE PAYOUT",
                "destination": "ba_" + po_id[3:],
                "failure_code": None,
                "method": "standard",
                "source_type": "card",
                "statement_descriptor": None,
                "status": "in_transit",
                "type": "bank_account",
            },
        )

    def pay_out(self, payout: str) -> dict[str, Any]:
        return self.store.update("payouts", payout, {"status": "paid"}, event="paid")

    # -- seeded history ------------------------------------------------------------------------

    def generate(self, config: DataConfig, now: int) -> None:
        """A history of ``config.days`` days ending at ``now`` (objects and their events)."""
        s = self.store
        rng = self.rng
        start = now - config.days * DAY
        s.now_value = start
        prices: list[str] = []
        for _ in range(config.n_products):
            self.product()
            prices = [p["id"] for p in s.all("prices") if p["type"] == "recurring"]
        customers: list[str] = []
        span = max(1, config.days * DAY - 2 * DAY)
        times = sorted(start + 60 + rng.randrange(span) for _ in range(config.n_charges))
        per_customer = max(1, len(times) // max(1, config.n_customers))
        for i, t in enumerate(times):
            s.now_value = max(s.now_value, t)
            if i % per_customer == 0 and len(customers) < config.n_customers:
                c = self.customer()
                customers.append(c["id"])
                if prices and rng.random() < config.subscription_rate:
                    self.subscribe(c["id"], prices[rng.randrange(len(prices))])
            failed = rng.random() < config.failure_rate
            ch = self.charge(customers[rng.randrange(len(customers))] if customers else None, failed=failed)
            if failed:
                continue
            if rng.random() < config.refund_rate:
                s.advance(rng.randrange(60, 3600))
                self.refund(ch["id"], ch["amount"] // 2 if rng.random() < 0.5 else None)
            elif rng.random() < config.dispute_rate:
                s.advance(rng.randrange(60, 3600))
                self.dispute(ch["id"])
        while len(customers) < config.n_customers:
            customers.append(self.customer()["id"])
        if config.bulk_charges:
            self.bulk(config.bulk_charges, start, now - 3 * DAY)
        s.now_value = max(s.now_value, now - 3 * DAY)
        po = self.payout(
            max(1000, sum(c["amount"] for c in s.all("charges")[-10:] if c["currency"] == "usd"))
        )
        s.now_value = max(s.now_value, now - DAY)
        self.pay_out(po["id"])
        s.now_value = now

    def bulk(self, n: int, start: int, end: int) -> int:
        """``n`` succeeded charges created in ``[start, end)``, stored directly (no payment
        intents, balance transactions nor events): bulk data for benchmarks.

        The columns (ids, times, currencies, amounts) are drawn at once with numpy from a
        generator seeded by the store's, so the same seed and clock give the same charges; the
        objects are then added to the store's ``(created, id)`` index in one sort. Returns ``n``.
        """
        if n <= 0:
            return 0
        if end <= start:
            raise ValueError(f"bulk charges need start < end (got {start}, {end})")
        s = self.store
        gen = np.random.default_rng(self.rng.getrandbits(64))
        alphabet = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
        raw = np.empty((n, 27), dtype=np.uint8)
        raw[:, :3] = np.frombuffer(b"ch_", dtype=np.uint8)
        raw[:, 3:] = alphabet[gen.integers(0, len(alphabet), size=(n, 24), dtype=np.uint8)]
        ids = raw.view("S27").ravel().astype("U27")
        created = gen.integers(start, end, size=n)
        codes = np.array([c for c, _ in _CURRENCIES])
        weights = np.array([w for _, w in _CURRENCIES], dtype=float)
        cur = gen.choice(len(codes), size=n, p=weights / weights.sum())
        zero = np.isin(codes[cur], sorted(ZERO_DECIMAL))
        amounts = np.where(zero, gen.integers(5, 501, size=n) * 100, gen.integers(100, 50_001, size=n))
        order = np.lexsort((ids, created))
        template: dict[str, Any] = {
            "id": "",
            "object": "charge",
            "amount": 0,
            "amount_captured": 0,
            "amount_refunded": 0,
            "balance_transaction": None,
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "calculated_statement_descriptor": "XDMFLOW",
            "captured": True,
            "created": 0,
            "currency": "",
            "customer": None,
            "description": None,
            "disputed": False,
            "failure_code": None,
            "failure_message": None,
            "livemode": False,
            "metadata": {},
            "outcome": {
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
            "paid": True,
            "payment_intent": None,
            "payment_method": None,
            "receipt_email": None,
            "refunded": False,
            "status": "succeeded",
        }
        ids_list = ids[order].tolist()
        times = created[order].tolist()
        # the nested values are shared by the bulk objects (changes replace them, never mutate);
        # no garbage collection while a million dicts are made (they hold no cycles)
        enabled = gc.isenabled()
        gc.disable()
        try:
            objs = [
                {**template, "id": i, "amount": a, "amount_captured": a, "created": t, "currency": c}
                for i, t, c, a in zip(
                    ids_list, times, codes[cur[order]].tolist(), amounts[order].tolist(), strict=True
                )
            ]
            s.resources["charges"].extend(ids_list, times, objs)
        finally:
            if enabled:
                gc.enable()
        return n

    def seed_charges(self, charges: int, days: float = 30) -> dict[str, int]:
        """``charges`` bulk charges over the ``days`` before the clock (the admin ``seed``)."""
        now = self.store.now()
        added = self.bulk(int(charges), now - int(float(days) * DAY), now)
        return {"charges": added, "total": self.store.resources["charges"].count()}

    def simulate(self, days: int, charges_per_day: int = 5) -> dict[str, int]:
        """Move the clock ``days`` days, applying seeded changes each day; returns counts."""
        s = self.store
        rng = self.rng
        counts = {
            "charges": 0,
            "refunds": 0,
            "disputes": 0,
            "disputes_closed": 0,
            "invoices": 0,
            "cancels": 0,
        }
        for _ in range(days):
            day_end = s.now() + DAY
            customers = [c["id"] for c in s.all("customers")]
            for _ in range(charges_per_day):
                s.advance(rng.randrange(60, DAY // (charges_per_day + 2)))
                self.charge(
                    customers[rng.randrange(len(customers))] if customers else None,
                    failed=rng.random() < 0.05,
                )
                counts["charges"] += 1
            recent = [
                c
                for c in s.all("charges")[-200:]
                if c["status"] == "succeeded" and not c["refunded"] and not c["disputed"]
            ]
            if recent and rng.random() < 0.6:
                ch = recent[rng.randrange(len(recent))]
                self.refund(
                    ch["id"],
                    None if rng.random() < 0.5 else max(1, (ch["amount"] - ch["amount_refunded"]) // 2),
                )
                counts["refunds"] += 1
            if recent and rng.random() < 0.3:
                ch = recent[rng.randrange(len(recent))]
                if not ch["refunded"] and not ch["disputed"]:
                    self.dispute(ch["id"])
                    counts["disputes"] += 1
            for dp in s.all("disputes"):
                if dp["status"] == "needs_response" and s.now() - dp["created"] > 5 * DAY:
                    self.close_dispute(dp["id"], won=rng.random() < 0.5)
                    counts["disputes_closed"] += 1
            for sub in s.all("subscriptions"):
                if sub["status"] != "active":
                    continue
                latest = s.get("invoices", sub["latest_invoice"]) if sub["latest_invoice"] else None
                if latest is None or s.now() - latest["created"] >= 30 * DAY:
                    self.invoice_cycle(sub["id"])
                    counts["invoices"] += 1
                elif rng.random() < 0.02:
                    self.cancel_subscription(sub["id"])
                    counts["cancels"] += 1
            if s.now() < day_end:
                s.now_value = day_end
        return counts
