"""Stripe REST client: key auth, pinned ``Stripe-Version``, cursor paging, backoff, error mapping.

The base URL is decided in one place, :func:`base_url` (the outbound-host policy checks it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from xdmflow.connectors.http.retry import RetryPolicy, describe_transport_error, parse_retry_after
from xdmflow.connectors.stripe.spec import STRIPE_VERSION
from xdmflow.errors import SourceAuthError, SourceError, SourceFatalError, SourceRetriableError

__all__ = ["StripeClient", "base_url", "PAGE_SIZE", "DEFAULT_BASE"]

log = logging.getLogger(__name__)

DEFAULT_BASE = "https://api.stripe.com"
#: Stripe's largest page.
PAGE_SIZE = 100
#: Answers worth another try: rate limits and lock timeouts (429), conflicts, server errors.
_RETRY_STATUSES = frozenset({409, 429, 500, 502, 503, 504})


def base_url(host: str | None) -> str:
    """``api.stripe.com`` -> ``https://api.stripe.com``; full URLs are kept (no trailing ``/``)."""
    value = (host or DEFAULT_BASE).strip().rstrip("/")
    if "://" not in value:
        value = f"https://{value}"
    if value.endswith("/v1"):
        value = value[:-3]
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SourceFatalError(f"host {host!r} is neither a host name nor an http(s) base URL")
    return value


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) else {}


class StripeClient:
    """A Stripe GET client. The key never appears in messages, logs or ``repr``.

    Retries 429 (``rate_limit``, ``lock_timeout``), 409 and 5xx answers and transport failures
    with ``retry``'s backoff unless Stripe says ``Stripe-Should-Retry: false``; a 400 carrying
    ``code: rate_limit`` (Stripe's historic form) is retried too. Other answers map to
    ``SourceAuthError`` (401 - an expired token said so, with what to do -, 403 - naming the
    resource the key may not read) or
    ``SourceFatalError`` (400, 404...).
    """

    def __init__(
        self,
        host: str | None,
        key: str,
        *,
        account: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not key:
            raise SourceAuthError(
                "an accessToken (or apiKey: a secret or restricted key) is required for Stripe"
            )
        self.base_url = base_url(host)
        self.host = urlsplit(self.base_url).netloc
        self.__key = key
        self.retry = retry or RetryPolicy(
            initial_delay=0.5, max_delay=20.0, max_attempts=12, total_budget=600.0
        )
        self.requests = 0
        self.retries = 0
        self.bytes_read = 0
        #: the server's clock (``Date`` header) at the first answer, Unix seconds
        self.server_time: int | None = None
        headers = {"Stripe-Version": STRIPE_VERSION, "User-Agent": "xdmflow-stripe"}
        if account:
            headers["Stripe-Account"] = account
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, transport=transport, headers=headers
        )

    def __repr__(self) -> str:
        return f"StripeClient({self.base_url!r})"

    def __enter__(self) -> StripeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _clean(self, text: str) -> str:
        return text.replace(self.__key, "****") if self.__key else text

    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, resource: str = ""
    ) -> dict[str, Any]:
        """GET ``path`` and return the JSON object; raises ``SourceError`` subclasses."""
        what = f"GET {path}"
        started = time.monotonic()
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                self.requests += 1
                response = self._http.get(
                    path,
                    params=list(_flatten(params or {})),
                    headers={"Authorization": f"Bearer {self.__key}"},
                )
            except httpx.TransportError as exc:
                problem = describe_transport_error(exc, self.host)
            else:
                self.bytes_read += len(response.content)
                if self.server_time is None:
                    self.server_time = _date(response)
                err = _error_body(response)
                should = response.headers.get("stripe-should-retry")
                retriable = (response.status_code in _RETRY_STATUSES and should != "false") or (
                    response.status_code == 400 and err.get("code") == "rate_limit"
                )
                if should == "true" and response.status_code >= 400:
                    retriable = True
                if not retriable:
                    if response.status_code >= 400:
                        raise self._error(response, err, what, resource)
                    return _json(response, what)
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                code = err.get("code") or err.get("type") or ""
                problem = f"{self.host} answered HTTP {response.status_code}{f' ({code})' if code else ''}"
            wait = self.retry.delay(attempt, retry_after)
            elapsed = time.monotonic() - started
            if attempt + 1 >= self.retry.max_attempts or elapsed + wait > self.retry.total_budget:
                raise SourceRetriableError(
                    self._clean(
                        f"{what} failed after {attempt + 1} attempt(s) over {elapsed:.0f} s: {problem}. "
                        "This is transient; the run can be retried later."
                    ),
                    details={"attempts": attempt + 1},
                )
            log.warning("%s: %s; retry %d in %.2f s", what, problem, attempt + 1, wait)
            self.retries += 1
            time.sleep(wait)
            attempt += 1

    def _error(
        self, response: httpx.Response, err: Mapping[str, Any], what: str, resource: str
    ) -> SourceError:
        status = response.status_code
        message = self._clean(str(err.get("message") or response.reason_phrase))
        details = {k: err[k] for k in ("type", "code", "param") if err.get(k) is not None} | {
            "status": status,
            "requestId": response.headers.get("request-id"),
        }
        if status == 401 and err.get("code") == "api_key_expired":
            return SourceAuthError(
                f"The Stripe access token has expired ({what}): {message} Refresh the OAuth token "
                "(or reconnect the Stripe account; for a key, roll a new one in the Dashboard) and "
                "update the connection's accessToken.",
                details={**details, "reason": "expired"},
            )
        if status == 401:
            return SourceAuthError(f"Stripe rejected the credentials ({what}): {message}", details=details)
        if status == 403:
            name = resource or what
            return SourceAuthError(
                f"The Stripe key may not read {name}: {message} "
                f"Give the restricted key read access to {name}.",
                details={**details, "resource": name},
            )
        return SourceFatalError(f"Stripe answered HTTP {status} to {what}: {message}", details=details)

    def pages(
        self, path: str, params: Mapping[str, Any] | None = None, *, resource: str = ""
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of a list endpoint (``limit=100``, ``starting_after`` = the last id)."""
        query = {**(params or {}), "limit": PAGE_SIZE}
        while True:
            body = self.get(path, query, resource=resource)
            data = [o for o in body.get("data") or [] if isinstance(o, dict)]
            if data:
                yield data
            if not body.get("has_more") or not data:
                return
            query["starting_after"] = data[-1]["id"]


def _flatten(params: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Stripe's bracket form: ``{"created": {"gte": 1}}`` -> ``created[gte]=1``; lists -> ``k[]``."""
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            for sub, v in value.items():
                if v is not None:
                    yield f"{key}[{sub}]", str(v)
        elif isinstance(value, list | tuple):
            for v in value:
                yield f"{key}[]", str(v)
        elif isinstance(value, bool):
            yield key, "true" if value else "false"
        else:
            yield key, str(value)


def _date(response: httpx.Response) -> int | None:
    raw = response.headers.get("date")
    if not raw:
        return None
    try:
        return int(parsedate_to_datetime(raw).timestamp())
    except (TypeError, ValueError):
        return None


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise SourceRetriableError(
            f"{what} answered HTTP {response.status_code} with a body that is not JSON"
        ) from None
    if not isinstance(body, dict):
        raise SourceFatalError(f"{what} answered with a JSON {type(body).__name__}, expected an object")
    return body
