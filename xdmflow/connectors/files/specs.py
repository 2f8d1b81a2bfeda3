"""Connection specs of the file sources (Local Files, Amazon S3, SFTP), in the platform's shape.

Plain data, no heavy import. Each body is a ConnectionSpecItemDTO (platform-api.md §1.4):
``authSpec`` (JSON Schema draft-07 of the base connection's ``auth.params``), ``sourceSpec``
(JSON Schema of the source connection's ``params`` and ``data.properties``), ``exploreSpec``.
"""

from __future__ import annotations

from typing import Any

from xdmflow.connectors.base import ConnectionSpec

__all__ = [
    "LOCALFILES_SPEC_ID",
    "S3_SPEC_ID",
    "SFTP_SPEC_ID",
    "PROVIDER_ID",
    "LOCALFILES_SPEC",
    "S3_SPEC",
    "SFTP_SPEC",
]

PROVIDER_ID = "0ed90a81-07f4-4586-8190-b40eccef1c5a"
#: Our own spec (the platform has no local-files source); a fixed UUID4.
LOCALFILES_SPEC_ID = "59bfba2a-ae6b-42ff-87cb-fb44f5e66700"
S3_SPEC_ID = "ecadc60c-7455-4d87-84dc-2a0e293d997b"
SFTP_SPEC_ID = "b7bf2577-4520-42c9-bae9-cad01560f7bc"

_SCHEMA = "http://json-schema.org/draft-07/schema#"


def _auth(
    name: str, type_: str, properties: dict[str, Any], required: list[str], **extra: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "$schema": _SCHEMA,
        "type": "object",
        "properties": properties,
        "required": required,
    }
    spec.update(extra)
    return {"name": name, "type": type_, "spec": spec}


#: JSON Schema of a file source connection's ``params`` + ``data.properties`` (merged).
FILE_SOURCE_PARAMS: dict[str, Any] = {
    "$schema": _SCHEMA,
    "type": "object",
    "properties": {
        "path": {
            "type": "string",
            "description": "File or folder path; wildcards allowed in the last parts "
            "(/acme/*.csv, /acme/*premium*.csv).",
        },
        "type": {"type": "string", "enum": ["file", "folder"]},
        "recursive": {"type": "boolean", "default": False, "description": "Descend into sub-folders."},
        "format": {"type": "string", "enum": ["delimited", "json", "parquet"], "default": "delimited"},
        "columnDelimiter": {"type": "string", "minLength": 1, "maxLength": 2, "default": ","},
        "header": {"type": "boolean", "default": True, "description": "delimited: first line holds names."},
        "quoteChar": {"type": "string", "maxLength": 1, "default": '"'},
        "escapeChar": {"type": "string", "maxLength": 1},
        "encoding": {"type": "string", "default": "UTF-8", "examples": ["UTF-8", "ISO-8859-1"]},
        "compressionType": {
            "type": "string",
            "enum": ["none", "gzip", "bzip2", "auto"],
            "default": "auto",
            "description": "auto: detected from the file extension (.gz, .bz2).",
        },
        "inferTypes": {
            "type": "boolean",
            "default": False,
            "description": "delimited: infer column types instead of reading every value as a string.",
        },
        "splitRowGroups": {
            "type": "boolean",
            "default": False,
            "description": "parquet: one partition per row group.",
        },
    },
    "required": ["path"],
}

_FILE_EXPLORE: dict[str, Any] = {
    "name": "FileSystem",
    "type": "FileSystem",
    "requestSpec": {
        "$schema": _SCHEMA,
        "type": "object",
        "properties": {
            "fileType": {"type": "string", "enum": ["delimited", "json", "parquet"]},
            "columnDelimiter": {"type": "string"},
            "compressionType": {"type": "string"},
            "encoding": {"type": "string"},
        },
    },
    "responseSpec": {
        "$schema": _SCHEMA,
        "type": "object",
        "properties": {
            "root": {"type": "array", "items": {"type": "object"}},
            "folder": {"type": "array", "items": {"type": "object"}},
            "file": {"type": "object"},
        },
    },
}

_PERMISSIONS: dict[str, Any] = {
    "view": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}],
    "manage": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}],
}


def _body(spec_id: str, name: str, auth_specs: list[dict[str, Any]], icon: str) -> dict[str, Any]:
    return {
        "id": spec_id,
        "name": name,
        "providerId": PROVIDER_ID,
        "version": "1.0",
        "authSpec": auth_specs,
        "sourceSpec": {
            "name": "CloudStorage",
            "type": "CloudStorage",
            "spec": FILE_SOURCE_PARAMS,
            "attributes": {
                "uiAttributes": {
                    "isSource": True,
                    "category": {"key": "cloudStorage"},
                    "icon": {"key": icon},
                    "label": {"key": name},
                }
            },
        },
        "exploreSpec": _FILE_EXPLORE,
        "attributes": {
            "category": "Cloud Storage",
            "isSource": True,
            "uiAttributes": {"apiFeatures": {"explorePaginationSupported": False}},
        },
        "permissionsInfo": _PERMISSIONS,
    }


LOCALFILES_SPEC = ConnectionSpec(
    id=LOCALFILES_SPEC_ID,
    name="Local Files",
    body=_body(
        LOCALFILES_SPEC_ID,
        "Local Files",
        [
            _auth(
                "Local Folder",
                "Folder",
                {
                    "rootPath": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Absolute folder on the xdmflow host; paths are confined under it.",
                    }
                },
                ["rootPath"],
            )
        ],
        "localFiles",
    ),
)

S3_SPEC = ConnectionSpec(
    id=S3_SPEC_ID,
    name="Amazon S3",
    body=_body(
        S3_SPEC_ID,
        "Amazon S3",
        [
            _auth(
                "Basic Authentication for S3",
                "KeyBased",
                {
                    "s3AccessKey": {"type": "string", "description": "Access key id."},
                    "s3SecretKey": {
                        "type": "string",
                        "format": "password",
                        "description": "Secret access key.",
                    },
                    "serviceUrl": {
                        "type": "string",
                        "description": "Endpoint of an S3-compatible server (http://host:port); "
                        "empty for AWS.",
                    },
                    "region": {"type": "string", "default": "us-east-1"},
                    "bucketName": {"type": "string", "description": "Confine the connection to this bucket."},
                    "folderPath": {
                        "type": "string",
                        "description": "Confine it to this folder of the bucket.",
                    },
                },
                ["s3AccessKey", "s3SecretKey"],
            )
        ],
        "amazonS3",
    ),
    secret_params=frozenset({"s3SecretKey"}),
)

SFTP_SPEC = ConnectionSpec(
    id=SFTP_SPEC_ID,
    name="SFTP",
    body=_body(
        SFTP_SPEC_ID,
        "SFTP",
        [
            _auth(
                "Basic Authentication for sftp",
                "Basic",
                {
                    "host": {"type": "string"},
                    "port": {"type": "integer", "default": 22, "minimum": 1, "maximum": 65535},
                    "userName": {"type": "string"},
                    "password": {"type": "string", "format": "password"},
                    "folderPath": {
                        "type": "string",
                        "description": "Folder listed by explore root (default /).",
                    },
                },
                ["host", "userName", "password"],
            ),
            _auth(
                "SSH PublicKey Authentication for sftp",
                "PublicKey",
                {
                    "host": {"type": "string"},
                    "port": {"type": "integer", "default": 22, "minimum": 1, "maximum": 65535},
                    "userName": {"type": "string"},
                    "privateKeyContent": {
                        "type": "string",
                        "format": "password",
                        "description": "PEM private key (or its base64).",
                    },
                    "passPhrase": {"type": "string", "format": "password"},
                    "folderPath": {
                        "type": "string",
                        "description": "Folder listed by explore root (default /).",
                    },
                },
                ["host", "userName", "privateKeyContent"],
            ),
        ],
        "sftp",
    ),
    secret_params=frozenset({"password", "privateKeyContent", "passPhrase"}),
)
