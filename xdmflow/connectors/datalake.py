"""The Data Lake target: where every source flow lands (connection spec ``c604ff05-…``).

It is a *target* only. Flows name it in their target connection
(``params.dataSetId`` + ``data.schema``, platform-api.md §1.8); the pipeline writes the
mapped batches through ``xdmflow.lake``. This class only serves the connection spec, so that
``GET /connectionSpecs`` lists it and target connections can be validated against its
``targetSpec``. Source verbs (``check`` with source credentials, ``explore``, ``read``)
raise a ``BadRequestError`` that says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa

from xdmflow.connectors.base import (
    ConnectionSpec,
    Connector,
    ExploreItem,
    ObjectDescription,
    ObjectType,
    ReadRequest,
    ReadResult,
)
from xdmflow.errors import BadRequestError

__all__ = ["DATALAKE_SPEC_ID", "DataLakeConnector"]

DATALAKE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
PROVIDER_ID = "0ed90a81-07f4-4586-8190-b40eccef1c5a"
_SCHEMA = "http://json-schema.org/draft-07/schema#"

_BODY: dict[str, Any] = {
    "id": DATALAKE_SPEC_ID,
    "name": "Data Lake",
    "providerId": PROVIDER_ID,
    "version": "1.0",
    "type": "Data Lake",
    "authSpec": [],
    "targetSpec": {
        "name": "Data Lake",
        "type": "DataLake",
        "spec": {
            "$schema": _SCHEMA,
            "description": "Target connection params: the dataset the flow writes to.",
            "type": "object",
            "properties": {
                "dataSetId": {
                    "type": "string",
                    "minLength": 1,
                    "description": "Id of the Catalog dataset receiving the records.",
                },
            },
            "required": ["dataSetId"],
        },
        "dataSpec": {
            "$schema": _SCHEMA,
            "description": "Target connection data: the format and the XDM schema written.",
            "type": "object",
            "properties": {
                "format": {"type": "string", "enum": ["parquet_xdm", "delimited", "json"]},
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "description": "$id of the dataset's XDM schema."},
                        "version": {
                            "type": "string",
                            "description": "Accept-style version, e.g. "
                            "application/vnd.adobe.xed-full+json;version=1",
                        },
                    },
                    "required": ["id"],
                },
            },
        },
        "attributes": {"uiAttributes": {"isSource": False, "isTarget": True}},
    },
    "attributes": {
        "category": "Data Lake",
        "isSource": False,
        "isTarget": True,
        "uiAttributes": {"apiFeatures": {"explorePaginationSupported": False}},
    },
    "permissionsInfo": {
        "view": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}],
        "manage": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}],
    },
}

_NOT_A_SOURCE = (
    "Connection spec {id} (Data Lake) is a target: use it in a target connection "
    "(params.dataSetId), not as a source to {verb}."
)


class DataLakeConnector(Connector):
    """The Data Lake target spec; has no source behaviour."""

    spec = ConnectionSpec(
        id=DATALAKE_SPEC_ID,
        name="Data Lake",
        body=_BODY,
        secret_params=frozenset(),
        is_source=False,
        is_target=True,
    )

    def _refuse(self, verb: str) -> BadRequestError:
        return BadRequestError(_NOT_A_SOURCE.format(id=DATALAKE_SPEC_ID, verb=verb))

    def check(self, auth: Mapping[str, Any]) -> None:
        """Refuse: a target has no source credentials to test."""
        raise self._refuse("test")

    def explore(
        self, auth: Mapping[str, Any], object_type: ObjectType, object: str | None
    ) -> list[ExploreItem]:
        """Refuse: the lake's datasets are listed by the Catalog service, not explored."""
        raise self._refuse("explore")

    def describe(
        self,
        auth: Mapping[str, Any],
        object: str,
        *,
        preview: bool = False,
        preview_rows: int = 100,
        options: Mapping[str, Any] | None = None,
    ) -> ObjectDescription:
        """Refuse: see ``explore``."""
        raise self._refuse("describe")

    def read(
        self, auth: Mapping[str, Any], request: ReadRequest, result: ReadResult
    ) -> Iterator[pa.RecordBatch]:
        """Refuse: nothing is read from the target."""
        raise self._refuse("read")
