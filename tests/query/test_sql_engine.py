"""The Query Service's engine through the services: tables, rows, time travel, CTAS/INSERT, refusals."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.query.qhelp import add_batch, csv_dataset
from xdmflow.errors import BadRequestError, XdmflowError
from xdmflow.lake.lake import namespace_for
from xdmflow.query.guard import Checked
from xdmflow.query.tables import table_name
from xdmflow.services import queries


def principal(api: Any) -> Any:
    with api.ctx.db.session() as s:
        return queries.principal_for(s, api.creds["org_id"], "prod", api.creds["client_id"])


def rows(api: Any, sql: str) -> list[dict[str, Any]]:
    table, write, _ = queries.run_statement(api.ctx, principal(api), sql)
    assert table is not None and write is None
    return list(table.to_pylist())


def test_table_names_are_the_platforms() -> None:
    assert table_name("Orders 2024") == "orders_2024"
    assert table_name("Café—Loyalty (EU)") == "caf_loyalty_eu"
    assert table_name("2024 orders") == "t_2024_orders"


def test_exact_committed_rows_by_name_and_id_and_nested_fields(api_both: Any) -> None:
    api = api_both
    ds, ns = csv_dataset(api)
    got = rows(api, f"SELECT {ns}.name AS name, {ns}.amount AS amount FROM orders_2024 ORDER BY 1")
    assert got == [{"name": "ann", "amount": 1.5}, {"name": "bob", "amount": 2.5}]
    assert rows(api, f'SELECT count(*) AS n FROM "{ds}"') == [{"n": 2}]
    assert rows(api, "SHOW TABLES") == [{"name": "orders_2024"}]
    cols = rows(api, "SELECT table_name, column_name FROM information_schema.columns")
    assert cols == [{"table_name": "orders_2024", "column_name": ns}]


def test_duplicate_names_are_unique_and_stable(api: Any) -> None:
    first, _ = csv_dataset(api, name="Orders 2024")
    second, _ = csv_dataset(api, name="orders-2024")
    names = {r["name"] for r in rows(api, "SHOW TABLES")}
    assert names == {"orders_2024", f"orders_2024_{second[:8].lower()}"}


def test_time_travel_by_snapshot_id_and_timestamp(api: Any) -> None:
    ds, ns = csv_dataset(api)
    snaps = api.ctx.lake.snapshots(namespace_for(api.creds["org_id"], "prod"), ds)
    add_batch(api, ds, b"name,amount,qty\ncy,3.5,3\n", "second.csv")
    assert rows(api, "SELECT count(*) AS n FROM orders_2024") == [{"n": 3}]
    first = snaps[-1]
    past = rows(api, f"SELECT count(*) AS n FROM orders_2024 SNAPSHOT AS OF {first.snapshot_id}")
    assert past == [{"n": 2}]
    import datetime as dt

    at = dt.datetime.fromtimestamp(first.timestamp_ms / 1000, dt.UTC).isoformat()
    past_t = rows(api, f"SELECT max(o.{ns}.amount) AS m FROM orders_2024 SNAPSHOT AS OF '{at}' o")
    assert past_t == [{"m": 2.5}]
    with pytest.raises(XdmflowError):
        rows(api, "SELECT * FROM orders_2024 SNAPSHOT AS OF 12345")


def test_ctas_creates_a_dataset_and_insert_appends_a_batch(api: Any) -> None:
    ds, ns = csv_dataset(api)
    p = principal(api)
    _, w, _ = queries.run_statement(
        api.ctx,
        p,
        f"CREATE TABLE big_orders AS SELECT {ns}.name AS who, {ns}.amount * 2 AS twice FROM orders_2024",
    )
    assert w is not None and w.rows == 2 and w.tag == "SELECT 2"
    r = api.get(f"/data/foundation/catalog/dataSets/{w.dataset_id}")
    assert r.status_code == 200 and r.json()[w.dataset_id]["name"] == "big_orders"
    (col,) = [
        c["column_name"]
        for c in rows(api, "SELECT * FROM information_schema.columns WHERE table_name='big_orders'")
    ]
    assert rows(api, f"SELECT b.{col}.who AS who, b.{col}.twice AS t FROM big_orders b ORDER BY 1") == [
        {"who": "ann", "t": 3.0},
        {"who": "bob", "t": 5.0},
    ]
    _, w2, _ = queries.run_statement(api.ctx, p, "INSERT INTO big_orders (who, twice) SELECT 'zed', 9.0")
    assert w2 is not None and w2.tag == "INSERT 0 1" and w2.dataset_id == w.dataset_id
    assert rows(api, "SELECT count(*) AS n FROM big_orders") == [{"n": 3}]
    batch = api.get(f"/data/foundation/catalog/batches/{w2.batch_id}").json()[w2.batch_id]
    assert batch["status"] == "success"
    with pytest.raises(XdmflowError, match="do not fit"):  # checked against the dataset's schema
        queries.run_statement(api.ctx, p, "INSERT INTO big_orders (who, twice) SELECT 'x', 'not a number'")
    assert rows(api, "SELECT count(*) AS n FROM big_orders") == [{"n": 3}]
    with pytest.raises(XdmflowError, match="already exists"):
        queries.run_statement(api.ctx, p, "CREATE TABLE big_orders AS SELECT 1 AS a")


def test_positional_insert_refuses_a_value_that_does_not_fit_its_field(api: Any) -> None:
    """Without a column list the SELECT's columns go to the dataset's fields in their stored order
    (PostgreSQL's rule); a value of another kind is refused, naming both, instead of being cast
    into the wrong field."""
    p = principal(api)
    _, w, _ = queries.run_statement(
        api.ctx, p, "CREATE TABLE flags AS SELECT 'a1' AS id, true AS flag, 3 AS n"
    )
    assert w is not None
    # stored order is flag, id, n: the number 100 by position goes to flag (a boolean)
    with pytest.raises(XdmflowError, match=r"column 1 of the SELECT .* field flag"):
        queries.run_statement(api.ctx, p, "INSERT INTO flags SELECT 100, 'b2', 4")
    assert rows(api, "SELECT count(*) AS n FROM flags") == [{"n": 1}]
    _, w2, _ = queries.run_statement(api.ctx, p, "INSERT INTO flags (id, flag, n) SELECT 'b2', false, 4")
    assert w2 is not None and w2.tag == "INSERT 0 1"
    assert rows(api, "SELECT count(*) AS n FROM flags") == [{"n": 2}]


REFUSED = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_parquet('/tmp/*.parquet')",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM read_text('/etc/hostname')",
    "COPY orders_2024 TO '/tmp/out.csv'",
    "COPY (SELECT 1) TO '/tmp/out.parquet' (FORMAT parquet)",
    "ATTACH '/tmp/other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET threads = 64",
    "PRAGMA database_list",
    "CREATE MACRO evil(a) AS a",
    "CREATE FUNCTION evil(a) AS a",
    "CREATE VIEW v AS SELECT 1",
    "CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')",
    "SELECT getenv('HOME')",
    "DROP TABLE orders_2024",
    "DELETE FROM orders_2024",
    "UPDATE orders_2024 SET x = 1",
    "EXPORT DATABASE '/tmp/dump'",
    "SELECT 1; SELECT 2",
    "SELECT * FROM other.main.t",
]


@pytest.mark.parametrize("sql", REFUSED)
def test_security_list_is_refused_with_a_clear_error(api: Any, sql: str) -> None:
    csv_dataset(api)
    with pytest.raises(BadRequestError) as info:
        queries.run_statement(api.ctx, principal(api), sql)
    assert info.value.status == 400 and info.value.message


def test_external_access_is_off_even_past_the_guard(api: Any) -> None:
    """The configuration is the wall: a file read that slipped past the guard still fails."""
    csv_dataset(api)
    ex = queries.execution(
        api.ctx, principal(api), Checked("select", "SELECT * FROM read_csv('/etc/passwd')")
    )
    with pytest.raises(XdmflowError, match="disabled by configuration|Permission"):
        ex.to_table()
    ex = queries.execution(api.ctx, principal(api), Checked("select", "SET enable_external_access = true"))
    with pytest.raises(XdmflowError, match="locked"):
        ex.to_table()


def test_a_second_org_sees_nothing(api: Any) -> None:
    ds, ns = csv_dataset(api)
    other = api.as_other("OTHERORG0000000000000000@AdobeOrg")
    with api.ctx.db.session() as s:
        p2 = queries.principal_for(s, other.creds["org_id"], "prod", other.creds["client_id"])

    def run(sql: str) -> list[dict[str, Any]]:
        table, _, _ = queries.run_statement(api.ctx, p2, sql)
        assert table is not None
        return list(table.to_pylist())

    assert run("SHOW TABLES") == []
    assert run("SELECT table_name FROM information_schema.tables") == []
    assert run("SELECT relname FROM pg_catalog.pg_class WHERE relkind = 'r'") == []
    for sql in ("SELECT * FROM orders_2024", f'SELECT * FROM "{ds}"'):
        with pytest.raises(XdmflowError, match="does not exist"):
            run(sql)
    location = api.ctx.lake.table_location(namespace_for(api.creds["org_id"], "prod"), ds)
    with pytest.raises(BadRequestError):
        run(f"SELECT * FROM read_parquet('{location}/data/*/*.parquet')")
    with pytest.raises(BadRequestError):
        run(f"SELECT * FROM '{location}/data/x.parquet'")


def test_time_limit_and_row_cap(tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from tests.conftest import Api, make_settings
    from xdmflow.api.app import create_app
    from xdmflow.query.engine import QueryKilledError
    from xdmflow.runtime import build_context

    settings = make_settings(tmp_path / "home", query_timeout_seconds=0.5, query_max_rows=5)
    with TestClient(create_app(settings, context=build_context)) as client:
        api = Api(client)
        table, _, truncated = queries.run_statement(api.ctx, principal(api), "SELECT * FROM range(100)")
        assert table is not None and table.num_rows == 5 and truncated
        with pytest.raises(QueryKilledError, match="longer than"):
            queries.run_statement(
                api.ctx, principal(api), "SELECT count(*) FROM range(100000000) a, range(100000000) b"
            )


def test_simple_predicates_skip_files_by_column_stats(api: Any) -> None:
    """Three batches (one file each) with disjoint qty ranges: a selective WHERE reads one file,
    with the same rows as without pruning; predicates that cannot prune read every file."""
    ds, ns = csv_dataset(
        api,
        batches=[
            b"name,amount,qty\nann,1.5,1\nbob,2.5,2\n",
            b"name,amount,qty\ncy,3.5,10\ndi,4.5,11\n",
            b"name,amount,qty\ned,5.5,20\nfay,6.5,21\n",
        ],
    )
    p = principal(api)

    def run(sql: str) -> tuple[list[dict[str, Any]], int, int]:
        ex = queries.execution(api.ctx, p, queries.prepare(sql))
        table = ex.to_table()
        return table.to_pylist(), ex.files_read, ex.files_total

    got, read, total = run(f"SELECT {ns}.name AS n FROM orders_2024 WHERE {ns}.qty >= 10 AND {ns}.qty < 12")
    assert sorted(r["n"] for r in got) == ["cy", "di"] and (read, total) == (1, 3)
    got, read, total = run(f"SELECT {ns}.name AS n FROM orders_2024 o WHERE 20 < o.{ns}.qty")
    assert got == [{"n": "fay"}] and (read, total) == (1, 3)
    got, read, _ = run(f"SELECT count(*) AS c FROM orders_2024 WHERE {ns}.name = 'bob' AND {ns}.amount <= 3")
    assert got == [{"c": 1}] and read == 1
    got, read, _ = run(f"SELECT count(*) AS c FROM orders_2024 WHERE {ns}.qty > 100")
    assert got == [{"c": 0}] and read == 0
    got, read, _ = run(f"SELECT count(*) AS c FROM orders_2024 WHERE {ns}.name IS NULL")
    assert got == [{"c": 0}] and read == 0  # no file has a null name
    got, read, _ = run(f"SELECT count(*) AS c FROM orders_2024 WHERE {ns}.name IS NOT NULL AND {ns}.qty <= 2")
    assert got == [{"c": 2}] and read == 1
    # not prunable: OR, a float against an integer column, the table read again in a subquery
    for sql, want in (
        (f"SELECT count(*) AS c FROM orders_2024 WHERE {ns}.qty = 1 OR {ns}.qty = 21", 2),
        (f"SELECT count(*) AS c FROM orders_2024 WHERE {ns}.qty > 10.5", 3),
        (
            f"SELECT count(*) AS c FROM orders_2024 WHERE {ns}.qty >= 20 "
            f"AND {ns}.amount > (SELECT min({ns}.amount) FROM orders_2024)",
            2,
        ),
    ):
        got, read, total = run(sql)
        assert got == [{"c": want}] and read == total == 3, sql
    # a new commit is a new metadata location: the cached plans never hide it
    add_batch(api, ds, b"name,amount,qty\ngus,7.5,10\n", "late.csv")
    got, read, total = run(f"SELECT {ns}.name AS n FROM orders_2024 WHERE {ns}.qty = 10 ORDER BY 1")
    assert got == [{"n": "cy"}, {"n": "gus"}] and (read, total) == (2, 4)


def test_reused_databases_keep_nothing_of_the_previous_query(api: Any) -> None:
    """Query databases are reused while idle, but never across sandboxes: a database that may
    read one sandbox's directory of the lake is only handed to that sandbox's queries; one that
    may read no file (queries over no data) can go to anyone, and holds nothing of the previous
    query (its tables were views of that query's connection only)."""
    csv_dataset(api)
    engine = queries.query_engine(api.ctx)
    assert rows(api, "SELECT count(*) AS n FROM orders_2024") == [{"n": 2}]
    assert rows(api, "SELECT 1 AS one") == [{"one": 1}]
    engine.databases.settle()
    kept = engine.databases.idle()
    assert len(kept) == 2, "the finished queries' databases were not kept"
    assert rows(api, "SELECT count(*) AS n FROM orders_2024") == [{"n": 2}]
    engine.databases.settle()
    assert set(map(id, engine.databases.idle())) == set(map(id, kept))  # the same database again
    other = api.as_other("QUERYREUSEOTHER0000000000@AdobeOrg")
    with api.ctx.db.session() as s:
        q = queries.principal_for(s, other.creds["org_id"], "prod", other.creds["client_id"])
    for _ in range(3):
        with pytest.raises(XdmflowError, match="orders_2024"):
            queries.run_statement(api.ctx, q, "SELECT count(*) AS n FROM orders_2024")
        engine.databases.settle()
    assert queries.run_statement(api.ctx, q, "SELECT 1 AS one")[0] is not None
    engine.databases.settle()
    # the other org's queries used the database that reads no file, never the sandbox's one
    assert set(map(id, engine.databases.idle())) == set(map(id, kept))


def test_the_sandbox_catalog_is_cached_until_a_dataset_changes(api: Any) -> None:
    first, _ = csv_dataset(api)
    p = principal(api)
    check = queries.prepare("SELECT 1")
    one = queries.execution(api.ctx, p, check).catalog
    assert queries.execution(api.ctx, p, check).catalog is one  # nothing changed: the same catalog
    assert rows(api, "SHOW TABLES") == [{"name": "orders_2024"}]
    second, _ = csv_dataset(api, name="Refunds")
    assert rows(api, "SHOW TABLES") == [{"name": "orders_2024"}, {"name": "refunds"}]
    assert api.delete(f"/data/foundation/catalog/dataSets/{first}").status_code in (200, 204)
    assert rows(api, "SHOW TABLES") == [{"name": "refunds"}]
    assert queries.execution(api.ctx, p, check).catalog is not one


def _ref(api: Any, principal_: Any, table: str) -> Any:
    with api.ctx.db.session() as s:
        ref = queries.sandbox_catalog(s, queries.Scope(principal_.org_id, principal_.sandbox_name)).resolve(
            table
        )
    assert ref is not None
    return ref


def test_duckdb_reads_only_its_own_sandboxs_files_even_past_the_guard(api: Any) -> None:
    """A query over local lake files has DuckDB read them itself, with a database that may open
    the sandbox's directory of the lake and nothing else: another sandbox's file, a path out of
    the directory and a file elsewhere fail even for a statement that slipped past the guard."""
    csv_dataset(api)
    other = api.as_other("DIRECTOTHER000000000000000@AdobeOrg")
    csv_dataset(other, name="Theirs")
    with api.ctx.db.session() as s:
        q = queries.principal_for(s, other.creds["org_id"], "prod", other.creds["client_id"])
    engine = queries.query_engine(api.ctx)
    mine, theirs = _ref(api, principal(api), "orders_2024"), _ref(api, q, "theirs")
    direct_a = engine.planner.direct(mine, engine.planner.files(mine).paths)
    direct_b = engine.planner.direct(theirs, engine.planner.files(theirs).paths)
    assert direct_a is not None and direct_a.directory.endswith(f"/{mine.namespace}/")
    assert direct_b is not None and direct_b.directory != direct_a.directory

    def past_the_guard(sql: str) -> None:
        ex = queries.execution(api.ctx, principal(api), Checked("select", sql, tables={"orders_2024"}))
        with pytest.raises(XdmflowError, match="disabled by configuration|Permission"):
            ex.to_table()

    own = direct_a.paths[0]
    assert rows(api, "SELECT count(*) AS n FROM orders_2024") == [{"n": 2}]  # read by DuckDB itself
    ex = queries.execution(
        api.ctx,
        principal(api),
        Checked("select", f"SELECT count(*) AS n FROM read_parquet('{own}')", tables={"orders_2024"}),
    )
    assert ex.to_table().to_pylist() == [{"n": 2}]  # (the guard refuses this; the database allows it)
    past_the_guard(f"SELECT * FROM read_parquet('{direct_b.paths[0]}')")
    past_the_guard("SELECT * FROM read_csv('/etc/passwd')")
    past_the_guard(f"SELECT * FROM read_csv('{direct_a.directory}../../credentials.json')")


def test_a_file_without_the_tables_columns_is_read_through_pyarrow(api: Any, tmp_path: Any) -> None:
    """DuckDB reads the files itself only when each has exactly the table's columns and lies in
    the table's data directory: a file written before the schema grew (fewer fields) or a file
    elsewhere sends the table through pyarrow, which fills missing fields in."""
    _, ns = csv_dataset(api)
    engine = queries.query_engine(api.ctx)
    ref = _ref(api, principal(api), "orders_2024")
    paths = engine.planner.files(ref).paths
    direct = engine.planner.direct(ref, paths)
    assert direct is not None and len(direct.paths) == len(paths) == 1
    data_dir = direct.paths[0].rsplit("/", 1)[0]
    struct = ref.arrow_schema.field(ns).type
    narrow = pa.schema([pa.field(ns, pa.struct([f for f in struct if f.name != "qty"]))])
    pq.write_table(narrow.empty_table(), f"{data_dir}/narrow.parquet")
    pq.write_table(ref.arrow_schema.empty_table(), f"{data_dir}/same.parquet")
    pq.write_table(ref.arrow_schema.empty_table(), str(tmp_path / "elsewhere.parquet"))
    assert engine.planner.direct(ref, (*paths, f"{data_dir}/same.parquet")) is not None
    assert engine.planner.direct(ref, (*paths, f"{data_dir}/narrow.parquet")) is None
    assert engine.planner.direct(ref, (*paths, str(tmp_path / "elsewhere.parquet"))) is None
