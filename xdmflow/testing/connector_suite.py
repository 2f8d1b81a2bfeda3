"""The shared contract test suite every connector's tests inherit.

Subclass ``ConnectorContract`` in a pytest module (class name starting with ``Test``) and
provide one fixture, ``contract_case``, returning a ``ContractCase``. The fixture is usually
function-scoped: the incremental test adds rows to the object it describes.

::

    class TestMyConnector(ConnectorContract):
        @pytest.fixture
        def contract_case(self, tmp_path):
            ...  # create the object holding `rows`
            return ContractCase(
                connector=MyConnector(),
                good_auth={...},
                bad_auth={...},          # check() must raise SourceAuthError; None skips
                down_auth={...},         # check() must raise SourceRetriableError; None skips
                object="PayPal.Transactions",
                rows=[{"id": "1", ...}],
                key="id",
                delta_column="updated",  # or None for file sources (incremental by mtime)
                add_rows=lambda new: ...,  # appends `new` to the object; None skips
                new_rows=[{"id": "3", ...}],
                stop_source=None,        # stops the live source (a server); None skips
            )

Rows are compared by ``key`` after ``normalise`` (default: every value as ``str``, ``None``
kept), over the columns the expected rows name; extra columns read are ignored.

What runs: the spec is a valid draft-07 JSON Schema with id/name/authSpec/providerId; ``check``
passes with good auth, raises ``SourceAuthError`` with bad auth and ``SourceRetriableError``
when the source is down (``down_auth`` points at nothing; ``stop_source`` stops the live source
and ``good_auth`` is then tried), and no message echoes a secret; ``explore`` (root or the given folder)
lists the object; ``describe`` returns columns typed for XDM and preview rows; a full read
returns exactly the known rows; partitions together return the same rows; an incremental read
after ``add_rows`` returns only the new rows and advances the watermark, and a read at the new
watermark returns nothing.

Incremental reads are judged as the pipeline sees them: when the connector declares that it
re-reads rows (``Connector.dedupe_policy``, e.g. a look-back window for late data), the rows are
passed through the pipeline's own ``DedupeState`` carried from read to read, exactly as flow runs
do. A re-read row that the declared key and horizon do not cover therefore fails the test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import jsonschema
import pyarrow as pa
import pytest

from xdmflow.connectors.base import Connector, ObjectType, ReadRequest, ReadResult
from xdmflow.errors import SourceAuthError, SourceError, SourceRetriableError
from xdmflow.pipeline.dedupe import DedupeState

__all__ = ["ContractCase", "ConnectorContract", "read_all", "read_as_pipeline"]


def _default_normalise(value: Any) -> Any:
    return None if value is None else str(value)


@dataclass
class ContractCase:
    """Everything the contract needs to exercise one connector against one live source."""

    connector: Connector
    good_auth: Mapping[str, Any]
    object: str
    rows: list[dict[str, Any]]
    key: str
    bad_auth: Mapping[str, Any] | None = None
    down_auth: Mapping[str, Any] | None = None
    source_params: Mapping[str, Any] = field(default_factory=dict)
    delta_column: str | None = None
    add_rows: Callable[[list[dict[str, Any]]], None] | None = None
    new_rows: list[dict[str, Any]] = field(default_factory=list)
    #: where explore finds ``object``: ("root", None) or ("folder", "/some/folder")
    explore_at: tuple[ObjectType, str | None] = ("root", None)
    #: the path explore lists for the object (default: ``object``)
    explore_path: str | None = None
    #: options passed to describe (file type, delimiter...)
    describe_options: Mapping[str, Any] = field(default_factory=dict)
    normalise: Callable[[Any], Any] = _default_normalise
    #: stops the live source (e.g. shuts a server down); then ``good_auth`` must fail retriably
    stop_source: Callable[[], None] | None = None

    def request(self, **changes: Any) -> ReadRequest:
        """A read request for the case's object."""
        base = ReadRequest(
            object=self.object, source_params=dict(self.source_params), delta_column=self.delta_column
        )
        return replace(base, **changes)


def read_all(
    connector: Connector, auth: Mapping[str, Any], request: ReadRequest
) -> tuple[pa.Table, ReadResult]:
    """Run a read to the end; every batch must be a ``pa.RecordBatch`` of one schema."""
    result = ReadResult()
    batches = list(connector.read(auth, request, result))
    for b in batches:
        assert isinstance(b, pa.RecordBatch), f"read yielded {type(b).__name__}, not a RecordBatch"
        assert b.num_rows <= max(request.batch_size, 1), "a batch is larger than batch_size"
    if batches:
        assert all(b.schema.equals(batches[0].schema) for b in batches), (
            "batches of one read differ in schema"
        )
    return (pa.Table.from_batches(batches) if batches else pa.table({})), result


def read_as_pipeline(
    connector: Connector, auth: Mapping[str, Any], request: ReadRequest, state: dict[str, Any] | None
) -> tuple[pa.Table, ReadResult, dict[str, Any] | None]:
    """Run a read to the end and drop the rows the pipeline would drop as already ingested.

    When ``connector.dedupe_policy(request)`` declares re-reads (and the read is incremental), the
    batches go through the pipeline's ``DedupeState`` restored from ``state`` (the previous
    read's), and the state for the next read is returned; otherwise ``state`` is ``None``.
    """
    if state is not None and request.watermark is not None:
        request = replace(request, watermark_inclusive=True)  # as the pipeline reads with a state
    table, result = read_all(connector, auth, request)
    policy = connector.dedupe_policy(request)
    if policy is None or request.delta_column is None:
        return table, result, None

    keys, horizon = policy
    missing = [c for c in (*keys, request.delta_column) if table.num_rows and c not in table.column_names]
    assert not missing, f"dedupe_policy names columns the read does not return: {missing}"
    dedupe = DedupeState.from_state(state, keys, request.delta_column, horizon)
    kept = [dedupe.filter(b)[0] for b in table.to_batches()]
    kept = [b for b in kept if b.num_rows]
    out = pa.Table.from_batches(kept) if kept else pa.table({})
    return out, result, dedupe.next_state(result.new_watermark)


class ConnectorContract:
    """Mixin of contract tests; needs a ``contract_case`` fixture returning a ``ContractCase``."""

    # -- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _rows(case: ContractCase, table: pa.Table, expected: list[dict[str, Any]]) -> None:
        cols = sorted({k for r in expected for k in r})
        missing = [c for c in cols if c not in table.column_names]
        assert not missing, f"columns {missing} missing from the read (got {table.column_names})"

        def norm(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
            out = [tuple(case.normalise(r.get(c)) for c in cols) for r in rows]
            return sorted(out, key=lambda t: [("" if v is None else str(v)) for v in t])

        got = norm(table.select(cols).to_pylist() if table.num_rows else [])
        assert got == norm(expected), f"rows differ: got {got}, expected {norm(expected)}"

    @staticmethod
    def _secrets(case: ContractCase, auth: Mapping[str, Any]) -> list[str]:
        names = case.connector.spec.secret_params
        return [str(auth[n]) for n in names if auth.get(n) and len(str(auth[n])) >= 4]

    # -- spec --------------------------------------------------------------------------------------

    def test_spec_is_valid(self, contract_case: ContractCase) -> None:

        spec = contract_case.connector.spec
        body = spec.body
        assert body["id"] == spec.id and body["name"] == spec.name
        assert body.get("providerId") and body.get("version")
        assert isinstance(body.get("authSpec"), list) and body["authSpec"], "authSpec must list an auth type"
        assert spec.is_source, "a source connector's spec must have is_source=True"
        for auth in body["authSpec"]:
            assert auth["name"] and auth["type"]
            jsonschema.Draft7Validator.check_schema(auth["spec"])
            props = auth["spec"].get("properties", {})
            for secret in spec.secret_params & set(props):
                assert props[secret].get("format") == "password", f"secret {secret} must be format: password"
        assert isinstance(body.get("sourceSpec"), dict), "a source spec needs a sourceSpec"
        if "spec" in body["sourceSpec"]:
            jsonschema.Draft7Validator.check_schema(body["sourceSpec"]["spec"])
        assert spec.secret_params <= {p for a in body["authSpec"] for p in a["spec"].get("properties", {})}

    def test_good_auth_is_valid_against_spec(self, contract_case: ContractCase) -> None:

        specs = [a["spec"] for a in contract_case.connector.spec.body["authSpec"]]
        errors = [
            list(jsonschema.Draft7Validator(s).iter_errors(dict(contract_case.good_auth))) for s in specs
        ]
        assert any(not e for e in errors), f"good_auth fits no authSpec: {errors}"

    # -- check -------------------------------------------------------------------------------------

    def test_check_good_auth(self, contract_case: ContractCase) -> None:
        contract_case.connector.check(contract_case.good_auth)

    def test_check_bad_auth(self, contract_case: ContractCase) -> None:
        if contract_case.bad_auth is None:
            pytest.skip("no bad_auth for this connector")
        with pytest.raises(SourceAuthError) as info:
            contract_case.connector.check(contract_case.bad_auth)
        assert not info.value.retriable
        for secret in self._secrets(contract_case, contract_case.bad_auth):
            assert secret not in str(info.value), "the error message echoes a secret"

    def _assert_down(self, case: ContractCase, auth: Mapping[str, Any]) -> None:
        with pytest.raises(SourceRetriableError) as info:
            case.connector.check(auth)
        assert info.value.retriable and len(info.value.message) > 20, "say clearly what is down"
        for secret in self._secrets(case, auth):
            assert secret not in str(info.value), "the error message echoes a secret"
        with pytest.raises(SourceError) as read_info:
            read_all(case.connector, auth, case.request())
        assert read_info.value.retriable, "a read from a source that is down must be retriable"

    def test_source_down_is_retriable(self, contract_case: ContractCase) -> None:
        if contract_case.down_auth is None:
            pytest.skip("no down_auth for this connector")
        self._assert_down(contract_case, contract_case.down_auth)

    def test_stopped_source_is_retriable(self, contract_case: ContractCase) -> None:
        if contract_case.stop_source is None:
            pytest.skip("no stop_source for this connector")
        contract_case.connector.check(contract_case.good_auth)
        contract_case.stop_source()
        self._assert_down(contract_case, contract_case.good_auth)

    # -- explore / describe --------------------------------------------------------------------------

    def test_explore_lists_object(self, contract_case: ContractCase) -> None:
        object_type, at = contract_case.explore_at
        items = contract_case.connector.explore(contract_case.good_auth, object_type, at)
        api = [i.to_api() for i in items]
        for item in api:
            assert set(item) == {"type", "name", "path", "canPreview", "canFetchSchema"}
            assert item["type"] in ("table", "file", "folder")
        want = contract_case.explore_path or contract_case.object
        assert want in [i["path"] for i in api], f"{want!r} not listed by explore {object_type}: {api}"

    def test_describe_columns_and_preview(self, contract_case: ContractCase) -> None:
        desc = contract_case.connector.describe(
            contract_case.good_auth,
            contract_case.explore_path or contract_case.object,
            preview=True,
            preview_rows=1,
            options=contract_case.describe_options,
        )
        names = [c.name for c in desc.columns]
        expected = {k for r in contract_case.rows for k in r}
        assert expected <= set(names), f"describe misses columns: {expected - set(names)}"
        for col in desc.columns:
            api = col.to_api()
            assert api["type"] and api["xdm"]["type"] in (
                "string",
                "number",
                "integer",
                "boolean",
                "object",
                "array",
            )
        assert desc.preview is not None and 1 <= desc.preview.num_rows <= 1
        assert set(desc.preview.column_names) == set(names)

    # -- read ----------------------------------------------------------------------------------------

    def test_full_read_returns_known_rows(self, contract_case: ContractCase) -> None:
        table, _ = read_all(
            contract_case.connector, contract_case.good_auth, contract_case.request(batch_size=2)
        )
        self._rows(contract_case, table, contract_case.rows)

    def test_partitions_cover_full_read(self, contract_case: ContractCase) -> None:
        request = contract_case.request()
        parts = contract_case.connector.partitions(contract_case.good_auth, request)
        assert parts, "partitions() returned nothing"
        tables = [read_all(contract_case.connector, contract_case.good_auth, p)[0] for p in parts]
        tables = [t for t in tables if t.num_rows]
        self._rows(contract_case, pa.concat_tables(tables) if tables else pa.table({}), contract_case.rows)

    def test_incremental_read(self, contract_case: ContractCase) -> None:
        case = contract_case
        if case.add_rows is None or not case.new_rows:
            pytest.skip("no add_rows for this connector")
        auth, connector = case.good_auth, case.connector
        table, first, state = read_as_pipeline(connector, auth, case.request(), None)
        self._rows(case, table, case.rows)
        assert first.new_watermark is not None, "a read from the beginning must set new_watermark"
        case.add_rows(case.new_rows)
        request = case.request(watermark=first.new_watermark)
        table, second, state = read_as_pipeline(connector, auth, request, state)
        self._rows(case, table, case.new_rows)
        assert second.new_watermark is not None and second.new_watermark != first.new_watermark
        assert second.new_watermark > first.new_watermark, "the watermark must advance"
        request = case.request(watermark=second.new_watermark)
        table, third, _ = read_as_pipeline(connector, auth, request, state)
        assert table.num_rows == 0, "a read at the latest watermark must return nothing"
        assert third.new_watermark == second.new_watermark, "no new rows: the watermark must stay"
