"""The unauthenticated ``/_emulator`` admin API used by tests and demos.

* ``GET  /_emulator/state`` - now, ``last_refreshed_datetime``, row counts, request stats, config;
* ``POST /_emulator/config`` - change run-time knobs: ``{"latency_seconds": 0, "error_rate_429": 0.3}``;
* ``POST /_emulator/clock`` - ``{"now": "2026-01-01T00:00:00Z"}`` freezes, ``{"advance_seconds": 3600}``
  moves, ``{"release": true}`` returns to the base clock;
* ``POST /_emulator/transactions`` - ``{"transactions": [{...}]}`` adds or changes rows, keyed by
  (``transaction_id``, ``event_code``); times as ISO 8601 or epoch seconds, ``amount``/``fee`` in
  minor units; a change without ``updated`` stamps the emulated now (a late status change);
* ``POST /_emulator/products`` - ``{"products": [{"id": ..., "name": ...}]}`` adds catalog products or
  changes them, keyed by ``id``; ``create_time``/``update_time`` as ISO 8601 or epoch seconds, a
  change or a new product without ``update_time`` is stamped with the emulated now;
* ``POST /_emulator/tokens/expire`` - every issued access token expires now.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from xdmflow.emulators.paypal.state import EmulatorState
from xdmflow.emulators.paypal.store import render_time, render_transaction

__all__ = ["admin_routes"]


def _epoch(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


_PRODUCT_FIELDS = (
    "id",
    "name",
    "description",
    "type",
    "category",
    "image_url",
    "home_url",
    "create_time",
    "update_time",
    "price",
)


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"name": "INVALID_REQUEST", "message": message}, status_code=400)


def admin_routes(state: EmulatorState) -> list[Route]:
    """The admin routes bound to ``state``."""

    async def get_state(request: Request) -> Response:
        now = state.now()
        return JSONResponse(
            {
                "seed": state.seed,
                "now": render_time(now),
                "last_refreshed_datetime": render_time(state.last_refreshed(now)),
                "transactions": len(state.store),
                "products": len(state.data.products),
                "plans": len(state.data.plans),
                "stats": dict(state.stats),
                "config": state.config.public(),
            }
        )

    async def set_config(request: Request) -> Response:
        try:
            state.config = state.config.updated(await request.json())
        except KeyError as exc:
            return _bad(f"unknown or read-only config keys: {exc.args[0]}")
        except (TypeError, ValueError) as exc:
            return _bad(f"bad config: {exc}")
        return JSONResponse(state.config.public())

    async def set_clock(request: Request) -> Response:
        body = await request.json()
        try:
            if body.get("release"):
                state.clock.release()
            if "now" in body:
                state.clock.set(datetime.fromtimestamp(_epoch(body["now"]), UTC))
            if "advance_seconds" in body:
                state.clock.advance(float(body["advance_seconds"]))
        except (TypeError, ValueError) as exc:
            return _bad(f"bad clock change: {exc}")
        now = state.now()
        return JSONResponse(
            {"now": render_time(now), "last_refreshed_datetime": render_time(state.last_refreshed(now))}
        )

    async def upsert_transactions(request: Request) -> Response:
        body = await request.json()
        now = state.now()
        out = []
        try:
            for raw in body.get("transactions", []):
                changes = dict(raw)
                for name in ("initiation", "updated"):
                    if name in changes:
                        changes[name] = _epoch(changes[name])
                txn = state.store.upsert(changes, now)
                out.append(
                    render_transaction(txn, ("transaction_info",), state.data.payers, state.data.products)
                )
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
        return JSONResponse({"transaction_details": out})

    async def upsert_products(request: Request) -> Response:
        body = await request.json()
        now = state.now()
        products = state.data.products
        out = []
        try:
            for raw in body.get("products", []):
                unknown = set(raw) - set(_PRODUCT_FIELDS)
                if unknown:
                    raise ValueError(f"unknown product fields: {', '.join(sorted(unknown))}")
                pid = str(raw.get("id") or f"PROD-XDM{len(products):013d}")
                current = next((p for p in products if p["id"] == pid), None)
                if current is None:
                    name = str(raw.get("name") or pid)
                    current = {
                        "id": pid,
                        "name": name,
                        "description": f"{name}, added through the emulator's admin API",
                        "type": "PHYSICAL",
                        "category": "SOFTWARE",
                        "image_url": None,
                        "home_url": None,
                        "create_time": now,
                        "update_time": now,
                        "price": 999,
                    }
                    products.append(current)
                for name in _PRODUCT_FIELDS:
                    if name in raw and name != "id":
                        value = raw[name]
                        current[name] = _epoch(value) if name.endswith("_time") else value
                if "update_time" not in raw:
                    current["update_time"] = max(now, current["create_time"])
                out.append({k: current[k] for k in _PRODUCT_FIELDS})
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
        products.sort(key=lambda p: (p["create_time"], p["id"]))
        return JSONResponse({"products": out})

    async def expire_tokens(request: Request) -> Response:
        return JSONResponse({"expired": state.expire_tokens()})

    return [
        Route("/_emulator/state", get_state, methods=["GET"]),
        Route("/_emulator/config", set_config, methods=["POST"]),
        Route("/_emulator/clock", set_clock, methods=["POST"]),
        Route("/_emulator/transactions", upsert_transactions, methods=["POST"]),
        Route("/_emulator/products", upsert_products, methods=["POST"]),
        Route("/_emulator/tokens/expire", expire_tokens, methods=["POST"]),
    ]
