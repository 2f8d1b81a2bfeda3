"""The Stripe connection spec, in the platform's ConnectionSpec shape (pure data, cheap)."""

from __future__ import annotations

from typing import Any

from xdmflow.connectors.base import ConnectionSpec
from xdmflow.connectors.payments import DRAFT_07, PAYMENTS_PROVIDER_ID, payments_spec_body

__all__ = ["SPEC_ID", "AUTH_SPEC_NAME", "TABLE_NAMES", "STRIPE_SPEC", "STRIPE_VERSION"]

SPEC_ID = "cc2c31d6-7b8c-4581-b49f-5c8698aa3ab3"
PROVIDER_ID = PAYMENTS_PROVIDER_ID
AUTH_SPEC_NAME = "OAuth2 Refresh Code"
KEY_AUTH_SPEC_NAME = "API Key"
#: The API version every request pins (response shapes follow it).
STRIPE_VERSION = "2024-06-20"

#: Tables served, in explore order.
TABLE_NAMES = (
    "charges",
    "refunds",
    "customers",
    "payment_intents",
    "invoices",
    "invoice_lines",
    "subscriptions",
    "balance_transactions",
    "disputes",
    "payouts",
    "products",
    "prices",
)

_HOST: dict[str, Any] = {
    "type": "string",
    "description": "Base URL of the Stripe API (default https://api.stripe.com); e.g. http://127.0.0.1:12111 "
    "for the emulator",
    "default": "https://api.stripe.com",
}

_OAUTH_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT_07,
    "type": "object",
    "description": "An OAuth access token (Stripe Connect) or a secret / restricted key",
    "properties": {
        "accessToken": {
            "type": "string",
            "format": "password",
            "description": "Access token, secret key (sk_...) or restricted key (rk_...) with read access",
        },
        "host": _HOST,
    },
    "required": ["accessToken"],
}

_KEY_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT_07,
    "type": "object",
    "description": "A secret key or a read-only restricted key",
    "properties": {
        "apiKey": {"type": "string", "format": "password", "description": "sk_... or rk_..."},
        "host": _HOST,
    },
    "required": ["apiKey"],
}

_SOURCE_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT_07,
    "type": "object",
    "properties": {
        "tableName": {"type": "string", "enum": list(TABLE_NAMES), "description": "Table to read"},
        "path": {"type": "string", "description": "Older name of tableName"},
        "columns": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        },
        "startDate": {
            "type": "string",
            "format": "date-time",
            "description": "Full reads: only objects created at or after this instant (created[gte])",
        },
        "windowDays": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 30,
            "description": "Full reads with startDate: created[gte]/created[lt] windows of this many days",
        },
        "lookbackSeconds": {
            "type": "number",
            "minimum": 0,
            "default": 300,
            "description": "Incremental reads re-read this many seconds before the watermark (objects and "
            "events become visible a few seconds after they are created)",
        },
        "accountId": {"type": "string", "description": "Connect account to read (Stripe-Account header)"},
    },
}

BODY: dict[str, Any] = payments_spec_body(
    spec_id=SPEC_ID,
    name="Stripe",
    auth_specs=[
        {"name": AUTH_SPEC_NAME, "type": "OAuth2RefreshCode", "spec": _OAUTH_SCHEMA},
        {"name": KEY_AUTH_SPEC_NAME, "type": "KeyBased", "spec": _KEY_SCHEMA},
    ],
    source_schema=_SOURCE_SCHEMA,
    label_key="stripe",
    documentation="https://experienceleague.adobe.com/docs/experience-platform/sources/connectors/payments/stripe.html",
    attributes={"objectType": "rest"},
)

STRIPE_SPEC = ConnectionSpec(
    id=SPEC_ID, name="Stripe", body=BODY, secret_params=frozenset({"accessToken", "apiKey"})
)
