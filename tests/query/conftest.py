"""A served instance for the Query Service tests: the API over HTTP (uvicorn on a free port) and the
PostgreSQL port on another free port, as ``xdmflow serve`` runs them."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.runtime.runtimehelp import HttpApi
from xdmflow.cli.demo import ServiceThread, free_port
from xdmflow.runtime import build_app


@dataclass
class Served:
    url: str
    pg_port: int
    api: Any  # HttpApi with .ctx and .creds, like tests.conftest.Api
    home: Path

    @property
    def org(self) -> str:
        return str(self.api.creds["org_id"])

    @property
    def token(self) -> str:
        return str(self.api.headers["Authorization"].split(" ", 1)[1])

    def dsn(self, password: str | None = None, *, user: str | None = None, dbname: str = "prod:all") -> str:
        return (
            f"host=127.0.0.1 port={self.pg_port} user={user or self.org} dbname={dbname} "
            f"password={password or self.token} sslmode=disable connect_timeout=10"
        )

    def psql(
        self, *args: str, password: str | None = None, user: str | None = None, dbname: str = "prod:all"
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PGPASSWORD": password or self.token, "PGCONNECT_TIMEOUT": "10"}
        conninfo = (
            f"host=127.0.0.1 port={self.pg_port} user={user or self.org} dbname={dbname} sslmode=disable"
        )
        return subprocess.run(
            ["psql", conninfo, "-X", "-v", "ON_ERROR_STOP=1", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    settings = make_settings(tmp_path / "home", pg_port=free_port(), query_threads=1)
    port = free_port()
    settings.public_url = f"http://127.0.0.1:{port}"
    app = build_app(settings, role="api")
    server = ServiceThread(app, port).start()
    try:
        ctx = app.state.ctx
        api = HttpApi(server.url, dict(ctx.credentials))
        api.ctx = ctx  # type: ignore[attr-defined]
        api.creds = dict(ctx.credentials)  # type: ignore[attr-defined]
        yield Served(server.url, ctx.pg_port, api, settings.home_path)
        api.close()
    finally:
        server.stop()
