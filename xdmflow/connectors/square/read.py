"""How each Square table is read: across every location, cursor by cursor, incrementally on
``updated_at`` with a look-back for Square's eventual consistency.

Full reads start at ``startDate`` (Square's lists otherwise default to one year back) and read
oldest first. Incremental reads ask for objects updated at or after the watermark minus the
look-back (``lookbackMinutes``, default 10); the pipeline drops the rows it already ingested
(same id and ``updated_at``), so a late-visible object is read once and a changed one again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pyarrow as pa

from xdmflow.connectors.base import ReadRequest, ReadResult
from xdmflow.connectors.paypal.streams import Delta, format_time, projection
from xdmflow.connectors.paypal.tables import Table, build_batch, parse_time
from xdmflow.connectors.square.client import SquareClient
from xdmflow.connectors.square.tables import TABLES
from xdmflow.errors import SourceFatalError

__all__ = ["read_table", "DEFAULT_START", "DEFAULT_LOOKBACK_MINUTES", "location_ids"]

DEFAULT_START = "2013-01-01T00:00:00Z"
DEFAULT_LOOKBACK_MINUTES = 10.0
#: Orders search accepts at most this many locations per query.
ORDER_LOCATIONS_PER_QUERY = 10


def location_ids(client: SquareClient, request: ReadRequest) -> list[str]:
    """The locations to read: ``locationIds`` or every location of the seller (the API's default is
    the main location only)."""
    wanted = request.source_params.get("locationIds")
    if wanted:
        return [str(x) for x in wanted]
    body = client.call("GET", "/v2/locations")
    return [str(loc["id"]) for loc in body.get("locations") or [] if isinstance(loc, dict) and loc.get("id")]


def _since(request: ReadRequest, delta: Delta) -> str:
    """Where the read starts: the watermark minus the look-back, else ``startDate``."""
    if delta.since is None:
        start = request.source_params.get("startDate") or DEFAULT_START
        if parse_time(str(start)) is None:
            raise SourceFatalError(f"startDate {start!r} is not an ISO 8601 date-time")
        return str(start)
    minutes = float(request.source_params.get("lookbackMinutes", DEFAULT_LOOKBACK_MINUTES))
    return format_time(delta.since - timedelta(minutes=minutes))


def _pages(
    client: SquareClient, method: str, path: str, key: str, **kw: Any
) -> Iterator[list[dict[str, Any]]]:
    """Every page of a cursor-paged call; the cursor is resent with the identical query."""
    params: dict[str, Any] = dict(kw.get("params") or {})
    body: dict[str, Any] | None = kw.get("json")
    while True:
        answer = client.call(method, path, params=params or None, json=body)
        items = [i for i in answer.get(key) or [] if isinstance(i, dict)]
        if items:
            yield items
        cursor = answer.get("cursor")
        if not cursor:
            return
        if body is not None:
            body = {**body, "cursor": cursor}
        else:
            params = {**params, "cursor": cursor}


def _records(
    client: SquareClient, table: Table, request: ReadRequest, delta: Delta
) -> Iterator[list[dict[str, Any]]]:
    since = _since(request, delta)
    updated = request.delta_column in (None, "updated_at")
    if table.name in ("Square.Payments", "Square.Refunds"):
        path, key = (
            ("/v2/payments", "payments") if table.name == "Square.Payments" else ("/v2/refunds", "refunds")
        )
        for lid in location_ids(client, request):
            params: dict[str, Any] = {"location_id": lid, "sort_order": "ASC", "limit": 100}
            if delta.since is not None and updated:
                params.update(begin_time=DEFAULT_START, updated_at_begin_time=since, sort_field="UPDATED_AT")
            else:
                params["begin_time"] = since
            yield from _pages(client, "GET", path, key, params=params)
    elif table.name == "Square.Orders":
        field = (
            request.delta_column
            if request.delta_column in ("created_at", "updated_at", "closed_at")
            else "updated_at"
        )
        ids = location_ids(client, request)
        for i in range(0, len(ids), ORDER_LOCATIONS_PER_QUERY):
            body = {
                "location_ids": ids[i : i + ORDER_LOCATIONS_PER_QUERY],
                "limit": 500,
                "query": {
                    "filter": {"date_time_filter": {field: {"start_at": since}}},
                    # Square refuses a sort field other than the filtered time field
                    "sort": {"sort_field": field.upper(), "sort_order": "ASC"},
                },
            }
            yield from _pages(client, "POST", "/v2/orders/search", "orders", json=body)
    elif table.name == "Square.Customers":
        if delta.since is None:
            yield from _pages(
                client,
                "GET",
                "/v2/customers",
                "customers",
                params={"sort_field": "CREATED_AT", "sort_order": "ASC", "limit": 100},
            )
        else:
            body = {
                "limit": 100,
                "query": {
                    "filter": {"updated_at": {"start_at": since}},
                    "sort": {"field": "CREATED_AT", "order": "ASC"},
                },
            }
            yield from _pages(client, "POST", "/v2/customers/search", "customers", json=body)
    elif table.name == "Square.Catalog_Objects":
        body = {"object_types": ["ITEM"], "include_deleted_objects": True, "limit": 1000}
        if delta.since is not None:
            body["begin_time"] = since
        yield from _pages(client, "POST", "/v2/catalog/search", "objects", json=body)
    elif table.name == "Square.Locations":
        yield from _pages(client, "GET", "/v2/locations", "locations")
    else:  # pragma: no cover - TABLES and this dispatch are kept together
        raise SourceFatalError(f"no reader for {table.name}")


def read_table(
    client: SquareClient, table: Table, request: ReadRequest, result: ReadResult
) -> Iterator[pa.RecordBatch]:
    """Yield the table's rows in batches of about ``request.batch_size``; sets ``result.new_watermark``."""
    if request.delta_column and table.name == "Square.Locations":
        raise SourceFatalError("Square.Locations has no time to read incrementally; read it in full")
    delta = Delta(table, request, filter_rows=False)
    columns = projection(table, request)
    pending: list[dict[str, Any]] = []

    size = max(1, request.batch_size)

    def flush(records: list[dict[str, Any]]) -> Iterator[pa.RecordBatch]:
        batch = delta.apply(build_batch(table, records))
        if columns is not None:
            batch = batch.select(columns)
        if batch.num_rows:
            yield batch

    for page in _records(client, table, request, delta):
        pending.extend(page)
        while len(pending) >= size:
            chunk, pending[:] = pending[:size], pending[size:]
            yield from flush(chunk)
    if pending:
        yield from flush(pending)
    result.new_watermark = delta.new_watermark()


def table(name: str | None) -> Table:
    found = TABLES.get(name or "")
    if found is None:
        raise SourceFatalError(f"Square has no table {name!r}; the tables are {', '.join(TABLES)}")
    return found
