"""The PayPal emulator ASGI app: OAuth2 token, Transaction Search, balances, catalog, plans.

Build it with :func:`create_app`; serve it with :func:`run` (``xdmflow emulate paypal``).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import datetime

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from xdmflow.emulators.paypal.admin import admin_routes
from xdmflow.emulators.paypal.catalog import catalog_routes
from xdmflow.emulators.paypal.config import SCOPE_BALANCES, SCOPE_TRANSACTIONS, EmulatorConfig
from xdmflow.emulators.paypal.data import DAY, format_money
from xdmflow.emulators.paypal.state import (
    EmulatorState,
    Reject,
    int_param,
    invalid,
    parse_rfc3339,
    rest_error,
)
from xdmflow.emulators.paypal.store import SECTIONS, render_time, render_transaction

__all__ = ["create_app", "run"]

Handler = Callable[[Request, EmulatorState], Awaitable[Response]]


def guarded(state: EmulatorState, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: injected failures first, then :class:`Reject` becomes its response."""

    async def endpoint(request: Request) -> Response:
        try:
            await state.chaos(request)
            return await handler(request, state)
        except Reject as exc:
            return exc.response

    return endpoint


async def token(request: Request, state: EmulatorState) -> Response:
    """``POST /v1/oauth2/token``: client credentials with HTTP Basic auth."""
    client_id = state.basic_client(request)
    if client_id is None:
        state.stats["invalid_client"] += 1
        return JSONResponse(
            {"error": "invalid_client", "error_description": "Client Authentication failed"}, status_code=401
        )
    form = await request.form()
    if form.get("grant_type") != "client_credentials":
        return JSONResponse(
            {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL or not supported"},
            status_code=400,
        )
    app = state.config.clients[client_id]
    access_token, expires_in = state.issue_token(client_id, app.scopes)
    return JSONResponse(
        {
            "scope": " ".join(app.scopes),
            "access_token": access_token,
            "token_type": "Bearer",
            "app_id": app.app_id,
            "expires_in": expires_in,
            "nonce": f"{render_time(state.now())}-emulator",
        }
    )


def _window(state: EmulatorState, request: Request, now: int, refreshed: int) -> tuple[int, int]:
    q = request.query_params
    bounds = []
    for name in ("start_date", "end_date"):
        raw = q.get(name)
        if raw is None:
            raise invalid(state, name, "", "MISSING_REQUIRED_PARAMETER", f"{name} is required.")
        value = parse_rfc3339(raw)
        if value is None:
            raise invalid(state, name, raw, "INVALID_DATE_TIME_FORMAT")
        bounds.append(value)
    start, end = bounds
    if end < start:
        raise invalid(state, "end_date", q["end_date"], "End date should be greater than start date")
    if end - start > state.config.max_window_days * DAY:
        raise invalid(
            state,
            "end_date",
            q["end_date"],
            "Date range is greater than 31 days",
            "Invalid request - see details.",
        )
    if start < now - state.config.history_days * DAY:
        raise invalid(state, "start_date", q["start_date"], "Start date is more than 3 years in the past")
    if start > refreshed:
        raise Reject(
            rest_error(
                400, "INVALID_REQUEST", "Data for the given start date is not available.", state.debug_id()
            )
        )
    return start, end


def _sections(state: EmulatorState, raw: str) -> tuple[str, ...]:
    if raw.strip() == "all":
        return SECTIONS
    wanted = tuple(s.strip() for s in raw.split(",") if s.strip())
    for s in wanted:
        if s not in SECTIONS:
            raise invalid(state, "fields", raw, "INVALID_PARAMETER_VALUE")
    return wanted


async def transactions(request: Request, state: EmulatorState) -> Response:
    """``GET /v1/reporting/transactions``: Transaction Search with PayPal's rules and caps."""
    state.authorize(request, SCOPE_TRANSACTIONS)
    now = state.now()
    refreshed = state.last_refreshed(now)
    start, end = _window(state, request, now, refreshed)
    q = request.query_params
    page_size = int_param(state, request, "page_size", 100, 1, 500)
    page = int_param(state, request, "page", 1, 1, 2_147_483_647)
    sections = _sections(state, q.get("fields", "transaction_info"))
    balance_only = q.get("balance_affecting_records_only", "Y").upper()
    if balance_only not in ("Y", "N"):
        raise invalid(state, "balance_affecting_records_only", balance_only, "INVALID_PARAMETER_VALUE")
    filters = {
        k: q[k]
        for k in ("transaction_id", "transaction_type", "transaction_status", "transaction_currency")
        if q.get(k)
    }
    served_end = min(end, refreshed)
    rows = state.store.search(start, served_end, balance_only=balance_only == "Y", filters=filters)
    if len(rows) > state.config.max_result_items:
        state.stats["resultset_too_large"] += 1
        raise Reject(
            rest_error(
                400,
                "RESULTSET_TOO_LARGE",
                "Result set size is greater than the maximum limit. Change the filter criteria and "
                "try again.",
                state.debug_id(),
                extra={"maximum_items": state.config.max_result_items},
            )
        )
    total_pages = math.ceil(len(rows) / page_size)
    chunk = rows[(page - 1) * page_size : page * page_size]
    data = state.data
    links = [{"href": str(request.url), "rel": "self", "method": "GET"}]
    if page < total_pages:
        links.append(
            {"href": str(request.url.include_query_params(page=page + 1)), "rel": "next", "method": "GET"}
        )
    if total_pages:
        links.append(
            {"href": str(request.url.include_query_params(page=total_pages)), "rel": "last", "method": "GET"}
        )
    state.stats["transaction_pages"] += 1
    return JSONResponse(
        {
            "transaction_details": [
                render_transaction(t, sections, data.payers, data.products) for t in chunk
            ],
            "account_number": state.config.account_number,
            "start_date": render_time(start),
            "end_date": render_time(served_end),
            "last_refreshed_datetime": render_time(refreshed),
            "page": page,
            "total_items": len(rows),
            "total_pages": total_pages,
            "links": links,
        }
    )


async def balances(request: Request, state: EmulatorState) -> Response:
    """``GET /v1/reporting/balances``: one row per currency as of ``as_of_time``."""
    state.authorize(request, SCOPE_BALANCES)
    now = state.now()
    refreshed = state.last_refreshed(now)
    as_of = refreshed
    if raw := request.query_params.get("as_of_time"):
        parsed = parse_rfc3339(raw)
        if parsed is None:
            raise invalid(state, "as_of_time", raw, "INVALID_DATE_TIME_FORMAT")
        as_of = min(parsed, refreshed)
    wanted = request.query_params.get("currency_code")
    rows = []
    for currency, (total, withheld) in sorted(state.store.balances(as_of).items()):
        if wanted and currency != wanted:
            continue
        rows.append(
            {
                "currency": currency,
                "primary": currency == "USD",
                "total_balance": {"currency_code": currency, "value": format_money(total, currency)},
                "available_balance": {
                    "currency_code": currency,
                    "value": format_money(total - withheld, currency),
                },
                "withheld_balance": {"currency_code": currency, "value": format_money(withheld, currency)},
            }
        )
    return JSONResponse(
        {
            "balances": rows,
            "account_id": state.config.account_number,
            "as_of_time": render_time(as_of),
            "last_refresh_time": render_time(refreshed),
        }
    )


def create_app(
    seed: int = 0,
    *,
    now: Callable[[], datetime] | None = None,
    config: EmulatorConfig | None = None,
) -> Starlette:
    """The emulator app with the deterministic data of ``seed``.

    Args:
        seed: drives every generated value (products, plans, transactions, injected failures).
        now: the base clock (default: the real UTC clock); the admin API can move it.
        config: knobs (data size, token lifetime, latency, error injection...).

    The state is reachable as ``app.state.emulator`` (an :class:`EmulatorState`).
    """
    state = EmulatorState(seed, now, config)
    routes = [
        Route("/v1/oauth2/token", guarded(state, token), methods=["POST"]),
        Route("/v1/reporting/transactions", guarded(state, transactions), methods=["GET"]),
        Route("/v1/reporting/balances", guarded(state, balances), methods=["GET"]),
        *[Route(path, guarded(state, h), methods=["GET"], name=h.__name__) for path, h in catalog_routes()],
        *admin_routes(state),
    ]
    app = Starlette(routes=routes)
    app.state.emulator = state
    return app


def run(
    host: str = "127.0.0.1",
    port: int = 8780,
    seed: int = 0,
    *,
    config: EmulatorConfig | None = None,
    log_level: str = "info",
) -> None:
    """Serve the emulator with uvicorn until interrupted (``xdmflow emulate paypal``)."""

    uvicorn.run(create_app(seed, config=config), host=host, port=port, log_level=log_level)
