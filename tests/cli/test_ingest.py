"""``xdmflow ingest`` in a fresh home: a CSV with bad rows, then a PostgreSQL table (issue 17).

Each ingest infers the schema, creates the platform resources over the HTTP API of the service
the CLI serves from the home, runs the flow; the datasets hold exactly the good rows, ``xdmflow
runs errors`` lists the rejected ones, and a second ingest adds only the new rows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from tests.conftest import PG_ADMIN, TEST_ALLOWED_HOSTS
from xdmflow.cli.client import EXPORT, FS, connect
from xdmflow.cli.main import app


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("XDMFLOW_HOME", str(h))
    monkeypatch.setenv("XDMFLOW_DATABASE_URL", db_url)
    monkeypatch.setenv("XDMFLOW_SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("XDMFLOW_ALLOWED_HOSTS", ",".join(TEST_ALLOWED_HOSTS))
    monkeypatch.setenv("XDMFLOW_SCHEDULER_INTERVAL_SECONDS", "0.2")
    monkeypatch.setenv("XDMFLOW_WORKERS", "1")
    for var in ("XDMFLOW_URL", "XDMFLOW_TOKEN", "XDMFLOW_LOCAL_ROOTS", "XDMFLOW_LAKE_URL"):
        monkeypatch.delenv(var, raising=False)
    return h


def cli(*args: str, code: int = 0) -> str:
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == code, (r.output, r.exception)
    return r.stdout


def ingest(*args: str) -> dict[str, Any]:
    return dict(json.loads(cli("ingest", *args, "--yes", "--json")))


def dataset_rows(dataset_id: str) -> list[dict[str, Any]]:
    """The dataset's rows as the API serves them, with the ad-hoc namespace unwrapped."""
    with connect() as api:
        data = api.get(f"{EXPORT}/datasets/{dataset_id}/preview?limit=1000")["data"]
    return [next(iter(r.values())) for r in data]


def write_sales(path: Path, first: int, n: int, bad: bool) -> None:
    lines = ["id,customer,amount,day"]
    lines += [f"{i},c{i},{i}.25,{i % 28 + 1:02d}/03/2026" for i in range(first, first + n)]
    if bad:
        lines += ["9001,bad amount,twelve,01/03/2026", "9002,bad day,3.5,31/02/2026"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_csv_with_bad_rows(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "sales"
    data.mkdir()
    write_sales(data / "a.csv", 0, 60, bad=True)

    first = ingest(str(data), "--infer", "--dataset", "sales")
    assert first["state"] == "success", first
    assert (first["rowsIn"], first["rowsOut"], first["rowsFailed"]) == (62, 60, 2)
    rows = dataset_rows(first["datasetId"])
    assert sorted(r["id"] for r in rows) == list(range(60))
    by_id = {r["id"]: r for r in rows}
    assert by_id[7] == {"id": 7, "customer": "c7", "amount": 7.25, "day": "2026-03-08"}
    # the folder lies outside the local roots: it was copied into the inbox
    assert (home / "inbox" / "ingest" / "sales" / "a.csv").exists()

    errors = [json.loads(line) for line in cli("runs", "errors", first["runId"], "--json").splitlines()]
    assert sorted(e["id"] for e in errors) == ["9001", "9002"]
    reasons = {e["id"]: e["_errors"][0]["message"] for e in errors}
    assert "number" in reasons["9001"] and "dd/MM/yyyy" in reasons["9002"]
    table = cli("runs", "errors", first["runId"])
    assert "2 rejected row(s)" in table and "twelve" in table

    # again, with one new file: the same flow, only the new rows
    write_sales(data / "b.csv", 100, 5, bad=False)
    second = ingest(str(data), "--dataset", "sales")
    assert second["flowId"] == first["flowId"] and second["datasetId"] == first["datasetId"]
    assert (second["rowsIn"], second["rowsOut"], second["rowsFailed"]) == (5, 5, 0)
    assert sorted(r["id"] for r in dataset_rows(first["datasetId"])) == [*range(60), *range(100, 105)]
    # nothing new: nothing read
    third = ingest(str(data), "--dataset", "sales")
    assert (third["rowsIn"], third["rowsOut"]) == (0, 0)

    # the operator CLI sees the flow and its three runs
    flows = json.loads(cli("flows", "list", "--json"))
    assert [f["name"] for f in flows] == ["ingest: sales"]
    runs = json.loads(cli("runs", "list", "--flow", first["flowId"], "--json"))
    assert len(runs) == 3 and {r["state"] for r in runs} == {"success"}


@pytest.fixture
def pg_table() -> Iterator[str]:
    name = "ingest_" + uuid.uuid4().hex[:10]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE public.{name} (id integer primary key, email text, score text, "
            "updated_at timestamp not null)"
        )
        conn.execute(
            f"INSERT INTO public.{name} SELECT g, 'u' || g || '@example.com', g::text, "
            "timestamp '2026-01-01' + g * interval '1 minute' FROM generate_series(1, 40) g"
        )
        conn.execute(f"INSERT INTO public.{name} VALUES (41, 'x@example.com', 'n/a', '2026-01-02')")
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS public.{name}")


def test_postgresql_table_incremental(home: Path, pg_table: str) -> None:
    source = f"{PG_ADMIN}?table=public.{pg_table}"
    first = ingest(source, "--infer", "--delta-column", "updated_at")
    assert first["state"] == "success", first
    assert (first["rowsIn"], first["rowsOut"], first["rowsFailed"]) == (41, 40, 1)
    rows = dataset_rows(first["datasetId"])
    assert sorted(r["id"] for r in rows) == list(range(1, 41))
    assert {type(r["score"]) for r in rows} == {int}  # inferred long despite one 'n/a'
    [error] = [json.loads(x) for x in cli("runs", "errors", first["runId"], "--json").splitlines()]
    assert error["id"] == 41 or error["id"] == "41"

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(
            f"INSERT INTO public.{pg_table} SELECT g, 'u' || g || '@example.com', g::text, "
            "timestamp '2026-02-01' + g * interval '1 minute' FROM generate_series(100, 104) g"
        )
    second = ingest(source, "--delta-column", "updated_at")
    assert second["flowId"] == first["flowId"]
    assert (second["rowsIn"], second["rowsOut"], second["rowsFailed"]) == (5, 5, 0), second
    ids = sorted(r["id"] for r in dataset_rows(first["datasetId"]))
    assert ids == [*range(1, 41), *range(100, 105)]

    flow = json.loads(cli("flows", "show", first["flowId"]))
    assert flow["transformations"][0]["params"]["deltaColumn"]["name"] == "updated_at"
    assert json.loads(cli("connections", "list", "--json"))[0]["spec"] == "PostgreSQL"
    cli("connections", "test", flow["sourceConnectionIds"][0], code=3)  # a source connection id
    with connect() as api:
        base = api.get(f"{FS}/sourceConnections/{flow['sourceConnectionIds'][0]}")["items"][0]
    assert "Password" not in json.dumps(base)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_malformed_csv_rows_are_row_errors(home: Path, tmp_path: Path) -> None:
    """A row with too many columns is a row error, as in Batch Ingestion, not a failed run."""
    src = tmp_path / "broken.csv"
    write_sales(src, 0, 30, bad=False)
    with src.open("a", encoding="utf-8") as f:
        f.write("77,c77,1.5,01/03/2026,extra,columns\n")
    got = ingest(str(src), "--infer")
    assert (got["state"], got["rowsIn"], got["rowsOut"], got["rowsFailed"]) == ("success", 31, 30, 1)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_square_payments_incremental(home: Path) -> None:
    """``xdmflow ingest square+http://TOKEN@host?table=Square.Payments``: every location's payments,
    then only the changed and new ones; the token never shows in the connection."""
    from xdmflow.cli.demo import ServiceThread, free_port
    from xdmflow.emulators.square import DEFAULT_ACCESS_TOKEN, SquareConfig, create_app

    emulator = create_app(3, config=SquareConfig(n_payments=60, refund_fraction=0.0))
    state = emulator.state.emulator
    server = ServiceThread(emulator, free_port()).start()
    try:
        source = f"square+http://{DEFAULT_ACCESS_TOKEN}@127.0.0.1:{server.port}?table=Square.Payments"
        first = ingest(source, "--infer", "--delta-column", "updated_at")
        assert first["state"] == "success", first
        assert first["rowsOut"] == 60
        assert sorted(r["id"] for r in dataset_rows(first["datasetId"])) == sorted(
            p["id"] for p in state.dump("payments")
        )
        state.advance(3600)
        old = state.dump("payments")[0]
        state.refund(old["id"], 10)
        new = state.add_payment(amount=999)
        second = ingest(source, "--delta-column", "updated_at")
        assert second["flowId"] == first["flowId"]
        assert (second["rowsIn"], second["rowsOut"]) == (2, 2), second
        with connect() as api:
            flow = api.get(f"{FS}/flows/{first['flowId']}")["items"][0]
            src = api.get(f"{FS}/sourceConnections/{flow['sourceConnectionIds'][0]}")["items"][0]
            base = api.get(f"{FS}/connections/{src['baseConnectionId']}")["items"][0]
        assert DEFAULT_ACCESS_TOKEN not in json.dumps(base)
        assert new["id"] in {r["id"] for r in dataset_rows(first["datasetId"])}
    finally:
        server.stop()
