"""psql (Debian's postgresql-client) and psycopg 3 against a served instance's PostgreSQL port."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psycopg
import pytest

from tests.query.conftest import Served
from tests.query.qhelp import add_batch, csv_dataset
from tests.query.test_sql_engine import REFUSED
from xdmflow.lake.lake import namespace_for


def test_psql_lists_tables_and_reads_exactly_the_committed_rows(served: Served) -> None:
    ds, ns = csv_dataset(served.api)
    r = served.psql("-c", r"\dt")
    assert r.returncode == 0, r.stderr
    assert "orders_2024" in r.stdout and "table" in r.stdout
    r = served.psql("-c", r"\d orders_2024")
    assert r.returncode == 0 and ns in r.stdout, r.stderr
    r = served.psql(
        "-A", "-t", "-F", ",", "-c", f"SELECT {ns}.name, {ns}.amount, {ns}.qty FROM orders_2024 ORDER BY 1"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ann,1.5,1", "bob,2.5,2"]
    r = served.psql("-A", "-t", "-c", f'SELECT count(*) FROM "{ds}"')
    assert r.stdout.strip() == "2", r.stderr


def test_psql_time_travel_to_the_previous_batch(served: Served) -> None:
    ds, ns = csv_dataset(served.api)
    first = served.api.ctx.lake.snapshots(namespace_for(served.org, "prod"), ds)[-1]
    add_batch(served.api, ds, b"name,amount,qty\ncy,3.5,3\n", "second.csv")
    now = served.psql(
        "-A", "-t", "-c", f"SELECT string_agg({ns}.name, ',' ORDER BY {ns}.name) FROM orders_2024"
    )
    assert now.stdout.strip() == "ann,bob,cy", now.stderr
    past = served.psql(
        "-A",
        "-t",
        "-c",
        f"SELECT string_agg(o.{ns}.name, ',' ORDER BY o.{ns}.name) "
        f"FROM orders_2024 SNAPSHOT AS OF {first.snapshot_id} o",
    )
    assert past.stdout.strip() == "ann,bob", past.stderr


def test_psql_ctas_then_query_the_new_dataset(served: Served) -> None:
    _, ns = csv_dataset(served.api)
    r = served.psql(
        "-c", f"CREATE TABLE top_orders AS SELECT {ns}.name AS who FROM orders_2024 WHERE {ns}.amount > 2"
    )
    assert r.returncode == 0 and "SELECT 1" in r.stdout, r.stderr
    r = served.psql(
        "-A", "-t", "-c", "SELECT column_name FROM information_schema.columns WHERE table_name = 'top_orders'"
    )
    (col,) = r.stdout.split()
    r = served.psql("-A", "-t", "-c", f"SELECT t.{col}.who FROM top_orders t")
    assert r.stdout.strip() == "bob", r.stderr
    datasets = served.api.get("/data/foundation/catalog/dataSets?property=name==top_orders").json()
    assert len(datasets) == 1


@pytest.mark.parametrize("sql", [s for s in REFUSED if ";" not in s])  # psql may send several statements
def test_psql_refuses_the_security_list(served: Served, sql: str) -> None:
    csv_dataset(served.api)
    r = served.psql("-c", sql)
    assert r.returncode != 0
    assert r.stderr.startswith("ERROR:") and len(r.stderr) > 30, r.stderr


def test_psycopg_simple_and_extended_protocol(served: Served) -> None:
    _, ns = csv_dataset(served.api)
    with psycopg.connect(served.dsn()) as conn:
        rows = conn.execute(
            f"SELECT {ns}.name AS n, {ns}.amount AS a, {ns}.qty AS q "
            f"FROM orders_2024 WHERE {ns}.qty >= %s ORDER BY 1",
            [2],
        ).fetchall()
        assert rows == [("bob", 2.5, 2)]
        cur = conn.execute("SELECT * FROM orders_2024 ORDER BY 1")
        assert cur.description is not None
        assert [d.name for d in cur.description] == [ns]
        assert cur.fetchall()[0] == ({"amount": 1.5, "name": "ann", "qty": 1},)  # a struct arrives as JSON
        assert conn.execute("SELECT %s::INTEGER + 1, %s::VARCHAR", [41, "x"], prepare=True).fetchone() == (
            42,
            "x",
        )
        with conn.cursor() as c:  # a row limit on Execute (PortalSuspended) through a named cursor-less fetch
            c.execute("SELECT * FROM range(10)")
            assert len(c.fetchmany(3)) == 3 and len(c.fetchall()) == 7
        conn.execute("BEGIN")
        conn.execute("ROLLBACK")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM read_csv('/etc/passwd')")
        conn.rollback()
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("SELECT * FROM nope")


def test_credentials_and_database(served: Served) -> None:
    creds = served.api.creds
    ok = served.psql("-A", "-t", "-c", "SELECT 1", password=f"{creds['client_id']}:{creds['client_secret']}")
    assert ok.returncode == 0 and ok.stdout.strip() == "1", ok.stderr
    bad = served.psql("-c", "SELECT 1", password="not-a-token")
    assert bad.returncode != 0 and "authentication failed" in bad.stderr.lower()
    wrong_org = served.psql("-c", "SELECT 1", user="SOMEONEELSE@AdobeOrg")
    assert wrong_org.returncode != 0
    no_sandbox = served.psql("-c", "SELECT 1", dbname="nosuch:all")
    assert no_sandbox.returncode != 0 and "nosuch" in no_sandbox.stderr


def test_a_second_org_sees_nothing_over_psql(served: Served) -> None:
    from xdmflow.services import identity

    ds, ns = csv_dataset(served.api)
    with served.api.ctx.db.session() as s:
        other = identity.create_client(s, "SECONDORG000000000000000@AdobeOrg", name="second")
    password = f"{other.client_id}:{other.client_secret}"
    user = other.org_id
    listing = served.psql("-c", r"\dt", password=password, user=user)
    assert listing.returncode == 0 and "orders_2024" not in listing.stdout + listing.stderr
    for sql in (
        "SELECT * FROM orders_2024",
        f'SELECT * FROM "{ds}"',
        "SELECT table_name FROM information_schema.tables",
        "SELECT relname FROM pg_catalog.pg_class WHERE relkind = 'r'",
    ):
        r = served.psql("-A", "-t", "-c", sql, password=password, user=user)
        assert "ann" not in r.stdout and "orders_2024" not in r.stdout and ds not in r.stdout, (sql, r.stdout)


def _heavy(served: Served) -> subprocess.Popen[str]:
    env = {**os.environ, "PGPASSWORD": served.token}
    return subprocess.Popen(
        ["psql", served.dsn().replace(f"password={served.token} ", ""), "-X", "-c", HEAVY],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


HEAVY = "SELECT count(*) FROM range(100000000000) a"


def test_cancel_request_stops_the_query(served: Served) -> None:
    proc = _heavy(served)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)  # psql sends a CancelRequest with the backend key
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "cancelled" in err, err


def test_psycopg_cancel_stops_the_running_duckdb_query(served: Served) -> None:
    """``conn.cancel()`` sends a CancelRequest on a new socket: the DuckDB query is interrupted,
    the statement fails with 57014 and the connection goes on."""
    import threading

    with psycopg.connect(served.dsn()) as conn:
        outcome: list[BaseException | None] = []

        def run() -> None:
            try:
                conn.execute(HEAVY)
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                outcome.append(exc)

        worker = threading.Thread(target=run)
        started = time.monotonic()
        worker.start()
        time.sleep(1.5)
        conn.cancel_safe()
        worker.join(30)
        assert not worker.is_alive() and time.monotonic() - started < 20
        assert isinstance(outcome[0], psycopg.errors.QueryCanceled), outcome
        assert conn.execute("SELECT 42").fetchone() == (42,)


def test_client_disconnect_stops_the_query_and_frees_the_pool(served: Served) -> None:
    """Two heavy queries fill the pool (query_workers=2); their clients die; the next query runs."""
    procs = [_heavy(served) for _ in range(2)]
    time.sleep(2)
    for p in procs:
        p.kill()
        p.communicate()  # reaps it and closes its pipes
    started = time.monotonic()
    with psycopg.connect(served.dsn()) as conn:
        assert conn.execute("SELECT 42").fetchone() == (42,)
    assert time.monotonic() - started < 15


def test_api_stays_responsive_while_the_pool_is_busy(served: Served) -> None:
    procs = [_heavy(served) for _ in range(3)]
    try:
        time.sleep(1.5)
        started = time.monotonic()
        r = served.api.get("/data/foundation/catalog/dataSets")
        assert r.status_code == 200 and time.monotonic() - started < 10
    finally:
        for p in procs:
            p.kill()
            p.communicate()


def test_sqlalchemy_inspector_and_pandas_read_sql(served: Served) -> None:
    import urllib.parse

    import pandas as pd
    import sqlalchemy as sa

    _, ns = csv_dataset(served.api)
    q = urllib.parse.quote
    url = (
        f"postgresql+psycopg://{q(served.org)}:{q(served.token)}@127.0.0.1:{served.pg_port}/{q('prod:all')}"
        "?sslmode=disable"
    )
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == ["orders_2024"]
            df = pd.read_sql(sa.text(f"SELECT {ns}.name AS name FROM orders_2024 ORDER BY 1"), conn)
            assert df["name"].tolist() == ["ann", "bob"]
    finally:
        engine.dispose()
