"""Connection specs of the SQL sources (PostgreSQL, MySQL, MariaDB), in the platform's shape."""

from __future__ import annotations

from typing import Any

from xdmflow.connectors.base import ConnectionSpec

__all__ = [
    "POSTGRES_SPEC",
    "MYSQL_SPEC",
    "MARIADB_SPEC",
    "POSTGRES_SPEC_ID",
    "MYSQL_SPEC_ID",
    "MARIADB_SPEC_ID",
]

PROVIDER_ID = "0ed90a81-07f4-4586-8190-b40eccef1c5a"
POSTGRES_SPEC_ID = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
MYSQL_SPEC_ID = "26d738e0-8963-47ea-aadf-c60de735468a"
MARIADB_SPEC_ID = "3000eb99-cd47-43f3-827c-43caf170f015"

_SCHEMA = "http://json-schema.org/draft-07/schema#"

_TABLE_PARAMS: dict[str, Any] = {
    "$schema": _SCHEMA,
    "type": "object",
    "properties": {
        "tableName": {"type": "string", "description": "schema.table (or table in the default schema)."},
        "columns": {
            "type": "array",
            "description": "Columns to read (default: all), as names or explore column objects.",
            "items": {"anyOf": [{"type": "string"}, {"type": "object", "required": ["name"]}]},
        },
        "partitionColumn": {
            "type": "string",
            "description": "Numeric or timestamp column to split reads on.",
        },
        "partitions": {"type": "integer", "minimum": 1, "default": 1},
    },
    "required": ["tableName"],
}

_EXPLORE: dict[str, Any] = {
    "name": "Tabular",
    "type": "Tabular",
    "requestSpec": {"$schema": _SCHEMA, "type": "object"},
    "responseSpec": {
        "$schema": _SCHEMA,
        "type": "object",
        "properties": {"root": {"type": "array", "items": {"type": "object"}}, "table": {"type": "object"}},
    },
}


def _spec(spec_id: str, name: str, example: str, icon: str) -> ConnectionSpec:
    body = {
        "id": spec_id,
        "name": name,
        "providerId": PROVIDER_ID,
        "version": "1.0",
        "authSpec": [
            {
                "name": "Connection String Based Authentication",
                "type": "ConnectionStringAuth",
                "spec": {
                    "$schema": _SCHEMA,
                    "type": "object",
                    "description": f"Connection to {name}.",
                    "properties": {
                        "connectionString": {
                            "type": "string",
                            "format": "password",
                            "description": f"A URL ({example}) or the platform's key=value form "
                            "(Server=...;Port=...;Database=...;UID=...;Password=...).",
                        }
                    },
                    "required": ["connectionString"],
                },
            }
        ],
        "sourceSpec": {
            "name": name,
            "type": "Database",
            "spec": _TABLE_PARAMS,
            "attributes": {
                "uiAttributes": {
                    "isSource": True,
                    "category": {"key": "database"},
                    "icon": {"key": icon},
                    "label": {"key": name},
                }
            },
        },
        "exploreSpec": _EXPLORE,
        "attributes": {
            "category": "Database",
            "isSource": True,
            "uiAttributes": {"apiFeatures": {"explorePaginationSupported": False}},
        },
        "permissionsInfo": {
            "view": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}],
            "manage": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}],
        },
    }
    return ConnectionSpec(id=spec_id, name=name, body=body, secret_params=frozenset({"connectionString"}))


POSTGRES_SPEC = _spec(POSTGRES_SPEC_ID, "PostgreSQL", "postgresql://user:password@host:5432/db", "postgresql")
MYSQL_SPEC = _spec(MYSQL_SPEC_ID, "MySQL", "mysql://user:password@host:3306/db", "mysql")
MARIADB_SPEC = _spec(MARIADB_SPEC_ID, "MariaDB", "mariadb://user:password@host:3306/db", "mariadb")
