"""``PayPal.Transactions``: windowed, capped, late-data-safe reads of Transaction Search.

How a read works:

1. ``last_refreshed_datetime`` (L) is asked first with a one-second probe window; nothing at or
   after L is read, so rows PayPal has not published yet are never skipped by a watermark.
2. The range is ``[start, L)``: ``start`` is the watermark minus ``lookbackHours`` (incremental),
   else ``startDate`` (default: as far back as PayPal allows, 3 years). ``ReadRequest.window_start``
   / ``window_end`` (partitions) override it.
3. The range is cut into half-open windows of ``windowDays`` (<= 31) days. Each window is read
   with ``fields=all``, ``page_size=500`` and every page; rows outside ``[start, end)`` are dropped
   (PayPal's bounds are inclusive), and rows are de-duplicated on (transaction id, event code)
   keeping the newest ``transaction_updated_date``. A window with more than 10,000 matches
   (RESULTSET_TOO_LARGE) is halved recursively down to one second - never skipped.
4. ``new_watermark`` = the highest delta value seen, capped at L (an update seen on an older row
   must not move the next start past rows not yet published).

Because PayPal filters on the initiation date only, a status change (P -> S, S -> V) is seen
only while the row's initiation date is within the lookback; the default 72 h covers the usual
flips. Rows re-read through the lookback come again in later runs: the key is
(``Transaction_Id``, ``Transaction_Event_Code``), newest ``Transaction_Updated_Date`` wins.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from xdmflow.connectors.base import ReadRequest, ReadResult
from xdmflow.connectors.paypal.client import DataNotAvailableError, PayPalClient, ResultSetTooLargeError
from xdmflow.connectors.paypal.streams import Delta, emit, format_time, projection
from xdmflow.connectors.paypal.tables import TRANSACTIONS, parse_time
from xdmflow.errors import InvalidValueError, SourceFatalError, SourceRetriableError

__all__ = ["TransactionParams", "last_refreshed", "plan_windows", "read_transactions"]

log = logging.getLogger(__name__)

PATH = "/v1/reporting/transactions"
DAY = 86_400
HISTORY_SECONDS = 3 * 365 * DAY
PAGE_SIZE = 500
_PROBES = (6 * 3600, DAY, 3 * DAY, 7 * DAY, 30 * DAY)
_DELTA_COLUMNS = ("Transaction_Updated_Date", "Transaction_Initiation_Date")


def _fmt(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _epoch(value: Any) -> int | None:
    parsed = parse_time(value)
    return None if parsed is None else int(parsed.timestamp())


@dataclass(frozen=True)
class TransactionParams:
    """Source params of the Transactions table (all optional)."""

    start_date: int | None = None
    """``startDate`` (ISO 8601): where a full read starts; default 3 years back (PayPal's limit)."""
    lookback_seconds: int = 72 * 3600
    """``lookbackHours`` (default 72): re-read before the watermark for late rows and status changes."""
    window_seconds: int = 7 * DAY
    """``windowDays`` (1-31, default 7): size of one Transaction Search window."""
    balance_affecting_only: bool = False
    """``balanceAffectingOnly`` (default false): false sends ``balance_affecting_records_only=N``
    so non-balance-affecting rows (authorizations...) are read too."""

    @classmethod
    def from_params(cls, params: Any) -> TransactionParams:
        """Parse and validate ``ReadRequest.source_params``."""
        try:
            start = params.get("startDate")
            start_epoch = _epoch(start) if start else None
            if start and start_epoch is None:
                raise InvalidValueError(f"startDate {start!r} is not an ISO 8601 date-time")
            window = float(params.get("windowDays", 7))
            if not 0 < window <= 31:
                raise InvalidValueError("windowDays must be more than 0 and at most 31")
            lookback = float(params.get("lookbackHours", 72))
            if lookback < 0:
                raise InvalidValueError("lookbackHours must not be negative")
        except (TypeError, ValueError) as exc:
            raise SourceFatalError(f"invalid PayPal.Transactions parameter: {exc}") from None
        return cls(
            start_epoch, int(lookback * 3600), int(window * DAY), bool(params.get("balanceAffectingOnly"))
        )


def last_refreshed(client: PayPalClient, now: int) -> int:
    """PayPal's ``last_refreshed_datetime`` as epoch seconds, from a one-second probe window."""
    for back in _PROBES:
        start = now - back
        try:
            body = client.get(PATH, {"start_date": _fmt(start), "end_date": _fmt(start + 1), "page_size": 1})
        except DataNotAvailableError:
            continue
        value = _epoch(body.get("last_refreshed_datetime"))
        if value is None:
            raise SourceFatalError("PayPal's Transaction Search answer has no last_refreshed_datetime")
        return value
    raise SourceRetriableError(
        "PayPal has not refreshed transaction data for the last 30 days "
        "(Data for the given start date is not available); retry later"
    )


def plan_windows(
    client: PayPalClient, request: ReadRequest, now: int | None = None
) -> tuple[list[tuple[int, int]], int]:
    """The half-open windows a read covers and PayPal's ``last_refreshed_datetime``."""
    params = TransactionParams.from_params(request.source_params)
    if request.delta_column is not None and request.delta_column not in _DELTA_COLUMNS:
        raise SourceFatalError(
            f"{request.delta_column!r} cannot be the delta column of PayPal.Transactions; "
            f"use {' or '.join(_DELTA_COLUMNS)}"
        )
    now = int(time.time()) if now is None else now
    refreshed = last_refreshed(client, now)
    end = refreshed
    if request.window_end is not None:
        end = min(end, int(request.window_end))
    if request.window_start is not None:
        start = int(request.window_start)
    elif request.delta_column and request.watermark is not None:
        since = _epoch(str(request.watermark))
        if since is None:
            raise SourceFatalError(f"watermark {request.watermark!r} is not an ISO 8601 date-time")
        start = min(since, refreshed) - params.lookback_seconds
    elif params.start_date is not None:
        start = params.start_date
    else:
        start = max(now, refreshed) - HISTORY_SECONDS
    start = max(start, max(now, refreshed) - HISTORY_SECONDS + DAY)
    windows = []
    while start < end:
        windows.append((start, min(end, start + params.window_seconds)))
        start = windows[-1][1]
    return windows, refreshed


class _Reader:
    """Reads windows page by page, splitting on RESULTSET_TOO_LARGE."""

    def __init__(self, client: PayPalClient, balance_only: bool) -> None:
        self.client = client
        self.balance_only = balance_only
        self.stats = {"windows": 0, "splits": 0, "pages": 0, "duplicatesDropped": 0, "outsideWindow": 0}

    def fetch(self, start: int, end: int) -> list[dict[str, Any]]:
        """Every row of ``[start, end)``, de-duplicated, sorted by (initiation, id, code)."""
        rows: dict[tuple[str, str], tuple[int, int, dict[str, Any]]] = {}
        page = 1
        while True:
            body = self.client.get(
                PATH,
                {
                    "start_date": _fmt(start),
                    "end_date": _fmt(end),
                    "fields": "all",
                    "page_size": PAGE_SIZE,
                    "page": page,
                    "balance_affecting_records_only": "Y" if self.balance_only else "N",
                },
            )
            self.stats["pages"] += 1
            details = [d for d in body.get("transaction_details") or [] if isinstance(d, dict)]
            for detail in details:
                self._keep(detail, start, end, rows)
            total_pages = body.get("total_pages")
            if not details or not isinstance(total_pages, int) or page >= total_pages:
                break
            page += 1
        self.stats["windows"] += 1
        ordered = sorted(rows.items(), key=lambda kv: (kv[1][0], kv[0]))
        return [detail for _, (_, _, detail) in ordered]

    def _keep(self, detail: dict[str, Any], start: int, end: int, rows: dict[Any, Any]) -> None:
        info = detail.get("transaction_info") or {}
        tid, code = info.get("transaction_id"), info.get("transaction_event_code")
        init = _epoch(info.get("transaction_initiation_date"))
        if tid is None:
            raise SourceFatalError("PayPal returned a transaction without transaction_id")
        if init is not None and not start <= init < end:
            self.stats["outsideWindow"] += 1
            return
        key = (str(tid), str(code))
        updated = _epoch(info.get("transaction_updated_date")) or 0
        previous = rows.get(key)
        if previous is not None:
            self.stats["duplicatesDropped"] += 1
            if previous[1] >= updated:
                return
        rows[key] = (init if init is not None else start, updated, detail)

    def read_range(self, start: int, end: int) -> Iterator[list[dict[str, Any]]]:
        """Rows of ``[start, end)`` one window at a time, halving windows that are too large."""
        try:
            rows = self.fetch(start, end)
        except ResultSetTooLargeError as exc:
            if end - start <= 1:
                raise SourceFatalError(
                    f"more than 10,000 PayPal transactions were initiated within one second "
                    f"({_fmt(start)}); Transaction Search cannot page past that. {exc.message}"
                ) from None
            self.stats["splits"] += 1
            mid = start + (end - start) // 2
            log.info("RESULTSET_TOO_LARGE for %s..%s; splitting at %s", _fmt(start), _fmt(end), _fmt(mid))
            yield from self.read_range(start, mid)
            yield from self.read_range(mid, end)
            return
        yield rows


def read_transactions(
    client: PayPalClient, request: ReadRequest, result: ReadResult, now: int | None = None
) -> Iterator[pa.RecordBatch]:
    """Yield the Transactions rows of ``request`` (see the module docstring)."""
    params = TransactionParams.from_params(request.source_params)
    columns = projection(TRANSACTIONS, request)
    windows, refreshed = plan_windows(client, request, now)
    delta = Delta(TRANSACTIONS, request, filter_rows=False)
    reader = _Reader(client, params.balance_affecting_only)
    rows_out = 0
    for start, end in windows:
        for rows in reader.read_range(start, end):
            for batch in emit(TRANSACTIONS, rows, delta, columns, request.batch_size):
                rows_out += batch.num_rows
                yield batch
    result.new_watermark = delta.new_watermark(cap=datetime.fromtimestamp(refreshed, UTC))
    result.extensions.update(reader.stats)
    result.extensions.update(
        {
            "lastRefreshedDatetime": format_time(datetime.fromtimestamp(refreshed, UTC)),
            "rangeStart": _fmt(windows[0][0]) if windows else None,
            "rangeEnd": _fmt(windows[-1][1]) if windows else None,
            "rows": rows_out,
            "requests": client.requests,
        }
    )
