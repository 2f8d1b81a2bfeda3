"""Catalog Products (``/v1/catalogs/products``) and billing plans (``/v1/billing/plans``)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from xdmflow.emulators.paypal.config import SCOPE_CATALOG, SCOPE_SUBSCRIPTIONS
from xdmflow.emulators.paypal.data import format_money
from xdmflow.emulators.paypal.state import EmulatorState, Reject, int_param, invalid, rest_error

__all__ = ["catalog_routes", "render_plan", "render_product"]


def _not_found(state: EmulatorState, field: str, value: str) -> Reject:
    return Reject(
        rest_error(
            404,
            "RESOURCE_NOT_FOUND",
            "The specified resource does not exist.",
            state.debug_id(),
            details=[
                {
                    "field": field,
                    "value": value,
                    "location": "path",
                    "issue": "INVALID_RESOURCE_ID",
                    "description": "Specified resource ID does not exist. Please check the resource "
                    "ID and try again.",
                }
            ],
        )
    )


def _paging(state: EmulatorState, request: Request) -> tuple[int, int, bool]:
    page_size = int_param(state, request, "page_size", 10, 1, 20)
    page = int_param(state, request, "page", 1, 1, 100_000)
    raw = request.query_params.get("total_required", "false").lower()
    if raw not in ("true", "false"):
        raise invalid(state, "total_required", raw, "INVALID_PARAMETER_VALUE")
    return page_size, page, raw == "true"


def _collection(
    request: Request, key: str, items: list[dict[str, Any]], page_size: int, page: int, total_required: bool
) -> JSONResponse:
    total_pages = max(1, math.ceil(len(items) / page_size))
    body: dict[str, Any] = {key: items[(page - 1) * page_size : page * page_size]}
    if total_required:
        body["total_items"] = len(items)
        body["total_pages"] = total_pages
    links = [{"href": str(request.url), "rel": "self", "method": "GET"}]
    if page < total_pages:
        links.append(
            {"href": str(request.url.include_query_params(page=page + 1)), "rel": "next", "method": "GET"}
        )
    links.append(
        {"href": str(request.url.include_query_params(page=total_pages)), "rel": "last", "method": "GET"}
    )
    body["links"] = links
    return JSONResponse(body)


def render_product(
    state: EmulatorState, request: Request, p: dict[str, Any], *, full: bool
) -> dict[str, Any]:
    """A product: the list's summary (id, name, description, create_time) or the full detail."""
    href = str(request.url_for("product_detail", product_id=p["id"]))
    out: dict[str, Any] = {"id": p["id"], "name": p["name"], "description": p["description"]}
    if full:
        out.update({"type": p["type"], "category": p["category"]})
        out.update({k: p[k] for k in ("image_url", "home_url") if p[k]})
    out["create_time"] = state.iso(p["create_time"])
    if full:
        out["update_time"] = state.iso(p["update_time"])
    out["links"] = [
        {"href": href, "rel": "self", "method": "GET"},
        {"href": href, "rel": "edit", "method": "PATCH"},
    ]
    return out


def render_plan(state: EmulatorState, request: Request, p: dict[str, Any], *, full: bool) -> dict[str, Any]:
    """A billing plan: a summary in lists, with billing cycles etc. in full."""
    href = str(request.url_for("plan_detail", plan_id=p["id"]))
    out: dict[str, Any] = {
        "id": p["id"],
        "product_id": p["product_id"],
        "name": p["name"],
        "status": p["status"],
        "description": p["description"],
        "usage_type": "LICENSED",
        "create_time": state.iso(p["create_time"]),
    }
    if full:
        cur = p["currency"]
        out["billing_cycles"] = [
            {
                "pricing_scheme": {
                    "version": 1,
                    "fixed_price": {"currency_code": cur, "value": format_money(c["price"], cur)},
                    "create_time": state.iso(p["create_time"]),
                    "update_time": state.iso(p["update_time"]),
                },
                "frequency": {"interval_unit": c["interval_unit"], "interval_count": c["interval_count"]},
                "tenure_type": c["tenure_type"],
                "sequence": n,
                "total_cycles": c["total_cycles"],
            }
            for n, c in enumerate(p["cycles"], start=1)
        ]
        out["payment_preferences"] = {
            "service_type": "PREPAID",
            "auto_bill_outstanding": True,
            "setup_fee": {"currency_code": cur, "value": format_money(p["setup_fee"], cur)},
            "setup_fee_failure_action": "CONTINUE",
            "payment_failure_threshold": 3,
        }
        if p["tax_percentage"] is not None:
            out["taxes"] = {"percentage": p["tax_percentage"], "inclusive": p["tax_inclusive"]}
        out["quantity_supported"] = p["quantity_supported"]
        out["update_time"] = state.iso(p["update_time"])
    out["links"] = [
        {"href": href, "rel": "self", "method": "GET"},
        {"href": href, "rel": "edit", "method": "PATCH"},
    ]
    return out


async def list_products(request: Request, state: EmulatorState) -> Response:
    """``GET /v1/catalogs/products``: summaries only, page_size <= 20."""
    state.authorize(request, SCOPE_CATALOG)
    page_size, page, total = _paging(state, request)
    items = [render_product(state, request, p, full=False) for p in state.data.products]
    return _collection(request, "products", items, page_size, page, total)


async def product_detail(request: Request, state: EmulatorState) -> Response:
    """``GET /v1/catalogs/products/{id}``: the full product."""
    state.authorize(request, SCOPE_CATALOG)
    pid = request.path_params["product_id"]
    for p in state.data.products:
        if p["id"] == pid:
            return JSONResponse(render_product(state, request, p, full=True))
    raise _not_found(state, "product_id", pid)


async def list_plans(request: Request, state: EmulatorState) -> Response:
    """``GET /v1/billing/plans``: summaries (full with ``Prefer: return=representation``)."""
    state.authorize(request, SCOPE_SUBSCRIPTIONS)
    page_size, page, total = _paging(state, request)
    plans = state.data.plans
    if product_id := request.query_params.get("product_id"):
        plans = [p for p in plans if p["product_id"] == product_id]
    if plan_ids := request.query_params.get("plan_ids"):
        wanted = set(plan_ids.split(","))
        plans = [p for p in plans if p["id"] in wanted]
    full = "return=representation" in request.headers.get("prefer", "")
    items = [render_plan(state, request, p, full=full) for p in plans]
    return _collection(request, "plans", items, page_size, page, total)


async def plan_detail(request: Request, state: EmulatorState) -> Response:
    """``GET /v1/billing/plans/{id}``: the full plan."""
    state.authorize(request, SCOPE_SUBSCRIPTIONS)
    plan_id = request.path_params["plan_id"]
    for p in state.data.plans:
        if p["id"] == plan_id:
            return JSONResponse(render_plan(state, request, p, full=True))
    raise _not_found(state, "plan_id", plan_id)


def catalog_routes() -> list[tuple[str, Callable[[Request, EmulatorState], Awaitable[Response]]]]:
    """(path, handler) pairs; the app wraps them with auth-independent chaos handling."""
    return [
        ("/v1/catalogs/products", list_products),
        ("/v1/catalogs/products/{product_id}", product_detail),
        ("/v1/billing/plans", list_plans),
        ("/v1/billing/plans/{plan_id}", plan_detail),
    ]
