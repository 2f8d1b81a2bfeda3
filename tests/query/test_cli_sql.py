"""``xdmflow sql`` (a statement, formats, the prompt) and ``xdmflow datasets sql`` on a served instance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests.query.conftest import Served
from tests.query.qhelp import csv_dataset
from xdmflow.cli.main import app


@pytest.fixture
def cli_env(served: Served, monkeypatch: pytest.MonkeyPatch) -> Served:
    monkeypatch.setenv("XDMFLOW_HOME", str(served.home))
    monkeypatch.setenv("XDMFLOW_SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("XDMFLOW_PG_PORT", str(served.pg_port))
    return served


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=input)


def test_sql_formats(cli_env: Served, tmp_path: Path) -> None:
    _, ns = csv_dataset(cli_env.api)
    sql = f"SELECT {ns}.name AS name, {ns}.amount AS amount FROM orders_2024 ORDER BY 1"
    r = run("sql", sql, "--url", cli_env.url, "--format", "csv")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == ["name,amount", "ann,1.5", "bob,2.5"]
    r = run("sql", sql, "--url", cli_env.url, "--format", "json")
    assert [json.loads(line) for line in r.stdout.splitlines()] == [
        {"name": "ann", "amount": 1.5},
        {"name": "bob", "amount": 2.5},
    ]
    out = tmp_path / "out.parquet"
    r = run("sql", sql, "--url", cli_env.url, "--format", "parquet", "--output", str(out))
    assert r.exit_code == 0 and pq.read_table(out).to_pylist()[1] == {"name": "bob", "amount": 2.5}
    r = run("sql", sql, "--url", cli_env.url)
    assert r.exit_code == 0 and "ann" in r.stdout and "bob" in r.stdout
    r = run("sql", "SELECT * FROM read_csv('/etc/passwd')", "--url", cli_env.url)
    assert r.exit_code == 1 and "not allowed" in r.output


def test_sql_prompt_and_datasets_sql(cli_env: Served) -> None:
    ds, _ = csv_dataset(cli_env.api)
    r = run(
        "sql",
        "--url",
        cli_env.url,
        "--format",
        "csv",
        input="\\dt\nSELECT count(*) AS n\nFROM orders_2024;\n\\q\n",
    )
    assert r.exit_code == 0, r.output
    assert "orders_2024" in r.stdout and "n\n2" in r.stdout
    r = run("datasets", "sql", ds)
    assert r.exit_code == 0, r.output
    assert "orders_2024" in r.stdout and "iceberg" not in r.stdout.lower()
    assert f"port={cli_env.pg_port}" in r.stdout
