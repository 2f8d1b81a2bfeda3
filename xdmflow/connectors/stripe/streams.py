"""How the Stripe tables are read: full reads over list endpoints, incremental reads over the
Events API (or ``created`` for immutable tables), with the 30-day fallback.

* Full read: the table's list endpoint, ``limit=100``, ``starting_after`` paging, optionally in
  ``created[gte]``/``created[lt]`` windows (``startDate`` + ``windowDays``; one partition each).
* Incremental read on ``updated`` (watermark set): ``GET /v1/events`` with the table's
  ``types[]`` and ``created[gte] = watermark - lookbackSeconds``; the newest event per object
  wins and its ``data.object`` becomes the row, with ``updated = event.created`` and
  ``is_deleted`` for ``*.deleted`` events. When several events of one object share its newest
  second, their order is unknown, so the object is re-read by id (current state).
* Tables without events (balance transactions) and reads on ``created``: the list endpoint
  with ``created[gte] = watermark - lookbackSeconds``.
* Balance transactions change once: ``pending`` until ``available_on``, then ``available``
  (Stripe emits no event per transaction). Their ``updated`` is ``available_on`` once available
  (else ``created``), and the new watermark stays at most ``lookbackSeconds`` past the oldest
  one still pending (``pendingSince`` in the summary), so the next read re-reads it and the
  change arrives; unchanged rows re-read are dropped by the pipeline (same key and ``updated``).
* A watermark older than the 30 days Stripe keeps events falls back to a full read; the run's
  source summary says so (``readMode``/``notice``).

The new watermark is the server's clock (``Date``) at the start of the read, so tables without
recent changes keep an advancing cursor; the look-back re-reads the seconds in which objects
were not yet visible, and the pipeline drops rows already ingested (same key and ``updated``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from xdmflow.connectors.base import ReadRequest, ReadResult
from xdmflow.connectors.stripe.client import StripeClient
from xdmflow.connectors.stripe.tables import (
    BALANCE_TRANSACTIONS,
    INVOICE_LINES,
    PRODUCTS,
    SUBSCRIPTIONS,
    Table,
    build_batch,
)
from xdmflow.errors import SourceFatalError

__all__ = [
    "read_table",
    "rows_of",
    "parse_time",
    "format_time",
    "EVENT_WINDOW",
    "DEFAULT_LOOKBACK",
    "projection",
]

EVENT_WINDOW = 30 * 86_400
#: seconds re-read before the watermark by default (visibility lag, events at the edge)
DEFAULT_LOOKBACK = 300.0
#: keep this far inside the 30-day window (the read itself takes time)
_WINDOW_MARGIN = 3600


def parse_time(value: Any) -> int | None:
    """A watermark / ``startDate`` (ISO 8601, or Unix seconds) as Unix seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise SourceFatalError(f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def format_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def projection(table: Table, request: ReadRequest) -> list[str] | None:
    wanted = request.source_params.get("columns")
    if not wanted:
        return None
    names = [c["name"] if isinstance(c, dict) else str(c) for c in wanted]
    unknown = [x for x in names if table.field(x) is None]
    if unknown:
        raise SourceFatalError(
            f"Stripe table {table.name} has no column(s) {', '.join(unknown)}; "
            f"its columns are {', '.join(c.name for c in table.columns)}"
        )
    return names


def rows_of(
    client: StripeClient, table: Table, obj: dict[str, Any], updated: int | None, deleted: bool
) -> list[dict[str, Any]]:
    """The table's rows for one Stripe object (an invoice gives its lines for ``invoice_lines``)."""
    if updated is None:
        if table is PRODUCTS:
            updated = int(obj.get("updated") or obj.get("created") or 0)
        elif table is BALANCE_TRANSACTIONS and obj.get("status") == "available":
            updated = obj.get("available_on") or obj.get("created")  # when it became available
        else:
            updated = obj.get("created")
    deleted = deleted or obj.get("deleted") is True
    if table is INVOICE_LINES:
        if deleted and not obj.get("lines"):
            return []
        lines = obj.get("lines") or {}
        data = [x for x in lines.get("data") or [] if isinstance(x, dict)]
        if lines.get("has_more"):
            data = [
                x
                for page in client.pages(f"/v1/invoices/{obj['id']}/lines", resource="invoices")
                for x in page
            ]
        out = []
        for line in data:
            details = (line.get("pricing") or {}).get("price_details") or {}
            price = line.get("price")
            out.append(
                {
                    **line,
                    "invoice": obj["id"],
                    "_invoice_created": obj.get("created"),
                    "_updated": updated,
                    "_deleted": deleted,
                    "_price": details.get("price") or (price.get("id") if isinstance(price, dict) else price),
                    "_product": details.get("product")
                    or (price.get("product") if isinstance(price, dict) else None),
                }
            )
        return out
    row = {**obj, "_updated": updated, "_deleted": deleted}
    if table is SUBSCRIPTIONS:
        items = ((obj.get("items") or {}).get("data") or [{}])[0]
        price = items.get("price")
        row["_price"] = price.get("id") if isinstance(price, dict) else price
        row["_quantity"] = items.get("quantity")
    return [row]


class _Emitter:
    """Builds batches of ``batch_size`` rows, projects columns, tracks the max ``updated``."""

    def __init__(self, table: Table, request: ReadRequest) -> None:
        self.table = table
        self.size = max(1, request.batch_size)
        self.columns = projection(table, request)
        self.pending: list[dict[str, Any]] = []
        self.rows = 0
        self.max_updated: int | None = None
        #: ``created`` of the oldest balance transaction read that is still pending
        self.pending_since: int | None = None

    def add(self, rows: list[dict[str, Any]]) -> Iterator[pa.RecordBatch]:
        for row in rows:
            u = row.get("_updated")
            if isinstance(u, int) and (self.max_updated is None or u > self.max_updated):
                self.max_updated = u
        if self.table is BALANCE_TRANSACTIONS:
            pending = [int(r["created"]) for r in rows if r.get("status") == "pending" and r.get("created")]
            if pending and (self.pending_since is None or min(pending) < self.pending_since):
                self.pending_since = min(pending)
        self.pending.extend(rows)
        while len(self.pending) >= self.size:
            chunk, self.pending = self.pending[: self.size], self.pending[self.size :]
            yield self._batch(chunk)

    def flush(self) -> Iterator[pa.RecordBatch]:
        if self.pending:
            chunk, self.pending = self.pending, []
            yield self._batch(chunk)

    def _batch(self, records: list[dict[str, Any]]) -> pa.RecordBatch:
        self.rows += len(records)
        batch = build_batch(self.table, records)
        return batch.select(self.columns) if self.columns is not None else batch


def _list_params(table: Table, lo: int | None, hi: int | None) -> dict[str, Any]:
    params: dict[str, Any] = dict(table.list_params)
    created = {k: v for k, v in (("gte", lo), ("lt", hi)) if v is not None}
    if created:
        params["created"] = created
    return params


def _full(
    client: StripeClient, table: Table, emit: _Emitter, lo: int | None, hi: int | None
) -> Iterator[pa.RecordBatch]:
    resource = table.resource or table.name
    for page in client.pages(table.path, _list_params(table, lo, hi), resource=resource):
        rows = [r for obj in page for r in rows_of(client, table, obj, None, False)]
        yield from emit.add(rows)


def _from_events(client: StripeClient, table: Table, emit: _Emitter, since: int) -> Iterator[pa.RecordBatch]:
    latest: dict[str, tuple[int, dict[str, Any], str]] = {}
    ties: set[str] = set()
    params = {"types": list(table.event_types or ()), "created": {"gte": since}}
    for page in client.pages("/v1/events", params, resource="events"):
        for evt in page:
            obj = (evt.get("data") or {}).get("object")
            if not isinstance(obj, dict) or obj.get("object") != table.object or not obj.get("id"):
                continue
            created = int(evt.get("created") or 0)
            seen = latest.get(obj["id"])
            if seen is None:
                latest[obj["id"]] = (created, obj, str(evt.get("type") or ""))
            elif seen[0] == created:
                ties.add(obj["id"])
    resource = table.resource or table.name
    path = "/v1/invoices" if table is INVOICE_LINES else table.path
    for obj_id, (created, obj, etype) in sorted(latest.items(), key=lambda kv: (kv[1][0], kv[0])):
        deleted = etype.endswith(".deleted") and table is not SUBSCRIPTIONS
        if obj_id in ties and not deleted:
            obj = client.get(f"{path}/{obj_id}", resource=resource)
        yield from emit.add(rows_of(client, table, obj, created, deleted))


def read_table(
    client: StripeClient, table: Table, request: ReadRequest, result: ReadResult
) -> Iterator[pa.RecordBatch]:
    """Read ``table`` per ``request`` (see the module doc); fills ``result``."""
    params = request.source_params
    emit = _Emitter(table, request)
    delta = request.delta_column
    if delta is not None and delta not in ("updated", "created"):
        raise SourceFatalError(
            f"{delta!r} cannot be the delta column of Stripe table {table.name}; "
            "use updated (changes, from the "
            "Events API) or created (new objects only)"
        )
    lookback = int(float(params.get("lookbackSeconds", DEFAULT_LOOKBACK)))
    watermark = parse_time(request.watermark)
    extensions = result.extensions
    if delta is None or watermark is None:
        # windows come from partitions() (which always sets window_start); a run's own
        # windowEndTime is the platform's clock, not Stripe's, and does not bound a full read
        lo = parse_time(params.get("startDate"))
        hi = None
        if request.window_start is not None:
            lo = int(request.window_start)
            hi = int(request.window_end) if request.window_end is not None else None
        extensions["readMode"] = "full"
        yield from _full(client, table, emit, lo, hi)
    else:
        since = watermark - lookback
        # the server's clock first (and whether the key may read events at all)
        if table.event_types is not None and delta == "updated":
            client.get("/v1/events", {"limit": 1}, resource="events")
        now = client.server_time
        if table.event_types is None or delta == "created":
            extensions["readMode"] = "created"
            yield from _full(client, table, emit, since, None)
        elif now is not None and since < now - EVENT_WINDOW + _WINDOW_MARGIN:
            extensions["readMode"] = "full re-read"
            extensions["notice"] = (
                f"The cursor of {table.name} ({format_time(watermark)}) is older than the 30 days "
                "Stripe keeps "
                "events, so updates and deletes since then cannot be read: the table was read in full."
            )
            yield from _full(client, table, emit, None, None)
        else:
            extensions["readMode"] = "events"
            extensions["eventsSince"] = format_time(since)
            yield from _from_events(client, table, emit, since)
    yield from emit.flush()
    if delta is not None:
        candidates = [x for x in (client.server_time, watermark) if x is not None]
        if client.server_time is None and emit.max_updated is not None:
            candidates.append(emit.max_updated)
        mark = max(candidates) if candidates else None
        if mark is not None and emit.pending_since is not None and delta == "updated":
            # keep the oldest pending balance transaction inside the next read's look-back, so
            # the run after it becomes available reads it again (>= the old watermark: the
            # pending one was read, so it is no older than watermark - lookback)
            mark = min(mark, emit.pending_since + lookback)
            extensions["pendingSince"] = format_time(emit.pending_since)
        result.new_watermark = format_time(mark) if mark is not None else None
    extensions["requests"] = client.requests
    extensions["retries"] = client.retries
    result.input_bytes += client.bytes_read
