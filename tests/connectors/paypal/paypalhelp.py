"""Helpers of the PayPal tests (imported by the test modules)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pyarrow as pa

from xdmflow.connectors.base import ReadRequest, ReadResult
from xdmflow.connectors.http.retry import RetryPolicy
from xdmflow.connectors.paypal import PayPalConnector
from xdmflow.emulators.paypal import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from xdmflow.emulators.paypal.state import EmulatorState

FAST_RETRY = RetryPolicy(
    initial_delay=0.01, multiplier=2.0, max_delay=0.05, max_attempts=30, total_budget=20.0
)


@dataclass
class Emulator:
    """A running emulator: its base URL, in-process state and an admin helper."""

    url: str
    state: EmulatorState
    #: shuts the emulator down (set by the ``make_emulator`` fixture)
    stop: Callable[[], None] | None = None

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        if body is None:
            response = httpx.get(f"{self.url}/_emulator/{path}")
        else:
            response = httpx.post(f"{self.url}/_emulator/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def auth(self, client_id: str = DEFAULT_CLIENT_ID, secret: str = DEFAULT_CLIENT_SECRET) -> dict[str, str]:
        return {"host": self.url, "clientId": client_id, "clientSecret": secret}

    def token(self) -> str:
        r = httpx.post(
            f"{self.url}/v1/oauth2/token",
            auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
            data={"grant_type": "client_credentials"},
        )
        r.raise_for_status()
        return str(r.json()["access_token"])


def read_all(
    connector: PayPalConnector, auth: dict[str, Any], table: str, **kw: Any
) -> tuple[pa.Table, ReadResult]:
    """Read a whole table into one Arrow table."""
    params = {"tableName": table, **kw.pop("params", {})}
    result = ReadResult()
    request = ReadRequest(object=table, source_params=params, **kw)
    batches = list(connector.read(auth, request, result))
    for b in batches:
        assert isinstance(b, pa.RecordBatch)
    schema = connector.table(table).schema
    return pa.Table.from_batches(batches, schema=batches[0].schema if batches else schema), result


def keys(table: pa.Table) -> list[tuple[str, str]]:
    return list(
        zip(table["Transaction_Id"].to_pylist(), table["Transaction_Event_Code"].to_pylist(), strict=True)
    )


def expected_keys(state: EmulatorState, start: int, end: int) -> set[tuple[str, str]]:
    """What the emulator holds with ``start <= initiation < end`` (all records, any status)."""
    return {t.key for t in state.store.search(start, end - 1, balance_only=False, filters={})}
