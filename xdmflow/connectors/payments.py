"""What the payment-app connectors (PayPal, Stripe, Square) share: the platform's connection-spec
shape for a tabular payments source, the root listing of their tables and the preview of a table's
first rows. Pure data and helpers; each connector keeps its own auth, tables and reads."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from decimal import Decimal
from typing import Any

import pyarrow as pa

from xdmflow.connectors.base import ExploreItem
from xdmflow.errors import SourceFatalError

__all__ = [
    "DRAFT_07",
    "PAYMENTS_PROVIDER_ID",
    "payments_spec_body",
    "list_tables",
    "first_rows",
    "minor_to_decimal",
]

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
#: The provider id the platform gives its payments sources.
PAYMENTS_PROVIDER_ID = "0ed90a81-07f4-4586-8190-b40eccef1c5a"


def payments_spec_body(
    *,
    spec_id: str,
    name: str,
    auth_specs: Sequence[Mapping[str, Any]],
    source_schema: Mapping[str, Any],
    label_key: str,
    documentation: str,
    attributes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ConnectionSpecItemDTO for a tabular payments source (the platform's shape)."""
    return {
        "id": spec_id,
        "name": name,
        "providerId": PAYMENTS_PROVIDER_ID,
        "version": "1.0",
        "type": "Payments",
        "authSpec": [dict(a) for a in auth_specs],
        "sourceSpec": {
            "name": name,
            "type": "Tabular",
            "spec": dict(source_schema),
            "attributes": {
                "uiAttributes": {
                    "isSource": True,
                    "isPreview": True,
                    "isBeta": True,
                    "category": {"key": "payments"},
                    "label": {"key": label_key, "value": name},
                    "documentationLink": documentation,
                }
            },
        },
        "exploreSpec": {
            "name": "Tabular",
            "type": "Tabular",
            "requestSpec": {"$schema": DRAFT_07, "type": "object", "properties": {}},
            "responseSpec": {
                "$schema": DRAFT_07,
                "type": "object",
                "properties": {
                    "format": {"type": "string"},
                    "schema": {"type": "object", "properties": {"columns": {"type": "array"}}},
                },
            },
        },
        "attributes": {
            "category": "Payments",
            "isSource": True,
            **dict(attributes or {}),
            "uiAttributes": {"apiFeatures": {"explorePaginationSupported": False}},
        },
        "permissionsInfo": {
            "view": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}],
            "manage": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}],
        },
    }


def list_tables(source: str, object_type: str, names: Sequence[str]) -> list[ExploreItem]:
    """Explore of a tabular source: ``root`` lists its tables; it has no folders."""
    if object_type != "root":
        raise SourceFatalError(
            f"{source} is a tabular source: explore objectType=root lists its tables, objectType=table "
            f"describes one (got objectType={object_type!r})"
        )
    return [ExploreItem(type="table", name=name, path=name) for name in names]


def first_rows(reader: Iterator[pa.RecordBatch], limit: int, schema: pa.Schema) -> pa.Table:
    """The first ``limit`` rows a read yields (the read is closed once they are in)."""
    batches: list[pa.RecordBatch] = []
    rows = 0
    try:
        for batch in reader:
            batches.append(batch.slice(0, limit - rows))
            rows += batches[-1].num_rows
            if rows >= limit:
                break
    finally:
        close = getattr(reader, "close", None)
        if close is not None:
            close()
    return pa.Table.from_batches(batches, schema=schema)


def minor_to_decimal(
    amount: Any, currency: Any, *, zero_decimal: AbstractSet[str], three_decimal: AbstractSet[str]
) -> str | None:
    """An amount in the currency's smallest unit as a decimal string in major units, by the vendor's
    own lists of zero- and three-decimal currencies (upper-case codes): ``1050 USD`` -> ``10.50``,
    ``1050 JPY`` -> ``1050``, ``1050 KWD`` -> ``1.050``; ``None`` when either is missing or not a number."""
    if amount is None or not currency or isinstance(amount, bool):
        return None
    try:
        value = Decimal(int(amount))
    except (TypeError, ValueError):
        return None
    code = str(currency).upper()
    exponent = 0 if code in zero_decimal else 3 if code in three_decimal else 2
    return f"{value.scaleb(-exponent):.{exponent}f}"
