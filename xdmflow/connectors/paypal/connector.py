"""``PayPalConnector``: the Connector protocol over PayPal's REST APIs.

Heavy modules (httpx, the client, the readers) are imported on first use, so loading the
entry point stays cheap.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from xdmflow.connectors.base import (
    Connector,
    ExploreItem,
    ObjectDescription,
    ObjectType,
    ReadRequest,
    ReadResult,
)
from xdmflow.connectors.payments import first_rows, list_tables
from xdmflow.connectors.paypal.client import PayPalClient, base_url
from xdmflow.connectors.paypal.spec import PAYPAL_SPEC, TABLE_NAMES
from xdmflow.connectors.paypal.streams import read_list_table
from xdmflow.connectors.paypal.tables import TABLES
from xdmflow.connectors.paypal.transactions import plan_windows, read_transactions
from xdmflow.connectors.policy import Reach, url_reach
from xdmflow.errors import SourceFatalError

if TYPE_CHECKING:
    import httpx

    from xdmflow.connectors.http.retry import RetryPolicy
    from xdmflow.connectors.paypal.client import PayPalClient
    from xdmflow.connectors.paypal.tables import Table

__all__ = ["PayPalConnector"]

#: How far back a Transactions preview looks (seconds).
PREVIEW_SPAN = 7 * 86_400
#: List tables re-read the rows at the watermark: the de-duplication state keeps this many
#: seconds of rows before it.
LIST_DEDUPE_HORIZON = 1.0


class PayPalConnector(Connector):
    """Reads PayPal catalog products, billing plans, transactions and balances.

    Auth params: ``host`` (bare host -> https, or a full base URL), ``clientId``,
    ``clientSecret``. Source params: ``tableName`` (or ``path``), ``columns``; for
    ``PayPal.Transactions`` also ``startDate``, ``lookbackHours``, ``windowDays``,
    ``balanceAffectingOnly`` (see :mod:`xdmflow.connectors.paypal.transactions`).

    Args:
        retry: backoff policy for 429/5xx/transport failures (default: 30 s doubling to
            5 min, 30 min budget).
        timeout: per-request timeout in seconds.
        refresh_margin: renew the token this many seconds before it expires (at most 10% of
            its lifetime).
        requests_per_minute: client-side pacing (PayPal throttles per IP; ~50/min is safe on
            live); ``None`` = no pacing, rely on 429 backoff.
        transport: an httpx transport (tests, proxies); default: a real socket.
    """

    spec = PAYPAL_SPEC

    def __init__(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        refresh_margin: float = 300.0,
        requests_per_minute: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._rpm = requests_per_minute
        self._retry = retry
        self._timeout = timeout
        self._refresh_margin = refresh_margin
        self._transport = transport

    def __repr__(self) -> str:
        return "PayPalConnector()"

    def client(self, auth: Mapping[str, Any]) -> PayPalClient:
        """A client for the base connection's auth params (close it when done)."""

        return PayPalClient(
            auth.get("host"),
            str(auth.get("clientId") or ""),
            str(auth.get("clientSecret") or ""),
            retry=self._retry,
            timeout=self._timeout,
            refresh_margin=self._refresh_margin,
            requests_per_minute=self._rpm,
            transport=self._transport,
        )

    def reach(self, auth: Mapping[str, Any]) -> Reach:
        """The PayPal REST host (the emulator's, in tests and the demo)."""

        try:
            return url_reach(base_url(auth.get("host")))
        except SourceFatalError:
            return Reach()  # the client refuses a malformed host itself

    @staticmethod
    def table(name: str | None) -> Table:
        """The table called ``name``; ``SourceFatalError`` listing the valid names otherwise."""

        table = TABLES.get(name or "")
        if table is None:
            raise SourceFatalError(f"PayPal has no table {name!r}; the tables are {', '.join(TABLE_NAMES)}")
        return table

    def check(self, auth: Mapping[str, Any]) -> None:
        """Obtain an access token: bad credentials raise ``SourceAuthError``, an unreachable
        host ``SourceRetriableError``."""
        with self.client(auth) as client:
            client.access_token(force=True)

    def explore(
        self, auth: Mapping[str, Any], object_type: ObjectType, object: str | None
    ) -> list[ExploreItem]:
        """``root`` lists the tables (no call to PayPal); tabular sources have no folders."""
        return list_tables("PayPal", object_type, TABLE_NAMES)

    def describe(
        self,
        auth: Mapping[str, Any],
        object: str,
        *,
        preview: bool = False,
        preview_rows: int = 100,
        options: Mapping[str, Any] | None = None,
    ) -> ObjectDescription:
        """Columns of a table and, with ``preview``, its first rows (Transactions: the last 7 days)."""
        table = self.table(object)
        if not preview:
            return ObjectDescription(columns=table.columns)
        params: dict[str, Any] = {"tableName": table.name, **(options or {})}
        if table.name == "PayPal.Transactions" and "startDate" not in params:
            params["startDate"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - PREVIEW_SPAN))
            params.setdefault("windowDays", 1)
        request = ReadRequest(object=table.name, source_params=params, batch_size=max(1, preview_rows))
        data = first_rows(self.read(auth, request, ReadResult()), preview_rows, table.schema)
        return ObjectDescription(columns=table.columns, preview=data)

    def read(
        self, auth: Mapping[str, Any], request: ReadRequest, result: ReadResult
    ) -> Iterator[pa.RecordBatch]:
        """Yield the table's rows as Arrow batches (see the class and module docs)."""
        name = request.source_params.get("tableName") or request.source_params.get("path") or request.object
        table = self.table(name)

        with self.client(auth) as client:
            if table.name == "PayPal.Transactions":
                yield from read_transactions(client, request, result)
            else:
                yield from read_list_table(client, table, request, result)
            result.input_bytes += client.bytes_read

    def dedupe_policy(self, request: ReadRequest) -> tuple[tuple[str, ...], float] | None:
        """Incremental reads return rows again, so the pipeline must de-duplicate on the table's key:

        * Transactions re-read ``lookbackHours`` before the watermark (late rows, status changes);
        * the list tables keep rows ``>= watermark`` (PayPal times are to the second: a row changed
          in the same second as the last read one, after that read, must not be missed), so the
          rows at the watermark come again.
        """
        if not request.delta_column:
            return None
        name = request.source_params.get("tableName") or request.source_params.get("path") or request.object
        table = self.table(name)
        if table.name != "PayPal.Transactions":
            return table.key, LIST_DEDUPE_HORIZON
        hours = float(request.source_params.get("lookbackHours", 72))
        return table.key, hours * 3600 + 86_400

    def partitions(self, auth: Mapping[str, Any], request: ReadRequest) -> list[ReadRequest]:
        """Transactions: one request per window (``window_start``/``window_end`` set, ending at
        PayPal's ``last_refreshed_datetime``), or per run of contiguous windows when
        ``targetPartitions`` is set; other tables: the request itself."""
        name = request.source_params.get("tableName") or request.source_params.get("path") or request.object
        if self.table(name).name != "PayPal.Transactions":
            return [request]

        with self.client(auth) as client:
            windows, _ = plan_windows(client, request)
        # ``targetPartitions`` (the pipeline's aim): contiguous windows grouped into that many
        # partitions; each partition re-plans its own windows inside its range.
        target = int(request.source_params.get("targetPartitions") or 0)
        per = -(-len(windows) // target) if target > 0 else 1
        groups = [windows[i : i + per] for i in range(0, len(windows), per)]
        return [replace(request, window_start=float(g[0][0]), window_end=float(g[-1][1])) for g in groups]
