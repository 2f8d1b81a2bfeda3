"""Retry with exponential backoff, jitter, ``Retry-After`` and a total time budget.

:func:`send_with_retry` calls ``send()`` until it returns a response whose status is not
retriable, or the attempts / time budget run out, in which case it raises
``SourceRetriableError`` (the run can be retried later). Transport failures (connection
refused, timeouts, resets) are retried the same way. Non-retriable responses (2xx, 3xx, 4xx
other than 429) are returned to the caller, which must map 4xx to errors itself - never
swallow them.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from xdmflow.errors import SourceRetriableError

__all__ = ["RetryPolicy", "parse_retry_after", "send_with_retry", "describe_transport_error"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry transient failures.

    The n-th retry (n from 0) waits ``min(max_delay, initial_delay * multiplier**n)`` scaled by
    a random factor in ``[1 - jitter, 1 + jitter]``; a ``Retry-After`` header replaces the
    computed delay when it is longer (capped at ``max_retry_after``). Retrying stops after
    ``max_attempts`` calls or when the next wait would end past ``total_budget`` seconds from
    the first call.
    """

    initial_delay: float = 30.0
    multiplier: float = 2.0
    max_delay: float = 300.0
    jitter: float = 0.2
    max_attempts: int = 10
    total_budget: float = 1_800.0
    max_retry_after: float = 900.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def delay(self, retry: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        base = min(self.max_delay, self.initial_delay * self.multiplier**retry)
        spread = (rng or random).uniform(1 - self.jitter, 1 + self.jitter) if self.jitter else 1.0
        wait = base * spread
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds, fractional tolerated, or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def describe_transport_error(exc: httpx.TransportError, host: str) -> str:
    """A user-facing sentence for a transport failure (no URL query, no credentials)."""
    if isinstance(exc, httpx.TimeoutException):
        return f"the request to {host} timed out"
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect to {host} (connection refused or host unreachable)"
    return f"the connection to {host} failed ({type(exc).__name__})"


def send_with_retry(
    send: Callable[[], httpx.Response],
    policy: RetryPolicy,
    *,
    what: str,
    host: str,
    describe: Callable[[httpx.Response], str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> httpx.Response:
    """Call ``send`` with retries; return the first non-retriable response.

    Args:
        send: performs one request (builds it afresh, so auth headers can change between tries).
        policy: the backoff policy.
        what: the operation for messages, e.g. ``"GET /v1/reporting/transactions"``.
        host: the host for messages about transport failures.
        describe: renders a retriable response for the final error message.

    Raises:
        SourceRetriableError: when attempts or the time budget are exhausted.
    """
    started = clock()
    retry = 0
    while True:
        retry_after: float | None = None
        try:
            response = send()
        except httpx.TransportError as exc:
            problem = describe_transport_error(exc, host)
        else:
            if response.status_code not in policy.retry_statuses:
                return response
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            detail = describe(response) if describe else ""
            problem = f"{host} answered HTTP {response.status_code}{f' ({detail})' if detail else ''}"
        wait = policy.delay(retry, retry_after)
        elapsed = clock() - started
        if retry + 1 >= policy.max_attempts or elapsed + wait > policy.total_budget:
            raise SourceRetriableError(
                f"{what} failed after {retry + 1} attempt(s) over {elapsed:.0f} s: {problem}. "
                "This is transient; the run can be retried later.",
                details={"attempts": retry + 1, "elapsed_seconds": round(elapsed, 3)},
            )
        log.warning("%s: %s; retry %d in %.2f s", what, problem, retry + 1, wait)
        sleep(wait)
        retry += 1
