"""Helpers of the Square tests (imported by the test modules)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from xdmflow.connectors.http.retry import RetryPolicy
from xdmflow.emulators.square import DEFAULT_ACCESS_TOKEN, SquareState

FAST_RETRY = RetryPolicy(
    initial_delay=0.01, multiplier=2.0, max_delay=0.05, max_attempts=30, total_budget=20.0
)


@dataclass
class SquareEmulator:
    url: str
    state: SquareState
    stop: Callable[[], None]

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        if body is None:
            r = httpx.get(f"{self.url}/_emulator/{path}")
        else:
            r = httpx.post(f"{self.url}/_emulator/{path}", json=body)
        r.raise_for_status()
        return r.json()

    def auth(self, **kw: Any) -> dict[str, Any]:
        return {"host": self.url, "accessToken": DEFAULT_ACCESS_TOKEN, **kw}
