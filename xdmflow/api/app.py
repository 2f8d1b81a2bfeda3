"""The app factory: ``create_app(settings)`` builds the service; nothing happens at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import import_module
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xdmflow import __version__
from xdmflow.api import health, ims
from xdmflow.api.docs import install_docs
from xdmflow.api.errors import install_error_handlers
from xdmflow.api.openapi import install_openapi
from xdmflow.api.sandbox import router as sandbox_router
from xdmflow.console import install_console
from xdmflow.ids import new_uuid
from xdmflow.services.context import AppContext
from xdmflow.settings import Settings, get_settings

__all__ = ["create_app", "ContextFactory", "SERVICE_PREFIXES"]

log = logging.getLogger("xdmflow")

SERVICE_PREFIXES = (
    "/data/foundation/flowservice",
    "/data/foundation/schemaregistry",
    "/data/foundation/catalog",
    "/data/foundation/conversion",
    "/data/foundation/import",
    "/data/foundation/export",
    "/data/foundation/sandbox-management",
    "/data/foundation/query",
)


class TrailingSlash:
    """Serve ``/a/b/`` as ``/a/b``: the platform's gateway ignores a trailing slash, and clients
    rely on it (aepp posts to ``/tenant/schemas/``, reads ``/stats/``). Without this a route with
    a ``{rid:path}`` parameter would take the slash as an empty id, and the others would answer
    a redirect that drops the request body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = dict(scope)
            scope["path"] = path.rstrip("/") or "/"
            raw = scope.get("raw_path")
            if raw:
                scope["raw_path"] = raw.rstrip(b"/") or b"/"
        await self.app(scope, receive, send)


class RequestId:
    """Give every request an id (the client's ``x-request-id`` or a new one), kept in
    ``request.state.request_id`` for error bodies and logs and echoed in the response header.

    A plain ASGI middleware: no extra task and response stream per request, as
    ``@app.middleware("http")`` would add."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        for key, value in scope.get("headers") or ():
            if key == b"x-request-id":
                rid = value.decode("latin-1")
                break
        rid = rid or new_uuid()
        scope.setdefault("state", {})["request_id"] = rid
        header = (b"x-request-id", rid.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        await self.app(scope, receive, send_with_id)


#: Hooks run at start-up / shutdown with the context (background scheduler and workers plug in here).
StartHook = Callable[[AppContext], Any]


#: Builds the app's context at start-up (:func:`xdmflow.runtime.build_context`).
ContextFactory = Callable[[Settings], AppContext]


def _include_service_routers(app: FastAPI) -> None:
    for module in (
        "xdmflow.api.flowservice",
        "xdmflow.api.schemaregistry",
        "xdmflow.api.catalog",
        "xdmflow.api.conversion",
        "xdmflow.api.ingest",
        "xdmflow.api.export",
        "xdmflow.api.extensions",
        "xdmflow.api.query",
    ):
        mod = import_module(module)
        include = getattr(mod, "include", None)
        if include is not None:  # a service that includes its routers itself
            include(app)
            continue
        router = getattr(mod, "router", None)
        if router is not None:
            app.include_router(router)


def create_app(
    settings: Settings | None = None,
    *,
    context: ContextFactory,
    on_start: list[StartHook] | None = None,
    on_stop: list[StartHook] | None = None,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = context(settings)
        app.state.ctx = ctx
        for hook in on_start or []:
            hook(ctx)
        try:
            yield
        finally:
            for hook in on_stop or []:
                hook(ctx)
            ctx.close()

    app = FastAPI(
        title="xdmflow",
        version=__version__,
        description="Adobe Experience Platform ingestion API, self-hosted.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, from local assets
        redoc_url=None,
    )

    install_error_handlers(app)
    install_openapi(app)
    install_docs(app)
    app.add_middleware(RequestId)
    app.add_middleware(TrailingSlash)
    app.include_router(health.router)
    app.include_router(ims.router)
    app.include_router(sandbox_router)
    _include_service_routers(app)
    install_console(app)
    return app
