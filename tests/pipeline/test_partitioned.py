"""Partitioned runs on both executors: one snapshot per run, exact counts, nothing left on failure.

The pipeline runs for real against a lake (SQLite catalog, local warehouse) and local files;
the ``executor`` fixture is the in-process thread pool and a Dask ``LocalCluster`` with two
worker processes (started once for the module).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.pipeline.daskhelp import fail_on_three, square, start_dask
from xdmflow.connectors.base import ReadRequest
from xdmflow.connectors.files.connector import LocalFilesConnector
from xdmflow.errors import SourceError, SourceFatalError
from xdmflow.executors.base import Executor, InProcessExecutor
from xdmflow.lake.diagnostics import ErrorStore
from xdmflow.lake.files import batch_data_dir
from xdmflow.lake.lake import Lake
from xdmflow.pipeline.dedupe import DedupeState
from xdmflow.pipeline.partition import RunSpec
from xdmflow.pipeline.run import RunResult, execute, later_watermark
from xdmflow.schema.compiled import CompiledSchema, XdmField

NS = "org_0123456789ab__prod"


def _f(name: str, xdm_type: str) -> XdmField:
    return XdmField(name=name, path=name, xdm_type=xdm_type)  # type: ignore[arg-type]


SCHEMA = CompiledSchema(
    id="https://ns.adobe.com/tenant/schemas/part",
    version="1.0",
    title="Partitioned",
    class_id="https://ns.adobe.com/xdm/data/record",
    fields=(_f("amount", "number"), _f("id", "long"), _f("name", "string")),
)


@pytest.fixture(scope="module", params=["inprocess", "dask"])
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    ex: Executor = InProcessExecutor(2) if request.param == "inprocess" else start_dask(2)
    try:
        yield ex
    finally:
        ex.close()


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    lk = Lake(f"sqlite:///{tmp_path / 'meta.db'}", str(tmp_path / "lake"))
    lk.create_table(NS, "ds", SCHEMA)
    try:
        yield lk
    finally:
        lk.close()


def rows(start: int, n: int, bad_every: int = 0) -> pa.Table:
    ids = np.arange(start, start + n)
    amount = pc.cast(pa.array(ids * 0.5), pa.string())
    if bad_every:
        amount = pa.array(
            np.where(ids % bad_every == 0, "oops", np.asarray(amount.to_pylist(), dtype=object)), pa.string()
        )
    return pa.table({"id": pa.array(ids).cast(pa.string()), "name": [f"n{i}" for i in ids], "amount": amount})


def write_csvs(folder: Path, files: int, per_file: int, bad_every: int = 0) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        pacsv.write_csv(rows(i * per_file, per_file, bad_every), folder / f"part{i:02d}.csv")
    return files * per_file


def spec(path: str, batch_id: str = "b1", **kw: Any) -> RunSpec:
    params = {"path": path, "format": "delimited", "minPartitionBytes": 64 * 1024, **kw.pop("params", {})}
    return RunSpec(
        run_id="r1",
        batch_id=batch_id,
        connector_spec_id=LocalFilesConnector.spec.id,
        auth={},
        read=ReadRequest(object=path, source_params=params, batch_size=20_000),
        plan=None,
        target=SCHEMA,
        namespace=NS,
        dataset_id="ds",
        **kw,
    )


def leftovers(lake: Lake, batch_id: str) -> list[str]:
    """Files under the batch's data directory that its snapshot does not reference."""
    directory = batch_data_dir(lake.table_location(NS, "ds"), batch_id)
    fs, root = fsspec.core.url_to_fs(directory)
    found = {p.rsplit("/", 1)[1] for p in fs.find(root)} if fs.exists(root) else set()
    committed = {p.rsplit("/", 1)[1] for p in lake.batch_files(NS, "ds", batch_id)}
    return sorted(found - committed)


def run(
    executor: Executor, lake: Lake, tmp_path: Path, s: RunSpec, diag: ErrorStore | None = None
) -> RunResult:
    auth = {"rootPath": str(tmp_path)}
    s.auth = auth
    return execute(s, LocalFilesConnector(), lake, diag, executor=executor)


def test_many_files_one_snapshot_exact_count(executor: Executor, lake: Lake, tmp_path: Path) -> None:
    total = write_csvs(tmp_path / "in", files=8, per_file=40_000)
    seen: list[RunResult] = []
    s = spec("/in/*.csv")
    s.auth = {"rootPath": str(tmp_path)}
    result = execute(s, LocalFilesConnector(), lake, None, executor=executor, before_commit=seen.append)
    assert result.status == "success", result.errors
    assert result.partitions >= 4  # several partitions ran...
    assert (result.input_records, result.output_records, result.input_files) == (total, total, 8)
    snaps = lake.snapshots(NS, "ds")
    assert [sn.batch_id for sn in snaps] == ["b1"]  # ...and landed as one snapshot
    assert seen and seen[0].output_records == total  # the intent was recorded before the commit
    data = lake.scan(NS, "ds")
    assert data.num_rows == total
    assert pc.count_distinct(data.column("id")).as_py() == total
    newest = max(os.stat(p).st_mtime for p in (tmp_path / "in").iterdir())
    assert result.new_watermark is not None
    assert abs(pc.cast(pa.scalar(result.new_watermark), pa.timestamp("us", "UTC")).value / 1e6 - newest) < 1
    assert leftovers(lake, "b1") == []
    assert len(result.data_files) == result.output_files >= 4


def test_big_csv_split_by_byte_ranges(executor: Executor, lake: Lake, tmp_path: Path) -> None:
    (tmp_path / "big").mkdir()
    pacsv.write_csv(
        rows(0, 150_000),
        tmp_path / "big" / "one.csv",
        write_options=pacsv.WriteOptions(quoting_style="none"),
    )
    result = run(executor, lake, tmp_path, spec("/big/one.csv"))
    assert result.status == "success"
    assert result.partitions >= 4 and result.input_files == 1
    ids = lake.scan(NS, "ds").column("id")
    assert ids.num_chunks >= 1 and sorted(ids.to_pylist()) == list(range(150_000))


def test_quoted_csv_is_not_byte_split(executor: Executor, lake: Lake, tmp_path: Path) -> None:
    (tmp_path / "q").mkdir()
    table = rows(0, 60_000)
    names = table.column("name").to_pylist()
    names[1000] = "two\nlines"
    pacsv.write_csv(table.set_column(1, "name", pa.array(names)), tmp_path / "q" / "quoted.csv")
    result = run(executor, lake, tmp_path, spec("/q/quoted.csv"))
    assert result.status == "success"
    assert result.partitions == 1
    data = lake.scan(NS, "ds")
    assert data.num_rows == 60_000 and "two\nlines" in data.column("name").to_pylist()


def test_parquet_split_by_row_groups(executor: Executor, lake: Lake, tmp_path: Path) -> None:
    (tmp_path / "pq").mkdir()
    pq.write_table(rows(0, 200_000), tmp_path / "pq" / "big.parquet", row_group_size=25_000)
    result = run(executor, lake, tmp_path, spec("/pq/big.parquet", params={"format": "parquet"}))
    assert result.status == "success" and result.partitions > 1 and result.input_files == 1
    assert sorted(lake.scan(NS, "ds").column("id").to_pylist()) == list(range(200_000))


def test_failed_partition_commits_nothing_and_leaves_no_files(
    executor: Executor, lake: Lake, tmp_path: Path
) -> None:
    import gzip

    write_csvs(tmp_path / "in", files=6, per_file=30_000)
    # a file that reads for a while, then breaks (a truncated gzip stream: a source error, not a
    # bad row; a row with too many columns would be a row error)
    good = (tmp_path / "in" / "part03.csv").read_bytes()
    (tmp_path / "in" / "part03.csv").unlink()
    packed = gzip.compress(good)
    (tmp_path / "in" / "part03.csv.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(SourceError):
        run(executor, lake, tmp_path, spec("/in/part*"))
    assert lake.snapshots(NS, "ds") == []
    assert leftovers(lake, "b1") == []


def test_threshold_failure_commits_nothing(executor: Executor, lake: Lake, tmp_path: Path) -> None:
    total = write_csvs(tmp_path / "in", files=4, per_file=30_000, bad_every=100)
    diag = ErrorStore(str(tmp_path / "lake"))
    result = run(executor, lake, tmp_path, spec("/in/*.csv", error_diagnostics=True), diag)
    assert result.status == "failed" and result.failed_records == total // 100
    assert result.output_records == 0 and result.snapshot_id is None
    assert lake.snapshots(NS, "ds") == [] and leftovers(lake, "b1") == []
    # every rejected row of every partition is in the diagnostics, the run keeps a sample
    assert sum(1 for _ in diag.rows("b1")) == total // 100
    assert len(result.sample_errors) == 100


def test_partial_ingestion_across_partitions(executor: Executor, lake: Lake, tmp_path: Path) -> None:
    total = write_csvs(tmp_path / "in", files=4, per_file=30_000, bad_every=100)
    diag = ErrorStore(str(tmp_path / "lake"))
    s = spec("/in/*.csv", error_diagnostics=True, partial_ingestion_percent=5.0)
    result = run(executor, lake, tmp_path, s, diag)
    assert result.status == "success"
    assert (result.input_records, result.failed_records) == (total, total // 100)
    assert lake.scan(NS, "ds").num_rows == result.output_records == total - total // 100
    assert result.error_counts == {"MAPPER-3700-400": total // 100}
    assert sum(1 for _ in diag.rows("b1")) == total // 100


def test_dedupe_state_merges_across_partitions(executor: Executor, lake: Lake, tmp_path: Path) -> None:
    total = write_csvs(tmp_path / "in", files=4, per_file=20_000)
    first = spec("/in/*.csv", dedupe=DedupeState(("id",), "name", 3600.0))
    r1 = run(executor, lake, tmp_path, first)
    assert r1.status == "success" and r1.partitions > 1 and r1.skipped_records == 0
    assert first.dedupe is not None
    state = first.dedupe.next_state(None)
    assert len(state["hashes"]) == total
    # the same rows again: every partition drops them all
    again = spec("/in/*.csv", batch_id="b2", dedupe=DedupeState.from_state(state, ("id",), "name", 3600.0))
    r2 = run(executor, lake, tmp_path, again)
    assert r2.status == "success" and (r2.skipped_records, r2.output_records) == (total, 0)
    assert lake.scan(NS, "ds").num_rows == total


def test_rerun_of_a_committed_batch_adds_nothing(executor: Executor, lake: Lake, tmp_path: Path) -> None:
    total = write_csvs(tmp_path / "in", files=4, per_file=20_000)
    first = run(executor, lake, tmp_path, spec("/in/*.csv"))
    again = run(executor, lake, tmp_path, spec("/in/*.csv"))
    assert again.already_committed and again.snapshot_id == first.snapshot_id
    assert lake.scan(NS, "ds").num_rows == total
    assert leftovers(lake, "b1") == []


def test_no_input_succeeds_and_commits_nothing(executor: Executor, lake: Lake, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    s = spec("/empty/*.csv")
    s.read = ReadRequest(
        object=s.read.object, source_params=s.read.source_params, watermark="2026-01-01T00:00:00Z"
    )
    result = run(executor, lake, tmp_path, s)
    assert result.status == "success" and result.partitions == 0
    assert result.output_records == 0 and result.new_watermark == "2026-01-01T00:00:00Z"
    assert result.snapshot_id is None and lake.snapshots(NS, "ds") == []


def test_later_watermark() -> None:
    assert later_watermark(None, "2026-01-01T00:00:00Z") == "2026-01-01T00:00:00Z"
    assert later_watermark("2026-01-02T00:00:00+00:00", "2026-01-01T23:00:00Z") == "2026-01-02T00:00:00+00:00"
    assert later_watermark(3, 10) == 10 and later_watermark(10.5, None) == 10.5


def test_sql_key_and_delta_ranges(executor: Executor, lake: Lake, pg_url: str) -> None:
    import datetime as dt

    import sqlalchemy as sa

    from xdmflow.connectors.sql.connector import PostgresConnector

    engine = sa.create_engine(pg_url)
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE tx (id integer PRIMARY KEY, name text, amount float8, updated timestamptz)")
        )
        conn.execute(
            sa.text(
                "INSERT INTO tx SELECT g, 'n' || g, g * 0.5, :t0 + g * interval '1 minute' "
                "FROM generate_series(1, 60000) g"
            ),
            {"t0": t0},
        )
    engine.dispose()
    auth = {"connectionString": pg_url}
    params = {"tableName": "tx", "minPartitionRows": 10_000}

    def sql_spec(batch_id: str, delta: str | None, watermark: str | None) -> RunSpec:
        return RunSpec(
            run_id="r",
            batch_id=batch_id,
            connector_spec_id=PostgresConnector.spec.id,
            auth=auth,
            read=ReadRequest("tx", params, delta_column=delta, watermark=watermark, batch_size=10_000),
            plan=None,
            target=SCHEMA,
            namespace=NS,
            dataset_id="ds",
        )

    full = execute(sql_spec("full", None, None), PostgresConnector(), lake, None, executor=executor)
    assert full.status == "success" and full.partitions > 1  # integer primary key ranges
    assert full.output_records == 60_000
    since = (t0 + dt.timedelta(minutes=30_000)).isoformat().replace("+00:00", "Z")
    inc = execute(sql_spec("inc", "updated", since), PostgresConnector(), lake, None, executor=executor)
    assert inc.status == "success" and inc.partitions > 1  # delta column ranges
    assert inc.output_records == 30_000
    assert inc.new_watermark == (t0 + dt.timedelta(minutes=60_000)).isoformat().replace("+00:00", "Z")
    assert [s.batch_id for s in lake.snapshots(NS, "ds")] == ["full", "inc"]
    ids = lake.scan(NS, "ds").column("id").to_pylist()
    assert len(ids) == 90_000 and len(set(ids)) == 60_000


def test_executor_map_keeps_order_and_reports_the_first_failure(executor: Executor) -> None:
    assert executor.parallelism == 2
    assert executor.map(square, list(range(12))) == [i * i for i in range(12)]
    assert executor.map(square, []) == []
    seen: list[BaseException] = []
    with pytest.raises(SourceFatalError, match="item 3 is broken"):
        executor.map(fail_on_three, list(range(8)), on_error=seen.append)
    assert len(seen) == 1 and isinstance(seen[0], SourceFatalError)


@pytest.fixture
def paypal_url() -> Iterator[str]:
    """The PayPal emulator (40 days of transactions) on a free loopback port."""
    import socket
    import threading
    import time

    import uvicorn

    from xdmflow.emulators.paypal import EmulatorConfig, create_app

    config = EmulatorConfig(
        n_transactions=3_000, days=40, burst_fraction=0.0, n_products=5, latency_seconds=3600.0
    )
    app = create_app(11, config=config)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the PayPal emulator did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


PP_SCHEMA = CompiledSchema(
    id="https://ns.adobe.com/tenant/schemas/pp",
    version="1.0",
    title="PayPal rows",
    class_id="https://ns.adobe.com/xdm/data/record",
    fields=(
        _f("Transaction_Event_Code", "string"),
        _f("Transaction_Id", "string"),
        _f("Transaction_Updated_Date", "date-time"),
    ),
)


def test_paypal_date_windows_and_lookback_dedupe(executor: Executor, lake: Lake, paypal_url: str) -> None:
    import time

    from xdmflow.connectors.paypal import PayPalConnector
    from xdmflow.emulators.paypal import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    lake.create_table(NS, "pp", PP_SCHEMA)
    connector = PayPalConnector(timeout=10.0)
    auth = {"host": paypal_url, "clientId": DEFAULT_CLIENT_ID, "clientSecret": DEFAULT_CLIENT_SECRET}
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 45 * 86_400))
    params = {"tableName": "PayPal.Transactions", "windowDays": 5, "startDate": start, "lookbackHours": 240}
    delta = "Transaction_Updated_Date"
    policy = connector.dedupe_policy(ReadRequest("PayPal.Transactions", params, delta_column=delta))
    assert policy is not None

    def pp_spec(batch_id: str, watermark: str | None, state: dict[str, Any] | None) -> RunSpec:
        assert policy is not None
        return RunSpec(
            run_id="r",
            batch_id=batch_id,
            connector_spec_id=connector.spec.id,
            auth=auth,
            read=ReadRequest("PayPal.Transactions", params, delta_column=delta, watermark=watermark),
            plan=None,
            target=PP_SCHEMA,
            namespace=NS,
            dataset_id="pp",
            dedupe=DedupeState.from_state(state, policy[0], delta, policy[1]),
        )

    first = pp_spec("pp1", None, None)
    r1 = execute(first, connector, lake, None, executor=executor)
    assert r1.status == "success" and r1.partitions > 1  # groups of 5-day windows
    assert r1.output_records > 1000 and r1.skipped_records == 0
    assert first.dedupe is not None
    state = first.dedupe.next_state(r1.new_watermark)
    # the next run re-reads 10 days before the watermark: every re-read row is dropped
    second = pp_spec("pp2", r1.new_watermark, state)
    r2 = execute(second, connector, lake, None, executor=executor)
    assert r2.status == "success" and r2.skipped_records > 0
    assert r2.output_records == 0
    rows = lake.scan(NS, "pp")
    keys = list(
        zip(*(rows.column(c).to_pylist() for c in ("Transaction_Id", "Transaction_Event_Code")), strict=True)
    )
    assert len(keys) == len(set(keys)) == r1.output_records
