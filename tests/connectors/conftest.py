"""Fixtures of the connector tests: a moto S3 server, PostgreSQL and MariaDB test databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.connectors.connhelp import SFTP_PASSWORD, SFTP_USER, free_port
from tests.flowservice.conftest import paypal  # noqa: F401 - the PayPal emulator of the host-policy tests


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[dict[str, Any]]:
    """A moto S3 server (server mode) on a free loopback port, plus an IAM user's keys.

    moto does not check credentials unless asked; ``moto_auth`` switches that on for a test.
    """
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - depends on the dev extras
        pytest.skip(f"moto[server] is not usable here: {exc}")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    admin = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": "admin",
             "aws_secret_access_key": "admin"}  # fmt: skip
    iam = boto3.client("iam", **admin)
    iam.create_user(UserName="xdmflow")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="xdmflow", PolicyName="s3", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="xdmflow")["AccessKey"]
    try:
        yield {"url": url, "client": boto3.client("s3", **admin), "key": key["AccessKeyId"],
               "secret": key["SecretAccessKey"]}  # fmt: skip
    finally:
        server.stop()


@pytest.fixture
def moto_auth() -> Iterator[None]:
    """Make the moto server verify request signatures and IAM policies during one test."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    previous = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    try:
        yield
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = previous


@pytest.fixture
def sftp_server(tmp_path: Any) -> Iterator[Any]:
    """An in-test SFTP server (paramiko) serving ``tmp_path / "sftp"`` on a free loopback port.

    User ``SFTP_USER`` logs in with ``SFTP_PASSWORD`` or with the (ECDSA) private key
    ``server.keys[SFTP_USER]``. Stopped at teardown (``server.stop()`` stops it earlier).
    """
    import paramiko

    from tests.connectors.sftpserver import SftpServer

    root = tmp_path / "sftp"
    root.mkdir()
    client_key = paramiko.ECDSAKey.generate(bits=256)
    with SftpServer(root, users={SFTP_USER: SFTP_PASSWORD}, keys={SFTP_USER: client_key}) as server:
        yield server
