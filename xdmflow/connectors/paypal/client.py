"""PayPal REST client: OAuth2 client credentials, token cache, retries, PayPal error mapping."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from xdmflow.connectors.http.retry import RetryPolicy, send_with_retry
from xdmflow.errors import SourceAuthError, SourceError, SourceFatalError, SourceRetriableError

__all__ = ["PayPalClient", "ResultSetTooLargeError", "DataNotAvailableError", "base_url"]

log = logging.getLogger(__name__)

DEFAULT_HOST = "api.sandbox.paypal.com"
_NOT_AVAILABLE = "data for the given start date is not available"


class ResultSetTooLargeError(SourceFatalError):
    """PayPal's RESULTSET_TOO_LARGE: more than 10,000 matches; the window must shrink."""


class DataNotAvailableError(SourceRetriableError):
    """``start_date`` is after PayPal's ``last_refreshed_datetime``: retry later."""


def base_url(host: str | None) -> str:
    """``api.sandbox.paypal.com`` -> ``https://api.sandbox.paypal.com``; full URLs are kept."""
    value = (host or DEFAULT_HOST).strip().rstrip("/")
    if "://" not in value:
        value = f"https://{value}"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SourceFatalError(f"host {host!r} is neither a host name nor an http(s) base URL")
    return value


class PayPalClient:
    """A thread-safe PayPal REST client for GET calls.

    The access token is cached and renewed shortly before it expires, and once more when a
    call answers 401 ``invalid_token``. 429 and 5xx answers and transport failures are retried
    per ``retry``; other 4xx answers raise ``SourceAuthError`` / ``SourceFatalError`` carrying
    PayPal's ``name``, ``message`` and ``debug_id``. The client secret never appears in
    messages, logs or ``repr``.
    """

    def __init__(
        self,
        host: str | None,
        client_id: str,
        client_secret: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        refresh_margin: float = 300.0,
        requests_per_minute: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not client_id or not client_secret:
            raise SourceAuthError("clientId and clientSecret are required to connect to PayPal")
        self.base_url = base_url(host)
        self.host = urlsplit(self.base_url).netloc
        self.client_id = client_id
        self.__secret = client_secret
        self.retry = retry or RetryPolicy()
        self.refresh_margin = refresh_margin
        self.requests = 0
        self.bytes_read = 0
        self._interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._next_slot = 0.0
        self._pace_lock = threading.Lock()
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "Accept-Language": "en_US"},
        )
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return f"PayPalClient(base_url={self.base_url!r}, client_id={self.client_id!r})"

    def __enter__(self) -> PayPalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _pace(self) -> None:
        """Client-side pacing: at most ``requests_per_minute`` calls (when set)."""
        self.requests += 1
        if not self._interval:
            return
        with self._pace_lock:
            now = time.monotonic()
            wait = self._next_slot - now
            self._next_slot = max(now, self._next_slot) + self._interval
        if wait > 0:
            time.sleep(wait)

    # -- token -----------------------------------------------------------------------------
    def access_token(self, *, force: bool = False) -> str:
        """A valid access token (cached; fetched when missing, near expiry or ``force``)."""
        with self._lock:
            if not force and self._token and time.monotonic() < self._expires_at:
                return self._token
            self._token = None
            body = self._fetch_token()
            token = body.get("access_token")
            if not isinstance(token, str) or not token:
                raise SourceFatalError(
                    f"PayPal's token endpoint at {self.host} answered without an access_token"
                )
            lifetime = float(body.get("expires_in") or 0)
            margin = min(self.refresh_margin, lifetime * 0.1)
            self._token, self._expires_at = token, time.monotonic() + lifetime - margin
            log.info(
                "obtained a PayPal access token for client %s (expires in %.0f s)", self.client_id, lifetime
            )
            return token

    def _fetch_token(self) -> dict[str, Any]:
        def send() -> httpx.Response:
            self._pace()
            return self._http.post(
                "/v1/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=httpx.BasicAuth(self.client_id, self.__secret),
            )

        response = send_with_retry(
            send, self.retry, what="POST /v1/oauth2/token", host=self.host, describe=_describe
        )
        if response.status_code == 200:
            return _json(response, "POST /v1/oauth2/token")
        body = _body(response)
        reason = f"{body.get('error', response.status_code)}: {body.get('error_description', '')}".strip(": ")
        if response.status_code in (400, 401, 403):
            raise self._clean(
                SourceAuthError(
                    f"PayPal at {self.host} rejected the client credentials of client id {self.client_id!r} "
                    f"({reason}). Check clientId and clientSecret of the base connection, and that they "
                    "belong to this environment (sandbox or live).",
                    details={"status": response.status_code, "error": body.get("error")},
                )
            )
        raise self._clean(self._error(response, "POST /v1/oauth2/token"))

    # -- calls ------------------------------------------------------------------------------
    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, prefer: str | None = None
    ) -> dict[str, Any]:
        """GET ``path`` and return the JSON body; raises ``SourceError`` subclasses."""
        what = f"GET {path}"
        for attempt in range(2):

            def send() -> httpx.Response:
                self._pace()
                headers = {"Authorization": f"Bearer {self.access_token()}"}
                if prefer:
                    headers["Prefer"] = prefer
                return self._http.get(path, params=dict(params or {}), headers=headers)

            try:
                response = send_with_retry(send, self.retry, what=what, host=self.host, describe=_describe)
            except SourceError as exc:
                raise self._clean(exc) from None
            if response.status_code == 401 and attempt == 0:
                log.info("PayPal answered 401 to %s; renewing the access token once", what)
                with self._lock:
                    self._token = None
                continue
            if response.status_code >= 400:
                raise self._clean(self._error(response, what))
            self.bytes_read += len(response.content)
            return _json(response, what)
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, response: httpx.Response, what: str) -> SourceError:
        body = _body(response)
        status = response.status_code
        name = str(body.get("name") or body.get("error") or f"HTTP {status}")
        message = str(body.get("message") or body.get("error_description") or response.reason_phrase)
        debug_id = body.get("debug_id") or response.headers.get("paypal-debug-id")
        issues = "; ".join(
            f"{d.get('field', '')} {d.get('issue', '')} {d.get('description', '')}".strip()
            for d in body.get("details") or []
            if isinstance(d, dict)
        )
        text = f"PayPal rejected {what}: {name} - {message}"
        if issues:
            text += f" ({issues})"
        if debug_id:
            text += f" [debug_id {debug_id}]"
        details = {"status": status, "name": name, "debug_id": debug_id}
        if name == "RESULTSET_TOO_LARGE":
            return ResultSetTooLargeError(text, details=details)
        if _NOT_AVAILABLE in message.lower():
            return DataNotAvailableError(
                text + ". PayPal has not refreshed its data that far yet.", details=details
            )
        if status == 401:
            return SourceAuthError(
                text + ". The access token was refused twice; check the credentials.", details=details
            )
        if status == 403:
            return SourceAuthError(
                text + ". The PayPal REST app lacks the permission for this API (e.g. Transaction Search); "
                "enable it in the developer dashboard - a new token can take up to 9 hours to carry it.",
                details=details,
            )
        return SourceFatalError(text, details=details)

    def _clean(self, exc: SourceError) -> SourceError:
        """Make sure the secret cannot leak through a message echoed by the server."""
        if self.__secret and self.__secret in exc.message:
            exc.message = exc.message.replace(self.__secret, "***")
            exc.args = (exc.message,)
        return exc


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


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


def _describe(response: httpx.Response) -> str:
    body = _body(response)
    parts = [str(body[k]) for k in ("name", "debug_id") if body.get(k)]
    return " ".join(parts)
