"""SFTP connector against an in-test SFTP server (paramiko's server classes over a real socket).

The shared contract runs for delimited, JSON and Parquet files; then key authentication,
wildcards/recursion/compression, sessions being closed, and a server that goes away mid-flow.
"""

from __future__ import annotations

import base64
import gzip
import io
import os
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.connectors.connhelp import SFTP_PASSWORD, SFTP_USER, free_port
from xdmflow.connectors.base import ReadRequest, ReadResult
from xdmflow.connectors.files import SftpConnector
from xdmflow.errors import SourceAuthError, SourceFatalError, SourceRetriableError
from xdmflow.testing.connector_suite import ConnectorContract, ContractCase, read_all

ROWS: list[dict[str, Any]] = [
    {"id": "1", "name": "Ann", "amount": "3.50"},
    {"id": "2", "name": "Bob", "amount": None},
    {"id": "3", "name": "Cy, Jr", "amount": "7"},
]
NEW_ROWS = [{"id": "4", "name": "Dee", "amount": "1"}, {"id": "5", "name": "Eve", "amount": "2.25"}]


def _auth(server: Any, **extra: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": server.port,
        "userName": SFTP_USER,
        "password": SFTP_PASSWORD,
        **extra,
    }


def _write(path: Path, file_format: str, rows: list[dict[str, Any]]) -> None:
    if file_format == "delimited":
        lines = ["id,name,amount"]
        for r in rows:
            name = f'"{r["name"]}"' if "," in r["name"] else r["name"]
            lines.append(f"{r['id']},{name},{r['amount'] or ''}")
        path.write_text("\n".join(lines) + "\n")
    elif file_format == "json":
        import json

        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        pq.write_table(pa.Table.from_pylist(rows, schema=_PARQUET_SCHEMA), path)


_PARQUET_SCHEMA = pa.schema([("id", pa.string()), ("name", pa.string()), ("amount", pa.string())])
_SUFFIX = {"delimited": "csv", "json": "json", "parquet": "parquet"}


def _set_mtime(path: Path, epoch: float) -> None:
    os.utime(path, (epoch, epoch))


class TestSftpContract(ConnectorContract):
    @pytest.fixture(params=["delimited", "json", "parquet"])
    def contract_case(self, request: pytest.FixtureRequest, sftp_server: Any) -> ContractCase:
        file_format = str(request.param)
        suffix = _SUFFIX[file_format]
        root = Path(sftp_server.root)
        (root / "drop" / "2024").mkdir(parents=True)
        first = root / "drop" / "2024" / f"jan.{suffix}"
        _write(first, file_format, ROWS)
        _set_mtime(first, 1_700_000_000)
        (root / "drop" / "2024" / "readme.md").write_text("not data")

        def add_rows(rows: list[dict[str, Any]]) -> None:
            later = root / "drop" / "2024" / f"feb.{suffix}"
            _write(later, file_format, rows)
            _set_mtime(later, 1_700_000_100)  # SFTP mtimes are whole seconds

        return ContractCase(
            connector=SftpConnector(),
            good_auth=_auth(sftp_server),
            bad_auth=_auth(sftp_server, password="wrong-Pa55word-value"),
            down_auth=_auth(sftp_server, port=free_port(), password="down-Pa55word-value"),
            stop_source=sftp_server.stop,
            object=f"/drop/2024/*.{suffix}",
            explore_at=("folder", "/drop/2024"),
            explore_path=f"/drop/2024/jan.{suffix}",
            describe_options={"fileType": file_format},
            source_params={"format": file_format},
            rows=ROWS,
            key="id",
            add_rows=add_rows,
            new_rows=NEW_ROWS,
        )


def _key_text(server: Any, passphrase: str | None = None) -> str:
    buf = io.StringIO()
    server.keys[SFTP_USER].write_private_key(buf, password=passphrase)
    return buf.getvalue()


def test_key_authentication(sftp_server: Any) -> None:
    root = Path(sftp_server.root)
    (root / "a.csv").write_text("id\n1\n")
    c = SftpConnector()
    base = {"host": "127.0.0.1", "port": sftp_server.port, "userName": SFTP_USER}
    pem = _key_text(sftp_server)
    for key_auth in (
        {**base, "privateKeyContent": pem},
        {**base, "privateKeyContent": base64.b64encode(pem.encode()).decode()},
        {**base, "privateKeyContent": _key_text(sftp_server, "Phrase-123"), "passPhrase": "Phrase-123"},
    ):
        c.check(key_auth)
        table, _ = read_all(c, key_auth, ReadRequest(object="/a.csv"))
        assert table.to_pylist() == [{"id": "1"}]
    import paramiko

    other = io.StringIO()
    paramiko.ECDSAKey.generate(bits=256).write_private_key(other)
    with pytest.raises(SourceAuthError, match="refused the credentials"):
        c.check({**base, "privateKeyContent": other.getvalue()})
    with pytest.raises(SourceAuthError, match="not a readable"):
        c.check({**base, "privateKeyContent": "-----BEGIN NONSENSE-----\nxx\n"})
    with pytest.raises(SourceAuthError, match="not a readable"):
        c.check({**base, "privateKeyContent": _key_text(sftp_server, "Phrase-123")})  # no passPhrase


def test_wildcards_recursion_and_compression(sftp_server: Any) -> None:
    root = Path(sftp_server.root)
    (root / "d" / "deep").mkdir(parents=True)
    for name in ("a_premium_1.csv", "b.csv", "deep/c_premium.csv"):
        (root / "d" / name).write_text("id\n" + name + "\n")
    (root / "d" / ".hidden.csv").write_text("id\nhidden\n")
    (root / "d" / "z.csv.gz").write_bytes(gzip.compress(b"id\nzipped\n"))
    c, auth = SftpConnector(), _auth(sftp_server)

    def ids(path: str, **params: Any) -> list[str]:
        req = ReadRequest(object=path, source_params={"path": path, **params})
        return sorted(read_all(c, auth, req)[0].column("id").to_pylist())

    assert ids("/d/*premium*.csv") == ["a_premium_1.csv"]
    assert ids("/d/*premium*.csv", recursive=True) == ["a_premium_1.csv", "deep/c_premium.csv"]
    assert ids("/d") == ["a_premium_1.csv", "b.csv", "zipped"]
    assert ids("/d", recursive=True) == ["a_premium_1.csv", "b.csv", "deep/c_premium.csv", "zipped"]
    assert ids("/d/*/c_*.csv") == ["deep/c_premium.csv"]
    desc = c.describe(auth, "/d/z.csv.gz", preview=True)
    assert desc.properties["compressionType"] == "gzip" and desc.preview is not None
    root_items = [i.to_api() for i in c.explore({**auth, "folderPath": "/d"}, "root", None)]
    assert [i["path"] for i in root_items] == ["/d/deep", "/d/a_premium_1.csv", "/d/b.csv", "/d/z.csv.gz"]
    with pytest.raises(SourceFatalError, match="not found"):
        read_all(c, auth, ReadRequest(object="/d/missing.csv"))
    with pytest.raises(SourceFatalError, match="refused"):
        read_all(c, auth, ReadRequest(object="/d/../../etc/passwd"))


def test_parquet_row_groups_are_read_remotely(sftp_server: Any) -> None:
    root = Path(sftp_server.root)
    pq.write_table(pa.table({"id": list(range(5000))}), root / "p.parquet", row_group_size=2000)
    c, auth = SftpConnector(), _auth(sftp_server)
    req = ReadRequest(object="/p.parquet", source_params={"splitRowGroups": True}, batch_size=700)
    parts = c.partitions(auth, req)
    assert [p.source_params["partition"]["rowGroups"] for p in parts] == [[0], [1], [2]]
    ids = [i for p in parts for i in read_all(c, auth, p)[0].column("id").to_pylist()]
    assert sorted(ids) == list(range(5000))


def test_sessions_are_closed_after_each_call(sftp_server: Any) -> None:
    (Path(sftp_server.root) / "a.csv").write_text("id\n1\n2\n")
    c, auth = SftpConnector(), _auth(sftp_server)
    c.check(auth)
    c.explore(auth, "root", None)
    c.describe(auth, "/a.csv", preview=True)
    result = ReadResult()
    reader = c.read(auth, ReadRequest(object="/a.csv", batch_size=1), result)
    next(reader)
    assert isinstance(reader, Generator)
    reader.close()  # a consumer that stops early
    read_all(c, auth, ReadRequest(object="/a.csv"))
    deadline = time.monotonic() + 5
    while sftp_server.open_sessions and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sftp_server.sessions == 5 and sftp_server.open_sessions == 0


def test_server_stopping_mid_read_is_retriable(sftp_server: Any) -> None:
    root = Path(sftp_server.root)
    for n in range(3):
        (root / f"f{n}.csv").write_text("id\n" + "\n".join(str(i) for i in range(50)) + "\n")
    c = SftpConnector()
    reader = c.read(_auth(sftp_server), ReadRequest(object="/*.csv", batch_size=50), ReadResult())
    assert next(reader).num_rows == 50
    sftp_server.stop()
    with pytest.raises(SourceRetriableError, match="the run will be retried"):
        list(reader)


def test_file_deleted_mid_read_is_fatal(sftp_server: Any) -> None:
    root = Path(sftp_server.root)
    for n in range(2):
        (root / f"f{n}.csv").write_text("id\n1\n")
    reader = SftpConnector().read(_auth(sftp_server), ReadRequest(object="/*.csv"), ReadResult())
    assert next(reader).num_rows == 1
    (root / "f1.csv").unlink()
    with pytest.raises(SourceFatalError, match="/f1.csv was not found on the SFTP server"):
        list(reader)


def test_unknown_host_and_bad_port() -> None:
    c = SftpConnector()
    with pytest.raises(SourceAuthError, match="host is required"):
        c.check({"userName": "u", "password": "p"})
    with pytest.raises(SourceAuthError, match="not a port"):
        c.check({"host": "127.0.0.1", "port": "ssh", "userName": "u", "password": "p"})
