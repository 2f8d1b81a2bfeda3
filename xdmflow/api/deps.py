"""Named dependencies shared by every router: context, principal, JSON body, query checks."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from xdmflow.api.errors import ContentTypeError
from xdmflow.errors import AuthError, BadRequestError, NotFoundError, PayloadTooLargeError
from xdmflow.services import identity
from xdmflow.services.context import AppContext
from xdmflow.services.identity import Principal
from xdmflow.store.documents import Scope
from xdmflow.store.tables import ApiClient, Org, Sandbox

__all__ = [
    "get_ctx",
    "CtxDep",
    "get_principal",
    "resolve_principal",
    "PrincipalDep",
    "SessionDep",
    "JsonBody",
    "read_json",
    "allow_query",
    "scope_of",
    "SandboxNotFoundError",
]


class SandboxNotFoundError(NotFoundError):
    """The ``x-sandbox-name`` names no sandbox of the org (Flow Service 2100-404 family)."""


async def get_ctx(request: Request) -> AppContext:
    # async: a plain attribute read must not cost a hop through the thread pool per request
    ctx: AppContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[AppContext, Depends(get_ctx)]


def get_session(ctx: CtxDep) -> Iterator[Session]:
    with ctx.db.session() as s:
        yield s


SessionDep = Annotated[Session, Depends(get_session)]


#: Client, org and sandbox of a request in one round trip (the org and sandbox may be missing).
_IDENTITY = (
    select(
        ApiClient.disabled,
        ApiClient.org_id,
        Org.id.label("org"),
        Org.tenant_id,
        Sandbox.id.label("sandbox_id"),
        Sandbox.name.label("sandbox_name"),
        Sandbox.type.label("sandbox_type"),
    )
    .select_from(ApiClient)
    .outerjoin(Org, Org.id == bindparam("org_header"))
    .outerjoin(
        Sandbox,
        (Sandbox.org_id == Org.id) & (Sandbox.name == bindparam("sandbox")) & (Sandbox.state != "deleted"),
    )
    .where(ApiClient.client_id == bindparam("api_key"))
    .limit(1)
)


def get_principal(request: Request, ctx: CtxDep) -> Principal:
    """Check the platform's headers exactly as its gateway does (platform-api.md §0.3)."""
    h = request.headers
    return resolve_principal(
        ctx, h.get("authorization"), h.get("x-api-key"), h.get("x-gw-ims-org-id"), h.get("x-sandbox-name")
    )


def resolve_principal(
    ctx: AppContext,
    auth: str | None,
    api_key: str | None,
    org_header: str | None,
    sandbox: str | None,
) -> Principal:
    """The gateway's checks on the four identity values (headers, or the console's session)."""
    if not auth:
        raise AuthError("Oauth token is missing.", code="403010", status=403)
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Oauth token is not valid", code="401013", status=401)
    claims = identity.verify_token(token.strip(), ctx.keys)
    if not api_key:
        raise AuthError("Api Key is required", code="403000", status=403)
    name = (sandbox or "prod").strip().lower()
    with ctx.db.engine.connect() as conn:
        row = conn.execute(
            _IDENTITY, {"api_key": api_key, "org_header": org_header or "", "sandbox": name}
        ).first()
    if row is None or row.disabled or row.org_id != claims["org"]:
        raise AuthError("Api Key is invalid", code="403003", status=403)
    if not org_header:
        raise AuthError("Missing header", code="400003", status=400)
    if org_header != claims["org"] or row.org is None:
        raise AuthError("Profile is not valid", code="403025", status=403)
    if row.sandbox_id is None:
        raise SandboxNotFoundError(
            f"Sandbox name {name} not found for the organization {row.org}. "
            "List the sandboxes with GET /data/foundation/sandbox-management/sandboxes.",
            code="2100",
            resource_type="sandbox",
            resource_id=name,
        )
    return Principal(
        client_id=api_key,
        org_id=row.org,
        sandbox_name=row.sandbox_name,
        sandbox_id=row.sandbox_id,
        sandbox_type=row.sandbox_type,
        tenant_id=row.tenant_id,
    )


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def scope_of(p: Principal) -> Scope:
    return Scope(p.org_id, p.sandbox_name)


_JSON_TYPES = ("application/json", "application/json-patch+json")


async def read_json(request: Request) -> Any:
    """The request's JSON body, after the platform's content-type and size checks."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in _JSON_TYPES and not (ctype.startswith("application/") and ctype.endswith("+json")):
        raise ContentTypeError("A valid content-type must be specified")
    limit = request.app.state.ctx.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"Request body is larger than {limit} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > limit:
            raise PayloadTooLargeError(f"Request body is larger than {limit} bytes")
    if not raw.strip():
        raise BadRequestError("The request body is empty; send a JSON document", code="1405")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"Malformed JSON in request body: {exc}") from None


JsonBody = Annotated[Any, Depends(read_json)]


def allow_query(*names: str, code: str | None = None) -> Callable[[Request], Awaitable[None]]:
    """A dependency rejecting query parameters other than ``names`` (case-sensitive)."""
    allowed = set(names)

    async def check(request: Request) -> None:  # no I/O: no thread-pool hop
        unknown = sorted({k for k in request.query_params if k not in allowed})
        if unknown:
            hint = ", ".join(sorted(allowed)) or "none"
            raise BadRequestError(
                f"Unknown query parameter(s): {', '.join(unknown)}. Supported: {hint}", code=code
            )

    return check
