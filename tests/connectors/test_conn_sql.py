"""SQL connectors against the live PostgreSQL and MariaDB services (unique tables, dropped after)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from psycopg import pq

from tests.connectors.connhelp import MARIA_URL, PG_URL, free_port
from xdmflow.connectors.base import ReadRequest, ReadResult
from xdmflow.connectors.sql import (
    MariaDbConnector,
    MySqlConnector,
    PostgresConnector,
    SqlConnector,
    parse_connection_string,
)
from xdmflow.connectors.sql.pgcopy import copy_supported, iter_copy
from xdmflow.connectors.sql.types import arrow_type_of, to_array
from xdmflow.errors import SourceAuthError, SourceFatalError
from xdmflow.testing.connector_suite import ConnectorContract, ContractCase, read_all

T0 = datetime(2024, 3, 1, 12, 0, 0)


def _engine(url: str, family: str) -> sa.Engine:
    return sa.create_engine(parse_connection_string(url, family))


@pytest.fixture
def pg() -> Iterator[sa.Engine]:
    engine = _engine(PG_URL, "postgresql")
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError:
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    yield engine
    engine.dispose()


@pytest.fixture
def maria() -> Iterator[sa.Engine]:
    engine = _engine(MARIA_URL, "mysql")
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError:
        pytest.skip("MariaDB is not running on 127.0.0.1:3306")
    yield engine
    engine.dispose()


@pytest.fixture
def table_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A unique table name; the table (if created) is dropped afterwards on both servers."""
    name = f"xdmf_{uuid.uuid4().hex[:10]}"
    yield name
    for url, family in ((PG_URL, "postgresql"), (MARIA_URL, "mysql")):
        engine = _engine(url, family)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        except sa.exc.OperationalError:
            pass
        finally:
            engine.dispose()


def _people(engine: sa.Engine, name: str) -> tuple[sa.Table, Callable[[list[dict[str, Any]]], None]]:
    md = sa.MetaData()
    table = sa.Table(
        name, md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(40)),
        sa.Column("updated", sa.DateTime),
    )  # fmt: skip
    md.create_all(engine)

    def add(rows: list[dict[str, Any]]) -> None:
        with engine.begin() as conn:
            conn.execute(table.insert(), [{**r, "updated": T0 + timedelta(days=int(r["id"]))} for r in rows])

    add([{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bob"}, {"id": 3, "name": None}])
    return table, add


ROWS: list[dict[str, Any]] = [{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bob"}, {"id": 3, "name": None}]


class TestPostgresContract(ConnectorContract):
    @pytest.fixture
    def contract_case(self, pg: sa.Engine, table_name: str) -> ContractCase:
        _, add = _people(pg, table_name)
        return ContractCase(
            connector=PostgresConnector(),
            good_auth={"connectionString": PG_URL},
            bad_auth={"connectionString": "postgresql://no_such_role_xdm:some-password@127.0.0.1:5432/test"},
            down_auth={"connectionString": f"postgresql://postgres:pw-secret@127.0.0.1:{free_port()}/test"},
            object=f"public.{table_name}",
            rows=ROWS,
            key="id",
            delta_column="updated",
            add_rows=add,
            new_rows=[{"id": 4, "name": "Dee"}, {"id": 5, "name": "Eve"}],
        )


class TestMariaDbContract(ConnectorContract):
    @pytest.fixture
    def contract_case(self, maria: sa.Engine, table_name: str) -> ContractCase:
        _, add = _people(maria, table_name)
        return ContractCase(
            connector=MariaDbConnector(),
            good_auth={"connectionString": MARIA_URL},
            bad_auth={"connectionString": "mysql://root:wrong-password@127.0.0.1:3306/test"},
            down_auth={"connectionString": f"mariadb://root:pw-secret@127.0.0.1:{free_port()}/test"},
            object=f"test.{table_name}",
            rows=ROWS,
            key="id",
            delta_column="updated",
            add_rows=add,
            new_rows=[{"id": 4, "name": "Dee"}],
        )


def test_mysql_spec_shares_the_mariadb_implementation(maria: sa.Engine, table_name: str) -> None:
    _people(maria, table_name)
    c = MySqlConnector()
    assert c.spec.id == "26d738e0-8963-47ea-aadf-c60de735468a" and isinstance(c, SqlConnector)
    table, result = read_all(
        c, {"connectionString": MARIA_URL}, ReadRequest(object=table_name, delta_column="id")
    )
    assert table.num_rows == 3 and result.new_watermark == 3


@pytest.mark.parametrize(
    ("raw", "family", "expected"),
    [
        ("postgres://u:p@h:5433/d", "postgresql", "postgresql+psycopg://u:***@h:5433/d"),
        ("postgresql+psycopg2://u@h/d", "postgresql", "postgresql+psycopg://u@h/d"),
        (
            "Server=h;Port=5432;Database=d;UID=u;Password=p",
            "postgresql",
            "postgresql+psycopg://u:***@h:5432/d",
        ),
        ("mariadb://u:p@h/d", "mysql", "mysql+pymysql://u:***@h/d?charset=utf8mb4"),
        ("Server=h;Port=3306;Database=d;UID=u;PWD=p", "mysql", "mysql+pymysql://u:***@h:3306/d"),
    ],
)
def test_connection_string_forms(raw: str, family: str, expected: str) -> None:
    assert str(parse_connection_string(raw, family)) == expected


def test_bad_connection_strings_do_not_echo_secrets() -> None:
    for raw, family in (
        ("mysql://u:topsecret@h/d", "postgresql"),
        ("", "mysql"),
        ("Password=topsecret", "mysql"),
    ):
        with pytest.raises(SourceAuthError) as info:
            parse_connection_string(raw, family)
        assert "topsecret" not in str(info.value)


def test_key_value_connection_string_connects(pg: sa.Engine) -> None:
    PostgresConnector().check(
        {"connectionString": "Server=127.0.0.1;Port=5432;Database=test;UID=postgres;Password="}
    )


def test_identifiers_are_validated_and_quoted(pg: sa.Engine, table_name: str) -> None:
    odd = f"{table_name} Odd"
    with pg.begin() as conn:
        conn.execute(sa.text(f'CREATE TABLE "{odd}" ("we""ird col" int, "Name" text)'))
        conn.execute(sa.text(f"INSERT INTO \"{odd}\" VALUES (1, 'x'), (2, 'y')"))
    c, auth = PostgresConnector(), {"connectionString": PG_URL}
    try:
        table, _ = read_all(
            c, auth, ReadRequest(object=f"public.{odd}", source_params={"columns": ['we"ird col']})
        )
        assert table.to_pylist() == [{'we"ird col': 1}, {'we"ird col': 2}]
        with pytest.raises(SourceFatalError, match="not found"):
            read_all(c, auth, ReadRequest(object=f'public.{table_name}"; DROP TABLE "{odd}"; --'))
        with pytest.raises(SourceFatalError, match="does not exist"):
            read_all(
                c, auth, ReadRequest(object=f"public.{odd}", source_params={"columns": ["1; DROP TABLE x"]})
            )
        with pytest.raises(SourceFatalError, match="does not exist"):
            read_all(c, auth, ReadRequest(object=f"public.{odd}", delta_column="nope", watermark=1))
        assert sa.inspect(pg).has_table(odd)
    finally:
        with pg.begin() as conn:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{odd}"'))


def test_postgres_types_map_to_arrow_and_xdm(pg: sa.Engine, table_name: str) -> None:
    with pg.begin() as conn:
        conn.execute(sa.text(
            f"CREATE TABLE {table_name} (b boolean, s smallint, i int, l bigint, n numeric(12,3), f float8, "
            "d date, ts timestamptz, j jsonb, u uuid, t text)"
        ))  # fmt: skip
        conn.execute(sa.text(
            f"INSERT INTO {table_name} VALUES (true, 1, 2, 3, 4.125, 5.5, '2024-01-02', "
            "'2024-01-02T03:04:05+02:00', '{\"a\": 1}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'x')"
        ))  # fmt: skip
    c, auth = PostgresConnector(), {"connectionString": PG_URL}
    desc = c.describe(auth, table_name, preview=True)
    xdm = {col.name: col.meta_xdm_type for col in desc.columns}
    assert xdm == {"b": "boolean", "s": "short", "i": "int", "l": "long", "n": "number", "f": "number",
                   "d": "date", "ts": "date-time", "j": "string", "u": "string", "t": "string"}  # fmt: skip
    table, result = read_all(c, auth, ReadRequest(object=table_name, delta_column="ts"))
    row = table.to_pylist()[0]
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert row["ts"] == datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC) and row["j"] == '{"a": 1}'
    assert str(row["n"]) == "4.125" and row["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert result.new_watermark == "2024-01-02T01:04:05Z"
    rows_path, rows_result = read_all(c, auth, ReadRequest(object=table_name, delta_column="ts",
                                                           source_params={"copy": False}))  # fmt: skip
    assert rows_path.equals(table) and rows_result.new_watermark == result.new_watermark


def test_postgres_copy_path_matches_row_path(pg: sa.Engine, table_name: str) -> None:
    odd = f'{table_name} 100% "odd"'
    with pg.begin() as conn:
        conn.execute(sa.text(
            f'CREATE TABLE "{table_name} 100% ""odd""" (id bigint, "v%s" text, n numeric(8,2), b bool, '
            "d date, ts timestamp, f real)"
        ))  # fmt: skip
        conn.execute(sa.text(
            f'INSERT INTO "{table_name} 100% ""odd""" SELECT g, CASE WHEN g % 3 = 0 THEN NULL WHEN g % 3 = 1 '
            "THEN '' ELSE 'a,\"b\"' || chr(10) || g END, g / 7.0, g % 2 = 0, DATE '2024-01-01' + g, "
            "TIMESTAMP '2024-01-01' + g * INTERVAL '1 second', g / 3.0 FROM generate_series(1, 2500) g"
        ))  # fmt: skip
    c, auth = PostgresConnector(), {"connectionString": PG_URL}
    try:
        for wm in (None, 1000, "1000"):
            req = ReadRequest(object=f"public.{odd}", delta_column="id", watermark=wm, batch_size=1000)
            fast, fast_res = read_all(c, auth, req)
            slow, slow_res = read_all(
                c, auth, ReadRequest(**{**req.__dict__, "source_params": {"copy": False}})
            )
            assert fast.equals(slow) and fast_res.new_watermark == slow_res.new_watermark == 2500
            assert fast.num_rows == (2500 if wm is None else 1500)
        assert slow.column("v%s").to_pylist()[:3] == ['a,"b"\n1001', None, ""]
    finally:
        with pg.begin() as conn:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table_name} 100% ""odd"""'))


def _ids(table: pa.Table) -> list[Any]:
    return table.column("id").to_pylist() if table.num_rows else []


def test_partitions_by_timestamp_and_key_cover_every_row_once(pg: sa.Engine, table_name: str) -> None:
    table, add = _people(pg, table_name)
    add([{"id": i, "name": f"p{i}"} for i in range(4, 101)])
    with pg.begin() as conn:
        conn.execute(table.insert(), [{"id": 1000, "name": "null-updated", "updated": None}])
    c, auth = PostgresConnector(), {"connectionString": PG_URL}
    by_key = c.partitions(
        auth, ReadRequest(object=table_name, source_params={"partitionColumn": "id", "partitions": 4})
    )
    assert len(by_key) == 4
    ids = [i for p in by_key for i in _ids(read_all(c, auth, p)[0])]
    assert sorted(ids) == [*range(1, 101), 1000]
    request = ReadRequest(object=table_name, delta_column="updated", watermark="2024-03-11T12:00:00Z",
                          source_params={"partitions": 3})  # fmt: skip
    parts = c.partitions(auth, request)
    results = [read_all(c, auth, p) for p in parts]
    ids = sorted(i for t, _ in results for i in _ids(t))
    assert ids == list(range(11, 101)) and len(parts) == 3
    assert max(r.new_watermark for _, r in results) == "2024-06-09T12:00:00Z"


def test_batches_are_bounded_and_streamed(maria: sa.Engine, table_name: str) -> None:
    table, add = _people(maria, table_name)
    add([{"id": i, "name": "x" * 30} for i in range(4, 5004)])
    c, request = MariaDbConnector(), ReadRequest(object=table_name, batch_size=700)
    sizes = [b.num_rows for b in c.read({"connectionString": MARIA_URL}, request, ReadResult())]
    assert sum(sizes) == 5003 and max(sizes) == 700


#: One value per PostgreSQL type the connector maps (types.py), with edge cases; the last row is
#: all NULL. ``expected`` is the Arrow value both read paths must produce.
_PARITY_COLUMNS: list[tuple[str, str, list[str], list[Any]]] = [
    ("b", "boolean", ["true", "false"], [True, False]),
    ("s", "smallint", ["-32768", "32767"], [-32768, 32767]),
    ("i", "integer", ["-2147483648", "7"], [-2147483648, 7]),
    ("l", "bigint", ["-9223372036854775808", "9223372036854775807"], [-(2**63), 2**63 - 1]),
    ("n", "numeric(12,3)", ["-123456789.125", "0.001"], [Decimal("-123456789.125"), Decimal("0.001")]),
    ("nf", "numeric", ["1.5", "-0.25"], [1.5, -0.25]),
    ("r", "real", ["1.5", "-2.25"], [1.5, -2.25]),
    ("f", "double precision", ["0.1", "-1e-300"], [0.1, -1e-300]),
    ("t", "text", ["E'a,\"b\"\\n\\\\ é 李'", "''"], ['a,"b"\n\\ é 李', ""]),
    ("v", "varchar(20)", ["'NULL'", "' x '"], ["NULL", " x "]),
    ("e", "xdmf_parity_mood", ["'happy'", "'sad'"], ["happy", "sad"]),
    ("d", "date", ["'1969-12-31'", "'2024-02-29'"], [date(1969, 12, 31), date(2024, 2, 29)]),
    (
        "ts",
        "timestamp",
        ["'1969-12-31 23:59:59.999999'", "'2024-01-02 03:04:05.5'"],
        [datetime(1969, 12, 31, 23, 59, 59, 999999), datetime(2024, 1, 2, 3, 4, 5, 500000)],
    ),
    (
        "tz",
        "timestamptz",
        ["'2024-01-02T03:04:05.123456+02:00'", "'1999-12-31T23:00:00-05:30'"],
        [datetime(2024, 1, 2, 1, 4, 5, 123456, tzinfo=UTC), datetime(2000, 1, 1, 4, 30, tzinfo=UTC)],
    ),
    (
        "u",
        "uuid",
        ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'"],
        ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000"],
    ),
    ("jb", "jsonb", ['\'{"a": [1, 2.5], "b": "é"}\'', "'[]'"], ['{"a": [1, 2.5], "b": "é"}', "[]"]),
    ("j", "json", ["'{\"a\": 1}'", "'[1, \"x\"]'"], ['{"a": 1}', '[1, "x"]']),
]


def test_postgres_type_parity_copy_and_row_paths(pg: sa.Engine, table_name: str) -> None:
    """Every mapped type, extremes and NULLs: the COPY path, the row path and the expected values
    agree, in full and incremental (delta) reads and over partitions; arrays take the row path
    (as JSON text)."""
    cols = ", ".join(f"{name} {sql}" for name, sql, _, _ in _PARITY_COLUMNS)
    with pg.begin() as conn:
        conn.execute(sa.text("DROP TYPE IF EXISTS xdmf_parity_mood CASCADE"))
        conn.execute(sa.text("CREATE TYPE xdmf_parity_mood AS ENUM ('happy', 'sad')"))
        conn.execute(sa.text(f"CREATE TABLE {table_name} (id int, {cols}, ai int[], at text[])"))
        for k in range(2):
            values = ", ".join(lit[k] for _, _, lit, _ in _PARITY_COLUMNS)
            arrays = "ARRAY[1, NULL, 3], ARRAY['x,y', NULL]" if k == 0 else "'{}', NULL"
            conn.execute(sa.text(f"INSERT INTO {table_name} VALUES ({k + 1}, {values}, {arrays})"))
        conn.execute(sa.text(f"INSERT INTO {table_name} (id) VALUES (3)"))
    c, auth = PostgresConnector(), {"connectionString": PG_URL}
    names = ["id"] + [name for name, _, _, _ in _PARITY_COLUMNS]
    expected = {"id": [1, 2, 3]} | {name: [*vals, None] for name, _, _, vals in _PARITY_COLUMNS}
    try:
        with pg.connect() as conn:
            table = c._table(conn, table_name)
            assert copy_supported(
                [table.c[n] for n in names], [arrow_type_of(table.c[n].type) for n in names]
            )
            assert not copy_supported([table.c.ai], [arrow_type_of(table.c.ai.type)])
        for wm in (None, 1):
            params: dict[str, Any] = {"columns": names}
            req = ReadRequest(
                object=table_name, delta_column="id", watermark=wm, batch_size=2, source_params=params
            )
            fast, fast_res = read_all(c, auth, req)
            slow, slow_res = read_all(c, auth, replace(req, source_params={**params, "copy": False}))
            assert fast.equals(slow), (fast.to_pylist(), slow.to_pylist())
            assert fast.schema == slow.schema and fast_res.new_watermark == slow_res.new_watermark == 3
            first = 0 if wm is None else 1
            assert fast.to_pydict() == {k: v[first:] for k, v in expected.items()}
        assert fast.schema.field("n").type == pa.decimal128(12, 3)
        assert fast.schema.field("tz").type == pa.timestamp("us", tz="UTC")
        by_id = {"columns": names, "partitionColumn": "id", "partitions": 2}
        parts = c.partitions(auth, ReadRequest(object=table_name, source_params=by_id))
        assert len(parts) == 2
        merged = pa.concat_tables([read_all(c, auth, p)[0] for p in parts]).sort_by("id")
        assert merged.to_pydict() == expected
        arrays, _ = read_all(
            c, auth, ReadRequest(object=table_name, source_params={"columns": ["id", "ai", "at"]})
        )
        assert arrays.to_pydict() == {"id": [1, 2, 3], "ai": ["[1, null, 3]", "[]", None],
                                      "at": ['["x,y", null]', None, None]}  # fmt: skip
    finally:
        with pg.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table_name}"))
            conn.execute(sa.text("DROP TYPE IF EXISTS xdmf_parity_mood CASCADE"))


def test_postgres_copy_errors_match_the_row_path(pg: sa.Engine, table_name: str) -> None:
    """A query failing after some rows were sent raises the same error on both paths."""
    view = f"{table_name}_v"
    with pg.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {table_name} AS SELECT g AS id FROM generate_series(1, 5000) g"))
        conn.execute(sa.text(f"CREATE VIEW {view} AS SELECT id, 10 / (id - 4000) AS q FROM {table_name}"))
    c, auth = PostgresConnector(), {"connectionString": PG_URL}
    try:
        errors = []
        for copy in (True, False):
            req = ReadRequest(object=view, batch_size=500, source_params={"copy": copy})
            with pytest.raises(SourceFatalError) as info:
                read_all(c, auth, req)
            errors.append(str(info.value))
        assert errors[0] == errors[1] and "division by zero" in errors[0]
    finally:
        with pg.begin() as conn:
            conn.execute(sa.text(f"DROP VIEW IF EXISTS {view}"))
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table_name}"))


def test_postgres_copy_left_early_leaves_the_connection_usable(pg: sa.Engine, table_name: str) -> None:
    with pg.begin() as conn:
        conn.execute(
            sa.text(f"CREATE TABLE {table_name} AS SELECT g AS id FROM generate_series(1, 200000) g")
        )
    c = PostgresConnector()
    try:
        with pg.connect() as conn:
            table = c._table(conn, table_name)
            stmt, _, _ = c._statement(table, ReadRequest(object=table_name))
            schema = pa.schema([pa.field("id", pa.int32())])
            batches = iter_copy(conn, stmt, list(table.columns), schema, None, 1000)
            assert next(batches)[0].num_rows == 1000
            batches.close()  # the consumer stops: the COPY is cancelled and drained
            status = conn.connection.dbapi_connection.pgconn.transaction_status  # type: ignore[union-attr]
            # no command in progress; the transaction is aborted when the cancel arrived in time
            assert status in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)
            conn.rollback()
            assert conn.execute(sa.text("SELECT count(*) FROM " + table_name)).scalar() == 200000
    finally:
        with pg.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table_name}"))


def test_to_array_text_and_float_columns_keep_their_values() -> None:
    """Only str/None text chunks (and Decimal-free floats) skip the per-value conversion."""
    assert to_array(("a", None, "é", ""), pa.string()).to_pylist() == ["a", None, "é", ""]
    mixed = ("a", None, 1, {"k": [1]}, b"\x01", date(2024, 1, 2), Decimal("1.5"))
    assert to_array(mixed, pa.string()).to_pylist() == [
        "a",
        None,
        "1",
        '{"k": [1]}',
        "01",
        "2024-01-02",
        "1.5",
    ]
    assert to_array((1.5, None, 2), pa.float64()).to_pylist() == [1.5, None, 2.0]
    assert to_array((Decimal("0.1"), None), pa.float64()).to_pylist() == [0.1, None]


def test_postgres_text_delta_reads_split_on_block_ranges(pg: sa.Engine, table_name: str) -> None:
    """A text delta column (a staging table) splits on ctid block ranges bounded by the delta's
    planned maximum: every row once (NULL deltas too), a row moved past it during the run is
    left to the next incremental read, on both read paths."""
    with pg.begin() as conn:
        conn.execute(sa.text(
            f"CREATE TABLE {table_name} AS SELECT g AS id, CASE WHEN g % 97 = 0 THEN NULL ELSE "
            "to_char(TIMESTAMP '2024-01-01' + g * INTERVAL '1 minute', 'YYYY-MM-DD HH24:MI:SS') END AS upd, "
            "repeat('x', 50) AS pad FROM generate_series(1, 30000) g"
        ))  # fmt: skip
    c, auth = PostgresConnector(), {"connectionString": PG_URL}
    try:
        full, full_res = read_all(c, auth, ReadRequest(object=table_name, delta_column="upd"))
        for copy in (True, False):
            params = {"targetPartitions": 3, "minPartitionRows": 1000, "copy": copy}
            parts = c.partitions(
                auth, ReadRequest(object=table_name, delta_column="upd", source_params=params)
            )
            assert len(parts) == 3 and all("blockRange" in p.source_params for p in parts)
            with pg.begin() as conn:  # after planning: one row moves past the planned maximum
                conn.execute(sa.text(f"UPDATE {table_name} SET upd = '2030-01-01 00:00:00' WHERE id = 5"))
            results = [read_all(c, auth, p) for p in parts]
            ids = sorted(i for t, _ in results for i in t.column("id").to_pylist())
            assert ids == [i for i in range(1, 30001) if i != 5]
            assert max(r.new_watermark for _, r in results) == full_res.new_watermark
            wm = full_res.new_watermark
            after = ReadRequest(
                object=table_name, delta_column="upd", watermark=wm, watermark_inclusive=False
            )
            nxt, _ = read_all(c, auth, after)
            assert nxt.column("id").to_pylist() == [5]
            with pg.begin() as conn:  # back to its value: the same rows as the unsplit read
                conn.execute(sa.text(f"UPDATE {table_name} SET upd = '2024-01-01 00:05:00' WHERE id = 5"))
            merged = pa.concat_tables([read_all(c, auth, p)[0] for p in parts]).sort_by("id")
            assert merged.equals(full.sort_by("id"))
        few = {"targetPartitions": 3, "minPartitionRows": 1000}
        incremental = ReadRequest(
            object=table_name, delta_column="upd", watermark="2024-01-21 00:00:00", source_params=few
        )
        assert c.partitions(auth, incremental) == [incremental]  # 1 % of the rows: one read
    finally:
        with pg.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table_name}"))
