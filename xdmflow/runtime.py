"""Compose a runnable service for a role: the API, the scheduler loop, the worker loop, or all."""

from __future__ import annotations

from fastapi import FastAPI

from xdmflow.api.app import StartHook, create_app
from xdmflow.background import background_hooks
from xdmflow.errors import InvalidValueError
from xdmflow.settings import Settings

__all__ = ["build_app", "ROLES"]

ROLES = ("api", "scheduler", "worker", "all")


def build_app(settings: Settings, *, role: str = "all", pg_host: str = "127.0.0.1") -> FastAPI:
    """The ASGI app for ``role``; background loops start in the app's lifespan.

    The ``api`` and ``all`` roles also open the PostgreSQL port of the Query Service on
    ``pg_host``:``settings.pg_port`` (``0`` = off)."""
    if role not in ROLES:
        raise InvalidValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    on_start: list[StartHook] = []
    on_stop: list[StartHook] = []
    start, stop = background_hooks(role)
    on_start.extend(start)
    on_stop.extend(stop)
    if role in ("api", "all") and settings.pg_port:
        from xdmflow.pgserver.server import pg_hooks

        pg_start, pg_stop = pg_hooks(pg_host)
        on_start.append(pg_start)
        on_stop.append(pg_stop)
    return create_app(settings, on_start=on_start, on_stop=on_stop)
