"""Shared state of one emulator app: config, clock, data, tokens, chaos and error bodies."""

from __future__ import annotations

import asyncio
import base64
import math
import random
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from xdmflow.emulators.paypal.config import Clock, EmulatorConfig
from xdmflow.emulators.paypal.data import HOUR, generate
from xdmflow.emulators.paypal.store import TransactionStore

__all__ = ["EmulatorState", "rest_error", "parse_rfc3339", "Reject", "invalid", "int_param"]

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


class Reject(Exception):
    """Raised by helpers to answer with ``response`` right away."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__("rejected")
        self.response = response


def parse_rfc3339(value: str) -> int | None:
    """Epoch seconds of an RFC 3339 date-time with seconds, or ``None`` when malformed."""
    if not _RFC3339.match(value):
        return None
    try:
        return math.floor(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def rest_error(
    status: int,
    name: str,
    message: str,
    debug_id: str,
    *,
    details: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """PayPal's REST error body: ``name``, ``message``, ``debug_id``, ``details``, ``links``."""
    body: dict[str, Any] = {"name": name, "message": message, "debug_id": debug_id}
    body.update(extra or {})
    body["details"] = details or []
    body["links"] = [
        {
            "href": f"https://developer.paypal.com/docs/api/overview/#error-{name.lower()}",
            "rel": "information_link",
            "method": "GET",
        }
    ]
    return JSONResponse(body, status_code=status, headers={"Paypal-Debug-Id": debug_id, **(headers or {})})


class EmulatorState:
    """Everything one emulator instance knows; shared by the route handlers."""

    def __init__(self, seed: int, now: Callable[[], datetime] | None, config: EmulatorConfig | None) -> None:
        self.seed = seed
        self.config = config or EmulatorConfig()
        self.clock = Clock(now)
        anchor = int(self.clock.now().timestamp()) // HOUR * HOUR
        c = self.config
        self.data = generate(seed, anchor, c.n_transactions, c.days, c.burst_fraction, c.n_products)
        self.store = TransactionStore(self.data, seed)
        self.tokens: dict[str, tuple[str, float, tuple[str, ...]]] = {}
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._requests = 0
        self._buckets: dict[str, tuple[float, float]] = {}

    # -- time ---------------------------------------------------------------------------------
    def now(self) -> int:
        """Emulated now, epoch seconds; applies status flips that became due."""
        current = int(self.clock.now().timestamp())
        self.store.apply_flips(current)
        return current

    def last_refreshed(self, now: int) -> int:
        """``last_refreshed_datetime``: now - latency (- a jitter drawn per minute)."""
        jitter = 0.0
        if self.config.latency_jitter_seconds > 0:
            jitter = random.Random(f"{self.seed}:{now // 60}").uniform(0, self.config.latency_jitter_seconds)
        return int(now - self.config.latency_seconds - jitter)

    def debug_id(self) -> str:
        return secrets.token_hex(7)[:13]

    # -- tokens -------------------------------------------------------------------------------
    def issue_token(self, client_id: str, scopes: tuple[str, ...]) -> tuple[str, int]:
        token = "A21AA" + secrets.token_urlsafe(48)
        lifetime = self.config.token_lifetime_seconds
        with self._lock:
            self.tokens[token] = (client_id, self.clock.now().timestamp() + lifetime, scopes)
        self.stats["tokens_issued"] += 1
        return token, max(1, math.ceil(lifetime))

    def expire_tokens(self) -> int:
        with self._lock:
            count = len(self.tokens)
            self.tokens = {t: (c, 0.0, s) for t, (c, _, s) in self.tokens.items()}
        return count

    def basic_client(self, request: Request) -> str | None:
        """The client id of valid Basic credentials, else ``None``."""
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        app = self.config.clients.get(client_id)
        if app is None or not secrets.compare_digest(app.client_secret, secret):
            return None
        return client_id

    def authorize(self, request: Request, scope: str) -> str:
        """Check the bearer token and its scope; raises :class:`Reject` with PayPal's bodies."""
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            raise Reject(
                rest_error(
                    401,
                    "AUTHENTICATION_FAILURE",
                    "Authentication failed due to missing authorization header, or invalid "
                    "authentication credentials.",
                    self.debug_id(),
                )
            )
        entry = self.tokens.get(header[7:].strip())
        if entry is None or entry[1] <= self.clock.now().timestamp():
            self.stats["invalid_token"] += 1
            raise Reject(
                JSONResponse(
                    {"error": "invalid_token", "error_description": "Access Token not found in cache"},
                    status_code=401,
                )
            )
        if scope not in entry[2]:
            raise Reject(
                rest_error(
                    403,
                    "NOT_AUTHORIZED",
                    "Authorization failed due to insufficient permissions.",
                    self.debug_id(),
                    details=[
                        {
                            "issue": "PERMISSION_DENIED",
                            "description": "You do not have permission to access or perform "
                            "operations on this resource.",
                        }
                    ],
                )
            )
        return entry[0]

    # -- chaos --------------------------------------------------------------------------------
    async def chaos(self, request: Request) -> None:
        """Injected 429/5xx/slowness (deterministic from the seed and request number)."""
        with self._lock:
            self._requests += 1
            n = self._requests
        self.stats["requests"] += 1
        c = self.config
        rng = random.Random(f"{self.seed}:{n}")
        if c.rate_limit_per_minute and not self._take_token(request, c.rate_limit_per_minute):
            raise Reject(self._too_many())
        if rng.random() < c.error_rate_429:
            raise Reject(self._too_many())
        if rng.random() < c.error_rate_5xx:
            self.stats["injected_5xx"] += 1
            if rng.random() < 0.5:
                raise Reject(
                    rest_error(
                        500, "INTERNAL_SERVER_ERROR", "An internal server error occurred.", self.debug_id()
                    )
                )
            raise Reject(rest_error(503, "SERVICE_UNAVAILABLE", "Service Unavailable.", self.debug_id()))
        if c.slow_seconds > 0 and rng.random() < c.slow_rate:
            await asyncio.sleep(c.slow_seconds)

    def _too_many(self) -> JSONResponse:
        self.stats["injected_429"] += 1
        headers = {}
        if self.config.retry_after_seconds is not None:
            headers["Retry-After"] = f"{self.config.retry_after_seconds:g}"
        return rest_error(
            429,
            "RATE_LIMIT_REACHED",
            "Too many requests. Blocked due to rate limiting.",
            self.debug_id(),
            headers=headers,
        )

    def _take_token(self, request: Request, per_minute: int) -> bool:
        key = request.headers.get("authorization", "")[:40]
        now = self.clock.now().timestamp()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - last) * per_minute / 60.0)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            return True

    def iso(self, epoch: int) -> str:
        """Catalog/subscriptions date format: ``2019-01-10T21:20:49Z``."""
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def invalid(state: EmulatorState, field: str, value: Any, issue: str, message: str | None = None) -> Reject:
    """A 400 INVALID_REQUEST about one query parameter."""
    return Reject(
        rest_error(
            400,
            "INVALID_REQUEST",
            message or "Request is not well-formed, syntactically incorrect, or violates schema.",
            state.debug_id(),
            details=[{"field": field, "value": str(value), "location": "query", "issue": issue}],
        )
    )


def int_param(state: EmulatorState, request: Request, name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter within ``[lo, hi]`` (400 otherwise)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(state, name, raw, "INVALID_PARAMETER_SYNTAX") from None
    if not lo <= value <= hi:
        raise invalid(state, name, raw, "INVALID_PARAMETER_VALUE", f"{name} must be between {lo} and {hi}.")
    return value
