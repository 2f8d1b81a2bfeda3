"""The served OpenAPI document: FastAPI's, plus the ``requestBody`` of every typed JSON body.

Bodies are read by the ``json_body(Model)`` dependency (content-type, size and nesting checks in
the platform's error format), which FastAPI cannot see as a body parameter; this module finds
those dependencies on each route and declares their models (``#/components/schemas/...``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

from xdmflow.api.deps import body_model
from xdmflow.api.models.base import media_types

__all__ = ["install_openapi", "route_body_model", "api_routes"]

_REF = "#/components/schemas/{model}"


def route_body_model(dependant: Dependant) -> type[BaseModel] | None:
    """The ``json_body`` model among a route's dependencies (searched depth first)."""
    model = body_model(dependant.call)
    if model is not None:
        return model
    for sub in dependant.dependencies:
        found = route_body_model(sub)
        if found is not None:
            return found
    return None


def api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """Every ``APIRoute`` of the app with its full path (FastAPI >= 0.16x keeps included routers
    lazily: ``app.routes`` holds the routers, ``iter_route_contexts`` the routes inside)."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    if iterate is None:  # older FastAPI: included routes are copied into app.routes
        yield from (r for r in app.routes if isinstance(r, APIRoute))
        return
    for context in iterate(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context  # a RouteContext: path_format, methods, dependant of the effective route


def _declare(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, ref_template=_REF)
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components.setdefault(model.__name__, schema)
    ref = {"$ref": _REF.format(model=model.__name__)}
    return {"required": True, "content": {m: {"schema": ref} for m in media_types(model)}}


def install_openapi(app: FastAPI) -> None:
    """Serve FastAPI's document with the typed bodies declared."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = doc.setdefault("components", {}).setdefault("schemas", {})
        for route in api_routes(app):
            if not route.include_in_schema:
                continue
            model = route_body_model(route.dependant)
            if model is None:
                continue
            body = _declare(model, components)
            for method in route.methods or ():
                op = doc["paths"].get(route.path_format, {}).get(method.lower())
                if op is not None and "requestBody" not in op:
                    op["requestBody"] = body
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
