"""Square API client: bearer token (personal or OAuth, refreshed when it expires), pinned
``Square-Version``, 429 ``RATE_LIMITED`` / 5xx backoff, Square error bodies mapped to our errors."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from xdmflow.connectors.http.retry import RetryPolicy, send_with_retry
from xdmflow.connectors.square.spec import SQUARE_VERSION
from xdmflow.errors import SourceAuthError, SourceError, SourceFatalError

__all__ = ["SquareClient", "base_url", "DEFAULT_HOST"]

log = logging.getLogger(__name__)

DEFAULT_HOST = "connect.squareup.com"


def base_url(host: str | None) -> str:
    """``connect.squareup.com`` -> ``https://connect.squareup.com``; full URLs are kept."""
    value = (host or DEFAULT_HOST).strip().rstrip("/")
    if "://" not in value:
        value = f"https://{value}"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SourceFatalError(f"host {host!r} is neither a host name nor an http(s) base URL")
    return value


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    errs = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errs or [] if isinstance(e, dict)]


def _describe(response: httpx.Response) -> str:
    errs = _errors(response)
    return f"{errs[0].get('code')}: {errs[0].get('detail')}" if errs else response.reason_phrase


class SquareClient:
    """A thread-safe Square client. Secrets never appear in messages, logs or ``repr``."""

    def __init__(
        self,
        auth: Mapping[str, Any],
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url(auth.get("host"))
        self.host = urlsplit(self.base_url).netloc
        self.__token = str(auth.get("accessToken") or "")
        self.__refresh = str(auth.get("refreshToken") or "")
        self.client_id = str(auth.get("clientId") or "")
        self.__secret = str(auth.get("clientSecret") or "")
        if not self.__token and not (self.__refresh and self.client_id and self.__secret):
            raise SourceAuthError(
                "Square needs an accessToken, or a refreshToken with the OAuth application's clientId and "
                "clientSecret"
            )
        self.retry = retry or RetryPolicy()
        self.requests = 0
        self.bytes_read = 0
        self.refreshed = 0
        self._lock = threading.Lock()
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "Square-Version": SQUARE_VERSION},
        )

    def __repr__(self) -> str:
        return f"SquareClient(base_url={self.base_url!r})"

    def __enter__(self) -> SquareClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _clean(self, exc: SourceError) -> SourceError:
        """``exc`` with every secret removed from its message."""
        text = str(exc)
        for secret in (self.__token, self.__refresh, self.__secret):
            if secret:
                text = text.replace(secret, "***")
        return type(exc)(text, details=getattr(exc, "details", None))

    # -- token -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Obtain a new access token with the refresh token (``SourceAuthError`` when none is set)."""
        if not (self.__refresh and self.client_id and self.__secret):
            raise SourceAuthError(
                f"Square at {self.host}: the access token has expired and the connection has no refreshToken "
                "with clientId and clientSecret to renew it; update the base connection's accessToken"
            )
        body = {
            "client_id": self.client_id,
            "client_secret": self.__secret,
            "grant_type": "refresh_token",
            "refresh_token": self.__refresh,
        }
        response = send_with_retry(
            lambda: self._http.post("/oauth2/token", json=body),
            self.retry,
            what="POST /oauth2/token",
            host=self.host,
            describe=_describe,
        )
        if response.status_code != 200:
            raise self._clean(
                SourceAuthError(
                    f"Square at {self.host} refused to renew the access token of OAuth application "
                    f"{self.client_id!r} ({_describe(response)}); re-authorize the connection",
                    details={"status": response.status_code},
                )
            )
        token = response.json().get("access_token")
        if not isinstance(token, str) or not token:
            raise SourceFatalError(f"Square's token endpoint at {self.host} answered without an access_token")
        with self._lock:
            self.__token = token
            self.refreshed += 1
        log.info("renewed the Square access token of application %s", self.client_id)

    # -- calls --------------------------------------------------------------------------------
    def call(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> dict[str, Any]:
        """One API call; returns the JSON body or raises ``SourceError`` subclasses."""
        what = f"{method} {path}"
        if not self.__token:
            self.refresh()
        for attempt in range(2):

            def send() -> httpx.Response:
                self.requests += 1
                headers = {"Authorization": f"Bearer {self.__token}"}
                return self._http.request(method, path, params=dict(params or {}), json=json, headers=headers)

            try:
                response = send_with_retry(send, self.retry, what=what, host=self.host, describe=_describe)
            except SourceError as exc:
                raise self._clean(exc) from None
            errs = _errors(response)
            code = str(errs[0].get("code")) if errs else ""
            if response.status_code == 401 and code == "ACCESS_TOKEN_EXPIRED" and attempt == 0:
                self.refresh()
                continue
            if response.status_code >= 400:
                raise self._clean(self._error(response, what, errs))
            self.bytes_read += len(response.content)
            try:
                body = response.json()
            except ValueError:
                raise SourceFatalError(f"Square answered {what} with a body that is not JSON") from None
            return body if isinstance(body, dict) else {}
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, response: httpx.Response, what: str, errs: list[dict[str, Any]]) -> SourceError:
        status = response.status_code
        first = errs[0] if errs else {}
        code, category = first.get("code", f"HTTP {status}"), first.get("category", "")
        detail = first.get("detail") or response.reason_phrase
        where = f" (field {first['field']})" if first.get("field") else ""
        details = {"status": status, "code": code, "category": category}
        if status == 401 or category == "AUTHENTICATION_ERROR":
            return SourceAuthError(
                f"Square at {self.host} rejected the access token for {what}: {code}: {detail}. "
                "Check the base connection's accessToken (or its refresh token).",
                details=details,
            )
        if status == 403:
            return SourceAuthError(
                f"Square at {self.host} refused {what}: {code}: {detail}. The token lacks the permission "
                "this table needs; grant the OAuth scope for it.",
                details=details,
            )
        return SourceFatalError(
            f"Square answered {what} with HTTP {status} {code}: {detail}{where}", details=details
        )
