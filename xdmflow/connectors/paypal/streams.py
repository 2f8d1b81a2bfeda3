"""Readers of the list-based tables (products, plans and their children, balances) and the
helpers every reader shares (delta tracking, column projection, batching)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from xdmflow.connectors.base import ReadRequest, ReadResult
from xdmflow.connectors.paypal.client import PayPalClient
from xdmflow.connectors.paypal.tables import (
    BALANCES,
    BILLING_PLANS,
    CATALOG_PRODUCTS,
    CHARGE_MODELS,
    PAYMENT_DEFINITIONS,
    Table,
    build_batch,
    parse_time,
)
from xdmflow.errors import SourceFatalError

__all__ = ["Delta", "format_time", "projection", "read_list_table", "LIST_PAGE_SIZE"]

LIST_PAGE_SIZE = 20


def format_time(value: datetime) -> str:
    """A watermark value: ISO 8601 UTC with ``Z`` (microseconds only when non-zero)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def projection(table: Table, request: ReadRequest) -> list[str] | None:
    """The column names asked for in ``source_params['columns']`` (``None`` = all)."""
    wanted = request.source_params.get("columns")
    if not wanted:
        return None
    names = [c["name"] if isinstance(c, dict) else str(c) for c in wanted]
    unknown = [n for n in names if table.field(n) is None]
    if unknown:
        raise SourceFatalError(
            f"{table.name} has no column(s) {', '.join(unknown)}; "
            f"its columns are {', '.join(c.name for c in table.columns)}"
        )
    return names


class Delta:
    """Incremental filter and watermark on a date-time delta column (``>= watermark``)."""

    def __init__(self, table: Table, request: ReadRequest, *, filter_rows: bool = True) -> None:
        self.column = request.delta_column
        self.since: datetime | None = None
        self.max_seen: datetime | None = None
        self.filter_rows = filter_rows
        if self.column is None:
            return
        f = table.field(self.column)
        if f is None or not pa.types.is_timestamp(f.arrow):
            options = [x.column.name for x in table.fields if pa.types.is_timestamp(x.arrow)]
            raise SourceFatalError(
                f"{self.column!r} cannot be the delta column of {table.name}; use one of {', '.join(options)}"
            )
        if request.watermark is not None:
            self.since = parse_time(str(request.watermark))
            if self.since is None:
                raise SourceFatalError(f"watermark {request.watermark!r} is not an ISO 8601 date-time")

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Track the max delta value and, when filtering, keep rows ``>= watermark``."""
        if self.column is None or batch.num_rows == 0:
            return batch
        if self.since is not None and self.filter_rows:
            mask = pc.fill_null(
                pc.greater_equal(batch[self.column], pa.scalar(self.since, batch[self.column].type)), False
            )
            batch = batch.filter(mask)
        top = pc.max(batch[self.column]).as_py() if batch.num_rows else None
        if top is not None and (self.max_seen is None or top > self.max_seen):
            self.max_seen = top
        return batch

    def new_watermark(self, cap: datetime | None = None) -> str | None:
        """The highest value seen (capped at ``cap``), else the old watermark unchanged."""
        best = self.max_seen
        if best is not None and cap is not None:
            best = min(best, cap)
        if best is None:
            return None if self.since is None else format_time(self.since)
        if self.since is not None:
            best = max(best, self.since)
        return format_time(best)


def emit(
    table: Table, records: Sequence[Any], delta: Delta, columns: list[str] | None, batch_size: int
) -> Iterator[pa.RecordBatch]:
    """Build, delta-filter, project and yield ``records`` in batches of ``batch_size``."""
    for i in range(0, len(records), max(1, batch_size)):
        batch = delta.apply(build_batch(table, records[i : i + batch_size]))
        if columns is not None:
            batch = batch.select(columns)
        if batch.num_rows:
            yield batch


def _pages(
    client: PayPalClient, path: str, key: str, params: dict[str, Any] | None = None, prefer: str | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Every page of a ``page``/``page_size`` collection (products, plans)."""
    page = 1
    while True:
        body = client.get(
            path,
            {**(params or {}), "page_size": LIST_PAGE_SIZE, "page": page, "total_required": "true"},
            prefer=prefer,
        )
        items = [i for i in body.get(key) or [] if isinstance(i, dict)]
        if items:
            yield items
        total_pages = body.get("total_pages")
        has_next = any(
            link.get("rel") == "next" for link in body.get("links") or [] if isinstance(link, dict)
        )
        if not items or (page >= total_pages if isinstance(total_pages, int) else not has_next):
            return
        page += 1


def products(client: PayPalClient) -> Iterator[list[dict[str, Any]]]:
    """Full products, one list page at a time (the list is summary-only: one GET per product)."""
    for page in _pages(client, "/v1/catalogs/products", "products"):
        yield [client.get(f"/v1/catalogs/products/{p['id']}") for p in page]


def plans(client: PayPalClient) -> Iterator[list[dict[str, Any]]]:
    """Full plans, a page at a time (asks for full representations, falls back to detail GETs)."""
    for page in _pages(client, "/v1/billing/plans", "plans", prefer="return=representation"):
        yield [p if "billing_cycles" in p else client.get(f"/v1/billing/plans/{p['id']}") for p in page]


def payment_definitions(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan's billing cycles, tagged with the plan id, a synthetic id and the plan's update time."""
    out = []
    for n, cycle in enumerate(plan.get("billing_cycles") or [], start=1):
        seq = cycle.get("sequence", n)
        out.append(
            {
                **cycle,
                "_id": f"{plan.get('id')}-{seq}",
                "_plan_id": plan.get("id"),
                "_update_time": plan.get("update_time"),
            }
        )
    return out


def _scale(value: str, percentage: str) -> str | None:
    try:
        amount = Decimal(value)
        exp = amount.as_tuple().exponent
        quantum = Decimal(1).scaleb(exp if isinstance(exp, int) else 0)
        return str((amount * Decimal(percentage) / 100).quantize(quantum, rounding=ROUND_HALF_UP))
    except (InvalidOperation, ValueError):
        return None


def charge_models(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """TAX per cycle (from ``taxes``) and SETUP_FEE on the first cycle (from ``payment_preferences``)."""
    out: list[dict[str, Any]] = []
    taxes = plan.get("taxes") or {}
    fee = (plan.get("payment_preferences") or {}).get("setup_fee") or {}
    for definition in payment_definitions(plan):
        price = (definition.get("pricing_scheme") or {}).get("fixed_price") or {}
        base = {
            "payment_definition_id": definition["_id"],
            "plan_id": plan.get("id"),
            "update_time": plan.get("update_time"),
        }
        if taxes.get("percentage") is not None and price.get("value") is not None:
            amount = {
                "value": _scale(price["value"], str(taxes["percentage"])),
                "currency_code": price.get("currency_code"),
            }
            out.append(
                {
                    **base,
                    "id": f"{definition['_id']}-TAX",
                    "type": "TAX",
                    "amount": amount,
                    "percentage": str(taxes["percentage"]),
                }
            )
        if definition.get("sequence", 1) == 1 and _positive(fee.get("value")):
            out.append(
                {
                    **base,
                    "id": f"{definition['_id']}-SETUP_FEE",
                    "type": "SETUP_FEE",
                    "amount": fee,
                    "percentage": None,
                }
            )
    return out


def _positive(value: Any) -> bool:
    try:
        return Decimal(str(value)) > 0
    except (InvalidOperation, ValueError):
        return False


def balances(client: PayPalClient) -> list[dict[str, Any]]:
    """One record per currency, with the response-level fields copied in."""
    body = client.get("/v1/reporting/balances")
    extra = {
        "_account_id": body.get("account_id"),
        "_as_of_time": body.get("as_of_time"),
        "_last_refresh_time": body.get("last_refresh_time"),
    }
    return [{**row, **extra} for row in body.get("balances") or [] if isinstance(row, dict)]


def read_list_table(
    client: PayPalClient, table: Table, request: ReadRequest, result: ReadResult
) -> Iterator[pa.RecordBatch]:
    """Full read of a list-based table; the delta column (if any) is filtered client-side."""
    delta = Delta(table, request)
    columns = projection(table, request)
    pages: Iterator[list[dict[str, Any]]]
    if table is CATALOG_PRODUCTS:
        pages = products(client)
    elif table is BALANCES:
        pages = iter([balances(client)])
    else:
        plan_pages = plans(client)
        if table is BILLING_PLANS:
            pages = plan_pages
        elif table is PAYMENT_DEFINITIONS:
            pages = ([d for p in page for d in payment_definitions(p)] for page in plan_pages)
        elif table is CHARGE_MODELS:
            pages = ([c for p in page for c in charge_models(p)] for page in plan_pages)
        else:  # pragma: no cover - guarded by the connector
            raise SourceFatalError(f"unknown table {table.name}")
    for records in pages:
        yield from emit(table, records, delta, columns, request.batch_size)
    result.new_watermark = delta.new_watermark()
    result.extensions["requests"] = client.requests
