"""A small HTTP client of the xdmflow API for the CLI (``ingest`` and the operator commands).

``connect()`` yields a :class:`Client`:

* with ``url`` (``--url`` or ``XDMFLOW_URL``) it talks to that service — local or remote — with
  ``--token`` (``XDMFLOW_TOKEN``) or a token it gets for the default client's credentials
  (``$XDMFLOW_HOME/credentials.json``); the org and client id come from those credentials or
  ``--org`` / ``--api-key`` (``XDMFLOW_ORG_ID`` / ``XDMFLOW_API_KEY``);
* without, it serves the local ``$XDMFLOW_HOME`` itself on a free loopback port for the
  command's duration (``role`` ``all`` when the command must execute runs, else ``api``).

Errors are :class:`ApiError` (an answer outside 2xx) and :class:`Unreachable`; the commands turn
them into the exit codes of :data:`EXIT_CODES`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from xdmflow.errors import XdmflowError
from xdmflow.settings import Settings

__all__ = [
    "ApiError",
    "Unreachable",
    "Client",
    "connect",
    "EXIT_CODES",
    "exit_code_for",
    "FS",
    "SR",
    "CAT",
    "CONV",
    "EXPORT",
    "INFER",
]

FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CAT = "/data/foundation/catalog"
CONV = "/data/foundation/conversion"
EXPORT = "/data/foundation/export"
INFER = "/xdmflow/v1/infer"

#: Exit codes of the CLI commands that talk to the API (README "Operator CLI").
EXIT_CODES = {
    0: "success",
    1: "the operation ran and failed (a run failed, a connection test failed, rows were rejected "
    "beyond the threshold)",
    2: "bad usage (an option or argument is invalid)",
    3: "not found (no such flow, run, dataset or connection)",
    4: "refused by the service (invalid request, conflict, authentication or permission)",
    5: "the service is unreachable or failed (5xx)",
    6: "timed out waiting for a run",
}


class ApiError(XdmflowError):
    """The service answered outside 2xx; ``reason`` is the platform's message from its body."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        self.method, self.path, self.body = method, path, body
        super().__init__(f"{method} {path} answered {status}: {self.reason}", status=status)

    @property
    def reason(self) -> str:
        b = self.body
        if isinstance(b, dict):
            for key in ("detail", "errorMessage", "message", "error_description", "title"):
                if b.get(key):
                    return str(b[key])
            report = b.get("report") or {}
            if isinstance(report, dict) and report.get("detailed-message"):
                return str(report["detailed-message"])
        return str(b)[:500]


class Unreachable(XdmflowError):
    """The service could not be reached."""


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, ApiError):
        if exc.status == 404:
            return 3
        if exc.status >= 500:
            return 5
        return 4
    if isinstance(exc, Unreachable):
        return 5
    return 1


@dataclass
class Client:
    """Platform calls with the gateway's headers."""

    http: httpx.Client
    headers: dict[str, str] = field(default_factory=dict)
    url: str = ""
    embedded: bool = False

    def request(self, method: str, path: str, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        try:
            r = self.http.request(method, path, headers=headers, **kw)
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach {self.url}: {exc}") from exc
        if r.status_code >= 300:
            try:
                body: Any = r.json()
            except ValueError:
                body = r.text
            raise ApiError(method, path, r.status_code, body)
        if not r.content:
            return None
        if "json" in r.headers.get("content-type", ""):
            try:
                return r.json()
            except ValueError:  # JSON Lines
                return r.text
        return r.text

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, json=body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, json=body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    def items(self, path: str) -> list[dict[str, Any]]:
        """Every item of a Flow Service list (follows ``_links.next``)."""
        out: list[dict[str, Any]] = []
        nxt: str | None = path
        while nxt:
            page = self.get(nxt)
            out.extend(page.get("items", []))
            href = ((page.get("_links") or {}).get("next") or {}).get("href")
            nxt = href[href.index(FS) :] if href and FS in href else None
        return out


def _credentials(settings: Settings) -> dict[str, str]:
    path = Path(settings.home_path) / "credentials.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {k: str(v) for k, v in data.items()}


def _token(http: httpx.Client, creds: dict[str, str]) -> str:
    try:
        r = http.post(
            "/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
                "scope": "openid,AdobeID,read_organizations",
            },
        )
    except httpx.TransportError as exc:
        raise Unreachable(f"cannot reach {http.base_url}: {exc}") from exc
    if r.status_code != 200:
        raise ApiError("POST", "/ims/token/v3", r.status_code, r.json() if r.content else None)
    return str(r.json()["access_token"])


@contextmanager
def connect(
    url: str | None = None,
    *,
    token: str | None = None,
    org: str | None = None,
    api_key: str | None = None,
    sandbox: str = "prod",
    role: str = "api",
    settings: Settings | None = None,
    timeout: float = 120.0,
) -> Iterator[Client]:
    """A client of the service at ``url``, or of one served from the local home (module doc)."""
    url = url or os.environ.get("XDMFLOW_URL") or None
    token = token or os.environ.get("XDMFLOW_TOKEN") or None
    org = org or os.environ.get("XDMFLOW_ORG_ID") or None
    api_key = api_key or os.environ.get("XDMFLOW_API_KEY") or None
    service = None
    if url is None:
        from xdmflow.cli.demo import ServiceThread, free_port
        from xdmflow.runtime import build_app

        settings = settings or Settings()
        port = free_port()
        settings.public_url = f"http://127.0.0.1:{port}"
        settings.pg_port = 0  # served for one command: no PostgreSQL port of its own
        service = ServiceThread(build_app(settings, role=role), port).start()
        url = service.url
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=timeout) as http:
            creds = _credentials(settings or Settings())
            if token is None:
                if not creds:
                    raise Unreachable(
                        "no credentials: pass --token (with --org and --api-key) or run where "
                        "$XDMFLOW_HOME/credentials.json exists"
                    )
                token = _token(http, creds)
            headers = {
                "Authorization": f"Bearer {token}",
                "x-api-key": api_key or creds.get("client_id", ""),
                "x-gw-ims-org-id": org or creds.get("org_id", ""),
                "x-sandbox-name": sandbox,
            }
            yield Client(http, headers, url, embedded=service is not None)
    finally:
        if service is not None:
            service.stop()
