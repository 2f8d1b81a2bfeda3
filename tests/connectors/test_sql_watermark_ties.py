"""Rows tying the SQL watermark are read once: never lost, never doubled (issue 13, defect 6).

The read bound is inclusive (``delta >= watermark``) and the pipeline's look-back de-duplication
(``DedupeState``, as the pipeline applies it: ``read_as_pipeline``) drops the rows at the
watermark that were already ingested.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.connectors.connhelp import MARIA_URL, PG_URL
from xdmflow.connectors.base import Connector, ReadRequest
from xdmflow.connectors.sql import MariaDbConnector, PostgresConnector, parse_connection_string
from xdmflow.testing.connector_suite import read_as_pipeline

T0 = datetime(2024, 3, 1, 12, 0, 0)

SERVERS = {
    "postgresql": (PG_URL, "postgresql", PostgresConnector, "public"),
    "mariadb": (MARIA_URL, "mysql", MariaDbConnector, "test"),
}


@pytest.fixture
def table_name() -> str:
    return f"xdmf_ties_{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=sorted(SERVERS))
def server(request: pytest.FixtureRequest, table_name: str) -> Iterator[tuple[sa.Engine, Connector, str]]:
    url, family, connector, schema = SERVERS[request.param]
    engine = sa.create_engine(parse_connection_string(url, family))
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError:
        pytest.skip(f"{request.param} is not running")
    try:
        yield engine, connector(), f"{schema}.{table_name}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table_name}"))
        engine.dispose()


def test_rows_tying_the_watermark_are_read_once(
    server: tuple[sa.Engine, Connector, str], table_name: str
) -> None:
    engine, connector, obj = server
    md = sa.MetaData()
    table = sa.Table(
        table_name,
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(40)),
        sa.Column("updated_at", sa.DateTime),
    )
    md.create_all(engine)
    top = T0 + timedelta(hours=9)
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [{"id": i, "name": f"n{i}", "updated_at": T0 + timedelta(hours=i)} for i in range(10)],
        )
    auth = {"connectionString": str(engine.url.render_as_string(hide_password=False))}

    def read(watermark: Any, state: dict[str, Any] | None) -> tuple[list[int], Any, dict[str, Any] | None]:
        req = ReadRequest(object=obj, delta_column="updated_at", watermark=watermark, batch_size=300)
        got, result, nxt = read_as_pipeline(connector, auth, req, state)
        ids = sorted(got.column("id").to_pylist()) if got.num_rows else []
        return ids, result.new_watermark, nxt

    ids, wm, state = read(None, None)
    assert ids == list(range(10)) and wm == top.isoformat() + "Z"

    # 1,000 rows arrive with updated_at equal to the current maximum (after the read)
    with engine.begin() as conn:
        conn.execute(
            table.insert(), [{"id": 100 + i, "name": f"t{i}", "updated_at": top} for i in range(1000)]
        )
    ids, wm2, state = read(wm, state)
    assert ids == [100 + i for i in range(1000)]  # every tie once; row 9 (also at the top) not again
    assert wm2 == wm

    # nothing new: nothing read, the watermark stays
    ids, wm3, state = read(wm2, state)
    assert ids == [] and wm3 == wm

    # a later row: only it
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": 5000, "name": "late", "updated_at": top + timedelta(seconds=1)}])
    ids, wm4, _ = read(wm3, state)
    assert ids == [5000] and wm4 != wm
