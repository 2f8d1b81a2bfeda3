"""A run that reads nothing commits no snapshot: it succeeds with zero records (issue 13, defect 4)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.pipeline.test_partitioned import NS, lake, spec  # noqa: F401 - the lake fixture
from xdmflow.connectors.files.connector import LocalFilesConnector
from xdmflow.lake.lake import Lake
from xdmflow.pipeline.run import RunResult, execute


def _run(lk: Lake, tmp_path: Path, watermark: object = None, batch_id: str = "b1") -> RunResult:
    s = spec("/in/*.csv", batch_id=batch_id)
    s.auth = {"rootPath": str(tmp_path)}
    s.read = dataclasses.replace(s.read, watermark=watermark)
    return execute(s, LocalFilesConnector(), lk, None)


def test_nothing_new_commits_no_snapshot(lake: Lake, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("id,name,amount\n1,a,1.5\n")
    first = _run(lake, tmp_path)
    assert first.status == "success" and first.output_records == 1
    again = _run(lake, tmp_path, first.new_watermark, "b2")
    assert again.status == "success"
    assert (again.input_records, again.output_records, again.snapshot_id) == (0, 0, None)
    assert [sn.batch_id for sn in lake.snapshots(NS, "ds")] == ["b1"]


def test_header_only_file_commits_no_snapshot(lake: Lake, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("id,name,amount\n")
    result = _run(lake, tmp_path)
    assert result.status == "success" and result.snapshot_id is None
    assert lake.snapshots(NS, "ds") == []
