"""Named dependencies shared by every router: context, principal, JSON body, query checks."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio.to_thread
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from xdmflow import regexes
from xdmflow.api.errors import ContentTypeError
from xdmflow.errors import BadRequestError, PayloadTooLargeError
from xdmflow.services import identity
from xdmflow.services.context import AppContext
from xdmflow.services.identity import Principal, SandboxNotFoundError

if TYPE_CHECKING:
    from xdmflow.store.documents import Scope

__all__ = [
    "get_ctx",
    "CtxDep",
    "get_principal",
    "resolve_principal",
    "PrincipalDep",
    "SessionDep",
    "JsonBody",
    "read_json",
    "json_body",
    "body_model",
    "json_depth",
    "allow_query",
    "scope_of",
    "on_db",
    "SandboxNotFoundError",
]


async def get_ctx(request: Request) -> AppContext:
    # async: a plain attribute read must not cost a hop through the thread pool per request
    ctx: AppContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[AppContext, Depends(get_ctx)]

_T = TypeVar("_T")


async def on_db(ctx: AppContext, fn: Callable[..., _T], *args: Any, short: bool = True) -> _T:
    """Run ``fn(*args)``, a short read of the metadata store, where it costs least.

    On SQLite (the default store: a local file in WAL mode, where a reader never waits for a
    writer) a point read takes well under a millisecond, less than the hop through the thread
    pool a ``def`` dependency or handler costs (a thread wake-up and two GIL hand-overs, most of
    the per-request time under load), so it runs here on the event loop. On a networked database
    (PostgreSQL) a round trip may be slow, and so may a read of many rows (``short=False``, e.g. a
    list without an id or parent filter): those run in the thread pool, off the event loop."""
    if short and ctx.db.is_sqlite:
        return fn(*args)
    return await anyio.to_thread.run_sync(fn, *args)


def get_session(ctx: CtxDep) -> Iterator[Session]:
    with ctx.db.session() as s:
        yield s


SessionDep = Annotated[Session, Depends(get_session)]


async def get_principal(request: Request, ctx: CtxDep) -> Principal:
    """Check the platform's headers exactly as its gateway does (platform-api.md §0.3)."""
    h = request.headers
    return await on_db(
        ctx,
        resolve_principal,
        ctx,
        h.get("authorization"),
        h.get("x-api-key"),
        h.get("x-gw-ims-org-id"),
        h.get("x-sandbox-name"),
    )


def resolve_principal(
    ctx: AppContext,
    auth: str | None,
    api_key: str | None,
    org_header: str | None,
    sandbox: str | None,
) -> Principal:
    """The gateway's checks on the four identity values (headers, or the console's session)."""
    return identity.authenticate(ctx.db, ctx.keys, auth, api_key, org_header, sandbox)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def scope_of(p: Principal) -> Scope:
    return p.scope


_JSON_TYPES = ("application/json", "application/json-patch+json")


#: Bodies larger than this are parsed (and validated) in a worker thread, off the event loop.
_THREAD_PARSE_BYTES = 64 * 1024

#: A JSON string literal (RE2: linear time whatever the input).
_JSON_STRING = regexes.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays/objects in ``raw``, by a linear scan (no parsing, no recursion).

    String literals are dropped first (RE2), then each remaining bracket is +1 (``[``, ``{``) or
    -1 (``]``, ``}``): bit 1 of the byte tells them apart; the depth is the running sum's maximum
    (Arrow compute)."""
    brackets = _JSON_STRING.sub(b"", bytes(raw)).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = pa.Array.from_buffers(pa.uint8(), len(brackets), [None, pa.py_buffer(brackets)])
    step = pc.subtract(pc.cast(pc.bit_wise_and(codes, 2), pa.int32()), 1)
    deepest = pc.max(pc.cumulative_sum(step)).as_py()
    return int(deepest or 0)


def _parse(raw: bytes, max_depth: int) -> Any:
    if len(raw) > max_depth and json_depth(raw) > max_depth:
        raise BadRequestError(
            f"The JSON body is nested more than {max_depth} levels deep (XDMFLOW_MAX_JSON_DEPTH)"
        )
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"Malformed JSON in request body: {exc}") from None
    except RecursionError:  # only reachable with a very high XDMFLOW_MAX_JSON_DEPTH
        raise BadRequestError("The JSON body is nested too deeply") from None


async def _read_raw(request: Request) -> bytes:
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
    return bytes(raw)


async def read_json(request: Request) -> Any:
    """The request's JSON body, after the platform's content-type, size and nesting checks.

    A big body is parsed in a worker thread so that the event loop keeps serving other requests."""
    raw = await _read_raw(request)
    depth = request.app.state.ctx.settings.max_json_depth
    if len(raw) > _THREAD_PARSE_BYTES:
        return await anyio.to_thread.run_sync(_parse, raw, depth)
    return _parse(raw, depth)


def _field(loc: tuple[int | str, ...]) -> str:
    # a union member's name (``list[PatchOp]``, ``DatasetReplace``) is not a field of the body
    shown = [str(p) for p in loc if not (isinstance(p, str) and (p[:1].isupper() or "[" in p))]
    return ".".join(shown) or "(body)"


_KIND_MESSAGES = {
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "missing": "is required",
}


def _message(err: Any) -> str:
    return _KIND_MESSAGES.get(str(err.get("type")), str(err.get("msg")))


def validate_body(model: type[BaseModel], data: Any) -> Any:
    """Validate ``data`` against ``model``; a mismatch is a 400 naming each offending field.

    Returns ``data`` itself: the services get the document the client sent, unchanged."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        errors = [{"field": _field(e["loc"]), "message": _message(e)} for e in exc.errors(include_url=False)]
        shown = "; ".join(f"'{e['field']}' {e['message']}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise BadRequestError(f"Invalid request body: {shown}{more}", details={"errors": errors}) from None
    return data


def json_body(model: type[BaseModel]) -> Any:
    """A dependency: the JSON body (``read_json``) validated against ``model`` before the handler runs.

    ``xdmflow.api.openapi`` declares ``model`` as the operation's ``requestBody``. Use it as
    ``body: Annotated[Any, json_body(Model)]``."""

    async def typed(request: Request) -> Any:
        raw = await _read_raw(request)
        depth = request.app.state.ctx.settings.max_json_depth

        def work() -> Any:
            return validate_body(model, _parse(raw, depth))

        if len(raw) > _THREAD_PARSE_BYTES:
            return await anyio.to_thread.run_sync(work)
        return work()

    typed.__xdmflow_body_model__ = model  # type: ignore[attr-defined]
    typed.__name__ = f"body_{model.__name__}"
    return Depends(typed)


def body_model(call: Any) -> type[BaseModel] | None:
    """The body model of a dependency made by :func:`json_body` (None for any other callable)."""
    model: type[BaseModel] | None = getattr(call, "__xdmflow_body_model__", None)
    return model


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
