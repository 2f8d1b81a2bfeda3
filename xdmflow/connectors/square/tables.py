"""The Square tables: columns (explore API shape), Arrow types and how each is read.

Money stays in Square's smallest unit (``*_amount`` long) beside its currency, with
``*_amount_decimal`` computed by the currency's exponent (JPY and the other zero-decimal
currencies have none). Times are ``timestamp[us, UTC]``; lists of ids are comma-joined strings;
nested structures the table does not flatten (order line items) are JSON strings.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from xdmflow.connectors.base import Column
from xdmflow.connectors.payments import minor_to_decimal
from xdmflow.connectors.paypal.tables import Field, Table, boolean, long, string, timestamp

__all__ = ["TABLES", "ZERO_DECIMAL", "decimal_amount"]

#: ISO 4217 currencies without minor units.
ZERO_DECIMAL = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
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
#: Currencies with three decimals.
THREE_DECIMAL = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def _path(*keys: str) -> Any:
    def get(record: Any) -> Any:
        for key in keys:
            if not isinstance(record, dict):
                return None
            record = record.get(key)
        return record

    return get


def decimal_amount(amount: Any, currency: Any) -> str | None:
    """Minor units -> decimal string in the currency's exponent (ISO 4217's lists)."""
    return minor_to_decimal(amount, currency, zero_decimal=ZERO_DECIMAL, three_decimal=THREE_DECIMAL)


def money(prefix: str, *keys: str) -> tuple[Field, ...]:
    """``<prefix>_amount`` (long, minor units), ``<prefix>_currency`` and ``<prefix>_amount_decimal``."""
    get = _path(*keys)

    def dec(record: Any) -> str | None:
        m = get(record)
        return decimal_amount(m.get("amount"), m.get("currency")) if isinstance(m, dict) else None

    return (
        long(f"{prefix}_amount", *keys, "amount"),
        string(f"{prefix}_currency", *keys, "currency"),
        Field(Column(f"{prefix}_amount_decimal", "string", {"type": "string"}), pa.string(), dec),
    )


def joined(name: str, *keys: str) -> Field:
    inner = _path(*keys)

    def value(record: Any) -> str | None:
        raw = inner(record)
        return ",".join(str(x) for x in raw) if isinstance(raw, list) and raw else None

    return Field(Column(name, "string", {"type": "string"}), pa.string(), value)


def as_json(name: str, *keys: str) -> Field:
    inner = _path(*keys)

    def value(record: Any) -> str | None:
        raw = inner(record)
        return None if raw is None else json.dumps(raw, separators=(",", ":"), ensure_ascii=False)

    return Field(Column(name, "string", {"type": "string"}), pa.string(), value)


def count(name: str, *keys: str) -> Field:
    inner = _path(*keys)
    return long(name, get=lambda r: len(v) if isinstance(v := inner(r), list) else 0)


PAYMENTS = Table(
    "Square.Payments",
    (
        string("id", "id"),
        timestamp("created_at", "created_at"),
        timestamp("updated_at", "updated_at"),
        string("status", "status"),
        string("source_type", "source_type"),
        string("location_id", "location_id"),
        string("order_id", "order_id"),
        string("customer_id", "customer_id"),
        *money("amount", "amount_money"),
        *money("total", "total_money"),
        *money("refunded", "refunded_money"),
        string("card_brand", "card_details", "card", "card_brand"),
        string("card_last_4", "card_details", "card", "last_4"),
        string("card_status", "card_details", "status"),
        joined("refund_ids", "refund_ids"),
        string("receipt_number", "receipt_number"),
    ),
    "Payments taken at every location of the seller",
    key=("id",),
)

REFUNDS = Table(
    "Square.Refunds",
    (
        string("id", "id"),
        string("payment_id", "payment_id"),
        string("order_id", "order_id"),
        string("location_id", "location_id"),
        string("status", "status"),
        string("reason", "reason"),
        *money("amount", "amount_money"),
        timestamp("created_at", "created_at"),
        timestamp("updated_at", "updated_at"),
    ),
    "Refunds of payments",
    key=("id",),
)

ORDERS = Table(
    "Square.Orders",
    (
        string("id", "id"),
        string("location_id", "location_id"),
        string("state", "state"),
        string("customer_id", "customer_id"),
        long("version", "version"),
        timestamp("created_at", "created_at"),
        timestamp("updated_at", "updated_at"),
        timestamp("closed_at", "closed_at"),
        *money("total", "total_money"),
        count("line_item_count", "line_items"),
        as_json("line_items", "line_items"),
        count("refund_count", "refunds"),
    ),
    "Orders of every location (search on updated_at)",
    key=("id",),
)

CUSTOMERS = Table(
    "Square.Customers",
    (
        string("id", "id"),
        string("given_name", "given_name"),
        string("family_name", "family_name"),
        string("email_address", "email_address"),
        string("phone_number", "phone_number"),
        string("reference_id", "reference_id"),
        string("creation_source", "creation_source"),
        long("version", "version"),
        timestamp("created_at", "created_at"),
        timestamp("updated_at", "updated_at"),
    ),
    "Customer profiles",
    key=("id",),
)

CATALOG = Table(
    "Square.Catalog_Objects",
    (
        string("id", "id"),
        string("type", "type"),
        string("name", get=lambda r: _path("item_data", "name")(r) or _path("category_data", "name")(r)),
        long("version", "version"),
        boolean("is_deleted", "is_deleted"),
        boolean("present_at_all_locations", "present_at_all_locations"),
        count("variation_count", "item_data", "variations"),
        timestamp("updated_at", "updated_at"),
    ),
    "Catalog objects (items), deleted ones included",
    key=("id",),
)

LOCATIONS = Table(
    "Square.Locations",
    (
        string("id", "id"),
        string("name", "name"),
        string("business_name", "business_name"),
        string("status", "status"),
        string("type", "type"),
        string("country", "country"),
        string("currency", "currency"),
        string("timezone", "timezone"),
        string("merchant_id", "merchant_id"),
        timestamp("created_at", "created_at"),
    ),
    "The seller's locations",
    key=("id",),
)

TABLES: dict[str, Table] = {t.name: t for t in (PAYMENTS, REFUNDS, ORDERS, CUSTOMERS, CATALOG, LOCATIONS)}
