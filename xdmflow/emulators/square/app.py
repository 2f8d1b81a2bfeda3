"""The Square API emulator's HTTP surface (the parts a read-only source uses) and its admin API.

Behaves as Square's v2 API does for a reader: ``Authorization: Bearer`` (a personal access token
or an OAuth token from ``POST /oauth2/token``, which expires), ``Square-Version`` dates, the
``{"errors": [{"category", "code", "detail", "field"}]}`` body, opaque ``cursor`` paging
(absent on the last page; a cursor only continues the query it came from), lists that default to
the main location, ``begin_time`` windows on ``created_at`` (default: one year back),
``updated_at`` filters, orders search whose sort field must equal its filtered time field, and
429 ``RATE_LIMITED``. ``/_emulator/*`` lets tests add and change data and move the clock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from xdmflow.emulators.square.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    Obj,
    SquareConfig,
    SquareState,
    format_time,
    parse_time,
)

__all__ = ["create_app"]

_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
YEAR = 365 * 86_400


class SquareError(Exception):
    def __init__(self, status: int, category: str, code: str, detail: str, fld: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.category, self.code, self.detail, self.field = status, category, code, detail, fld

    def response(self) -> JSONResponse:
        err: dict[str, Any] = {"category": self.category, "code": self.code, "detail": self.detail}
        if self.field:
            err["field"] = self.field
        return JSONResponse({"errors": [err]}, status_code=self.status)


def bad(code: str, detail: str, fld: str | None = None) -> SquareError:
    return SquareError(400, "INVALID_REQUEST_ERROR", code, detail, fld)


def _time(value: Any, fld: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return parse_time(str(value))
    except ValueError:
        raise bad("INVALID_TIME", f"Invalid RFC 3339 time: {value!r}.", fld) from None


def _limit(value: Any, default: int, maximum: int, fld: str = "limit") -> int:
    if value in (None, ""):
        return default
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise bad("INVALID_VALUE", f"Expected an integer value for `{fld}`.", fld) from None
    if n < 1:
        raise bad("INVALID_VALUE", f"`{fld}` must be at least 1.", fld)
    return min(n, maximum)


def _sort_order(value: Any, fld: str = "sort_order") -> str:
    order = str(value or "DESC").upper()
    if order not in ("ASC", "DESC"):
        raise bad("INVALID_ENUM_VALUE", f"Invalid sort order {value!r}; expected ASC or DESC.", fld)
    return order


def _fingerprint(query: dict[str, Any]) -> str:
    raw = json.dumps({k: v for k, v in sorted(query.items()) if k not in ("cursor", "limit")}, sort_keys=True)
    return hashlib.sha1(raw.encode()).hexdigest()[:16]  # noqa: S324 - a cursor check, not security


def _page(
    items: list[dict[str, Any]], query: dict[str, Any], limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``items`` at the query's cursor, and the next cursor (``None`` on the last page)."""
    start = 0
    cursor = query.get("cursor")
    if cursor:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(str(cursor).encode()))
            start, fp = int(decoded["o"]), str(decoded["q"])
        except (ValueError, KeyError, TypeError):
            raise bad("INVALID_CURSOR", "The pagination cursor is not valid.", "cursor") from None
        if fp != _fingerprint(query):
            raise bad(
                "INVALID_CURSOR",
                "The cursor does not belong to this query: resend the original query with the cursor.",
                "cursor",
            )
    page = items[start : start + limit]
    if start + limit >= len(items):
        return page, None
    token = json.dumps({"o": start + limit, "q": _fingerprint(query)}).encode()
    return page, base64.urlsafe_b64encode(token).decode()


def _sorted(objs: list[Obj], field: str, order: str) -> list[dict[str, Any]]:
    key: Callable[[Obj], tuple[float, str]] = lambda o: (  # noqa: E731
        o.updated if field == "UPDATED_AT" else o.created,
        str(o.body.get("id")),
    )
    return [o.body for o in sorted(objs, key=key, reverse=order == "DESC")]


def _created_window(state: SquareState, q: dict[str, Any]) -> tuple[float, float]:
    begin = _time(q.get("begin_time"), "begin_time")
    end = _time(q.get("end_time"), "end_time")
    now = state.now()
    return (now - YEAR if begin is None else begin), (now if end is None else end)


def create_app(seed: int = 0, config: SquareConfig | None = None) -> FastAPI:
    """The emulator app; its state is ``app.state.emulator``."""
    state = SquareState(seed=seed, config=config or SquareConfig())
    app = FastAPI(title="Square API emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.emulator = state

    @app.exception_handler(SquareError)
    async def _square_error(_: Request, exc: SquareError) -> JSONResponse:
        return exc.response()

    def guard(request: Request) -> None:
        """Rate limit, version and bearer-token checks of every API call."""
        with state.lock:
            state.requests += 1
            limited = state.forced_rate_limits > 0 or (
                state.config.rate_limit_every and state.requests % state.config.rate_limit_every == 0
            )
            if state.forced_rate_limits > 0:
                state.forced_rate_limits -= 1
        if limited:
            raise SquareError(429, "RATE_LIMIT_ERROR", "RATE_LIMITED", "Rate limit reached; retry later.")
        version = request.headers.get("square-version")
        if version is not None and not _VERSION.match(version):
            raise bad(
                "INVALID_SQUARE_VERSION_FORMAT", f"Invalid Square-Version {version!r}; expected YYYY-MM-DD."
            )
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            raise SquareError(
                401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized."
            )
        status = state.token_state(auth[7:].strip())
        if status == "expired":
            raise SquareError(
                401, "AUTHENTICATION_ERROR", "ACCESS_TOKEN_EXPIRED", "The access token has expired."
            )
        if status != "valid":
            raise SquareError(
                401,
                "AUTHENTICATION_ERROR",
                "UNAUTHORIZED",
                "The `Authorization` http header of your request was "
                "incorrect or has expired. The value provided was not a valid access token.",
            )

    def location_ids(q: dict[str, Any]) -> list[str]:
        lid = q.get("location_id")
        if lid is None:
            return [state.main_location()]
        if lid not in state.locations:
            raise SquareError(
                404, "INVALID_REQUEST_ERROR", "NOT_FOUND", f"Location `{lid}` not found.", "location_id"
            )
        return [str(lid)]

    def list_money(
        q: dict[str, Any], objs: list[Obj], extra: Callable[[Obj], bool] | None = None
    ) -> dict[str, Any]:
        """GET /v2/payments and /v2/refunds: location, created window, updated window, sort, page."""
        begin, end = _created_window(state, q)
        ub = _time(q.get("updated_at_begin_time"), "updated_at_begin_time")
        ue = _time(q.get("updated_at_end_time"), "updated_at_end_time")
        field = str(q.get("sort_field") or "CREATED_AT").upper()
        if field not in ("CREATED_AT", "UPDATED_AT", "OFFLINE_CREATED_AT"):
            raise bad("INVALID_ENUM_VALUE", f"Invalid sort_field {q.get('sort_field')!r}.", "sort_field")
        order = _sort_order(q.get("sort_order"))
        locs = set(location_ids(q))
        keep = [
            o
            for o in objs
            if o.body.get("location_id") in locs
            and begin <= o.created <= end
            and (ub is None or o.updated >= ub)
            and (ue is None or o.updated <= ue)
            and (extra is None or extra(o))
        ]
        return {"items": _sorted(keep, field, order), "limit": _limit(q.get("limit"), 100, 100)}

    # -- OAuth ---------------------------------------------------------------------------------

    @app.post("/oauth2/token")
    async def obtain_token(request: Request) -> JSONResponse:
        body = await request.json()
        if body.get("client_id") != DEFAULT_CLIENT_ID or (
            body.get("client_secret") not in (None, DEFAULT_CLIENT_SECRET)
        ):
            raise SquareError(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "Not Authorized")
        if body.get("grant_type") != "refresh_token":
            raise bad("INVALID_VALUE", "grant_type must be refresh_token on this emulator.", "grant_type")
        if body.get("refresh_token") not in state.refresh_tokens:
            raise SquareError(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "Invalid refresh token.")
        token, expires, _ = state.issue_token()
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_at": format_time(expires),
                "merchant_id": "MLEMULATOR0001",
                "refresh_token": body["refresh_token"],
            }
        )

    # -- reads ---------------------------------------------------------------------------------

    @app.get("/v2/locations")
    async def list_locations(request: Request) -> dict[str, Any]:
        guard(request)
        return {"locations": [o.body for o in state.locations.values()]}

    @app.get("/v2/payments")
    async def list_payments(request: Request) -> dict[str, Any]:
        guard(request)
        q = dict(request.query_params)
        with state.lock:
            sel = list_money(q, state.visible(state.payments))
        page, cursor = _page(sel["items"], q, sel["limit"])
        return {"payments": page, **({"cursor": cursor} if cursor else {})} if page else {}

    @app.get("/v2/refunds")
    async def list_refunds(request: Request) -> dict[str, Any]:
        guard(request)
        q = dict(request.query_params)
        status = q.get("status")
        with state.lock:
            sel = list_money(
                q,
                state.visible(state.refunds),
                (lambda o: o.body.get("status") == status) if status else None,
            )
        page, cursor = _page(sel["items"], q, sel["limit"])
        return {"refunds": page, **({"cursor": cursor} if cursor else {})} if page else {}

    @app.post("/v2/orders/search")
    async def search_orders(request: Request) -> dict[str, Any]:
        guard(request)
        body = await request.json()
        ids = body.get("location_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 10:
            raise bad("INVALID_VALUE", "location_ids must name between 1 and 10 locations.", "location_ids")
        for lid in ids:
            if lid not in state.locations:
                raise SquareError(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", f"Location `{lid}` not found.")
        query = body.get("query") or {}
        flt = query.get("filter") or {}
        sort = query.get("sort") or {}
        sort_field = str(sort.get("sort_field") or "CREATED_AT").upper()
        order = _sort_order(sort.get("sort_order"), "query.sort.sort_order")
        dtf = flt.get("date_time_filter") or {}
        if len(dtf) > 1:
            raise bad(
                "INVALID_VALUE",
                "Only one date_time_filter field may be set.",
                "query.filter.date_time_filter",
            )
        for name in dtf:
            if name.upper() != sort_field:
                raise bad(
                    "INVALID_VALUE",
                    f"The sort_field must match the timestamp field filtered in date_time_filter ({name}).",
                    "query.sort.sort_field",
                )
        states = (flt.get("state_filter") or {}).get("states")
        limit = _limit(body.get("limit"), 500, 1000)
        time_of = {"created_at": "created", "updated_at": "updated", "closed_at": "closed"}

        def when(o: Obj, name: str) -> float | None:
            if name == "closed_at":
                closed = o.body.get("closed_at")
                return parse_time(closed) if closed else None
            return float(getattr(o, time_of[name]))

        with state.lock:
            keep: list[Obj] = []
            for o in state.visible(state.orders):
                if o.body.get("location_id") not in ids or (states and o.body.get("state") not in states):
                    continue
                ok = True
                for name, rng in dtf.items():
                    t = when(o, name)
                    start = _time(
                        (rng or {}).get("start_at"), f"query.filter.date_time_filter.{name}.start_at"
                    )
                    end = _time((rng or {}).get("end_at"), f"query.filter.date_time_filter.{name}.end_at")
                    ok = t is not None and (start is None or t >= start) and (end is None or t <= end)
                if ok:
                    keep.append(o)
            if sort_field == "CLOSED_AT":
                items = [
                    o.body
                    for o in sorted(
                        keep, key=lambda o: (when(o, "closed_at") or 0, o.body["id"]), reverse=order == "DESC"
                    )
                ]
            else:
                items = _sorted(keep, sort_field, order)
        q = {
            "location_ids": ids,
            "query": query,
            "cursor": body.get("cursor"),
            "return_entries": body.get("return_entries"),
        }
        page, cursor = _page(items, q, limit)
        if body.get("return_entries"):
            entries = [
                {"order_id": o["id"], "version": o["version"], "location_id": o["location_id"]} for o in page
            ]
            return {"order_entries": entries, **({"cursor": cursor} if cursor else {})}
        return {"orders": page, **({"cursor": cursor} if cursor else {})} if page else {}

    @app.get("/v2/customers")
    async def list_customers(request: Request) -> dict[str, Any]:
        guard(request)
        q = dict(request.query_params)
        field = str(q.get("sort_field") or "DEFAULT").upper()
        order = _sort_order(q.get("sort_order") or "ASC")
        with state.lock:
            objs = state.visible(state.customers)
            if field == "CREATED_AT":
                items = _sorted(objs, "CREATED_AT", order)
            else:
                items = [
                    o.body
                    for o in sorted(
                        objs,
                        key=lambda o: (
                            str(o.body.get("given_name")),
                            str(o.body.get("family_name")),
                            o.body["id"],
                        ),
                        reverse=order == "DESC",
                    )
                ]
        page, cursor = _page(items, q, _limit(q.get("limit"), 100, 100))
        return {"customers": page, **({"cursor": cursor} if cursor else {})} if page else {}

    @app.post("/v2/customers/search")
    async def search_customers(request: Request) -> dict[str, Any]:
        guard(request)
        body = await request.json()
        query = body.get("query") or {}
        upd = (query.get("filter") or {}).get("updated_at") or {}
        start = _time(upd.get("start_at"), "query.filter.updated_at.start_at")
        end = _time(upd.get("end_at"), "query.filter.updated_at.end_at")
        sort = query.get("sort") or {}
        order = _sort_order(sort.get("order") or "ASC", "query.sort.order")
        with state.lock:
            keep = [
                o
                for o in state.visible(state.customers)
                if (start is None or o.updated >= start) and (end is None or o.updated <= end)
            ]
            items = _sorted(keep, "CREATED_AT", order)
        q = {"query": query, "cursor": body.get("cursor")}
        page, cursor = _page(items, q, _limit(body.get("limit"), 100, 100))
        return {"customers": page, **({"cursor": cursor} if cursor else {})} if page else {}

    @app.post("/v2/catalog/search")
    async def search_catalog(request: Request) -> dict[str, Any]:
        guard(request)
        body = await request.json()
        types = body.get("object_types")
        begin = _time(body.get("begin_time"), "begin_time")
        deleted = bool(body.get("include_deleted_objects"))
        with state.lock:
            keep = [
                o
                for o in state.visible(state.catalog)
                if (not types or o.body.get("type") in types)
                and (deleted or not o.body.get("is_deleted"))
                and (begin is None or o.updated >= begin)
            ]
            items = _sorted(keep, "UPDATED_AT", "ASC")
            latest = format_time(state.now())
        q = {k: body.get(k) for k in ("object_types", "begin_time", "include_deleted_objects", "cursor")}
        page, cursor = _page(items, q, _limit(body.get("limit"), 100, 1000))
        out: dict[str, Any] = {"objects": page} if page else {}
        if cursor:
            out["cursor"] = cursor
        out["latest_time"] = latest
        return out

    def _get(table: dict[str, Obj], key: str, oid: str, request: Request) -> dict[str, Any]:
        guard(request)
        obj = table.get(oid)
        if obj is None:
            raise SquareError(
                404, "INVALID_REQUEST_ERROR", "NOT_FOUND", f"Could not find {key} with id `{oid}`."
            )
        return {key: obj.body}

    @app.get("/v2/payments/{pid}")
    async def get_payment(pid: str, request: Request) -> dict[str, Any]:
        return _get(state.payments, "payment", pid, request)

    @app.get("/v2/refunds/{rid}")
    async def get_refund(rid: str, request: Request) -> dict[str, Any]:
        return _get(state.refunds, "refund", rid, request)

    @app.get("/v2/customers/{cid}")
    async def get_customer(cid: str, request: Request) -> dict[str, Any]:
        return _get(state.customers, "customer", cid, request)

    @app.get("/v2/orders/{oid}")
    async def get_order(oid: str, request: Request) -> dict[str, Any]:
        return _get(state.orders, "order", oid, request)

    # -- admin -----------------------------------------------------------------------------------

    @app.post("/_emulator/clock")
    async def move_clock(request: Request) -> dict[str, Any]:
        body = await request.json()
        return {"now": format_time(state.advance(float(body.get("advance_seconds", 0))))}

    @app.get("/_emulator/state")
    async def counts() -> dict[str, Any]:
        kinds = ("locations", "customers", "catalog", "payments", "refunds", "orders")
        return {"now": format_time(state.now()), **{k: len(getattr(state, k)) for k in kinds}}

    @app.get("/_emulator/dump/{kind}")
    async def dump(kind: str) -> JSONResponse:
        if kind not in ("locations", "customers", "catalog", "payments", "refunds", "orders"):
            return JSONResponse({"error": f"unknown kind {kind}"}, status_code=404)
        return JSONResponse(state.dump(kind))

    @app.post("/_emulator/payments")
    async def add_payment(request: Request) -> dict[str, Any]:
        b = await request.json()
        return state.add_payment(
            amount=int(b["amount"]),
            currency=b.get("currency"),
            location_id=b.get("location_id"),
            customer_id=b.get("customer_id"),
            status=b.get("status", "COMPLETED"),
            payment_id=b.get("id"),
        )

    @app.post("/_emulator/payments/{pid}/complete")
    async def complete(pid: str) -> dict[str, Any]:
        return state.complete_payment(pid)

    @app.post("/_emulator/payments/{pid}/refund")
    async def refund(pid: str, request: Request) -> JSONResponse:
        b = await request.json()
        try:
            return JSONResponse(state.refund(pid, int(b["amount"]), reason=b.get("reason", "Returned")))
        except ValueError as e:
            return JSONResponse({"error": str(e)}, status_code=400)

    @app.post("/_emulator/orders/{oid}/state")
    async def order_state(oid: str, request: Request) -> dict[str, Any]:
        return state.set_order_state(oid, (await request.json())["state"])

    @app.post("/_emulator/customers")
    async def add_customer(request: Request) -> dict[str, Any]:
        return state.add_customer(await request.json())

    @app.post("/_emulator/customers/{cid}")
    async def update_customer(cid: str, request: Request) -> dict[str, Any]:
        return state.update_customer(cid, await request.json())

    @app.post("/_emulator/catalog")
    async def add_item(request: Request) -> dict[str, Any]:
        b = await request.json()
        return state.add_catalog_item(str(b["name"]), int(b.get("price", 100)))

    @app.post("/_emulator/catalog/{oid}/delete")
    async def delete_item(oid: str) -> dict[str, Any]:
        return state.delete_catalog_object(oid)

    @app.post("/_emulator/rate_limit")
    async def rate_limit(request: Request) -> dict[str, Any]:
        state.forced_rate_limits = int((await request.json()).get("next", 1))
        return {"next": state.forced_rate_limits}

    @app.post("/_emulator/expire_tokens")
    async def expire() -> dict[str, Any]:
        return {"expired": state.expire_tokens()}

    return app
