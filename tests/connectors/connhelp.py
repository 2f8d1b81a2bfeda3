"""Constants and helpers of the connector tests (imported by name; conftest holds the fixtures)."""

from __future__ import annotations

import os
import socket

from tests.conftest import PG_ADMIN

PG_URL = PG_ADMIN  # the one PostgreSQL admin URL (tests/conftest.py)

MARIA_URL = os.environ.get("XDMFLOW_TEST_MARIADB", "mysql://root@127.0.0.1:3306/test")
#: the user of the in-test SFTP server (``sftp_server`` fixture)
SFTP_USER = "ingest"
SFTP_PASSWORD = "sftp-Pa55word-for-tests"


def free_port() -> int:
    """A loopback TCP port nobody listens on (right now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
