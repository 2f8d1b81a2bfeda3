"""Compose a runnable service for a role: the context, the API, the scheduler loop, the worker loop.

:func:`build_context` is the one place the process's long-lived objects are built (the store, the
lake, the connector policy, the diagnostics store, the executor's factory); :func:`build_app`
hands it to the app factory with the role's background loops and the PostgreSQL port.
"""

from __future__ import annotations

import functools

from fastapi import FastAPI

from xdmflow.api.app import StartHook, create_app
from xdmflow.background import Background
from xdmflow.errors import InvalidValueError
from xdmflow.executors.base import load_executor
from xdmflow.lake.diagnostics import ErrorStore
from xdmflow.lake.lake import Lake
from xdmflow.pgserver.server import pg_hooks
from xdmflow.services import identity
from xdmflow.services.context import AppContext, access_policy
from xdmflow.services.secrets import keyring_for
from xdmflow.settings import Settings
from xdmflow.store.db import Database
from xdmflow.store.migrate import upgrade

__all__ = ["build_app", "build_context", "ROLES"]

ROLES = ("api", "scheduler", "worker", "all")


def build_context(settings: Settings) -> AppContext:
    """Open the store (migrated to head, the default identity created on first start) and the
    lake; the executor (``XDMFLOW_EXECUTOR``) starts on first use."""
    settings.home_path.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    upgrade(db.engine)
    creds = identity.bootstrap(db, settings)
    return AppContext(
        settings=settings,
        db=db,
        keys=keyring_for(settings),
        credentials=creds,
        lake=Lake.from_settings(settings),
        policy=access_policy(settings),
        diagnostics=ErrorStore(settings.resolved_lake_url),
        executor_factory=functools.partial(load_executor, settings),
    )


def build_app(settings: Settings, *, role: str = "all", pg_host: str = "127.0.0.1") -> FastAPI:
    """The ASGI app for ``role``; background loops start in the app's lifespan.

    The ``api`` and ``all`` roles also open the PostgreSQL port of the Query Service on
    ``pg_host``:``settings.pg_port`` (``0`` = off). The role's loops are ``app.state.background``.
    """
    if role not in ROLES:
        raise InvalidValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    background = Background(role)
    on_start: list[StartHook] = [background.start]
    on_stop: list[StartHook] = [background.stop]
    if role in ("api", "all") and settings.pg_port:
        pg_start, pg_stop = pg_hooks(pg_host)
        on_start.append(pg_start)
        on_stop.append(pg_stop)
    app = create_app(settings, context=build_context, on_start=on_start, on_stop=on_stop)
    app.state.background = background
    return app
