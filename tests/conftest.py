"""Shared fixtures: settings on a temp home, SQLite and PostgreSQL metadata stores, an API client."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from xdmflow.api.app import create_app
from xdmflow.runtime import build_context
from xdmflow.settings import Settings
from xdmflow.store.db import Database
from xdmflow.store.migrate import upgrade

PG_ADMIN = os.environ.get("XDMFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def pg_available() -> bool:
    return _pg_available()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose default schema is fresh and dropped afterwards."""
    if not _pg_available():
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN}; start it (see .ci/run)")
    schema = "xf_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    base = PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Both metadata stores: a SQLite file and a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated metadata store on each of ``db_url``'s databases."""
    d = Database(db_url)
    upgrade(d.engine)
    yield d
    d.dispose()


#: What the tests' operator opens to connectors: the loopback emulators and databases.
TEST_ALLOWED_HOSTS = ["127.0.0.0/8", "localhost", "::1"]


def make_settings(home: Path, database_url: str | None = None, **kw: Any) -> Settings:
    """Settings on ``home``; the local roots default to the folder that holds the home (test files
    are written beside it) and loopback hosts are allowed (the emulators and databases)."""
    kw.setdefault("local_roots", [home.parent])
    kw.setdefault("allowed_hosts", TEST_ALLOWED_HOSTS)
    kw.setdefault("pg_port", 0)
    return Settings(home=home, database_url=database_url, secret_key="test-secret-key", **kw)


def platform_token(send: Any, client_id: str, client_secret: str) -> str:
    """An access token from ``/ims/token/v3`` (``send`` is a client's ``post``)."""
    r = send(
        "/ims/token/v3",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def platform_headers(token: str, client_id: str, org_id: str, sandbox: str = "prod") -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "x-api-key": client_id,
        "x-gw-ims-org-id": org_id,
        "x-sandbox-name": sandbox,
    }


class PlatformCalls:
    """``get/post/put/patch/delete`` with the platform's headers over any client's ``request``."""

    headers: dict[str, str]

    def _send(self, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        raise NotImplementedError

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        h = {**self.headers, **(headers or {})}
        if "json" in kw and "Content-Type" not in h:
            h["Content-Type"] = "application/json"
        return self._send(method, path, h, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Any:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


class Api(PlatformCalls):
    """A TestClient plus the platform's headers for the default client."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.ctx = client.app.state.ctx  # type: ignore[attr-defined]
        creds = self.ctx.credentials
        self.creds = creds
        self.token = platform_token(client.post, creds["client_id"], creds["client_secret"])
        self.headers = platform_headers(self.token, creds["client_id"], creds["org_id"])

    def _send(self, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        return self.client.request(method, path, headers=headers, **kw)

    def as_other(self, org: str, sandbox: str = "prod") -> Api:
        """An Api for a new client of ``org`` (created when new)."""
        from xdmflow.services import identity

        with self.ctx.db.session() as s:
            creds = identity.create_client(s, org, name="other")
        other = object.__new__(Api)
        other.client = self.client
        other.ctx = self.ctx
        other.creds = {"client_id": creds.client_id, "client_secret": creds.client_secret, "org_id": org}
        other.token = platform_token(self.client.post, creds.client_id, creds.client_secret)
        other.headers = platform_headers(other.token, creds.client_id, org, sandbox)
        return other


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "home")


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with TestClient(create_app(settings, context=build_context)) as client:
        yield Api(client)


@pytest.fixture
def api_both(tmp_path: Path, db_url: str) -> Iterator[Api]:
    """The API on SQLite and on PostgreSQL."""
    with TestClient(create_app(make_settings(tmp_path / "home", db_url), context=build_context)) as client:
        yield Api(client)
