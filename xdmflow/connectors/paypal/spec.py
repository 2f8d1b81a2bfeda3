"""The PayPal connection spec, in the platform's ConnectionSpec shape (pure data, cheap)."""

from __future__ import annotations

from typing import Any

from xdmflow.connectors.base import ConnectionSpec
from xdmflow.connectors.payments import DRAFT_07, PAYMENTS_PROVIDER_ID, payments_spec_body

__all__ = ["SPEC_ID", "PROVIDER_ID", "AUTH_SPEC_NAME", "TABLE_NAMES", "PAYPAL_SPEC"]

SPEC_ID = "221c7626-58f6-4eec-8ee2-042b0226f03b"
PROVIDER_ID = PAYMENTS_PROVIDER_ID
AUTH_SPEC_NAME = "Client-Id-Secret Based Authentication"

#: Tables served, in explore order (the four of the platform's docs first).
TABLE_NAMES = (
    "PayPal.Billing_Plans",
    "PayPal.Billing_Plans_Payment_Definition",
    "PayPal.Billing_Plans_Payment_Definition_Charge_Models",
    "PayPal.Catalog_Products",
    "PayPal.Transactions",
    "PayPal.Balances",
)

_AUTH_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT_07,
    "type": "object",
    "description": "Client id and secret of a PayPal REST app",
    "properties": {
        "host": {
            "type": "string",
            "description": "PayPal API host (api.sandbox.paypal.com, api-m.paypal.com) or a full base URL "
            "such as http://127.0.0.1:8780 for the emulator",
            "default": "api.sandbox.paypal.com",
        },
        "clientId": {"type": "string", "description": "Client id of the PayPal REST app"},
        "clientSecret": {
            "type": "string",
            "format": "password",
            "description": "Secret of the PayPal REST app",
        },
    },
    "required": ["clientId", "clientSecret"],
}

_SOURCE_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT_07,
    "type": "object",
    "properties": {
        "tableName": {"type": "string", "enum": list(TABLE_NAMES), "description": "Table to read"},
        "path": {"type": "string", "description": "Older name of tableName"},
        "columns": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "type": {"type": "string"},
                    "xdm": {"type": "object"},
                },
                "required": ["name"],
            },
        },
        "startDate": {
            "type": "string",
            "format": "date-time",
            "description": "Transactions: where a full read starts (default: 3 years back, PayPal's limit)",
        },
        "lookbackHours": {
            "type": "number",
            "minimum": 0,
            "default": 72,
            "description": "Transactions: hours re-read before the watermark (late rows, status changes)",
        },
        "windowDays": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 31,
            "default": 7,
            "description": "Transactions: days per Transaction Search window",
        },
        "balanceAffectingOnly": {
            "type": "boolean",
            "default": False,
            "description": "Transactions: read balance-affecting rows only",
        },
    },
    "oneOf": [{"required": ["tableName"]}, {"required": ["path"]}],
}

BODY: dict[str, Any] = payments_spec_body(
    spec_id=SPEC_ID,
    name="PayPal",
    auth_specs=[{"name": AUTH_SPEC_NAME, "type": "ClientCredentials", "spec": _AUTH_SCHEMA}],
    source_schema=_SOURCE_SCHEMA,
    label_key="paypal",
    documentation="https://experienceleague.adobe.com/docs/experience-platform/sources/connectors/payments/paypal.html",
)

PAYPAL_SPEC = ConnectionSpec(id=SPEC_ID, name="PayPal", body=BODY, secret_params=frozenset({"clientSecret"}))
