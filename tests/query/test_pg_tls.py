"""TLS on the PostgreSQL port when XDMFLOW_PG_TLS_CERT / KEY are set."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

from tests.conftest import Api, make_settings
from xdmflow.cli.demo import free_port
from xdmflow.runtime import build_app


def test_psql_and_psycopg_over_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    settings = make_settings(tmp_path / "home", pg_port=free_port(), pg_tls_cert=cert, pg_tls_key=key)
    with TestClient(build_app(settings, role="api")) as client:
        api = Api(client)
        port = api.ctx.pg_port
        conninfo = f"host=127.0.0.1 port={port} user={api.creds['org_id']} dbname=prod:all sslmode=require"
        r = subprocess.run(
            ["psql", conninfo, "-X", "-c", r"\conninfo", "-c", "SELECT 41 + 1"],
            env={**os.environ, "PGPASSWORD": api.token},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        assert "SSL connection" in r.stdout and "42" in r.stdout
        with psycopg.connect(conninfo, password=api.token) as conn:
            assert conn.pgconn.ssl_in_use
            assert conn.execute("SELECT 1").fetchone() == (1,)
