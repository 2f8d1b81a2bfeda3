"""Small-file compaction and the deletion of data files no snapshot references (issue 13).

Compaction rewrites the small files of expired batches in one snapshot with the same rows; a
commit racing it lands (compaction retries) or wins (compaction gives up, deletes its files);
files replaced by an upsert or a compaction are deleted once the snapshots referencing them expire.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
from pyiceberg.table import Table

from tests.lake.lakehelp import NS, f, person_schema, sample_table
from xdmflow.lake.compaction import COMPACTION_PROPERTY, compact_table
from xdmflow.lake.files import strip_scheme
from xdmflow.lake.lake import Lake
from xdmflow.lake.maintenance import maintain_table
from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema

BIG = 128 * 1024 * 1024


def _rows(lake: Lake, ds: str) -> list[str]:
    """The table's rows as sorted JSON strings (content, not order)."""
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in lake.scan(NS, ds).to_pylist())


def _data_files_on_disk(lake: Lake, ds: str) -> set[str]:
    fs, root = fsspec.core.url_to_fs(f"{lake.table_location(NS, ds).rstrip('/')}/data")
    return {strip_scheme(p) for p in fs.find(root)} if fs.exists(root) else set()


def _current_files(lake: Lake, ds: str) -> set[str]:
    table = lake.load(NS, ds)
    return {strip_scheme(t.file.file_path) for t in table.scan().plan_files()}


def _batches(lake: Lake, ds: str, n: int, rows_each: int = 5) -> None:
    for i in range(n):
        with lake.begin_batch(NS, ds, f"b{i:02d}") as w:
            w.write(sample_table(rows_each, start=i * rows_each))
            w.commit()


def test_compaction_rewrites_small_files_of_expired_batches_with_the_same_rows(lake: Lake) -> None:
    lake.create_table(NS, "ds", person_schema())
    _batches(lake, "ds", 12)
    before = _rows(lake, "ds")
    small = _current_files(lake, "ds")
    assert len(small) == 12

    report = maintain_table(
        lake, NS, "ds", retention_seconds=0, keep_last=3, grace_seconds=0, compact_target_bytes=BIG
    )
    # the 9 batches whose snapshots expired are now one file; the 3 recent ones are untouched
    assert (report.expired_snapshots, report.compacted_files, report.compacted_into) == (9, 9, 1)
    assert report.data_files == 4 and report.snapshots == 4
    assert _rows(lake, "ds") == before  # nested structs, arrays, maps, timestamps: all the same
    snaps = lake.snapshots(NS, "ds")
    assert snaps[-1].operation == "overwrite" and COMPACTION_PROPERTY in snaps[-1].summary
    assert snaps[-1].batch_id is None
    for b in ("b09", "b10", "b11"):  # recent batches are still listed and idempotent
        assert lake.scan(NS, "ds", batch_id=b).num_rows == 5
        assert len(lake.batch_files(NS, "ds", b)) == 1
    assert lake.batch_snapshot(NS, "ds", "b00") is None
    # the small files stay while a kept snapshot references them (time travel, readers) ...
    assert small <= _data_files_on_disk(lake, "ds")
    # ... and go when those snapshots expire; a second pass finds nothing left to compact
    again = maintain_table(
        lake, NS, "ds", retention_seconds=0, keep_last=1, grace_seconds=0, compact_target_bytes=BIG
    )
    assert again.expired_snapshots == 3 and again.deleted_data_files == 9
    assert again.compacted_files == 0
    assert _data_files_on_disk(lake, "ds") == _current_files(lake, "ds")
    assert len(_current_files(lake, "ds")) == 4
    assert _rows(lake, "ds") == before


def test_compaction_waits_for_min_files_and_target_size(lake: Lake) -> None:
    lake.create_table(NS, "ds", person_schema())
    _batches(lake, "ds", 5)
    report = maintain_table(
        lake, NS, "ds", retention_seconds=0, keep_last=1, compact_target_bytes=BIG, compact_min_files=8
    )
    assert report.expired_snapshots == 4 and report.compacted_files == 0
    # files at or above the target are not "small"
    assert compact_table(lake, NS, "ds", target_bytes=1024, min_files=2).rewritten_files == 0
    # with a small target the 4 expired files are rolled into files of about that size
    done = compact_table(lake, NS, "ds", target_bytes=64 * 1024, min_files=2)
    assert (done.rewritten_files, done.added_files, done.rewritten_rows) == (4, 1, 20)
    assert lake.scan(NS, "ds").num_rows == 25


def test_compaction_reads_files_of_an_older_schema(lake: Lake) -> None:
    lake.create_table(NS, "ds", person_schema())
    _batches(lake, "ds", 3)
    evolved = person_schema(extra_root=(f("loyalty", "loyalty", "string"),))
    assert lake.evolve(NS, "ds", evolved)
    with lake.begin_batch(NS, "ds", "new") as w:
        data = sample_table(2, start=100).append_column("loyalty", pa.array(["gold", "silver"]))
        w.write(data)
        w.commit()
    before = _rows(lake, "ds")
    report = maintain_table(
        lake, NS, "ds", retention_seconds=0, keep_last=1, compact_target_bytes=BIG, compact_min_files=2
    )
    assert report.compacted_files == 3
    assert _rows(lake, "ds") == before


class _Racing(Lake):
    """Another writer commits right after compaction loaded the table for its commit."""

    def __init__(self, *a: Any, race: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.race = race
        self.loads = 0

    def load(self, namespace: str, dataset_id: str) -> Table:
        table = super().load(namespace, dataset_id)
        self.loads += 1
        if self.loads == 1:  # compaction's first load: the commit below is planned on it
            self.race()
        return table


def test_a_batch_committed_during_compaction_lands_and_compaction_retries(
    lake: Lake, db_url: str, warehouse: str
) -> None:
    lake.create_table(NS, "ds", person_schema())
    _batches(lake, "ds", 6)
    maintain_table(lake, NS, "ds", retention_seconds=0, keep_last=1)

    def race() -> None:
        with lake.begin_batch(NS, "ds", "during") as w:
            w.write(sample_table(7, start=500))
            w.commit()

    racing = _Racing(db_url, warehouse, catalog_name=lake.catalog.name, race=race)
    report = compact_table(racing, NS, "ds", target_bytes=BIG, min_files=2)
    assert racing.commit_conflicts == 1
    assert report.rewritten_files == 5 and report.snapshot_id is not None
    assert lake.scan(NS, "ds").num_rows == 30 + 7
    assert lake.scan(NS, "ds", batch_id="during").num_rows == 7
    racing.close()


FLAT = CompiledSchema(
    id="https://ns.adobe.com/tenant/schemas/flat",
    version="1.0",
    title="Flat",
    class_id="https://ns.adobe.com/xdm/data/record",
    fields=(f("id", "id", "string"), f("status", "status", "string")),
)


def _upsert(lake: Lake, batch: str, rows: list[tuple[str, str]]) -> None:
    data = pa.Table.from_pylist([{"id": i, "status": s} for i, s in rows], schema=to_arrow_schema(FLAT))
    with lake.begin_batch(NS, "flat", batch) as w:
        w.write(data)
        w.commit(replace_keys=("id",))


def _state(lake: Lake) -> list[tuple[str, str]]:
    return sorted((r["id"], r["status"]) for r in lake.scan(NS, "flat").to_pylist())


def test_an_upsert_racing_compaction_wins_and_compaction_deletes_its_files(
    lake: Lake, db_url: str, warehouse: str
) -> None:
    lake.create_table(NS, "flat", FLAT)
    for i in range(4):
        _upsert(lake, f"u{i}", [(f"k{i}", "old")])
    _upsert(lake, "last", [("k9", "x")])
    maintain_table(lake, NS, "flat", retention_seconds=0, keep_last=1)
    racing = _Racing(
        db_url, warehouse, catalog_name=lake.catalog.name, race=lambda: _upsert(lake, "new", [("k0", "new")])
    )
    report = compact_table(racing, NS, "flat", target_bytes=BIG, min_files=2)
    assert report.snapshot_id is None and report.skipped  # k0's file was replaced meanwhile
    assert _state(lake) == [("k0", "new"), ("k1", "old"), ("k2", "old"), ("k3", "old"), ("k9", "x")]
    assert not [p for p in _data_files_on_disk(lake, "flat") if "batch=compaction-" in p]
    racing.close()
    # the next pass compacts what is left, without losing the upsert
    again = compact_table(lake, NS, "flat", target_bytes=BIG, min_files=2)
    assert again.rewritten_files == 3
    assert _state(lake) == [("k0", "new"), ("k1", "old"), ("k2", "old"), ("k3", "old"), ("k9", "x")]


def test_files_replaced_by_upserts_are_deleted_when_their_snapshots_expire(lake: Lake) -> None:
    lake.create_table(NS, "flat", FLAT)
    _upsert(lake, "b1", [("ch_1", "pending"), ("ch_2", "pending")])
    first = _current_files(lake, "flat")
    _upsert(lake, "b2", [("ch_1", "succeeded")])  # b1's file goes out, its ch_2 row is rewritten
    assert not first & _current_files(lake, "flat")
    assert first <= _data_files_on_disk(lake, "flat")
    # within the retention the replaced file stays (time travel to b1 still reads it)
    kept = maintain_table(lake, NS, "flat", retention_seconds=3600, keep_last=1, grace_seconds=0)
    assert kept.deleted_data_files == 0 and first <= _data_files_on_disk(lake, "flat")
    report = maintain_table(lake, NS, "flat", retention_seconds=0, keep_last=1, grace_seconds=0)
    assert (report.expired_snapshots, report.deleted_data_files) == (1, 1)
    assert _data_files_on_disk(lake, "flat") == _current_files(lake, "flat")
    assert _state(lake) == [("ch_1", "succeeded"), ("ch_2", "pending")]
    # a file written but not committed yet (a run in flight) is never touched
    data_dir = Path(strip_scheme(lake.table_location(NS, "flat"))) / "data" / "batch=inflight"
    data_dir.mkdir(parents=True)
    pending = data_dir / "part-00000-x.parquet"
    pending.write_bytes(b"PAR1")
    _upsert(lake, "b3", [("ch_2", "succeeded")])
    maintain_table(lake, NS, "flat", retention_seconds=0, keep_last=1, grace_seconds=0)
    assert pending.exists()
