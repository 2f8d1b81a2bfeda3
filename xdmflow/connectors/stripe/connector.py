"""``StripeConnector``: the Connector protocol over Stripe's REST API."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import httpx
import pyarrow as pa

from xdmflow.connectors.base import (
    Connector,
    ExploreItem,
    ObjectDescription,
    ObjectType,
    ReadRequest,
    ReadResult,
)
from xdmflow.connectors.http.retry import RetryPolicy
from xdmflow.connectors.payments import list_tables
from xdmflow.connectors.policy import Reach, url_reach
from xdmflow.connectors.stripe.client import StripeClient, base_url
from xdmflow.connectors.stripe.spec import STRIPE_SPEC, TABLE_NAMES
from xdmflow.connectors.stripe.streams import DEFAULT_LOOKBACK, parse_time, read_table, rows_of
from xdmflow.connectors.stripe.tables import TABLES, Table, build_batch
from xdmflow.errors import SourceAuthError, SourceFatalError

__all__ = ["StripeConnector"]


class StripeConnector(Connector):
    """Reads charges, refunds, customers, payment intents, invoices and their lines,
    subscriptions, balance transactions, disputes, payouts, products and prices.

    Auth params: ``accessToken`` (OAuth access token, secret or restricted key) or ``apiKey``,
    and ``host`` (default ``https://api.stripe.com``; the emulator's URL in tests). Source
    params: ``tableName``, ``columns``, ``startDate``, ``windowDays``, ``lookbackSeconds``,
    ``accountId`` (see :mod:`xdmflow.connectors.stripe.streams`). Incremental reads use the
    delta column ``updated`` (changes and deletes from the Events API) or ``created``.

    Args:
        retry: backoff for 429 / lock_timeout / 5xx / transport failures.
        timeout: per-request timeout in seconds.
        transport: an httpx transport (tests, proxies); default: a real socket.
    """

    spec = STRIPE_SPEC

    def __init__(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._retry = retry
        self._timeout = timeout
        self._transport = transport

    def __repr__(self) -> str:
        return "StripeConnector()"

    def client(self, auth: Mapping[str, Any], account: str | None = None) -> StripeClient:
        """A client for the base connection's auth params (close it when done)."""
        key = str(auth.get("accessToken") or auth.get("apiKey") or "")
        return StripeClient(
            auth.get("host"),
            key,
            account=account,
            retry=self._retry,
            timeout=self._timeout,
            transport=self._transport,
        )

    @staticmethod
    def table(name: str | None) -> Table:
        """The table called ``name``; ``SourceFatalError`` listing the valid names otherwise."""
        table = TABLES.get((name or "").strip("/").removeprefix("v1/"))
        if table is None:
            raise SourceFatalError(f"Stripe has no table {name!r}; the tables are {', '.join(TABLE_NAMES)}")
        return table

    def _table_of(self, request: ReadRequest) -> Table:
        params = request.source_params
        return self.table(params.get("tableName") or params.get("path") or request.object)

    def reach(self, auth: Mapping[str, Any]) -> Reach:
        """The Stripe API host (``api.stripe.com``, or the emulator's in tests and the demo),
        checked against ``XDMFLOW_ALLOWED_HOSTS`` by the services."""
        try:
            return url_reach(base_url(auth.get("host")))
        except SourceFatalError:
            return Reach()  # the client refuses a malformed host itself

    def check(self, auth: Mapping[str, Any]) -> None:
        """``GET /v1/account``: a rejected key raises ``SourceAuthError``, an unreachable host
        ``SourceRetriableError``. A restricted key that may not read the account still passes."""
        with self.client(auth) as client:
            try:
                client.get("/v1/account", resource="the account")
            except SourceAuthError as exc:
                if exc.details.get("status") != 403:
                    raise

    def explore(
        self, auth: Mapping[str, Any], object_type: ObjectType, object: str | None
    ) -> list[ExploreItem]:
        """``root`` lists the tables (no call to Stripe)."""
        return list_tables("Stripe", object_type, TABLE_NAMES)

    def describe(
        self,
        auth: Mapping[str, Any],
        object: str,
        *,
        preview: bool = False,
        preview_rows: int = 100,
        options: Mapping[str, Any] | None = None,
    ) -> ObjectDescription:
        """Columns of a table and, with ``preview``, its newest rows (one list page)."""
        table = self.table(object)
        if not preview:
            return ObjectDescription(columns=table.columns)
        limit = max(1, min(100, preview_rows))
        with self.client(auth, (options or {}).get("accountId")) as client:
            body = client.get(
                table.path, {**dict(table.list_params), "limit": limit}, resource=table.resource or table.name
            )
            rows = [r for obj in body.get("data") or [] for r in rows_of(client, table, obj, None, False)]
        data = pa.Table.from_batches([build_batch(table, rows[:preview_rows])], schema=table.schema)
        return ObjectDescription(columns=table.columns, preview=data)

    def read(
        self, auth: Mapping[str, Any], request: ReadRequest, result: ReadResult
    ) -> Iterator[pa.RecordBatch]:
        """Yield the table's rows as Arrow batches (see :mod:`xdmflow.connectors.stripe.streams`)."""
        table = self._table_of(request)
        with self.client(auth, request.source_params.get("accountId")) as client:
            yield from read_table(client, table, request, result)

    def dedupe_policy(self, request: ReadRequest) -> tuple[tuple[str, ...], float] | None:
        """Incremental reads re-read ``lookbackSeconds`` before the watermark: rows with the same
        key and ``updated`` already ingested are dropped by the pipeline."""
        if not request.delta_column:
            return None
        table = self._table_of(request)
        lookback = float(request.source_params.get("lookbackSeconds", DEFAULT_LOOKBACK))
        return table.key, lookback + 60.0

    def primary_key(self, request: ReadRequest) -> tuple[str, ...] | None:
        """``id`` (``invoice`` + ``id`` for invoice lines)."""
        return self._table_of(request).key

    def partitions(self, auth: Mapping[str, Any], request: ReadRequest) -> list[ReadRequest]:
        """Full reads with ``startDate``: one partition per ``windowDays`` window of ``created``
        (the last one open-ended); otherwise the request itself."""
        params = request.source_params
        if (request.delta_column and request.watermark is not None) or not params.get("startDate"):
            return [request]
        if request.window_start is not None or request.window_end is not None:
            return [request]
        start = parse_time(params.get("startDate"))
        assert start is not None
        step = max(1, int(float(params.get("windowDays", 30)) * 86_400))
        table = self._table_of(request)
        with self.client(auth, params.get("accountId")) as client:  # Stripe's clock, not ours
            client.get(
                table.path, {**dict(table.list_params), "limit": 1}, resource=table.resource or table.name
            )
            end = client.server_time or int(time.time())
        bounds = list(range(start, max(start + 1, end), step))
        target = int(params.get("targetPartitions") or 0)
        if target > 0 and len(bounds) > target:
            per = -(-len(bounds) // target)
            bounds = bounds[::per]
        out = []
        for i, lo in enumerate(bounds):
            hi = bounds[i + 1] if i + 1 < len(bounds) else None
            out.append(replace(request, window_start=float(lo), window_end=None if hi is None else float(hi)))
        return out
