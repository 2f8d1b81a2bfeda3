"""The Square emulator's state: locations, customers, catalog objects, payments, refunds, orders.

Seeded and deterministic: the same seed and start time give the same objects. The clock is
the wall clock plus an offset the admin API moves, so tests can let days pass. Every change
goes through a method that bumps ``updated_at`` (and ``version`` where Square has one), as the
real API does, so incremental readers see it.
"""

from __future__ import annotations

import random
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "SquareConfig",
    "SquareState",
    "DEFAULT_ACCESS_TOKEN",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REFRESH_TOKEN",
    "format_time",
    "parse_time",
]

#: A personal access token: never expires.
DEFAULT_ACCESS_TOKEN = "EAAAEsquare-emulator-personal-access-token"
#: An OAuth application and one seller's refresh token for it.
DEFAULT_CLIENT_ID = "sq0idp-emulator-app"
DEFAULT_CLIENT_SECRET = "sq0csp-emulator-secret-0000"
DEFAULT_REFRESH_TOKEN = "EQAAEsquare-emulator-refresh-token"

_ALNUM = string.ascii_uppercase + string.ascii_lowercase + string.digits


def format_time(epoch: float) -> str:
    """RFC 3339 the way Square writes it: UTC, milliseconds, ``Z``."""
    dt = datetime.fromtimestamp(epoch, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_time(value: str) -> float:
    """An RFC 3339 time (any offset) -> epoch seconds; ``ValueError`` when it is not one."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class SquareConfig:
    """What the emulator generates and how it behaves."""

    n_locations: int = 3
    n_customers: int = 40
    n_catalog: int = 15
    n_payments: int = 400
    #: payments spread over this many days before the start time
    days: int = 60
    #: share of payments refunded (some partially), later than the payment
    refund_fraction: float = 0.1
    #: seconds a new object stays invisible to lists (Square is eventually consistent)
    visibility_lag_seconds: float = 0.0
    #: every n-th API request answers 429 RATE_LIMITED (0 = never)
    rate_limit_every: int = 0
    #: lifetime of an OAuth access token, in emulator seconds
    token_ttl_seconds: float = 30 * 86_400
    currency: str = "USD"


@dataclass
class Obj:
    """One stored object: its JSON body and its times (epoch seconds) for filtering."""

    body: dict[str, Any]
    created: float
    updated: float
    #: when lists may show it (visibility lag)
    visible_from: float = 0.0


@dataclass
class SquareState:
    """Everything the emulator holds, guarded by one lock."""

    seed: int = 0
    config: SquareConfig = field(default_factory=SquareConfig)
    start: float = field(default_factory=time.time)
    offset: float = 0.0
    locations: dict[str, Obj] = field(default_factory=dict)
    customers: dict[str, Obj] = field(default_factory=dict)
    catalog: dict[str, Obj] = field(default_factory=dict)
    payments: dict[str, Obj] = field(default_factory=dict)
    refunds: dict[str, Obj] = field(default_factory=dict)
    orders: dict[str, Obj] = field(default_factory=dict)
    #: OAuth access tokens -> expiry (epoch seconds, emulator clock)
    tokens: dict[str, float] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=lambda: {DEFAULT_REFRESH_TOKEN})
    requests: int = 0
    #: the next n API requests answer 429 (set through the admin API)
    forced_rate_limits: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._generate()

    # -- clock and ids -------------------------------------------------------------------

    def now(self) -> float:
        return round(time.time() + self.offset, 3)

    def advance(self, seconds: float) -> float:
        with self.lock:
            self.offset += seconds
            return self.now()

    def new_id(self, n: int = 22) -> str:
        return "".join(self.rng.choices(_ALNUM, k=n))

    def main_location(self) -> str:
        return next(iter(self.locations))

    # -- generation ------------------------------------------------------------------------

    def _generate(self) -> None:
        cfg = self.config
        t0 = self.start - cfg.days * 86_400
        cities = ["Main Street", "Harbour", "Airport", "Old Town", "Station", "Market"]
        for i in range(max(1, cfg.n_locations)):
            lid = "L" + self.new_id(12).upper()
            self._put(
                self.locations,
                lid,
                {
                    "id": lid,
                    "name": f"{cities[i % len(cities)]} {i + 1}" if i else "Main Street",
                    "business_name": "Emulated Coffee",
                    "status": "ACTIVE",
                    "country": "US",
                    "currency": cfg.currency,
                    "timezone": "America/Los_Angeles",
                    "merchant_id": "MLEMULATOR0001",
                    "type": "PHYSICAL",
                    "capabilities": ["CREDIT_CARD_PROCESSING"],
                },
                t0 - 86_400,
            )
        given = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Donald", "Frances", "John", "Radia"]
        family = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Knuth", "Allen"]
        for i in range(cfg.n_customers):
            at = t0 + self.rng.uniform(0, cfg.days * 86_400 * 0.5)
            g, f = self.rng.choice(given), self.rng.choice(family)
            self.add_customer({"given_name": g, "family_name": f, "reference_id": f"ref-{i}"}, at=at)
        for i in range(cfg.n_catalog):
            at = t0 + self.rng.uniform(0, cfg.days * 86_400 * 0.3)
            self.add_catalog_item(f"Item {i + 1}", 100 + 50 * (i % 9), at=at)
        for _ in range(cfg.n_payments):
            at = t0 + self.rng.uniform(0, cfg.days * 86_400 - 3_600)
            pay = self.add_payment(amount=self.rng.randint(150, 25_000), at=at)
            if self.rng.random() < cfg.refund_fraction:
                total = pay["amount_money"]["amount"]
                part = total if self.rng.random() < 0.6 else max(1, total // 3)
                self.refund(pay["id"], part, at=min(at + self.rng.uniform(600, 5 * 86_400), self.start - 60))

    def _put(self, table: dict[str, Obj], oid: str, body: dict[str, Any], at: float) -> dict[str, Any]:
        body.setdefault("created_at", format_time(at))
        body["updated_at"] = format_time(at)
        lag = self.config.visibility_lag_seconds
        table[oid] = Obj(body, at, at, at + lag)
        return body

    @staticmethod
    def _touch(obj: Obj, at: float) -> None:
        obj.updated = at
        obj.body["updated_at"] = format_time(at)
        if "version" in obj.body and isinstance(obj.body["version"], int):
            obj.body["version"] += 1

    # -- mutations (seed data, admin API) ----------------------------------------------------

    def add_customer(self, fields: dict[str, Any], *, at: float | None = None) -> dict[str, Any]:
        with self.lock:
            at = self.now() if at is None else at
            cid = self.new_id(26).upper()
            email = f"{fields.get('given_name', 'x')}.{fields.get('family_name', 'y')}.{cid[:4]}@example.com"
            body = {
                "id": cid,
                "given_name": fields.get("given_name"),
                "family_name": fields.get("family_name"),
                "email_address": fields.get("email_address", email.lower()),
                "phone_number": fields.get("phone_number"),
                "reference_id": fields.get("reference_id"),
                "creation_source": "THIRD_PARTY",
                "preferences": {"email_unsubscribed": False},
                "version": 0,
            }
            return self._put(self.customers, cid, body, at)

    def update_customer(self, cid: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            obj = self.customers[cid]
            obj.body.update({k: v for k, v in fields.items() if k not in ("id", "created_at", "version")})
            self._touch(obj, self.now())
            return obj.body

    def add_catalog_item(self, name: str, price: int, *, at: float | None = None) -> dict[str, Any]:
        with self.lock:
            at = self.now() if at is None else at
            iid, vid = "#" + self.new_id(24).upper(), self.new_id(24).upper()
            body = {
                "type": "ITEM",
                "id": iid,
                "version": int(at * 1000),
                "is_deleted": False,
                "present_at_all_locations": True,
                "item_data": {
                    "name": name,
                    "description": f"{name} (emulated)",
                    "variations": [
                        {
                            "type": "ITEM_VARIATION",
                            "id": vid,
                            "item_variation_data": {
                                "item_id": iid,
                                "name": "Regular",
                                "pricing_type": "FIXED_PRICING",
                                "price_money": {"amount": price, "currency": self.config.currency},
                            },
                        }
                    ],
                },
            }
            return self._put(self.catalog, iid, body, at)

    def delete_catalog_object(self, oid: str) -> dict[str, Any]:
        with self.lock:
            obj = self.catalog[oid]
            obj.body["is_deleted"] = True
            at = self.now()
            self._touch(obj, at)
            obj.body["version"] = int(at * 1000)
            return obj.body

    def add_payment(
        self,
        *,
        amount: int,
        currency: str | None = None,
        location_id: str | None = None,
        customer_id: str | None = None,
        at: float | None = None,
        status: str = "COMPLETED",
        payment_id: str | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            at = self.now() if at is None else at
            currency = currency or self.config.currency
            location_id = location_id or self.rng.choice(list(self.locations))
            if customer_id is None and self.customers and self.rng.random() < 0.7:
                customer_id = self.rng.choice(list(self.customers))
            pid, oid = payment_id or self.new_id(22), self.new_id(24)
            if pid in self.payments:
                raise ValueError(f"payment {pid} exists")
            money = {"amount": amount, "currency": currency}
            brand = self.rng.choice(["VISA", "MASTERCARD", "AMERICAN_EXPRESS", "DISCOVER"])
            order = {
                "id": oid,
                "location_id": location_id,
                "state": "COMPLETED" if status == "COMPLETED" else "OPEN",
                "version": 1,
                "source": {"name": "Emulated POS"},
                "customer_id": customer_id,
                "line_items": [
                    {
                        "uid": self.new_id(8),
                        "name": "Coffee",
                        "quantity": "1",
                        "base_price_money": dict(money),
                        "total_money": dict(money),
                    }
                ],
                "total_money": dict(money),
                "total_tax_money": {"amount": 0, "currency": currency},
                "tenders": [{"id": pid, "type": "CARD", "amount_money": dict(money), "payment_id": pid}],
            }
            if status == "COMPLETED":
                order["closed_at"] = format_time(at)
            self._put(self.orders, oid, order, at)
            body = {
                "id": pid,
                "amount_money": money,
                "total_money": dict(money),
                "approved_money": dict(money),
                "status": status,
                "delay_duration": "PT168H",
                "source_type": "CARD",
                "card_details": {
                    "status": "CAPTURED" if status == "COMPLETED" else "AUTHORIZED",
                    "card": {
                        "card_brand": brand,
                        "last_4": f"{self.rng.randint(0, 9999):04d}",
                        "exp_month": self.rng.randint(1, 12),
                        "exp_year": 2030,
                    },
                    "entry_method": "KEYED",
                },
                "location_id": location_id,
                "order_id": oid,
                "customer_id": customer_id,
                "receipt_number": pid[:4],
                "version_token": self.new_id(40),
            }
            return self._put(self.payments, pid, body, at)

    def complete_payment(self, pid: str) -> dict[str, Any]:
        with self.lock:
            obj = self.payments[pid]
            obj.body["status"] = "COMPLETED"
            obj.body["card_details"]["status"] = "CAPTURED"
            at = self.now()
            self._touch(obj, at)
            order = self.orders[obj.body["order_id"]]
            order.body["state"] = "COMPLETED"
            order.body["closed_at"] = format_time(at)
            self._touch(order, at)
            return obj.body

    def refund(
        self, pid: str, amount: int, *, at: float | None = None, reason: str = "Returned"
    ) -> dict[str, Any]:
        """A refund of ``amount`` on payment ``pid``: the refund is new, the payment and its order change."""
        with self.lock:
            at = self.now() if at is None else at
            pay = self.payments[pid]
            currency = pay.body["amount_money"]["currency"]
            refunded = (pay.body.get("refunded_money") or {}).get("amount", 0)
            if refunded + amount > pay.body["amount_money"]["amount"]:
                raise ValueError("the refund exceeds the payment's remaining amount")
            rid = pid + "_" + self.new_id(40).lower()
            body = {
                "id": rid,
                "status": "COMPLETED",
                "amount_money": {"amount": amount, "currency": currency},
                "payment_id": pid,
                "order_id": pay.body["order_id"],
                "location_id": pay.body["location_id"],
                "reason": reason,
                "destination_type": "CARD",
            }
            self._put(self.refunds, rid, body, at)
            pay.body["refunded_money"] = {"amount": refunded + amount, "currency": currency}
            pay.body.setdefault("refund_ids", []).append(rid)
            self._touch(pay, at)
            order = self.orders[pay.body["order_id"]]
            order.body.setdefault("refunds", []).append(
                {"id": rid, "amount_money": dict(body["amount_money"])}
            )
            self._touch(order, at)
            return body

    def set_order_state(self, oid: str, state: str) -> dict[str, Any]:
        with self.lock:
            obj = self.orders[oid]
            obj.body["state"] = state
            at = self.now()
            if state in ("COMPLETED", "CANCELED"):
                obj.body["closed_at"] = format_time(at)
            self._touch(obj, at)
            return obj.body

    # -- tokens ------------------------------------------------------------------------------

    def issue_token(self) -> tuple[str, float, str]:
        with self.lock:
            token = "EAAAE" + self.new_id(60)
            expires = self.now() + self.config.token_ttl_seconds
            self.tokens[token] = expires
            refresh = "EQAAE" + self.new_id(60)
            self.refresh_tokens.add(refresh)
            return token, expires, refresh

    def token_state(self, token: str) -> str:
        """``valid``, ``expired`` or ``unknown``."""
        if token == DEFAULT_ACCESS_TOKEN:
            return "valid"
        expires = self.tokens.get(token)
        if expires is None:
            return "unknown"
        return "valid" if self.now() < expires else "expired"

    def expire_tokens(self) -> int:
        with self.lock:
            for t in self.tokens:
                self.tokens[t] = 0.0
            return len(self.tokens)

    # -- reads --------------------------------------------------------------------------------

    def visible(self, table: dict[str, Obj]) -> list[Obj]:
        now = self.now()
        return [o for o in table.values() if o.visible_from <= now]

    def dump(self, kind: str) -> list[dict[str, Any]]:
        """Every object of ``kind`` (admin: what a full read must return)."""
        table: dict[str, Obj] = getattr(self, kind)
        return [dict(o.body) for o in table.values()]
