"""Emulator configuration, client apps and the movable clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "SCOPE_TRANSACTIONS",
    "SCOPE_BALANCES",
    "ALL_SCOPES",
    "ClientApp",
    "EmulatorConfig",
    "Clock",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
]

SCOPE_TRANSACTIONS = "https://uri.paypal.com/services/reporting/search/read"
SCOPE_BALANCES = "https://uri.paypal.com/services/reporting/balances/read"
SCOPE_CATALOG = "https://uri.paypal.com/services/catalog"
SCOPE_SUBSCRIPTIONS = "https://uri.paypal.com/services/subscriptions"
ALL_SCOPES = (SCOPE_TRANSACTIONS, SCOPE_BALANCES, SCOPE_CATALOG, SCOPE_SUBSCRIPTIONS, "openid")

DEFAULT_CLIENT_ID = "xdmflow-emulator-client"
DEFAULT_CLIENT_SECRET = "xdmflow-emulator-secret"  # a fixture credential of the emulator, not a secret


@dataclass(frozen=True)
class ClientApp:
    """A REST app registered with the emulator: its secret and the scopes its tokens carry."""

    client_secret: str
    scopes: tuple[str, ...] = ALL_SCOPES
    app_id: str = "APP-80W284485P519543T"


def _default_clients() -> dict[str, ClientApp]:
    return {
        DEFAULT_CLIENT_ID: ClientApp(DEFAULT_CLIENT_SECRET),
        # an app whose Transaction Search permission was never enabled -> 403 NOT_AUTHORIZED
        "no-reporting-client": ClientApp(
            "no-reporting-secret",
            scopes=(SCOPE_CATALOG, SCOPE_SUBSCRIPTIONS, "openid"),
            app_id="APP-2EJ83629W4112584X",
        ),
    }


@dataclass(frozen=True)
class EmulatorConfig:
    """Knobs of the emulator. All of them but the data-generation ones can be changed at run
    time with ``POST /_emulator/config``.

    Data generation (fixed when the app is created): ``n_transactions`` payments over ``days``
    days before "now", ``burst_fraction`` of them inside a 3-day flash sale ~40 days ago (so a
    31-day search hits the 10,000-row cap), ``n_products`` catalog products.
    """

    n_transactions: int = 20_000
    days: int = 120
    burst_fraction: float = 0.55
    n_products: int = 60
    account_number: str = "3Y6K4L2Q8PX7A"

    clients: Mapping[str, ClientApp] = field(default_factory=_default_clients)
    token_lifetime_seconds: float = 32_400.0
    """Lifetime of issued access tokens (``expires_in``); set to a few seconds in tests."""

    latency_seconds: float = 3 * 3600.0
    """``last_refreshed_datetime`` = now - latency (- jitter)."""
    latency_jitter_seconds: float = 0.0
    max_window_days: int = 31
    max_result_items: int = 10_000
    history_days: int = 3 * 365

    rate_limit_per_minute: int | None = None
    """Token bucket per client id; exceeding it answers 429 RATE_LIMIT_REACHED."""
    error_rate_429: float = 0.0
    """Share of API requests (token endpoint included) answered with an injected 429."""
    error_rate_5xx: float = 0.0
    """Share of API requests answered with an injected 500 or 503."""
    retry_after_seconds: float | None = None
    """``Retry-After`` sent with 429s (omitted when ``None``)."""
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    """A ``slow_rate`` share of API requests waits ``slow_seconds`` before answering."""

    def updated(self, changes: Mapping[str, Any]) -> EmulatorConfig:
        """A copy with ``changes`` applied; unknown or generation-time keys raise ``KeyError``."""
        runtime = {f.name for f in fields(self)} - {
            "n_transactions",
            "days",
            "burst_fraction",
            "n_products",
            "account_number",
        }
        unknown = set(changes) - runtime
        if unknown:
            raise KeyError(", ".join(sorted(unknown)))
        values = dict(changes)
        if "clients" in values:
            values["clients"] = {
                cid: c if isinstance(c, ClientApp) else ClientApp(c["client_secret"], tuple(c["scopes"]))
                for cid, c in dict(values["clients"]).items()
            }
        return replace(self, **values)

    def public(self) -> dict[str, Any]:
        """The configuration as JSON (client secrets left out)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "clients"}
        out["clients"] = {cid: {"scopes": list(c.scopes)} for cid, c in self.clients.items()}
        return out


class Clock:
    """The emulator's "now": a base clock plus an offset, or a fixed instant (admin API)."""

    def __init__(self, base: Callable[[], datetime] | None = None) -> None:
        self._base = base or (lambda: datetime.now(UTC))
        self._offset = timedelta(0)
        self._fixed: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current emulated time (aware, UTC)."""
        with self._lock:
            current = self._fixed if self._fixed is not None else self._base() + self._offset
        return current.astimezone(UTC)

    def set(self, when: datetime) -> None:
        """Freeze the clock at ``when``."""
        with self._lock:
            self._fixed = when.astimezone(UTC)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative value)."""
        with self._lock:
            if self._fixed is not None:
                self._fixed += timedelta(seconds=seconds)
            else:
                self._offset += timedelta(seconds=seconds)

    def release(self) -> None:
        """Go back to the base clock (without offset)."""
        with self._lock:
            self._fixed = None
            self._offset = timedelta(0)
