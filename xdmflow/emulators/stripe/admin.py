"""The Stripe emulator's admin API (unauthenticated, under ``/_emulator``; tests only).

* ``GET  /_emulator/state`` - clock, keys, object counts, request stats;
* ``GET  /_emulator/objects/{resource}`` - every live object (oldest first) and the deleted ids;
* ``POST /_emulator/clock`` - ``{"advance": s}``, ``{"set": epoch}``, ``{"ticking": bool}``;
* ``POST /_emulator/config`` - ``{"rate_limit_rps": r|null, "visibility_lag": s}``;
* ``POST /_emulator/oauth/tokens`` - ``{"expires_in": s}`` (optional): a new OAuth access token,
  valid ``s`` seconds on the emulator's clock (default ``oauth_token_ttl``);
* ``POST /_emulator/faults`` - ``{"kind": "rate_limit"|"lock_timeout"|"api_error", "count": n,
  "path": "/v1/charges"}``: the next ``n`` matching requests fail that way;
* ``POST /_emulator/simulate`` - ``{"days": n, "charges_per_day": k}``: seeded daily changes;
* ``POST /_emulator/seed`` - ``{"charges": n, "days": d}``: ``n`` bulk charges (no events)
  created in the ``d`` days before the clock, generated vectorised, deterministic by seed;
* ``POST /_emulator/{op}`` - business operations (body = keyword arguments): ``customers``,
  ``charges``, ``refunds``, ``disputes``, ``close_dispute``, ``invoices``, ``finalize_invoice``,
  ``pay_invoice``, ``subscriptions``, ``invoice_cycle``, ``cancel_subscription``,
  ``delete_customer``, ``payouts``, ``pay_out``, ``products``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from xdmflow.emulators.stripe.store import RESOURCES

if TYPE_CHECKING:
    from xdmflow.emulators.stripe.app import EmulatorState

__all__ = ["admin_routes"]


def _ops(state: EmulatorState) -> dict[str, Callable[..., Any]]:
    p = state.payments

    def invoices(customer: str, lines: list[dict[str, Any]], subscription: str | None = None) -> Any:
        return p.invoice(
            customer, subscription, [(x.get("description", ""), int(x["amount"]), x["price"]) for x in lines]
        )

    return {
        "customers": p.customer,
        "charges": p.charge,
        "refunds": p.refund,
        "disputes": p.dispute,
        "close_dispute": p.close_dispute,
        "invoices": invoices,
        "finalize_invoice": p.finalize_invoice,
        "pay_invoice": p.pay_invoice,
        "subscriptions": p.subscribe,
        "invoice_cycle": p.invoice_cycle,
        "cancel_subscription": p.cancel_subscription,
        "delete_customer": p.delete_customer,
        "payouts": p.payout,
        "pay_out": p.pay_out,
        "products": p.product,
        "simulate": p.simulate,
        "seed": p.seed_charges,
    }


def admin_routes(state: EmulatorState) -> list[Route]:
    ops = _ops(state)
    store = state.store

    async def status(request: Request) -> Response:
        state.payments.settle()
        return JSONResponse(
            {
                "now": store.now(),
                "seed": state.seed,
                "secret_key": state.config.secret_key,
                "restricted_keys": {k: sorted(v) for k, v in state.config.restricted_keys.items()},
                "counts": {r: store.resources[r].count() for r in RESOURCES},
                "stats": dict(state.stats),
            }
        )

    async def objects(request: Request) -> Response:
        resource = request.path_params["resource"]
        if resource not in RESOURCES:
            return JSONResponse({"error": f"unknown resource {resource}"}, status_code=404)
        with store.lock:
            state.payments.settle()
            return JSONResponse(
                {"data": store.all(resource), "deleted": sorted(store.resources[resource].deleted)}
            )

    async def clock(request: Request) -> Response:
        body = await request.json()
        with store.lock:
            if "ticking" in body:
                store.set_ticking(bool(body["ticking"]))
            if "set" in body:
                store.now_value = int(body["set"])
            if "advance" in body:
                store.advance(int(body["advance"]))
        return JSONResponse({"now": store.now()})

    async def config(request: Request) -> Response:
        body = await request.json()
        if "rate_limit_rps" in body:
            state.config.rate_limit_rps = body["rate_limit_rps"]
        if "visibility_lag" in body:
            state.config.visibility_lag = int(body["visibility_lag"])
        return JSONResponse(
            {"rate_limit_rps": state.config.rate_limit_rps, "visibility_lag": state.config.visibility_lag}
        )

    async def faults(request: Request) -> Response:
        body = await request.json()
        if body.get("kind") not in ("rate_limit", "lock_timeout", "api_error"):
            return JSONResponse(
                {"error": "kind must be rate_limit, lock_timeout or api_error"}, status_code=400
            )
        state.faults.append(
            {"kind": body["kind"], "count": int(body.get("count", 1)), "path": body.get("path")}
        )
        return JSONResponse({"faults": state.faults})

    async def oauth_token(request: Request) -> Response:
        body = await request.json() if (await request.body()) else {}
        expires_in = body.get("expires_in")
        if expires_in is not None and (not isinstance(expires_in, int) or expires_in < 0):
            return JSONResponse({"error": "expires_in must be a non-negative integer"}, status_code=400)
        return JSONResponse(state.issue_token(expires_in))

    async def operation(request: Request) -> Response:
        op = ops.get(request.path_params["op"])
        if op is None:
            return JSONResponse({"error": f"unknown operation; use one of {', '.join(ops)}"}, status_code=404)
        body = await request.json() if (await request.body()) else {}
        with store.lock:
            try:
                created = body.pop("created", None)
                if created is not None:
                    store.now_value, saved = int(created), store.now_value
                try:
                    result = op(**body)
                finally:
                    if created is not None:
                        store.now_value = saved
            except KeyError as exc:
                return JSONResponse({"error": f"not found or not in the right state: {exc}"}, status_code=404)
            except (TypeError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(result)

    return [
        Route("/_emulator/state", status, methods=["GET"]),
        Route("/_emulator/objects/{resource}", objects, methods=["GET"]),
        Route("/_emulator/clock", clock, methods=["POST"]),
        Route("/_emulator/config", config, methods=["POST"]),
        Route("/_emulator/faults", faults, methods=["POST"]),
        Route("/_emulator/oauth/tokens", oauth_token, methods=["POST"]),
        Route("/_emulator/{op}", operation, methods=["POST"]),
    ]
