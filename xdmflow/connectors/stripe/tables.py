"""The Stripe tables: columns (explore API shape), Arrow types and how each column is read.

Conventions: ids, codes and enums are strings; amounts are ``long`` in the currency's minor
unit exactly as Stripe sends them, next to ``currency`` and a ``*_value`` string in major units
computed with the currency's exponent (``jpy`` 1500 -> ``"1500"``, ``usd`` 1500 -> ``"15.00"``,
``kwd`` 1500 -> ``"1.500"``); Unix-second times are ``timestamp[us, UTC]`` (explore: ``string`` +
``date-time``); nested objects (``metadata``...) are JSON strings. Every table has ``updated``
(the time of the last change known: the event's ``created`` for rows read from the Events API,
else ``created`` - or Stripe's own ``updated`` for products, ``available_on`` for available balance
transactions) and ``is_deleted``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from xdmflow.connectors import payments
from xdmflow.connectors.base import Column

__all__ = ["Field", "Table", "TABLES", "build_batch", "minor_to_decimal", "ZERO_DECIMAL", "THREE_DECIMAL"]

Getter = Callable[[dict[str, Any]], Any]

#: currencies without a minor unit (Stripe's list)
ZERO_DECIMAL = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
#: currencies with three decimals
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def minor_to_decimal(amount: Any, currency: Any) -> str | None:
    """A minor-unit integer as a decimal string in major units, by Stripe's currency lists."""
    return payments.minor_to_decimal(amount, currency, zero_decimal=ZERO_DECIMAL, three_decimal=THREE_DECIMAL)


@dataclass(frozen=True)
class Field:
    column: Column
    arrow: pa.DataType
    get: Getter


def _path(keys: Sequence[str]) -> Getter:
    def get(record: dict[str, Any]) -> Any:
        value: Any = record
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return get


def _id_of(get: Getter) -> Getter:
    def inner(record: dict[str, Any]) -> Any:
        value = get(record)
        return value.get("id") if isinstance(value, dict) else value

    return inner


def s(name: str, *keys: str) -> Field:
    """A string column (an expanded object is reduced to its id)."""
    get = _id_of(_path(keys or (name,)))
    return Field(Column(name, "string", {"type": "string"}), pa.string(), lambda r: _str(get(r)))


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def n(name: str, *keys: str) -> Field:
    """A long column."""
    get = _path(keys or (name,))

    def value(r: dict[str, Any]) -> int | None:
        v = get(r)
        return None if v is None or isinstance(v, bool) or not isinstance(v, int | float) else int(v)

    return Field(Column(name, "integer", {"type": "integer"}, "long"), pa.int64(), value)


def b(name: str, *keys: str) -> Field:
    get = _path(keys or (name,))
    return Field(
        Column(name, "boolean", {"type": "boolean"}, "boolean"),
        pa.bool_(),
        lambda r: v if isinstance(v := get(r), bool) else None,
    )


def t(name: str, *keys: str) -> Field:
    """A date-time column from Unix seconds."""
    get = _path(keys or (name,))

    def value(r: dict[str, Any]) -> datetime | None:
        v = get(r)
        if v is None or isinstance(v, bool) or not isinstance(v, int | float):
            return None
        return datetime.fromtimestamp(v, UTC)

    column = Column(name, "string", {"type": "string", "format": "date-time"}, "date-time")
    return Field(column, pa.timestamp("us", tz="UTC"), value)


def j(name: str, *keys: str) -> Field:
    """A JSON string column (objects and arrays as Stripe sent them)."""
    get = _path(keys or (name,))

    def value(r: dict[str, Any]) -> str | None:
        v = get(r)
        return None if v is None else json.dumps(v, sort_keys=True, separators=(",", ":"))

    return Field(Column(name, "string", {"type": "string"}), pa.string(), value)


def money(name: str, amount: str, currency: str = "currency") -> Field:
    """``<amount>_value``: the minor-unit ``amount`` in major units, as a decimal string."""
    return Field(
        Column(name, "string", {"type": "string"}),
        pa.string(),
        lambda r: minor_to_decimal(r.get(amount), r.get(currency)),
    )


def _common(*fields: Field, updated: str = "_updated") -> tuple[Field, ...]:
    return (
        s("id"),
        t("created"),
        t("updated", updated),
        b("is_deleted", "_deleted"),
        *fields,
        b("livemode"),
        j("metadata"),
    )


@dataclass(frozen=True)
class Table:
    """A table the connector serves.

    ``path`` is its list endpoint; ``event_types`` the Events API types that carry its objects
    (``None``: the objects never change, incremental reads use ``created``); ``object`` the
    ``object`` value of its rows in events; ``list_params`` extra list parameters.
    """

    name: str
    path: str
    object: str
    fields: tuple[Field, ...]
    event_types: tuple[str, ...] | None
    key: tuple[str, ...] = ("id",)
    list_params: tuple[tuple[str, str], ...] = ()
    #: the resource named in permission errors
    resource: str = ""

    @property
    def columns(self) -> list[Column]:
        return [f.column for f in self.fields]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(f.column.name, f.arrow) for f in self.fields])

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.column.name == name), None)


def build_batch(table: Table, records: Sequence[dict[str, Any]]) -> pa.RecordBatch:
    """Arrow columns from Stripe objects (one pass per column)."""
    arrays = [pa.array([f.get(r) for r in records], type=f.arrow) for f in table.fields]
    return pa.RecordBatch.from_arrays(arrays, schema=table.schema)


def _types(prefix: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{prefix}.{x}" for x in names)


CHARGES = Table(
    "charges",
    "/v1/charges",
    "charge",
    _common(
        n("amount"),
        s("currency"),
        money("amount_value", "amount"),
        n("amount_captured"),
        n("amount_refunded"),
        money("amount_refunded_value", "amount_refunded"),
        s("status"),
        b("paid"),
        b("captured"),
        b("refunded"),
        b("disputed"),
        s("customer"),
        s("payment_intent"),
        s("balance_transaction"),
        s("payment_method"),
        s("description"),
        s("failure_code"),
        s("failure_message"),
        s("outcome_type", "outcome", "type"),
        s("outcome_risk_level", "outcome", "risk_level"),
        s("receipt_email"),
    ),
    _types("charge", "captured", "expired", "failed", "pending", "refunded", "succeeded", "updated"),
)
REFUNDS = Table(
    "refunds",
    "/v1/refunds",
    "refund",
    _common(
        n("amount"),
        s("currency"),
        money("amount_value", "amount"),
        s("charge"),
        s("payment_intent"),
        s("balance_transaction"),
        s("reason"),
        s("status"),
    ),
    ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated"),
)
CUSTOMERS = Table(
    "customers",
    "/v1/customers",
    "customer",
    _common(
        s("email"),
        s("name"),
        s("phone"),
        s("description"),
        s("currency"),
        n("balance"),
        b("delinquent"),
        s("invoice_prefix"),
        s("tax_exempt"),
        j("address"),
    ),
    _types("customer", "created", "updated", "deleted"),
)
PAYMENT_INTENTS = Table(
    "payment_intents",
    "/v1/payment_intents",
    "payment_intent",
    _common(
        n("amount"),
        s("currency"),
        money("amount_value", "amount"),
        n("amount_received"),
        money("amount_received_value", "amount_received"),
        n("amount_capturable"),
        s("status"),
        s("customer"),
        s("latest_charge"),
        s("payment_method"),
        s("capture_method"),
        t("canceled_at"),
        s("cancellation_reason"),
        s("description"),
        s("last_payment_error_code", "last_payment_error", "code"),
    ),
    _types(
        "payment_intent",
        "created",
        "succeeded",
        "payment_failed",
        "canceled",
        "processing",
        "requires_action",
        "amount_capturable_updated",
        "partially_funded",
    ),
)
_INVOICE_TYPES = _types(
    "invoice",
    "created",
    "deleted",
    "finalized",
    "finalization_failed",
    "marked_uncollectible",
    "overdue",
    "paid",
    "payment_action_required",
    "payment_failed",
    "payment_succeeded",
    "sent",
    "updated",
    "voided",
)
INVOICES = Table(
    "invoices",
    "/v1/invoices",
    "invoice",
    _common(
        s("number"),
        s("status"),
        s("customer"),
        s("customer_email"),
        s("subscription"),
        s("currency"),
        n("amount_due"),
        money("amount_due_value", "amount_due"),
        n("amount_paid"),
        money("amount_paid_value", "amount_paid"),
        n("amount_remaining"),
        n("subtotal"),
        n("total"),
        money("total_value", "total"),
        n("attempt_count"),
        s("billing_reason"),
        s("collection_method"),
        t("due_date"),
        t("period_start"),
        t("period_end"),
        t("finalized_at", "status_transitions", "finalized_at"),
        t("paid_at", "status_transitions", "paid_at"),
        t("voided_at", "status_transitions", "voided_at"),
        t("marked_uncollectible_at", "status_transitions", "marked_uncollectible_at"),
        s("hosted_invoice_url"),
    ),
    _INVOICE_TYPES,
)
INVOICE_LINES = Table(
    "invoice_lines",
    "/v1/invoices",
    "invoice",
    (
        s("id"),
        s("invoice"),
        t("created", "_invoice_created"),
        t("updated", "_updated"),
        b("is_deleted", "_deleted"),
        n("amount"),
        s("currency"),
        money("amount_value", "amount"),
        s("description"),
        n("quantity"),
        s("price", "_price"),
        s("product", "_product"),
        s("subscription"),
        t("period_start", "period", "start"),
        t("period_end", "period", "end"),
        b("livemode"),
        j("metadata"),
    ),
    _INVOICE_TYPES,
    key=("invoice", "id"),
    resource="invoices",
)
SUBSCRIPTIONS = Table(
    "subscriptions",
    "/v1/subscriptions",
    "subscription",
    _common(
        s("customer"),
        s("status"),
        s("currency"),
        s("collection_method"),
        b("cancel_at_period_end"),
        t("cancel_at"),
        t("canceled_at"),
        t("ended_at"),
        t("start_date"),
        t("billing_cycle_anchor"),
        s("latest_invoice"),
        s("price", "_price"),
        n("quantity", "_quantity"),
        j("items", "items", "data"),
    ),
    _types(
        "customer.subscription",
        "created",
        "updated",
        "deleted",
        "paused",
        "resumed",
        "pending_update_applied",
        "pending_update_expired",
        "trial_will_end",
    ),
    list_params=(("status", "all"),),
)
BALANCE_TRANSACTIONS = Table(
    "balance_transactions",
    "/v1/balance_transactions",
    "balance_transaction",
    (
        s("id"),
        t("created"),
        t("updated", "_updated"),
        b("is_deleted", "_deleted"),
        n("amount"),
        s("currency"),
        money("amount_value", "amount"),
        n("fee"),
        money("fee_value", "fee"),
        n("net"),
        money("net_value", "net"),
        t("available_on"),
        s("status"),
        s("type"),
        s("reporting_category"),
        s("source"),
        s("description"),
        s("exchange_rate"),
        j("fee_details"),
    ),
    None,
)
DISPUTES = Table(
    "disputes",
    "/v1/disputes",
    "dispute",
    _common(
        n("amount"),
        s("currency"),
        money("amount_value", "amount"),
        s("charge"),
        s("payment_intent"),
        s("reason"),
        s("status"),
        b("is_charge_refundable"),
        t("evidence_due_by", "evidence_details", "due_by"),
    ),
    _types("charge.dispute", "created", "updated", "closed", "funds_withdrawn", "funds_reinstated"),
)
PAYOUTS = Table(
    "payouts",
    "/v1/payouts",
    "payout",
    _common(
        n("amount"),
        s("currency"),
        money("amount_value", "amount"),
        t("arrival_date"),
        b("automatic"),
        s("balance_transaction"),
        s("destination"),
        s("method"),
        s("status"),
        s("type"),
        s("description"),
        s("failure_code"),
    ),
    _types("payout", "created", "updated", "paid", "failed", "canceled", "reconciliation_completed"),
)
PRODUCTS = Table(
    "products",
    "/v1/products",
    "product",
    _common(
        s("name"),
        s("description"),
        b("active"),
        s("default_price"),
        s("type"),
        s("unit_label"),
        s("url"),
        s("tax_code"),
    ),
    _types("product", "created", "updated", "deleted"),
)
PRICES = Table(
    "prices",
    "/v1/prices",
    "price",
    _common(
        s("product"),
        b("active"),
        s("currency"),
        n("unit_amount"),
        money("unit_amount_value", "unit_amount"),
        s("type"),
        s("billing_scheme"),
        s("recurring_interval", "recurring", "interval"),
        n("recurring_interval_count", "recurring", "interval_count"),
        s("nickname"),
        s("lookup_key"),
        s("tax_behavior"),
    ),
    _types("price", "created", "updated", "deleted"),
)

TABLES: dict[str, Table] = {
    x.name: x
    for x in (
        CHARGES,
        REFUNDS,
        CUSTOMERS,
        PAYMENT_INTENTS,
        INVOICES,
        INVOICE_LINES,
        SUBSCRIPTIONS,
        BALANCE_TRANSACTIONS,
        DISPUTES,
        PAYOUTS,
        PRODUCTS,
        PRICES,
    )
}
