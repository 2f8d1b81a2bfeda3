"""Helpers of the Stripe tests (imported by the test modules)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from xdmflow.connectors.http.retry import RetryPolicy
from xdmflow.emulators.stripe import DEFAULT_SECRET_KEY, DataConfig, EmulatorConfig, EmulatorState

FAST_RETRY = RetryPolicy(
    initial_delay=0.01, multiplier=2.0, max_delay=0.05, max_attempts=30, total_budget=20.0
)
#: a fixed start clock: same seed + same clock -> the same history
T0 = 1_800_000_000


@dataclass
class Emulator:
    """A running emulator: its base URL, in-process state and an admin helper."""

    url: str
    state: EmulatorState
    stop: Callable[[], None] | None = None

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        if body is None:
            response = httpx.get(f"{self.url}/_emulator/{path}")
        else:
            response = httpx.post(f"{self.url}/_emulator/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def objects(self, resource: str) -> list[dict[str, Any]]:
        """Every live object of a resource, as the emulator holds it now."""
        return list(self.admin(f"objects/{resource}")["data"])

    def auth(self, key: str = DEFAULT_SECRET_KEY) -> dict[str, str]:
        return {"host": self.url, "accessToken": key}


def small_config(**changes: object) -> EmulatorConfig:
    """A small frozen-clock history without rate limiting (tests turn knobs on where needed)."""
    base: dict[str, Any] = {
        "data": DataConfig(n_customers=12, n_charges=260, days=45),
        "rate_limit_rps": None,
        "ticking": False,
    }
    base.update(changes)
    return EmulatorConfig(**base)
