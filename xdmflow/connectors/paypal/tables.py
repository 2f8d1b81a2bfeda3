"""The PayPal tables: columns (explore API shape), Arrow types and how each column is read.

Conventions: ids, codes and money values are strings (money exactly as PayPal renders it,
with the currency's decimals - never floats); times are ``timestamp[us, UTC]`` in Arrow and
``string`` + ``meta:xdmType: date-time`` in the explore API; counts are ``long``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from xdmflow.connectors.base import Column

__all__ = ["Field", "Table", "TABLES", "parse_time", "build_batch"]

Getter = Callable[[Any], Any]


def parse_time(value: Any) -> datetime | None:
    """PayPal date-times (``+0000``, ``+00:00``, ``Z``, fractions) -> aware UTC datetime."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class Field:
    """One column: its explore-API description, Arrow type and getter on a source record."""

    column: Column
    arrow: pa.DataType
    get: Getter


def _path(*keys: str) -> Getter:
    def get(record: Any) -> Any:
        for key in keys:
            if not isinstance(record, dict):
                return None
            record = record.get(key)
        return record

    return get


def string(name: str, *keys: str, get: Getter | None = None) -> Field:
    """A string column read at ``keys`` (or by ``get``); non-strings are converted with ``str``."""
    inner = get or _path(*keys)

    def value(record: Any) -> str | None:
        raw = inner(record)
        return None if raw is None else str(raw)

    return Field(Column(name, "string", {"type": "string"}), pa.string(), value)


def timestamp(name: str, *keys: str) -> Field:
    """A date-time column parsed from a PayPal date-time string."""
    inner = _path(*keys)
    column = Column(name, "string", {"type": "string", "format": "date-time"}, "date-time")
    return Field(column, pa.timestamp("us", tz="UTC"), lambda r: parse_time(inner(r)))


def long(name: str, *keys: str, get: Getter | None = None) -> Field:
    """An integer column."""
    inner = get or _path(*keys)

    def value(record: Any) -> int | None:
        raw = inner(record)
        try:
            return None if raw is None or raw == "" else int(raw)
        except (TypeError, ValueError):
            return None

    return Field(Column(name, "integer", {"type": "integer"}, "long"), pa.int64(), value)


def boolean(name: str, *keys: str) -> Field:
    """A boolean column (JSON booleans, ``"Y"``/``"N"``, ``"true"``/``"false"``)."""
    inner = _path(*keys)

    def value(record: Any) -> bool | None:
        raw = inner(record)
        if raw is None or isinstance(raw, bool):
            return raw
        return str(raw).lower() in ("y", "true", "1")

    return Field(Column(name, "boolean", {"type": "boolean"}, "boolean"), pa.bool_(), value)


@dataclass(frozen=True)
class Table:
    """A table the connector serves."""

    name: str
    fields: tuple[Field, ...]
    description: str = ""
    #: the columns identifying a row (what an incremental read de-duplicates on)
    key: tuple[str, ...] = ()

    @property
    def columns(self) -> list[Column]:
        return [f.column for f in self.fields]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(f.column.name, f.arrow) for f in self.fields])

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.column.name == name), None)


def build_batch(table: Table, records: Sequence[Any], columns: Sequence[str] | None = None) -> pa.RecordBatch:
    """Arrow record batch of ``records``, built column by column (one list per column)."""
    fields = table.fields if not columns else tuple(f for f in table.fields if f.column.name in set(columns))
    arrays = [pa.array([f.get(r) for r in records], type=f.arrow) for f in fields]
    return pa.RecordBatch.from_arrays(
        arrays, schema=pa.schema([pa.field(f.column.name, f.arrow) for f in fields])
    )


def _items_json(detail: Any) -> str | None:
    items = _path("cart_info", "item_details")(detail)
    return json.dumps(items, separators=(",", ":"), ensure_ascii=False) if items else None


def _item_count(detail: Any) -> int | None:
    items = _path("cart_info", "item_details")(detail)
    return len(items) if isinstance(items, list) else 0


_TI = "transaction_info"
_PI = "payer_info"
_SI = "shipping_info"

TRANSACTIONS = Table(
    "PayPal.Transactions",
    (
        string("Transaction_Id", _TI, "transaction_id"),
        string("Transaction_Event_Code", _TI, "transaction_event_code"),
        timestamp("Transaction_Initiation_Date", _TI, "transaction_initiation_date"),
        timestamp("Transaction_Updated_Date", _TI, "transaction_updated_date"),
        string("Transaction_Status", _TI, "transaction_status"),
        string("Transaction_Amount_Value", _TI, "transaction_amount", "value"),
        string("Transaction_Amount_Currency", _TI, "transaction_amount", "currency_code"),
        string("Fee_Amount_Value", _TI, "fee_amount", "value"),
        string("Fee_Amount_Currency", _TI, "fee_amount", "currency_code"),
        string("Shipping_Amount_Value", _TI, "shipping_amount", "value"),
        string("Sales_Tax_Amount_Value", _TI, "sales_tax_amount", "value"),
        string("Discount_Amount_Value", _TI, "discount_amount", "value"),
        string("Transaction_Subject", _TI, "transaction_subject"),
        string("Transaction_Note", _TI, "transaction_note"),
        string("Paypal_Account_Id", _TI, "paypal_account_id"),
        string("Paypal_Reference_Id", _TI, "paypal_reference_id"),
        string("Paypal_Reference_Id_Type", _TI, "paypal_reference_id_type"),
        string("Invoice_Id", _TI, "invoice_id"),
        string("Custom_Field", _TI, "custom_field"),
        string("Protection_Eligibility", _TI, "protection_eligibility"),
        string("Instrument_Type", _TI, "instrument_type"),
        string("Instrument_Sub_Type", _TI, "instrument_sub_type"),
        string("Payer_Account_Id", _PI, "account_id"),
        string("Payer_Email", _PI, "email_address"),
        string("Payer_Given_Name", _PI, "payer_name", "given_name"),
        string("Payer_Surname", _PI, "payer_name", "surname"),
        string("Payer_Full_Name", _PI, "payer_name", "alternate_full_name"),
        string("Payer_Country_Code", _PI, "country_code"),
        string("Payer_Status", _PI, "payer_status"),
        string("Shipping_Name", _SI, "name"),
        string("Shipping_Method", _SI, "method"),
        string("Shipping_City", _SI, "address", "city"),
        string("Shipping_State", _SI, "address", "state"),
        string("Shipping_Country_Code", _SI, "address", "country_code"),
        string("Shipping_Postal_Code", _SI, "address", "postal_code"),
        long("Cart_Item_Count", get=_item_count),
        string("Cart_Items", get=_items_json),
        string("Store_Id", "store_info", "store_id"),
        string("Terminal_Id", "store_info", "terminal_id"),
    ),
    "Transaction Search rows (fields=all); key (Transaction_Id, Transaction_Event_Code); "
    "refunds are T11xx rows",
    key=("Transaction_Id", "Transaction_Event_Code"),
)

BALANCES = Table(
    "PayPal.Balances",
    (
        string("Currency", "currency"),
        boolean("Primary", "primary"),
        string("Total_Balance_Value", "total_balance", "value"),
        string("Available_Balance_Value", "available_balance", "value"),
        string("Withheld_Balance_Value", "withheld_balance", "value"),
        string("Account_Id", "_account_id"),
        timestamp("As_Of_Time", "_as_of_time"),
        timestamp("Last_Refresh_Time", "_last_refresh_time"),
    ),
    "One row per currency of the account balances",
    key=("Currency",),
)

CATALOG_PRODUCTS = Table(
    "PayPal.Catalog_Products",
    (
        string("Product_Id", "id"),
        string("Product_Name", "name"),
        string("Description", "description"),
        string("Type", "type"),
        string("Category", "category"),
        string("Image_Url", "image_url"),
        string("Home_Url", "home_url"),
        timestamp("Create_Time", "create_time"),
        timestamp("Update_Time", "update_time"),
    ),
    "Catalog products (list + one detail call per product)",
    key=("Product_Id",),
)

BILLING_PLANS = Table(
    "PayPal.Billing_Plans",
    (
        string("Plan_Id", "id"),
        string("Product_Id", "product_id"),
        string("Plan_Name", "name"),
        string("Description", "description"),
        string("Status", "status"),
        string("Usage_Type", "usage_type"),
        boolean("Quantity_Supported", "quantity_supported"),
        boolean("Auto_Bill_Outstanding", "payment_preferences", "auto_bill_outstanding"),
        string("Setup_Fee_Value", "payment_preferences", "setup_fee", "value"),
        string("Setup_Fee_Currency", "payment_preferences", "setup_fee", "currency_code"),
        string("Setup_Fee_Failure_Action", "payment_preferences", "setup_fee_failure_action"),
        long("Payment_Failure_Threshold", "payment_preferences", "payment_failure_threshold"),
        string("Tax_Percentage", "taxes", "percentage"),
        boolean("Tax_Inclusive", "taxes", "inclusive"),
        timestamp("Create_Time", "create_time"),
        timestamp("Update_Time", "update_time"),
    ),
    "Billing plans (one row per plan)",
    key=("Plan_Id",),
)

PAYMENT_DEFINITIONS = Table(
    "PayPal.Billing_Plans_Payment_Definition",
    (
        string("Payment_Definition_Id", "_id"),
        string("Plan_Id", "_plan_id"),
        long("Sequence", "sequence"),
        string("Type", "tenure_type"),
        string("Frequency", "frequency", "interval_unit"),
        long("Frequency_Interval", "frequency", "interval_count"),
        long("Cycles", "total_cycles"),
        string("Amount_Value", "pricing_scheme", "fixed_price", "value"),
        string("Amount_Currency", "pricing_scheme", "fixed_price", "currency_code"),
        string("Pricing_Model", "pricing_scheme", "pricing_model"),
        timestamp("Update_Time", "_update_time"),
    ),
    "One row per billing cycle of a plan (TRIAL / REGULAR); id = '{Plan_Id}-{Sequence}'",
    key=("Payment_Definition_Id",),
)

CHARGE_MODELS = Table(
    "PayPal.Billing_Plans_Payment_Definition_Charge_Models",
    (
        string("Charge_Model_Id", "id"),
        string("Payment_Definition_Id", "payment_definition_id"),
        string("Plan_Id", "plan_id"),
        string("Type", "type"),
        string("Amount_Value", "amount", "value"),
        string("Amount_Currency", "amount", "currency_code"),
        string("Percentage", "percentage"),
        timestamp("Update_Time", "update_time"),
    ),
    "Charges on top of a cycle's price: TAX (plan taxes) per cycle, SETUP_FEE on the first cycle",
    key=("Charge_Model_Id",),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (BILLING_PLANS, PAYMENT_DEFINITIONS, CHARGE_MODELS, CATALOG_PRODUCTS, TRANSACTIONS, BALANCES)
}
