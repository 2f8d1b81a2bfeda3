"""The Square connection spec, in the platform's ConnectionSpec shape (pure data, cheap)."""

from __future__ import annotations

from typing import Any

from xdmflow.connectors.base import ConnectionSpec
from xdmflow.connectors.payments import DRAFT_07, PAYMENTS_PROVIDER_ID, payments_spec_body

__all__ = ["SPEC_ID", "AUTH_SPEC_NAME", "TABLE_NAMES", "SQUARE_SPEC", "SQUARE_VERSION", "SECRET_PARAMS"]

SPEC_ID = "2acf109f-9b66-4d5e-bc18-ebb2adcff8d5"
PROVIDER_ID = PAYMENTS_PROVIDER_ID
AUTH_SPEC_NAME = "OAuth2 Refresh Code"
#: The API version every request pins (``Square-Version``); the one the official SDK we test with sends.
SQUARE_VERSION = "2026-09-16"

TABLE_NAMES = (
    "Square.Payments",
    "Square.Refunds",
    "Square.Orders",
    "Square.Customers",
    "Square.Catalog_Objects",
    "Square.Locations",
)

SECRET_PARAMS = frozenset({"accessToken", "refreshToken", "clientSecret"})

_AUTH_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT_07,
    "type": "object",
    "description": "A Square OAuth application's refresh token, or a personal access token",
    "properties": {
        "host": {
            "type": "string",
            "description": "connect.squareup.com, connect.squareupsandbox.com, or a full base URL such as "
            "http://127.0.0.1:8091 for the emulator",
            "default": "connect.squareup.com",
        },
        "accessToken": {
            "type": "string",
            "format": "password",
            "description": "An OAuth access token or a personal access token",
        },
        "refreshToken": {
            "type": "string",
            "format": "password",
            "description": "OAuth refresh token: a new access token is obtained when the current one expires",
        },
        "clientId": {"type": "string", "description": "OAuth application id (with refreshToken)"},
        "clientSecret": {
            "type": "string",
            "format": "password",
            "description": "OAuth application secret (with refreshToken)",
        },
    },
    "anyOf": [{"required": ["accessToken"]}, {"required": ["refreshToken", "clientId", "clientSecret"]}],
}

_SOURCE_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT_07,
    "type": "object",
    "properties": {
        "tableName": {"type": "string", "enum": list(TABLE_NAMES), "description": "Table to read"},
        "path": {"type": "string", "description": "Older name of tableName"},
        "columns": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "startDate": {
            "type": "string",
            "format": "date-time",
            "description": "Payments, refunds, orders: where a full read starts (default: 2013-01-01)",
        },
        "locationIds": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Locations to read (default: every location of the seller, not only the main one)",
        },
    },
    "oneOf": [{"required": ["tableName"]}, {"required": ["path"]}],
}

BODY: dict[str, Any] = payments_spec_body(
    spec_id=SPEC_ID,
    name="Square",
    auth_specs=[{"name": AUTH_SPEC_NAME, "type": "OAuth2RefreshCode", "spec": _AUTH_SCHEMA}],
    source_schema=_SOURCE_SCHEMA,
    label_key="square",
    documentation="https://experienceleague.adobe.com/docs/experience-platform/sources/connectors/payments/square.html",
)

SQUARE_SPEC = ConnectionSpec(id=SPEC_ID, name="Square", body=BODY, secret_params=SECRET_PARAMS)
