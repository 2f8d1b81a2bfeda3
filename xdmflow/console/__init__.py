"""The web console: server-rendered pages at ``/`` over the same services as the API.

``install_console(app)`` adds its routes (none in the OpenAPI schema, none under ``/data/``) and its
static files, served from this package (no CDN, no build step)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from xdmflow.console.routes import router

__all__ = ["install_console"]


def install_console(app: FastAPI) -> None:

    app.include_router(router)
    app.mount(
        "/console-static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="console-static"
    )
