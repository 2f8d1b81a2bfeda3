"""The Stripe emulator ASGI app: list and retrieve endpoints, errors, rate limits, admin API.

Build it with :func:`create_app`; serve it with :func:`run` (``xdmflow emulate stripe``).
What it enforces (payment-apis.md §3.8): Bearer or Basic auth with a secret key or a
restricted key (403 naming the missing permission) or an OAuth access token that expires on the
movable clock (401 ``api_key_expired``); ``Stripe-Version`` validated and echoed;
``Request-Id`` on every answer; the list envelope with ``limit`` 1..100, exclusive
``starting_after`` / ``ending_before`` cursors, newest first with an id tie-break, bracket
``created[...]`` filters, unknown parameters rejected; deleted objects; events kept 30 days
with ``type`` wildcards and ``types[]`` (at most 20); a visibility lag; 429 ``rate_limit`` past
the configured requests per second and injected ``lock_timeout`` with ``Stripe-Should-Retry``;
``POST /v1/customers`` with ``Idempotency-Key`` replay (same parameters) and ``idempotency_error``.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from xdmflow.emulators.stripe.admin import admin_routes
from xdmflow.emulators.stripe.data import DataConfig, Payments
from xdmflow.emulators.stripe.store import EVENT_WINDOW, RESOURCES, Store

__all__ = [
    "create_app",
    "run",
    "EmulatorConfig",
    "EmulatorState",
    "DEFAULT_SECRET_KEY",
    "DEFAULT_RESTRICTED_KEY",
    "RESTRICTED_PERMISSIONS",
]

DEFAULT_SECRET_KEY = "sk_test_xdmflowEmulatorSecretKey0001"
DEFAULT_RESTRICTED_KEY = "rk_test_xdmflowEmulatorRestricted001"
#: resources the default restricted key may read (payouts and balance transactions are not)
RESTRICTED_PERMISSIONS = frozenset(
    {
        "charges",
        "refunds",
        "customers",
        "payment_intents",
        "invoices",
        "subscriptions",
        "disputes",
        "products",
        "prices",
        "events",
    }
)
ACCOUNT_ID = "acct_1XdmflowEmulator0"
DEFAULT_API_VERSION = "2024-06-20"
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
#: permission names of Stripe's restricted keys
_PERMISSION = {
    "charges": "rak_charge_read",
    "refunds": "rak_refund_read",
    "customers": "rak_customer_read",
    "payment_intents": "rak_payment_intent_read",
    "invoices": "rak_invoice_read",
    "subscriptions": "rak_subscription_read",
    "balance_transactions": "rak_balance_transaction_source_read",
    "disputes": "rak_dispute_read",
    "payouts": "rak_payout_read",
    "products": "rak_product_read",
    "prices": "rak_plan_read",
    "events": "rak_event_read",
    "customers:write": "rak_customer_write",
}
#: list filters per resource (beyond limit, cursors, created, expand[])
_FILTERS: dict[str, tuple[str, ...]] = {
    "charges": ("customer", "payment_intent", "transfer_group"),
    "refunds": ("charge", "payment_intent"),
    "customers": ("email", "test_clock"),
    "payment_intents": ("customer",),
    "invoices": ("customer", "status", "subscription", "collection_method"),
    "subscriptions": ("customer", "status", "price", "collection_method"),
    "balance_transactions": ("currency", "payout", "source", "type"),
    "disputes": ("charge", "payment_intent"),
    "payouts": ("status", "destination"),
    "products": ("active", "shippable", "type", "url"),
    "prices": ("active", "currency", "product", "type", "lookup_keys[]"),
    "events": ("type", "types[]", "delivery_success"),
}
_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization header, using "
    "Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication "
    "for details, or we can help at https://support.stripe.com/."
)
_LOCKED = (
    "This object cannot be accessed right now because another API request or Stripe process is currently "
    "accessing it. If you see this error intermittently, retry the request. If you see this error "
    "frequently and are making multiple concurrent requests to a single object, make your requests "
    "serially or at a lower rate."
)
_IDEMPOTENCY_CONFLICT = (
    "Keys for idempotent requests can only be used with the same parameters they were first used "
    "with. Try using a key other than '{key}' if you meant to execute a different request."
)
_SUB_STATUSES = (
    "active",
    "past_due",
    "unpaid",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "trialing",
    "paused",
    "all",
    "ended",
)


@dataclass
class EmulatorConfig:
    """Knobs of the emulator.

    Attributes:
        data: size of the seeded history.
        secret_key: the accepted secret key (full access).
        restricted_keys: restricted key -> the resources it may read.
        api_version: the account's default API version (events are rendered in it).
        rate_limit_rps: requests per second per key before 429 ``rate_limit`` (Stripe: 25 in
            test mode, 100 live); ``None`` = unlimited.
        visibility_lag: seconds after ``created`` before an object appears in lists.
        ticking: the clock follows real time (else it only moves through the admin API).
        oauth_token_ttl: seconds an OAuth access token issued by the admin API stays valid
            (on the emulator's clock); after that it is answered with 401 ``api_key_expired``.
    """

    data: DataConfig = field(default_factory=DataConfig)
    secret_key: str = DEFAULT_SECRET_KEY
    restricted_keys: dict[str, frozenset[str]] = field(
        default_factory=lambda: {DEFAULT_RESTRICTED_KEY: RESTRICTED_PERMISSIONS}
    )
    api_version: str = DEFAULT_API_VERSION
    rate_limit_rps: float | None = 25.0
    visibility_lag: int = 0
    ticking: bool = True
    oauth_token_ttl: int = 3600


class Reject(Exception):
    """An error answer (raised inside handlers)."""

    def __init__(self, status: int, error: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(error.get("message", ""))
        self.status = status
        self.error = error
        self.headers = headers or {}


def invalid(message: str, param: str | None = None, code: str | None = None, status: int = 400) -> Reject:
    error: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if param is not None:
        error["param"] = param
    if code is not None:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    return Reject(status, error)


def mask(key: str) -> str:
    """``sk_test_****0001``: the prefix and the last four characters only."""
    prefix = key[:8] if key[:3] in ("sk_", "rk_", "pk_") else ""
    return f"{prefix}{'*' * max(4, len(key) - len(prefix) - 4)}{key[-4:]}" if len(key) > 8 else "****"


class EmulatorState:
    """Store, business operations, keys, rate limiter and injected faults of one emulator."""

    def __init__(self, seed: int, now: int | None, config: EmulatorConfig) -> None:
        self.config = config
        self.seed = seed
        start = int(time.time()) if now is None else int(now)
        self.store = Store(seed, start, config.api_version)
        self.payments = Payments(self.store)
        self.payments.generate(config.data, start)
        self.store.set_ticking(config.ticking)
        self.stats: Counter[str] = Counter()
        #: answered requests: path, query items, Stripe-Version sent
        self.requests: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self._buckets: dict[str, tuple[float, float]] = {}
        #: Idempotency-Key -> (the request's parameters, the answer)
        self.idempotency: dict[str, tuple[list[tuple[str, str]], Any]] = {}
        #: OAuth access token -> when it expires (the emulator's clock, Unix seconds)
        self.oauth_tokens: dict[str, int] = {}
        self._lock = threading.Lock()

    def issue_token(self, expires_in: int | None = None) -> dict[str, Any]:
        """A new OAuth access token for the account (full read access), expiring after
        ``expires_in`` seconds (default ``oauth_token_ttl``) on the emulator's clock."""
        ttl = self.config.oauth_token_ttl if expires_in is None else int(expires_in)
        with self.store.lock:
            token = self.store.new_id("sk_test_oa")
            self.oauth_tokens[token] = self.store.now() + ttl
        return {
            "access_token": token,
            "expires_in": ttl,
            "livemode": False,
            "scope": "read_only",
            "stripe_user_id": ACCOUNT_ID,
            "token_type": "bearer",
        }

    # -- auth, limits, faults ------------------------------------------------------------------

    def authenticate(self, request: Request) -> tuple[str, frozenset[str] | None]:
        """The key and its permissions (``None`` = all); ``Reject`` 401 otherwise."""
        header = request.headers.get("authorization", "")
        key = ""
        if header.lower().startswith("bearer "):
            key = header[7:].strip()
        elif header.lower().startswith("basic "):
            try:
                key = base64.b64decode(header[6:].strip()).decode().split(":", 1)[0]
            except (ValueError, UnicodeDecodeError):
                key = ""
        if not key:
            raise invalid(
                _NO_KEY,
                status=401,
            )
        if key == self.config.secret_key:
            return key, None
        if key in self.config.restricted_keys:
            return key, self.config.restricted_keys[key]
        expires = self.oauth_tokens.get(key)
        if expires is not None:
            if self.store.now() < expires:
                return key, None
            self.stats["expired_key"] += 1
            raise invalid(f"Expired API Key provided: {mask(key)}", code="api_key_expired", status=401)
        self.stats["invalid_key"] += 1
        raise invalid(f"Invalid API Key provided: {mask(key)}", status=401)

    def authorize(self, key: str, permissions: frozenset[str] | None, resource: str) -> None:
        if permissions is None or resource in permissions:
            return
        self.stats["permission_denied"] += 1
        raise invalid(
            f"The provided key '{mask(key)}' does not have the required permissions for this endpoint on "
            f"account '{ACCOUNT_ID}'. Having the '{_PERMISSION.get(resource, resource)}' permission would "
            "allow this request to continue.",
            status=403,
        )

    def throttle(self, key: str) -> None:
        rps = self.config.rate_limit_rps
        if not rps:
            return
        with self._lock:
            now = time.monotonic()
            tokens, at = self._buckets.get(key, (rps, now))
            tokens = min(rps, tokens + (now - at) * rps)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                self.stats["rate_limited"] += 1
                raise self.rate_limit()
            self._buckets[key] = (tokens - 1, now)

    @staticmethod
    def rate_limit() -> Reject:
        r = invalid(
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
            code="rate_limit",
            status=429,
        )
        r.headers["Stripe-Should-Retry"] = "true"
        return r

    def inject(self, path: str) -> None:
        """Answer with the first matching injected fault (and use one of its count)."""
        with self._lock:
            for fault in self.faults:
                if fault["count"] > 0 and path.startswith(fault.get("path") or "/v1/"):
                    fault["count"] -= 1
                    kind = fault["kind"]
                    break
            else:
                return
        self.stats[f"fault_{kind}"] += 1
        if kind == "rate_limit":
            raise self.rate_limit()
        if kind == "lock_timeout":
            r = invalid(
                _LOCKED,
                code="lock_timeout",
                status=429,
            )
            r.headers["Stripe-Should-Retry"] = "true"
            raise r
        raise Reject(
            500,
            {"type": "api_error", "message": "An unknown error occurred"},
            {"Stripe-Should-Retry": "true"},
        )


# -- listing -------------------------------------------------------------------------------------


def _int(params: Any, name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise invalid(f"Invalid integer: {raw}", param=name, code="parameter_invalid_integer") from None


def _created_bounds(params: Any, name: str = "created") -> tuple[int, int]:
    lo, hi = -(2**62), 2**62
    exact = _int(params, name)
    if exact is not None:
        lo, hi = exact, exact
    for op in ("gt", "gte", "lt", "lte"):
        v = _int(params, f"{name}[{op}]")
        if v is None:
            continue
        if op == "gt":
            lo = max(lo, v + 1)
        elif op == "gte":
            lo = max(lo, v)
        elif op == "lt":
            hi = min(hi, v - 1)
        else:
            hi = min(hi, v)
    return lo, hi


def _check_params(params: Any, allowed: set[str]) -> None:
    for name in params.keys():
        base = name
        if name.startswith("created[") or name.startswith("expand["):
            base = name.split("[", 1)[0]
        if base not in allowed:
            raise invalid(f"Received unknown parameter: {name}", param=name, code="parameter_unknown")
    for name in params.keys():
        if name.startswith("created[") and name not in (
            "created[gt]",
            "created[gte]",
            "created[lt]",
            "created[lte]",
        ):
            raise invalid(f"Received unknown parameter: {name}", param=name, code="parameter_unknown")


def _limit(params: Any) -> int:
    limit = _int(params, "limit")
    if limit is None:
        return 10
    if limit < 1:
        raise invalid(
            f"This value must be greater than or equal to 1 (it currently is '{limit}').",
            param="limit",
            code="parameter_invalid_integer",
        )
    if limit > 100:
        raise invalid(
            f"This value must be less than or equal to 100 (it currently is '{limit}').",
            param="limit",
            code="parameter_invalid_integer",
        )
    return limit


def _equals(name: str, value: str) -> Callable[[dict[str, Any]], bool]:
    return lambda o: str(o.get(name)) == value


def _predicate(state: EmulatorState, resource: str, params: Any) -> Callable[[dict[str, Any]], bool]:
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for name in _FILTERS[resource]:
        if name in ("type", "types[]", "status", "delivery_success", "active", "lookup_keys[]", "price"):
            continue
        value = params.get(name)
        if value is not None:
            checks.append(_equals(name, value))
    if resource in ("products", "prices") and params.get("active") is not None:
        want = params["active"] == "true"
        checks.append(lambda o: bool(o.get("active")) == want)
    if resource == "subscriptions":
        status = params.get("status")
        if status is not None and status not in _SUB_STATUSES:
            raise invalid(f"Invalid status: must be one of {', '.join(_SUB_STATUSES)}", param="status")
        if status is None:
            checks.append(lambda o: o["status"] not in ("canceled", "incomplete_expired"))
        elif status == "ended":
            checks.append(lambda o: o["status"] in ("canceled", "incomplete_expired"))
        elif status != "all":
            checks.append(lambda o: o["status"] == status)
    if resource == "invoices" and params.get("status") is not None:
        status = params["status"]
        if status not in ("draft", "open", "paid", "uncollectible", "void"):
            raise invalid(
                "Invalid status: must be one of draft, open, paid, uncollectible, or void", param="status"
            )
        checks.append(lambda o: o["status"] == status)
    if resource == "payouts" and params.get("status") is not None:
        checks.append(lambda o: o["status"] == params["status"])
    if resource == "events":
        types = params.getlist("types[]")
        one = params.get("type")
        if types and one:
            raise invalid("You may not specify both `type` and `types`.", param="types")
        if len(types) > 20:
            raise invalid("You may pass at most 20 types.", param="types")
        patterns = [
            re.compile("^" + re.escape(t).replace(r"\*", "[^ ]*") + "$")
            for t in (types or ([one] if one else []))
        ]
        if patterns:
            checks.append(lambda o: any(p.match(o["type"]) for p in patterns))
    deleted = state.store.resources[resource].deleted
    return lambda o: o["id"] not in deleted and all(c(o) for c in checks)


def list_page(state: EmulatorState, resource: str, params: Any, url: str) -> dict[str, Any]:
    """One page of a list endpoint (see the module doc for the rules)."""
    _check_params(
        params, {"limit", "starting_after", "ending_before", "created", "expand", *_FILTERS[resource]}
    )
    limit = _limit(params)
    after, before = params.get("starting_after"), params.get("ending_before")
    if after and before:
        raise invalid(
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
        )
    res = state.store.resources[resource]
    lo, hi = _created_bounds(params)
    now = state.store.now()
    hi = min(hi, now - state.config.visibility_lag)
    if resource == "events":
        lo = max(lo, now - EVENT_WINDOW)
    keys = res.keys
    i_lo = bisect_left(keys, (lo, ""))
    i_hi = bisect_right(keys, (hi, "\U0010ffff"))
    cursor = after or before
    if cursor:
        obj = res.by_id.get(cursor)
        if obj is None:
            otype = RESOURCES[resource][0]
            raise invalid(
                f"No such {otype}: '{cursor}'",
                param="starting_after" if after else "ending_before",
                code="resource_missing",
                status=404,
            )
        key = (int(obj["created"]), obj["id"])
        if after:
            i_hi = min(i_hi, bisect_left(keys, key))
        else:
            i_lo = max(i_lo, bisect_right(keys, key))
    keep = _predicate(state, resource, params)
    found: list[dict[str, Any]] = []
    order: Iterator[int] = iter(range(i_lo, i_hi)) if before else iter(range(i_hi - 1, i_lo - 1, -1))
    for i in order:
        obj = res.by_id[keys[i][1]]
        if keep(obj):
            found.append(obj)
            if len(found) > limit:
                break
    has_more = len(found) > limit
    data = found[:limit]
    if before:
        data.reverse()
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


# -- handlers ------------------------------------------------------------------------------------


def _respond(
    state: EmulatorState, request: Request, build: Callable[[], Any], resource: str | None
) -> Response:
    rid = state.store.request_id()
    version = request.headers.get("stripe-version") or state.config.api_version
    # the Date header tells the emulator's (movable) clock, as Stripe's tells its own
    headers = {
        "Request-Id": rid,
        "Stripe-Version": version,
        "Date": formatdate(state.store.now(), usegmt=True),
    }
    try:
        key, permissions = state.authenticate(request)
        if not _VERSION.match(version):
            raise invalid(f"Invalid Stripe API version: {version}", param="Stripe-Version")
        state.throttle(key)
        state.inject(request.url.path)
        if resource is not None:
            state.authorize(key, permissions, resource)
        with state.store.lock:
            state.payments.settle()  # a ticking clock moves without telling the store
            body = build()
        state.stats[request.url.path.split("/")[2] if request.url.path.count("/") >= 2 else "?"] += 1
        state.requests.append(
            {
                "path": request.url.path,
                "params": list(request.query_params.multi_items()),
                "version": request.headers.get("stripe-version"),
            }
        )
        return JSONResponse(body, headers=headers)
    except Reject as exc:
        headers.update(exc.headers)
        body = {"error": {**exc.error, "request_log_url": f"https://dashboard.stripe.com/test/logs/{rid}"}}
        return JSONResponse(body, status_code=exc.status, headers=headers)


def _list_endpoint(state: EmulatorState, resource: str) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        return _respond(
            state,
            request,
            lambda: list_page(state, resource, request.query_params, f"/v1/{resource}"),
            resource,
        )

    return endpoint


def _retrieve_endpoint(state: EmulatorState, resource: str) -> Callable[[Request], Any]:
    otype = RESOURCES[resource][0]

    async def endpoint(request: Request) -> Response:
        obj_id = request.path_params["id"]

        def build() -> Any:
            obj = state.store.get(resource, obj_id)
            if resource == "events" and obj is not None and obj["created"] < state.store.now() - EVENT_WINDOW:
                obj = None
            if obj is None:
                raise invalid(f"No such {otype}: '{obj_id}'", param="id", code="resource_missing", status=404)
            if state.store.is_deleted(resource, obj_id):
                return {"id": obj_id, "object": otype, "deleted": True}
            return obj

        return _respond(state, request, build, resource)

    return endpoint


def _lines_endpoint(state: EmulatorState) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        inv_id = request.path_params["id"]

        def build() -> Any:
            inv = state.store.get("invoices", inv_id)
            if inv is None:
                raise invalid(f"No such invoice: '{inv_id}'", param="id", code="resource_missing", status=404)
            params = request.query_params
            _check_params(params, {"limit", "starting_after", "ending_before", "expand"})
            limit = _limit(params)
            lines = inv["lines"]["data"]
            ids = [x["id"] for x in lines]
            start, end = 0, len(lines)
            for name in ("starting_after", "ending_before"):
                cursor = params.get(name)
                if cursor is not None:
                    if cursor not in ids:
                        raise invalid(
                            f"No such line item: '{cursor}'", param=name, code="resource_missing", status=404
                        )
                    if name == "starting_after":
                        start = ids.index(cursor) + 1
                    else:
                        end = ids.index(cursor)
            if params.get("ending_before") is not None:
                page = lines[max(start, end - limit) : end]
                more = end - limit > start
            else:
                page = lines[start : start + limit]
                more = start + limit < end
            return {"object": "list", "data": page, "has_more": more, "url": f"/v1/invoices/{inv_id}/lines"}

        return _respond(state, request, build, "invoices")

    return endpoint


def _create_customer_endpoint(state: EmulatorState) -> Callable[[Request], Any]:
    """``POST /v1/customers`` (form-encoded) with ``Idempotency-Key`` replay."""

    async def endpoint(request: Request) -> Response:
        form = await request.form()
        params = sorted((k, str(v)) for k, v in form.multi_items())
        key = request.headers.get("idempotency-key")

        def build() -> Any:
            unknown = [
                k
                for k, _ in params
                if k not in ("email", "name", "description") and not k.startswith("metadata[")
            ]
            if unknown:
                raise invalid(
                    f"Received unknown parameter: {unknown[0]}", param=unknown[0], code="parameter_unknown"
                )
            if key is not None:
                if len(key) > 255:
                    raise invalid(
                        "Idempotency keys may be at most 255 characters long.", param="Idempotency-Key"
                    )
                seen = state.idempotency.get(key)
                if seen is not None:
                    if seen[0] != params:
                        raise Reject(
                            400,
                            {
                                "type": "idempotency_error",
                                "message": _IDEMPOTENCY_CONFLICT.format(key=key),
                            },
                        )
                    state.stats["idempotent_replays"] += 1
                    return seen[1]
            obj = state.payments.customer(email=form.get("email") or None, name=form.get("name") or None)  # type: ignore[arg-type]
            obj["description"] = form.get("description") or None
            obj["metadata"] = {k[9:-1]: str(v) for k, v in form.multi_items() if k.startswith("metadata[")}
            if key is not None:
                state.idempotency[key] = (params, obj)
            return obj

        return _respond(state, request, build, "customers:write")

    return endpoint


def create_app(seed: int = 0, *, now: int | None = None, config: EmulatorConfig | None = None) -> Starlette:
    """Build the emulator.

    Args:
        seed: seed of the generated history (same seed, same ``now`` -> same objects and ids).
        now: the start clock (Unix seconds; default: real time). The history ends there.
        config: knobs (data size, keys, rate limit, visibility lag...).

    The state is reachable as ``app.state.emulator`` (an :class:`EmulatorState`).
    """
    state = EmulatorState(seed, now, config or EmulatorConfig())
    routes: list[Route] = []
    for resource in RESOURCES:
        path = "/v1/subscriptions" if resource == "subscriptions" else f"/v1/{resource}"
        routes.append(Route(path, _list_endpoint(state, resource), methods=["GET"]))
        if resource == "customers":
            routes.append(Route(path, _create_customer_endpoint(state), methods=["POST"]))
        if resource == "invoices":
            routes.append(Route("/v1/invoices/{id}/lines", _lines_endpoint(state), methods=["GET"]))
        routes.append(Route(path + "/{id}", _retrieve_endpoint(state, resource), methods=["GET"]))
    routes.append(Route("/v1/account", _account_endpoint(state), methods=["GET"]))
    routes.extend(admin_routes(state))
    app = Starlette(routes=routes)
    app.state.emulator = state
    return app


def _account_endpoint(state: EmulatorState) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        return _respond(
            state,
            request,
            lambda: {
                "id": ACCOUNT_ID,
                "object": "account",
                "business_type": "company",
                "charges_enabled": True,
                "country": "US",
                "default_currency": "usd",
                "details_submitted": True,
                "email": "emulator@example.com",
                "payouts_enabled": True,
                "type": "standard",
            },
            None,
        )

    return endpoint


def run(
    host: str = "127.0.0.1",
    port: int = 12111,
    seed: int = 0,
    *,
    config: EmulatorConfig | None = None,
    log_level: str = "info",
) -> None:
    """Serve the emulator with uvicorn until interrupted (``xdmflow emulate stripe``)."""
    # the app sends its own Date header (the emulator's clock)
    uvicorn.run(create_app(seed, config=config), host=host, port=port, log_level=log_level, date_header=False)
