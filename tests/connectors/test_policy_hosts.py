"""Outbound hosts: non-public addresses only when XDMFLOW_ALLOWED_HOSTS lists them (issue 13)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api, make_settings
from tests.flowservice.conftest import FS, PayPalEmulator
from xdmflow.api.app import create_app
from xdmflow.connectors.files.connector import S3Connector, SftpConnector
from xdmflow.connectors.paypal.connector import PayPalConnector
from xdmflow.connectors.policy import AccessPolicy, Reach
from xdmflow.connectors.sql.connector import MySqlConnector, PostgresConnector
from xdmflow.connectors.square.connector import SquareConnector
from xdmflow.errors import PolicyRefusedError
from xdmflow.runtime import build_context

PAYPAL = "221c7626-58f6-4eec-8ee2-042b0226f03b"
POSTGRES = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
S3 = "ecadc60c-7455-4d87-84dc-2a0e293d997b"
SFTP = "b7bf2577-4520-42c9-bae9-cad01560f7bc"


def policy(*allowed: str) -> AccessPolicy:
    return AccessPolicy.build(local_roots=[], allowed_hosts=allowed)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "169.254.169.254", "10.1.2.3", "192.168.0.10", "172.16.5.5", "::1",
     "::ffff:127.0.0.1", "100.64.0.1", "0.0.0.0", "[::1]", "fe80::1", "fd00::1"],
)  # fmt: skip
def test_internal_hosts_are_refused_by_default(host: str) -> None:
    with pytest.raises(PolicyRefusedError, match="XDMFLOW_ALLOWED_HOSTS"):
        policy().check_host(host, 443)


def test_public_hosts_need_no_entry() -> None:
    for host in ("8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"):
        policy().check_host(host, 443)


def test_entries_hosts_ports_and_ranges() -> None:
    p = policy("10.0.0.0/8", "localhost", "127.0.0.1:5432", "[::1]:8080", "169.254.169.254/32")
    p.check_host("10.200.1.1", 22)
    p.check_host("localhost", 9999)  # listed by name
    p.check_host("127.0.0.1", 5432)
    p.check_host("::1", 8080)
    with pytest.raises(PolicyRefusedError):
        p.check_host("127.0.0.1", 6379)  # only :5432 is listed
    with pytest.raises(PolicyRefusedError):
        p.check_host("::1", 22)
    with pytest.raises(PolicyRefusedError):
        p.check_host("192.168.1.1", 22)
    # a name is resolved and every address checked: localhost resolves to loopback
    with pytest.raises(PolicyRefusedError, match="resolves to"):
        policy("10.0.0.0/8").check_host("localhost", 80)
    policy("127.0.0.0/8", "::1").check_host("localhost", 80)


def test_every_connector_reports_its_hosts() -> None:
    pg = PostgresConnector()
    assert pg.reach({"connectionString": "postgresql://u:p@169.254.169.254:6543/db"}) == Reach(
        hosts=(("169.254.169.254", 6543),)
    )
    assert pg.reach({"connectionString": "postgresql://u@/db?host=/var/run/postgresql"}).hosts == (
        ("localhost", 5432),
    )
    assert pg.reach({"connectionString": "postgresql://u@/db"}).hosts == (("localhost", 5432),)
    with_files = pg.reach(
        {"connectionString": "postgresql://u@8.8.8.8/db?sslrootcert=/etc/ssl/x.pem&passfile=/p"}
    )
    assert with_files.folders == ("/etc/ssl/x.pem", "/p")  # files the driver reads are local paths
    with pytest.raises(PolicyRefusedError, match="XDMFLOW_LOCAL_ROOTS"):
        AccessPolicy.build(local_roots=["/srv/in"], allowed_hosts=[]).enforce(with_files)
    my = MySqlConnector()
    assert my.reach({"connectionString": "Server=10.0.0.7;Database=d;UID=u;Password=p"}).hosts == (
        ("10.0.0.7", 3306),
    )
    assert S3Connector().reach({"serviceUrl": "http://10.0.0.1:9000"}).hosts == (("10.0.0.1", 9000),)
    assert S3Connector().reach({}).hosts == ()  # AWS itself
    assert SftpConnector().reach({"host": "192.168.1.1", "port": 2222}).hosts == (("192.168.1.1", 2222),)
    assert PayPalConnector().reach({"host": "http://127.0.0.1:8081"}).hosts == (("127.0.0.1", 8081),)
    assert PayPalConnector().reach({}).hosts == (("api.sandbox.paypal.com", 443),)
    assert SquareConnector().reach({"host": "http://10.9.8.7:8091"}).hosts == (("10.9.8.7", 8091),)
    assert SquareConnector().reach({}).hosts == (("connect.squareup.com", 443),)


def create(api: Api, spec: str, params: dict[str, Any], spec_name: str | None = None) -> Any:
    auth: dict[str, Any] = {"params": params}
    if spec_name:
        auth["specName"] = spec_name
    return api.post(f"{FS}/connections", json={"name": "c", "auth": auth, "connectionSpec": {"id": spec}})


def assert_refused(r: Any) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["type"].startswith("https://ns.adobe.com/aep/errors/FLOW-"), body
    assert "XDMFLOW_ALLOWED_HOSTS" in body["errorMessage"], body


def test_create_refuses_internal_hosts(tmp_path: Path, db_url: str) -> None:
    with TestClient(
        create_app(make_settings(tmp_path / "home", db_url, allowed_hosts=[]), context=build_context)
    ) as client:
        api = Api(client)
        pw = "p" + "w"
        assert_refused(
            create(api, PAYPAL, {"host": "http://127.0.0.1:1", "clientId": "a", "clientSecret": "b"})
        )
        assert_refused(
            create(
                api,
                POSTGRES,
                {"connectionString": f"postgresql://u:{pw}@169.254.169.254/db"},
                "Connection String Based Authentication",
            )
        )
        assert_refused(
            create(
                api,
                S3,
                {"s3AccessKey": "a", "s3SecretKey": "b", "serviceUrl": "http://10.0.0.1:9000"},
                "Basic Authentication for S3",
            )
        )
        assert_refused(
            create(
                api,
                SFTP,
                {"host": "192.168.1.1", "userName": "u", "password": pw},
                "Basic Authentication for sftp",
            )
        )
        # nothing was stored
        assert api.get(f"{FS}/connections").json()["items"] == []


def test_the_metadata_address_stays_closed_when_loopback_is_open(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path / "home"), context=build_context)) as client:
        api = Api(client)
        assert_refused(
            create(api, PAYPAL, {"host": "http://169.254.169.254", "clientId": "a", "clientSecret": "b"})
        )


def test_existing_connection_to_a_closed_host_fails_its_test(
    tmp_path: Path, db_url: str, paypal: PayPalEmulator
) -> None:
    home = tmp_path / "home"
    params = {"host": paypal.url, "clientId": paypal.client_id, "clientSecret": paypal.client_secret}
    with TestClient(create_app(make_settings(home, db_url), context=build_context)) as client:
        api = Api(client)
        conn = create(api, PAYPAL, params)
        assert conn.status_code == 201, conn.text
        conn_id = conn.json()["id"]
        assert api.get(f"{FS}/connections/{conn_id}/test").status_code == 200
    with TestClient(
        create_app(make_settings(home, db_url, allowed_hosts=[]), context=build_context)
    ) as client:
        api = Api(client)
        assert_refused(api.get(f"{FS}/connections/{conn_id}/test"))
        assert_refused(api.get(f"{FS}/connections/{conn_id}/explore?objectType=root"))
