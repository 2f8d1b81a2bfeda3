"""Local Files connector: the shared contract, then formats, paths, incremental and partitions."""

from __future__ import annotations

import bz2
import gzip
import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xdmflow.connectors.base import ReadRequest, ReadResult
from xdmflow.connectors.files import LocalFilesConnector
from xdmflow.errors import SourceAuthError, SourceFatalError, SourceRetriableError
from xdmflow.testing.connector_suite import ConnectorContract, ContractCase, read_all

HEADER = "id,name,amount\n"


def _touch_later(path: Path, seconds: float) -> None:
    t = time.time() + seconds
    os.utime(path, (t, t))


class TestLocalFilesContract(ConnectorContract):
    @pytest.fixture
    def contract_case(self, tmp_path: Path) -> ContractCase:
        root = tmp_path / "root"
        (root / "sales").mkdir(parents=True)
        (root / "sales" / "jan.csv").write_text(HEADER + '1,Ann,3.50\n2,Bob,\n3,"Cy, Jr",7\n')
        (root / "sales" / "notes.txt.md").write_text("not data")
        os.utime(root / "sales" / "jan.csv", (1_700_000_000, 1_700_000_000))

        def add_rows(rows: list[dict[str, str]]) -> None:
            p = root / "sales" / "feb.csv"
            p.write_text(HEADER + "".join(f"{r['id']},{r['name']},{r['amount']}\n" for r in rows))
            _touch_later(p, 5)

        return ContractCase(
            connector=LocalFilesConnector(),
            good_auth={"rootPath": str(root)},
            bad_auth={"rootPath": str(root / "sales" / "jan.csv")},  # a file, not a folder
            down_auth={"rootPath": str(tmp_path / "unmounted")},
            object="/sales/*.csv",
            explore_at=("folder", "/sales"),
            explore_path="/sales/jan.csv",
            source_params={"format": "delimited"},
            rows=[
                {"id": "1", "name": "Ann", "amount": "3.50"},
                {"id": "2", "name": "Bob", "amount": None},
                {"id": "3", "name": "Cy, Jr", "amount": "7"},
            ],
            key="id",
            add_rows=add_rows,
            new_rows=[{"id": "4", "name": "Dee", "amount": "1"}],
        )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "files"
    r.mkdir()
    return r


def _read(root: Path, path: str, **params: object) -> tuple[pa.Table, ReadResult]:
    req = ReadRequest(object=path, source_params={"path": path, **params}, batch_size=1000)
    return read_all(LocalFilesConnector(), {"rootPath": str(root)}, req)


def test_delimited_options_compression_and_encoding(root: Path) -> None:
    text = "id\tcity\n1\tZürich\n2\t'a\tb'\n"
    (root / "a.tsv.gz").write_bytes(gzip.compress(text.encode("ISO-8859-1")))
    table, result = _read(root, "/a.tsv.gz", columnDelimiter="\\t", encoding="ISO-8859-1", quoteChar="'")
    assert table.to_pylist() == [{"id": "1", "city": "Zürich"}, {"id": "2", "city": "a\tb"}]
    assert result.input_files == 1 and result.input_bytes == (root / "a.tsv.gz").stat().st_size
    (root / "b.dat").write_bytes(bz2.compress(b"x;y\n1;2\n"))
    table, _ = _read(root, "/b.dat", columnDelimiter=";", compressionType="bzip2", header=False)
    assert table.column_names == ["f0", "f1"] and table.num_rows == 2


def test_delimited_infer_types_and_strings_by_default(root: Path) -> None:
    (root / "n.csv").write_text("id,price,flag\n1,2.5,true\n2,,false\n")
    table, _ = _read(root, "/n.csv")
    assert all(pa.types.is_string(t) for t in table.schema.types)
    assert table.column("price").to_pylist() == ["2.5", None]
    typed, _ = _read(root, "/n.csv", inferTypes=True)
    assert typed.schema.types == [pa.int64(), pa.float64(), pa.bool_()]


def test_json_lines_and_arrays(root: Path) -> None:
    (root / "l.jsonl").write_text('{"id": 1, "tags": ["a"]}\n{"id": 2, "tags": []}\n')
    (root / "arr.json").write_text(json.dumps([{"id": i, "o": {"k": str(i)}} for i in range(2500)], indent=1))
    lines, _ = _read(root, "/l.jsonl", format="json")
    assert lines.to_pylist() == [{"id": 1, "tags": ["a"]}, {"id": 2, "tags": []}]
    req = ReadRequest(object="/arr.json", source_params={"format": "json"}, batch_size=1000)
    arr, _ = read_all(LocalFilesConnector(), {"rootPath": str(root)}, req)
    assert arr.num_rows == 2500 and arr.column("o").to_pylist()[2499] == {"k": "2499"}
    (root / "bad.json").write_text('[{"id": 1}, {"id": ')
    with pytest.raises(SourceFatalError, match="Invalid JSON"):
        _read(root, "/bad.json", format="json")


def test_parquet_batches_and_row_group_partitions(root: Path) -> None:
    pq.write_table(pa.table({"id": list(range(10_000))}), root / "p.parquet", row_group_size=4000)
    table, _ = _read(root, "/p.parquet")
    assert table.column("id").to_pylist() == list(range(10_000))
    c, auth = LocalFilesConnector(), {"rootPath": str(root)}
    req = ReadRequest(object="/p.parquet", source_params={"splitRowGroups": True}, batch_size=1500)
    parts = c.partitions(auth, req)
    assert [p.source_params["partition"]["rowGroups"] for p in parts] == [[0], [1], [2]]
    ids = [i for p in parts for i in read_all(c, auth, p)[0].column("id").to_pylist()]
    assert sorted(ids) == list(range(10_000))


def test_wildcards_folders_recursive(root: Path) -> None:
    (root / "d" / "deep").mkdir(parents=True)
    for name in ("a_premium_1.csv", "b.csv", "deep/c_premium.csv"):
        (root / "d" / name).write_text("id\n" + name + "\n")
    (root / "d" / ".hidden.csv").write_text("id\nhidden\n")
    (root / "d" / "empty.csv").write_text("")
    ids = lambda t: sorted(t.column("id").to_pylist())  # noqa: E731
    assert ids(_read(root, "/d/*premium*.csv")[0]) == ["a_premium_1.csv"]
    assert ids(_read(root, "/d/*premium*.csv", recursive=True)[0]) == [
        "a_premium_1.csv",
        "deep/c_premium.csv",
    ]
    assert ids(_read(root, "/d")[0]) == ["a_premium_1.csv", "b.csv"]
    assert len(ids(_read(root, "/d", recursive=True)[0])) == 3
    assert ids(_read(root, "/d/*/c_*.csv")[0]) == ["deep/c_premium.csv"]


def test_paths_are_confined_under_root(root: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text("id\nx\n")
    os.symlink(tmp_path / "secret.csv", root / "link.csv")
    c, auth = LocalFilesConnector(), {"rootPath": str(root)}
    for bad in ("/../secret.csv", "../secret.csv", "/a/../../secret.csv"):
        with pytest.raises(SourceFatalError, match="refused"):
            _read(root, bad)
    with pytest.raises(SourceFatalError, match="outside rootPath"):
        _read(root, "/link.csv")
    with pytest.raises(SourceFatalError, match="refused"):
        c.explore(auth, "folder", "/..")
    with pytest.raises(SourceAuthError):
        c.check({"rootPath": "relative/path"})
    with pytest.raises(SourceFatalError, match="not found"):
        _read(root, "/missing.csv")


def test_watermark_selects_newer_files_only(root: Path) -> None:
    for i, name in enumerate(("a.csv", "b.csv", "c.csv")):
        (root / name).write_text(f"id\n{name}\n")
        os.utime(root / name, (1_700_000_000 + i, 1_700_000_000 + i))
    table, res = _read(root, "/*.csv")
    assert table.num_rows == 3 and res.new_watermark == "2023-11-14T22:13:22Z"
    req = ReadRequest(object="/*.csv", watermark="2023-11-14T22:13:20Z")
    table, res2 = read_all(LocalFilesConnector(), {"rootPath": str(root)}, req)
    assert sorted(table.column("id").to_pylist()) == ["b.csv", "c.csv"] and res2.input_files == 2
    with pytest.raises(SourceFatalError, match="ISO-8601"):
        _read_wm(root, "yesterday")


def _read_wm(root: Path, wm: str) -> None:
    read_all(LocalFilesConnector(), {"rootPath": str(root)}, ReadRequest(object="/", watermark=wm))


def test_batches_are_bounded(root: Path) -> None:
    (root / "big.csv").write_text("id,v\n" + "".join(f"{i},{'x' * 50}\n" for i in range(200_000)))
    result = ReadResult()
    req = ReadRequest(object="/big.csv", batch_size=10_000)
    sizes = [b.num_rows for b in LocalFilesConnector().read({"rootPath": str(root)}, req, result)]
    assert sum(sizes) == 200_000 and max(sizes) <= 10_000 and len(sizes) >= 20


def test_describe_reports_detected_options(root: Path) -> None:
    (root / "x.csv.gz").write_bytes(gzip.compress(b"id;when;ok\n1;2024-01-02;true\n"))
    desc = LocalFilesConnector().describe(
        {"rootPath": str(root)}, "/x.csv.gz", preview=True, options={"columnDelimiter": ";"}
    )
    assert desc.properties["fileType"] == "delimited" and desc.properties["compressionType"] == "gzip"
    assert desc.properties["columnDelimiter"] == ";" and desc.properties["encoding"] == "UTF-8"
    cols = {c.name: c.to_api() for c in desc.columns}
    assert cols["id"]["xdm"] == {"type": "integer"}
    assert cols["when"]["xdm"] == {"type": "string", "format": "date"}
    assert cols["ok"]["xdm"] == {"type": "boolean"}
    assert desc.preview is not None and desc.preview.num_rows == 1
    with pytest.raises(SourceRetriableError):
        LocalFilesConnector().describe({"rootPath": str(root / "gone")}, "/x.csv.gz")


def test_files_of_about_equal_size_are_grouped_evenly(root: Path) -> None:
    """With ``targetPartitions``, eight files of about the same size make four partitions of two
    files each (not 3/2/2/1: the partition with three holds the whole run up)."""
    (root / "in").mkdir()
    for i in range(8):
        rows = 50_000 - i * 7  # a few bytes apart, as generated files are
        (root / "in" / f"f{i}.csv").write_text("id\n" + "\n".join(str(n) for n in range(rows)) + "\n")
    c, auth = LocalFilesConnector(), {"rootPath": str(root)}
    req = ReadRequest(object="/in", source_params={"targetPartitions": 4, "minPartitionBytes": 1})
    parts = c.partitions(auth, req)
    assert [len(p.source_params["partition"]["files"]) for p in parts] == [2, 2, 2, 2]
