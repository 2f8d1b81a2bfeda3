"""``SquareConnector``: the Connector protocol over Square's v2 API."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from xdmflow.connectors.base import (
    Connector,
    ExploreItem,
    ObjectDescription,
    ObjectType,
    ReadRequest,
    ReadResult,
)
from xdmflow.connectors.payments import first_rows, list_tables
from xdmflow.connectors.policy import Reach, url_reach
from xdmflow.connectors.square.client import SquareClient, base_url
from xdmflow.connectors.square.read import DEFAULT_LOOKBACK_MINUTES, read_table, table
from xdmflow.connectors.square.spec import SQUARE_SPEC, TABLE_NAMES
from xdmflow.errors import SourceFatalError

if TYPE_CHECKING:
    import httpx

    from xdmflow.connectors.http.retry import RetryPolicy
    from xdmflow.connectors.square.client import SquareClient

__all__ = ["SquareConnector"]


class SquareConnector(Connector):
    """Reads payments, refunds, orders, customers, catalog objects and locations from Square.

    Auth params: ``host`` (bare host -> https, or a full base URL), ``accessToken`` (OAuth or
    personal), and for OAuth renewal ``refreshToken``, ``clientId``, ``clientSecret``. Source
    params: ``tableName``, ``columns``, ``startDate``, ``locationIds``, ``lookbackMinutes``.
    Every location is read unless ``locationIds`` narrows it. Incremental on ``updated_at``.
    """

    spec = SQUARE_SPEC

    def __init__(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._retry = retry
        self._timeout = timeout
        self._transport = transport

    def __repr__(self) -> str:
        return "SquareConnector()"

    def client(self, auth: Mapping[str, Any]) -> SquareClient:

        return SquareClient(auth, retry=self._retry, timeout=self._timeout, transport=self._transport)

    @staticmethod
    def _name(request: ReadRequest) -> str:
        return str(
            request.source_params.get("tableName") or request.source_params.get("path") or request.object
        )

    def reach(self, auth: Mapping[str, Any]) -> Reach:
        """The Square API host (the emulator's, in tests and the demo)."""

        try:
            return url_reach(base_url(auth.get("host")))
        except SourceFatalError:
            return Reach()  # the client refuses a malformed host itself

    def check(self, auth: Mapping[str, Any]) -> None:
        """List the locations: bad tokens raise ``SourceAuthError``, an unreachable host
        ``SourceRetriableError``."""
        with self.client(auth) as client:
            client.call("GET", "/v2/locations")

    def explore(
        self, auth: Mapping[str, Any], object_type: ObjectType, object: str | None
    ) -> list[ExploreItem]:
        return list_tables("Square", object_type, TABLE_NAMES)

    def describe(
        self,
        auth: Mapping[str, Any],
        object: str,
        *,
        preview: bool = False,
        preview_rows: int = 100,
        options: Mapping[str, Any] | None = None,
    ) -> ObjectDescription:

        t = table(object)
        if not preview:
            return ObjectDescription(columns=t.columns)
        request = ReadRequest(
            object=t.name,
            source_params={"tableName": t.name, **(options or {})},
            batch_size=max(1, preview_rows),
        )
        preview_table = first_rows(self.read(auth, request, ReadResult()), preview_rows, t.schema)
        return ObjectDescription(columns=t.columns, preview=preview_table)

    def read(
        self, auth: Mapping[str, Any], request: ReadRequest, result: ReadResult
    ) -> Iterator[pa.RecordBatch]:

        t = table(self._name(request))
        with self.client(auth) as client:
            try:
                yield from read_table(client, t, request, result)
            finally:
                result.input_bytes += client.bytes_read
                if client.refreshed:
                    result.extensions["squareTokenRefreshes"] = client.refreshed

    def dedupe_policy(self, request: ReadRequest) -> tuple[tuple[str, ...], float] | None:
        """Incremental reads re-read ``lookbackMinutes`` before the watermark (Square is eventually
        consistent): the pipeline drops rows whose id and delta value it already ingested."""
        if not request.delta_column:
            return None

        t = table(self._name(request))
        minutes = float(request.source_params.get("lookbackMinutes", DEFAULT_LOOKBACK_MINUTES))
        return t.key, minutes * 60 + 1.0
