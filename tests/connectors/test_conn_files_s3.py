"""Amazon S3 connector against a moto S3 server (server mode, real HTTP on loopback)."""

from __future__ import annotations

import gzip
import io
import time
import uuid
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.connectors.connhelp import free_port
from xdmflow.connectors.base import ReadRequest
from xdmflow.connectors.files import S3Connector
from xdmflow.errors import SourceAuthError, SourceFatalError, SourceRetriableError
from xdmflow.testing.connector_suite import ConnectorContract, ContractCase, read_all


def _auth(moto_s3: dict[str, Any], **extra: str) -> dict[str, str]:
    return {
        "s3AccessKey": moto_s3["key"],
        "s3SecretKey": moto_s3["secret"],
        "serviceUrl": moto_s3["url"],
        **extra,
    }


@pytest.fixture
def bucket(moto_s3: dict[str, Any]) -> str:
    name = f"xdm-{uuid.uuid4().hex[:12]}"
    moto_s3["client"].create_bucket(Bucket=name)
    return name


class TestS3Contract(ConnectorContract):
    @pytest.fixture
    def contract_case(self, moto_s3: dict[str, Any], bucket: str) -> ContractCase:
        s3 = moto_s3["client"]
        s3.put_object(
            Bucket=bucket, Key="in/day1.json", Body=b'{"id": 1, "name": "Ann"}\n{"id": 2, "name": "Bob"}\n'
        )

        def add_rows(rows: list[dict[str, Any]]) -> None:
            time.sleep(1.1)  # S3 modification times have one-second resolution
            body = "".join(f'{{"id": {r["id"]}, "name": "{r["name"]}"}}\n' for r in rows)
            s3.put_object(Bucket=bucket, Key="in/day2.json", Body=body.encode())

        return ContractCase(
            connector=S3Connector(),
            good_auth=_auth(moto_s3, bucketName=bucket),
            # moto checks credentials only when asked (``moto_auth``), and with checks on it rejects
            # every signed ListObjectsV2 with a delimiter (boto3's too): bad credentials are
            # exercised by test_bad_credentials_are_auth_errors on the calls moto verifies
            bad_auth=None,
            down_auth={
                "s3AccessKey": "AKIADOWN",
                "s3SecretKey": "down-secret",
                "serviceUrl": f"http://127.0.0.1:{free_port()}",
            },  # fmt: skip
            object=f"/{bucket}/in",
            explore_at=("folder", f"/{bucket}/in"),
            explore_path=f"/{bucket}/in/day1.json",
            source_params={"format": "json"},
            rows=[{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bob"}],
            key="id",
            add_rows=add_rows,
            new_rows=[{"id": 3, "name": "Cy"}],
        )


def test_root_lists_the_configured_bucket(moto_s3: dict[str, Any], bucket: str) -> None:
    moto_s3["client"].put_object(Bucket=bucket, Key="a/b/c.csv", Body=b"x\n1\n")
    c = S3Connector()
    items = [i.to_api() for i in c.explore(_auth(moto_s3, bucketName=bucket), "root", None)]
    assert items == [{"type": "folder", "name": "a", "path": f"/{bucket}/a", "canPreview": False,
                      "canFetchSchema": False}]  # fmt: skip
    everything = [i.path for i in c.explore(_auth(moto_s3), "root", None)]
    assert f"/{bucket}" in everything
    confined = _auth(moto_s3, bucketName=bucket, folderPath="a")
    with pytest.raises(SourceFatalError, match="outside"):
        c.explore(confined, "folder", "/other-bucket")


def test_formats_wildcards_and_s3_urls(moto_s3: dict[str, Any], bucket: str) -> None:
    s3 = moto_s3["client"]
    s3.put_object(Bucket=bucket, Key="d/x_premium.csv.gz", Body=gzip.compress(b"id,v\n1,a\n2,b\n"))
    s3.put_object(Bucket=bucket, Key="d/y.csv", Body=b"id,v\n3,c\n")
    buf = io.BytesIO()
    pq.write_table(pa.table({"id": [7, 8]}), buf)
    s3.put_object(Bucket=bucket, Key="p/t.parquet", Body=buf.getvalue())
    c, auth = S3Connector(), _auth(moto_s3)
    table, result = read_all(c, auth, ReadRequest(object=f"s3://{bucket}/d/*premium*.csv.gz"))
    assert table.to_pylist() == [{"id": "1", "v": "a"}, {"id": "2", "v": "b"}] and result.input_files == 1
    table, _ = read_all(c, auth, ReadRequest(object=f"/{bucket}/d/*.csv*"))
    assert sorted(table.column("id").to_pylist()) == ["1", "2", "3"]
    table, _ = read_all(c, auth, ReadRequest(object=f"/{bucket}/p/t.parquet"))
    assert table.column("id").to_pylist() == [7, 8]
    desc = c.describe(auth, f"/{bucket}/p/t.parquet", preview=True)
    assert desc.properties["fileType"] == "parquet" and desc.columns[0].xdm == {"type": "integer"}


def test_bad_credentials_are_auth_errors(moto_s3: dict[str, Any], moto_auth: None) -> None:
    c = S3Connector()
    c.check(_auth(moto_s3))
    wrong_secret = {**_auth(moto_s3), "s3SecretKey": "wrong-secret-value"}
    with pytest.raises(SourceAuthError) as info:
        c.check(wrong_secret)
    assert "wrong-secret-value" not in str(info.value)
    with pytest.raises(SourceAuthError):
        c.check({**_auth(moto_s3), "s3AccessKey": "AKIAUNKNOWNUNKNOWN12"})
    # reads of one object are verified too: the user's own keys read it, a wrong secret is refused
    import boto3

    name = f"auth-{uuid.uuid4().hex[:8]}"
    keys = {"aws_access_key_id": moto_s3["key"], "aws_secret_access_key": moto_s3["secret"]}
    user = boto3.client("s3", endpoint_url=moto_s3["url"], region_name="us-east-1", **keys)
    user.create_bucket(Bucket=name)
    user.put_object(Bucket=name, Key="x.csv", Body=b"id\n1\n")
    table, _ = read_all(c, _auth(moto_s3), ReadRequest(object=f"/{name}/x.csv"))
    assert table.to_pylist() == [{"id": "1"}]
    with pytest.raises(SourceAuthError) as info:
        read_all(c, wrong_secret, ReadRequest(object=f"/{name}/x.csv"))
    assert "wrong-secret-value" not in str(info.value)


def test_unreachable_endpoint_is_retriable_for_reads_too() -> None:
    auth = {"s3AccessKey": "a", "s3SecretKey": "b", "serviceUrl": f"http://127.0.0.1:{free_port()}"}
    with pytest.raises(SourceRetriableError, match="could not be reached"):
        read_all(S3Connector(), auth, ReadRequest(object="/bucket/x.csv"))


def test_missing_bucket_is_a_fatal_error(moto_s3: dict[str, Any]) -> None:
    with pytest.raises(SourceFatalError, match="does not exist"):
        S3Connector().check(_auth(moto_s3, bucketName=f"missing-{uuid.uuid4().hex[:8]}"))


def test_folders_recursion_and_gzip(moto_s3: dict[str, Any], bucket: str) -> None:
    s3 = moto_s3["client"]
    s3.put_object(Bucket=bucket, Key="f/a.csv", Body=b"id\na\n")
    s3.put_object(Bucket=bucket, Key="f/sub/b.csv.gz", Body=gzip.compress(b"id\nb\n"))
    s3.put_object(Bucket=bucket, Key="f/sub/deeper/c_premium.csv", Body=b"id\nc\n")
    s3.put_object(Bucket=bucket, Key="f/sub/.hidden.csv", Body=b"id\nhidden\n")
    c, auth = S3Connector(), _auth(moto_s3, bucketName=bucket)

    def ids(path: str, **params: Any) -> list[str]:
        req = ReadRequest(object=path, source_params={"path": path, **params})
        return sorted(read_all(c, auth, req)[0].column("id").to_pylist())

    assert ids(f"/{bucket}/f") == ["a"]
    assert ids(f"/{bucket}/f", recursive=True) == ["a", "b", "c"]
    assert ids(f"/{bucket}/f/sub") == ["b"]
    assert ids(f"/{bucket}/f/*premium*.csv", recursive=True) == ["c"]
    assert ids(f"/{bucket}/f/*/*.csv.gz") == ["b"]
    listing = [i.to_api() for i in c.explore(auth, "folder", f"/{bucket}/f/sub")]
    assert [(i["type"], i["path"]) for i in listing] == [
        ("folder", f"/{bucket}/f/sub/deeper"),
        ("file", f"/{bucket}/f/sub/b.csv.gz"),
    ]
    desc = c.describe(auth, f"/{bucket}/f/sub/b.csv.gz", preview=True)
    assert desc.properties["compressionType"] == "gzip" and desc.preview is not None
    assert desc.preview.to_pylist() == [{"id": "b"}]
