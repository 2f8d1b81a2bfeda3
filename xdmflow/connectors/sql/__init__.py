"""SQL sources: PostgreSQL (psycopg 3), MySQL and MariaDB (PyMySQL) through SQLAlchemy 2.

Importing this package is cheap: SQLAlchemy and the drivers are imported on first use.
"""

from __future__ import annotations

from xdmflow.connectors.sql.connector import (
    MariaDbConnector,
    MySqlConnector,
    PostgresConnector,
    SqlConnector,
    parse_connection_string,
)
from xdmflow.connectors.sql.specs import MARIADB_SPEC_ID, MYSQL_SPEC_ID, POSTGRES_SPEC_ID

__all__ = [
    "SqlConnector",
    "PostgresConnector",
    "MySqlConnector",
    "MariaDbConnector",
    "parse_connection_string",
    "POSTGRES_SPEC_ID",
    "MYSQL_SPEC_ID",
    "MARIADB_SPEC_ID",
]
