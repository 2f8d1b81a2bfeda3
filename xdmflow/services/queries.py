"""The Query Service: SQL over the sandbox's datasets (PostgreSQL port and ``/data/foundation/query``).

* :func:`sandbox_catalog` — the tables a principal sees (its org + sandbox's datasets only).
* :func:`prepare` — client spellings rewritten (:mod:`xdmflow.query.pgcompat`), then checked
  (:mod:`xdmflow.query.guard`).
* :func:`execution` — a read statement ready to stream on the query pool.
* :func:`write_statement` — ``CREATE TABLE … AS SELECT`` (a new ad-hoc class, schema and
  dataset, through the Schema Registry and Catalog services) and ``INSERT INTO … SELECT`` (a new
  batch checked against the dataset's schema), both committed through the lake's batch writer
  and recorded as Catalog batches.
* Query objects of the API (:func:`submit_query`, :func:`list_queries`, :func:`get_query`,
  :func:`cancel_query`): SUBMITTED → IN_PROGRESS → SUCCESS | FAILED | KILLED.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from xdmflow.errors import (
    AuthError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    ValidationFailedError,
    XdmflowError,
)
from xdmflow.ids import new_batch_id, new_uuid, now_ms
from xdmflow.lake.files import conform
from xdmflow.lake.lake import namespace_for
from xdmflow.query import pgcompat
from xdmflow.query.engine import CatalogCache, Execution, QueryEngine, QueryKilledError
from xdmflow.query.guard import Checked, check_sql
from xdmflow.query.tables import DatasetRef, TableCatalog, table_name
from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.schema.naming import BEHAVIOR_ADHOC
from xdmflow.services.catalog.batches import record_batch
from xdmflow.services.catalog.common import PRIVATE
from xdmflow.services.catalog.datasets import create_dataset
from xdmflow.services.context import AppContext
from xdmflow.services.document_stores import DATASETS
from xdmflow.services.identity import Principal, get_sandbox, verify_token
from xdmflow.services.schemas.resources import create_resource
from xdmflow.services.secrets import verify_secret
from xdmflow.store.documents import DocumentStore, Scope
from xdmflow.store.tables import ApiClient, Document, Org

__all__ = [
    "QUERIES",
    "WriteResult",
    "ScheduledCtas",
    "sandbox_catalog",
    "query_engine",
    "prepare",
    "execution",
    "write_statement",
    "submit_query",
    "get_query",
    "list_queries",
    "cancel_query",
]

log = logging.getLogger(__name__)

QUERIES = DocumentStore("query", "queries")


#: (built once: making the statement costs more than running it)
_VERSION = select(func.count(), func.max(Document.updated_at), func.max(Document.pk)).where(
    Document.kind == bindparam("kind"),
    Document.org_id == bindparam("org_id"),
    Document.sandbox_name == bindparam("sandbox_name"),
)


def _catalog_version(s: Session, scope: Scope) -> tuple[int, int, int]:
    """What changes whenever a dataset of the scope is created, changed or deleted: (count, last
    update, newest row)."""
    count, updated, newest = s.execute(
        _VERSION, {"kind": DATASETS.kind, "org_id": scope.org_id, "sandbox_name": scope.sandbox_name}
    ).one()
    return int(count), int(updated or 0), int(newest or 0)


def sandbox_catalog(s: Session, scope: Scope, cache: CatalogCache | None = None) -> TableCatalog:
    """The datasets of the scope as tables (oldest first: stable names); with ``cache``, built
    again only when a dataset of the scope changed."""
    if cache is None:
        return _build_catalog(s, scope)
    key = (scope.org_id, scope.sandbox_name, *_catalog_version(s, scope))
    return cache.get(key, lambda: _build_catalog(s, scope))


def _build_catalog(s: Session, scope: Scope) -> TableCatalog:
    namespace = namespace_for(scope.org_id, scope.sandbox_name)
    refs = []
    for doc in DATASETS.query(s, scope):
        raw = (doc.body.get(PRIVATE) or {}).get("compiledSchema")
        if raw is None:
            continue
        refs.append(
            DatasetRef(
                dataset_id=doc.id,
                name=str(doc.body.get("name") or doc.id),
                namespace=namespace,
                schema=CompiledSchema.from_json(raw),
            )
        )
    return TableCatalog(refs)


def query_engine(ctx: AppContext) -> QueryEngine:
    """The deployment's SQL engine (created on first use, closed with the context)."""
    with ctx._lock:
        if ctx.query_engine is None:
            ctx.query_engine = QueryEngine.from_settings(ctx.lake, ctx.settings)
        return ctx.query_engine


#: Checked statements by their text: BI tools and dashboards send the same few statements over
#: and over (a check parses the SQL: ≈ 1 ms). Never mutated once made.
_CHECKED: OrderedDict[str, Checked] = OrderedDict()
_CHECKED_MAX = 1024
_CHECKED_LOCK = threading.Lock()


def prepare(sql: str) -> Checked:
    """Rewrite PostgreSQL client spellings and check the statement."""
    with _CHECKED_LOCK:
        hit = _CHECKED.get(sql)
        if hit is not None:
            _CHECKED.move_to_end(sql)
            return hit
    checked = check_sql(pgcompat.rewrite(sql))
    with _CHECKED_LOCK:
        _CHECKED[sql] = checked
        while len(_CHECKED) > _CHECKED_MAX:
            _CHECKED.popitem(last=False)
    return checked


def execution(ctx: AppContext, p: Principal, checked: Checked, params: list[Any] | None = None) -> Execution:
    """A read statement (select / explain / show) on the principal's tables; run it on the pool."""
    engine = query_engine(ctx)
    with ctx.db.session() as s:
        catalog = sandbox_catalog(s, Scope(p.org_id, p.sandbox_name), engine.catalogs)
    return engine.execution(catalog, checked, params, user=p.org_id, database=f"{p.sandbox_name}:all")


# -- CREATE TABLE AS / INSERT INTO ------------------------------------------------------------


@dataclass(frozen=True)
class ScheduledCtas:
    """A CTAS run by a schedule: the schedule, and the dataset its earlier runs created and
    appended to (``None`` until one succeeds)."""

    schedule_id: str
    dataset_id_of_schedule: str | None


@dataclass(frozen=True)
class WriteResult:
    tag: str  # the PostgreSQL command tag (``SELECT 3``, ``INSERT 0 3``)
    dataset_id: str
    batch_id: str
    rows: int


def _xdm_type(t: pa.DataType) -> dict[str, Any]:
    if pa.types.is_boolean(t):
        return {"type": "boolean"}
    if pa.types.is_integer(t):
        return {"type": "integer"}
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return {"type": "number"}
    if pa.types.is_date(t):
        return {"type": "string", "format": "date"}
    if pa.types.is_timestamp(t):
        return {"type": "string", "format": "date-time"}
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return {"type": "string"}
    if pa.types.is_struct(t):
        return {"type": "object", "properties": {f.name: _xdm_type(f.type) for f in t}}
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return {"type": "array", "items": _xdm_type(t.value_type)}
    raise BadRequestError(f"CREATE TABLE AS: a column of type {t} cannot be stored in a dataset; cast it")


def _check_columns(schema: pa.Schema) -> None:
    names = [f.name for f in schema]
    for name in names:
        if not name or not name.replace("_", "a").isalnum() or name[0].isdigit():
            raise BadRequestError(
                f"CREATE TABLE AS: column name {name!r} cannot be a dataset field; "
                "give it an alias of letters, digits and _"
            )
    if len(set(names)) != len(names):
        raise BadRequestError("CREATE TABLE AS: column names must be unique")


def _create_dataset_for(ctx: AppContext, p: Principal, name: str, schema: pa.Schema) -> str:
    _check_columns(schema)
    fields = {f.name: _xdm_type(f.type) for f in schema}
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    title = f"{name} (CREATE TABLE AS {stamp} {new_uuid()[:8]})"
    with ctx.db.session() as s:
        cls = create_resource(
            s,
            p,
            "classes",
            {
                "title": f"{title} class",
                "type": "object",
                "allOf": [
                    {"$ref": BEHAVIOR_ADHOC},
                    {"properties": {"_adhoc": {"type": "object", "properties": fields}}},
                ],
            },
        )
        sch = create_resource(
            s, p, "schemas", {"title": title, "type": "object", "allOf": [{"$ref": cls["$id"]}]}
        )
    return create_dataset(
        ctx.db,
        ctx.lake,
        p,
        {
            "name": name,
            "schemaRef": {"id": sch["$id"], "contentType": "application/vnd.adobe.xed+json;version=1"},
        },
    )


def _assignable(got: pa.DataType, want: pa.DataType) -> bool:
    """Whether a SELECT column of type ``got`` may go to a field of type ``want`` by position
    (numbers to numbers, text to text or times, times to times, like to like; NULL anywhere)."""
    t = pa.types
    if got == want or t.is_null(got):
        return True
    numeric = (t.is_integer, t.is_floating, t.is_decimal)
    if any(f(got) for f in numeric):
        return any(f(want) for f in numeric)
    if t.is_string(got) or t.is_large_string(got):
        return t.is_string(want) or t.is_large_string(want) or t.is_temporal(want)
    if t.is_temporal(got):
        return t.is_temporal(want)
    if t.is_boolean(got):
        return t.is_boolean(want)
    if t.is_struct(got):
        return t.is_struct(want)
    if t.is_list(got) or t.is_large_list(got):
        return t.is_list(want) or t.is_large_list(want)
    if t.is_map(got):
        return t.is_map(want)
    return False


def _shape(result: pa.Table, target: pa.Schema, columns: list[str] | None, *, insert: bool) -> pa.Table:
    """The result in the dataset's Arrow shape: a single ad-hoc struct column gets the result's
    columns as its children; otherwise columns are matched by name (or INSERT's column list)."""
    single = len(target) == 1 and pa.types.is_struct(target[0].type)
    if columns is None and insert and single:  # positional, as PostgreSQL: the dataset's fields in order
        names = [f.name for f in target[0].type][: result.num_columns]
    elif columns is None and insert:
        names = target.names[: result.num_columns]
    else:
        names = columns or result.schema.names
    if len(names) != result.num_columns:
        raise BadRequestError(f"INSERT: {len(names)} column names for {result.num_columns} result columns")
    if columns is None and insert:  # positional: a value must fit its field's type, as PostgreSQL checks
        fields = {f.name: f.type for f in (target[0].type if single else target)}
        for i, (got, name) in enumerate(zip(result.schema, names, strict=True)):
            if not _assignable(got.type, fields[name]):
                raise BadRequestError(
                    f"INSERT: column {i + 1} of the SELECT ({got.name}, {got.type}) goes to field {name} "
                    f"({fields[name]}) by position; name the target columns (INSERT INTO t (a, b) "
                    "SELECT …) or cast the value"
                )
    result = result.rename_columns(names)
    if single and target[0].name not in names:
        struct_type = target[0].type
        known = {f.name for f in struct_type}
        extra = [n for n in names if n not in known]
        if extra:
            raise ValidationFailedError(
                f"Columns not in the dataset's schema: {extra}", details={"fields": extra}
            )
        arrays = [result.column(n).combine_chunks() for n in names]
        struct = (
            pa.StructArray.from_arrays(arrays, names=names)
            if arrays
            else pa.nulls(result.num_rows, struct_type)
        )
        return pa.table({target[0].name: conform(struct, struct_type)})
    out = {}
    for f in target:
        if f.name in names:
            out[f.name] = conform(result.column(f.name).combine_chunks(), f.type)
        else:
            out[f.name] = pa.nulls(result.num_rows, f.type)
    extra = [n for n in names if n not in target.names]
    if extra:
        raise ValidationFailedError(
            f"Columns not in the dataset's schema: {extra}", details={"fields": extra}
        )
    return pa.table(out, schema=target)


def write_statement(
    ctx: AppContext,
    p: Principal,
    checked: Checked,
    params: list[Any] | None = None,
    *,
    schedule: ScheduledCtas | None = None,
) -> WriteResult:
    """Run a CTAS / INSERT: the SELECT on the engine, then one batch through the lake.

    A CTAS whose table exists fails (``ConflictError``) — unless it is a schedule's and the table
    is the dataset that schedule's earlier runs created: then it appends to it, matching columns
    by name (the platform's "create and append into new dataset")."""
    assert checked.kind in ("ctas", "insert") and checked.target is not None
    scope = Scope(p.org_id, p.sandbox_name)
    with ctx.db.session() as s:
        catalog = sandbox_catalog(s, scope, query_engine(ctx).catalogs)
    # a quoted name ("Orders Copy") is the table its dataset name would get (orders_copy)
    target_ref = catalog.resolve(checked.target) or catalog.resolve(table_name(checked.target))
    append = False
    if checked.kind == "ctas" and target_ref is not None:
        if schedule is None:
            raise ConflictError(f"Table {checked.target} already exists; INSERT INTO it or pick another name")
        if target_ref.dataset_id != schedule.dataset_id_of_schedule:
            raise ConflictError(
                f"Table {checked.target} already exists and schedule {schedule.schedule_id} did not "
                "create it; schedule an INSERT INTO it or pick another name"
            )
        append = True
    if checked.kind == "insert" and target_ref is None:
        raise NotFoundError(f"Table {checked.target} does not exist", resource_type="dataSets")
    result = query_engine(ctx).execution(catalog, checked, params, user=p.org_id).to_table()
    if checked.kind == "ctas" and not append:
        dataset_id = _create_dataset_for(ctx, p, checked.target, result.schema)
    else:
        assert target_ref is not None
        dataset_id = target_ref.dataset_id
    namespace = namespace_for(p.org_id, p.sandbox_name)
    with ctx.db.session() as s:
        doc = DATASETS.get(s, scope, dataset_id)
        compiled = CompiledSchema.from_json((doc.body.get(PRIVATE) or {})["compiledSchema"])
    try:
        shaped = _shape(result, to_arrow_schema(compiled), checked.columns, insert=checked.kind == "insert")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise ValidationFailedError(f"The rows do not fit dataset {dataset_id}'s schema: {exc}") from None
    batch_id = new_batch_id()
    started = now_ms()
    with ctx.lake.begin_batch(namespace, dataset_id, batch_id) as writer:
        writer.write(shaped)
        commit = writer.commit()
    with ctx.db.session() as s:
        record_batch(
            s,
            scope,
            dataset_id=dataset_id,
            batch_id=batch_id,
            status="success",
            metrics={
                "inputRecordCount": result.num_rows,
                "outputRecordCount": commit.record_count,
                "failedRecordCount": 0,
            },
            errors=[],
            input_format={"format": "parquet"},
            tags={"xdmflow:source": ["query-service"]},
            snapshot_id=commit.snapshot_id,
            data_files=commit.data_files,
            started=started,
            completed=now_ms(),
            created_by=p.user,
            client_id=p.client_id,
        )
    created = checked.kind == "ctas" and not append
    tag = f"SELECT {result.num_rows}" if created else f"INSERT 0 {result.num_rows}"
    return WriteResult(tag, dataset_id, batch_id, result.num_rows)


def run_statement(
    ctx: AppContext, p: Principal, sql: str
) -> tuple[pa.Table | None, WriteResult | None, bool]:
    """Run one statement to completion in the calling thread: (rows, write, truncated)."""
    checked = prepare(sql)
    if checked.kind in ("ctas", "insert"):
        return None, write_statement(ctx, p, checked), False
    ex = execution(ctx, p, checked)
    return ex.to_table(), None, ex.truncated


# -- Query objects (the REST API) --------------------------------------------------------------

_RUNNING: dict[str, Execution] = {}
_RUNNING_LOCK = threading.Lock()


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _save_state(ctx: AppContext, scope: Scope, query_id: str, **changes: Any) -> None:
    with ctx.db.session() as s:
        doc = QUERIES.get(s, scope, query_id)
        body = copy.deepcopy(doc.body)
        if body.get("state") == "KILLED" and changes.get("state") != "KILLED":
            return
        body.update(changes)
        body["updated"] = _iso(now_ms())
        QUERIES.save(s, doc, body, state=body["state"])


def _run_query(
    ctx: AppContext, p: Principal, query_id: str, sql: str, schedule: ScheduledCtas | None = None
) -> None:
    scope = Scope(p.org_id, p.sandbox_name)
    started = now_ms()
    try:
        _save_state(ctx, scope, query_id, state="IN_PROGRESS")
        with ctx.db.session() as s:
            if QUERIES.get(s, scope, query_id).body.get("state") == "KILLED":
                return  # cancelled while it waited for the pool: it never runs
        checked = prepare(sql)
        if checked.kind in ("ctas", "insert"):
            w = write_statement(ctx, p, checked, schedule=schedule)
            _save_state(
                ctx,
                scope,
                query_id,
                state="SUCCESS",
                rowCount=w.rows,
                elapsedTime=now_ms() - started,
                referenced_datasets=[{"id": w.dataset_id, "type": "dataSet"}],
                **{PRIVATE: {"batchId": w.batch_id}},
            )
            return
        ex = execution(ctx, p, checked)
        with _RUNNING_LOCK:
            _RUNNING[query_id] = ex
        with ctx.db.session() as s:  # a cancel between the check above and now found nothing to kill
            if QUERIES.get(s, scope, query_id).body.get("state") == "KILLED":
                with _RUNNING_LOCK:
                    _RUNNING.pop(query_id, None)
                return
        try:
            table = ex.to_table()
        finally:
            with _RUNNING_LOCK:
                _RUNNING.pop(query_id, None)
        _save_state(
            ctx,
            scope,
            query_id,
            state="SUCCESS",
            rowCount=table.num_rows,
            truncated=ex.truncated,
            elapsedTime=now_ms() - started,
        )
    except XdmflowError as exc:
        state = "KILLED" if isinstance(exc, QueryKilledError) and "cancel" in exc.message else "FAILED"
        _save_state(
            ctx,
            scope,
            query_id,
            state=state,
            errors=[{"code": getattr(exc, "sqlstate", exc.code or "58000"), "message": exc.message}],
            elapsedTime=now_ms() - started,
        )
    except Exception as exc:  # an engine bug must still end the query object
        log.exception("query %s failed", query_id)
        _save_state(
            ctx,
            scope,
            query_id,
            state="FAILED",
            errors=[{"code": "XX000", "message": f"Internal error: {exc}"}],
        )


def submit_query(
    ctx: AppContext,
    p: Principal,
    *,
    sql: str,
    db_name: str | None,
    name: str | None,
    description: str | None,
    schedule: ScheduledCtas | None = None,
) -> dict[str, Any]:
    """Create a query object (SUBMITTED) and queue it on the query pool (``schedule``: a
    schedule's run, see :func:`write_statement`)."""
    if not sql or not sql.strip():
        raise BadRequestError("'sql' is required")
    if db_name and db_name.split(":", 1)[0].lower() != p.sandbox_name:
        raise BadRequestError(f"dbName {db_name!r} is not the sandbox of the request ({p.sandbox_name}:all)")
    checked = prepare(sql)  # refuse bad or forbidden SQL at once, with a 400
    query_id = new_uuid()
    ts = _iso(now_ms())
    body: dict[str, Any] = {
        "id": query_id,
        "request": {
            "dbName": db_name or f"{p.sandbox_name}:all",
            "sql": sql,
            "name": name or "",
            "description": description or "",
        },
        "effectiveSQL": sql,
        "isCTAS": checked.kind == "ctas",
        "isInsertInto": checked.kind == "insert",
        "state": "SUBMITTED",
        "client": "API",
        "userId": p.user,
        "created": ts,
        "updated": ts,
        "rowCount": 0,
        "errors": [],
        "elapsedTime": 0,
        "version": 1,
    }
    scope = Scope(p.org_id, p.sandbox_name)
    with ctx.db.session() as s:
        QUERIES.insert(s, scope, query_id, body, name=(name or "")[:512] or None, state="SUBMITTED")
    query_engine(ctx).submit(lambda: _run_query(ctx, p, query_id, sql, schedule))
    return _view(body)


def _view(body: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in body.items() if k != PRIVATE}
    out["_links"] = {
        "self": {"href": f"/data/foundation/query/queries/{body['id']}"},
        "cancel": {
            "href": f"/data/foundation/query/queries/{body['id']}",
            "method": "PATCH",
            "body": '{"op": "cancel"}',
        },
    }
    return out


def get_query(s: Session, scope: Scope, query_id: str) -> dict[str, Any]:
    return _view(QUERIES.get(s, scope, query_id).body)


def list_queries(s: Session, scope: Scope, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """``GET /queries``: ``limit``, ``start`` (offset), ``orderby`` (``[+-]created|updated``),
    ``property`` filters (``state==SUCCESS``, ``name~text``, ``created>…``)."""
    values = dict(params)
    docs = [d.body for d in QUERIES.query(s, scope)]
    for key, raw in params:
        if key != "property":
            continue
        for cond in raw.split(","):
            docs = [d for d in docs if _matches(d, cond.strip())]
    order = values.get("orderby", "-created")
    desc = order.startswith("-")
    field = order.lstrip("+-") or "created"
    if field not in ("created", "updated", "state"):
        raise BadRequestError(f"orderby {order!r}: use created, updated or state (with + or -)")
    docs.sort(key=lambda d: str(d.get(field, "")), reverse=desc)
    try:
        limit = int(values.get("limit", "50"))
        start = int(values.get("start", "0"))
    except ValueError:
        raise BadRequestError("limit and start must be integers") from None
    if not 1 <= limit <= 1000 or start < 0:
        raise BadRequestError("limit must be 1..1000 and start >= 0")
    page = docs[start : start + limit]
    nxt = start + limit
    links: dict[str, Any] = {}
    if nxt < len(docs):
        links["next"] = {"href": f"/data/foundation/query/queries?orderby={order}&start={nxt}&limit={limit}"}
    return {
        "queries": [_view(d) for d in page],
        "_page": {"orderby": order, "start": start, "count": len(page)},
        "_links": links,
    }


def _matches(doc: dict[str, Any], cond: str) -> bool:
    for op in ("==", "!=", ">=", "<=", "~", ">", "<"):
        if op in cond:
            key, _, value = cond.partition(op)
            key = key.strip()
            actual = str(doc.get(key, (doc.get("request") or {}).get(key, "")))
            value = value.strip()
            return {
                "==": actual == value,
                "!=": actual != value,
                ">=": actual >= value,
                "<=": actual <= value,
                ">": actual > value,
                "<": actual < value,
                "~": value.lower() in actual.lower(),
            }[op]
    raise BadRequestError(f"property filter {cond!r}: use key==value, key~text, key>value …")


def cancel_query(ctx: AppContext, scope: Scope, query_id: str) -> dict[str, Any]:
    """``PATCH {"op": "cancel"}``: a SUBMITTED or IN_PROGRESS query becomes KILLED."""
    with ctx.db.session() as s:
        body = QUERIES.get(s, scope, query_id).body
    if body["state"] not in ("SUBMITTED", "IN_PROGRESS"):
        raise BadRequestError(f"Query {query_id} is {body['state']}: only a running query can be cancelled")
    _save_state(ctx, scope, query_id, state="KILLED")
    with _RUNNING_LOCK:
        ex = _RUNNING.get(query_id)
    if ex is not None:
        ex.cancel()
    with ctx.db.session() as s:
        return get_query(s, scope, query_id)


def principal_for(s: Session, org_id: str, sandbox: str, client_id: str) -> Principal:
    """The principal of a PostgreSQL sign-in (``NotFoundError`` for an unknown sandbox)."""
    org = s.get(Org, org_id)
    if org is None:
        raise NotFoundError(f"Org {org_id} not found", resource_type="org")
    sb = get_sandbox(s, org_id, sandbox)
    return Principal(
        client_id=client_id,
        org_id=org_id,
        sandbox_name=sb.name,
        sandbox_id=sb.id,
        sandbox_type=sb.type,
        tenant_id=org.tenant_id,
    )


__all__ += ["run_statement", "principal_for", "table_name"]


def authenticate(ctx: AppContext, user: str, password: str, database: str) -> Principal:
    """A PostgreSQL sign-in: user = org id, password = an access token (or ``clientId:secret``),
    database ``{sandbox}:all`` or ``{sandbox}``. ``AuthError`` / ``NotFoundError`` otherwise.
    A token's signature check is cached until it expires (:func:`verify_token`); the client and
    sandbox are looked up at every sign-in, so a disabled client is refused at once."""
    sandbox = (database or "").split(":", 1)[0].strip().lower()
    if not sandbox or database == user:
        sandbox = "prod"
    client_id: str | None = None
    with ctx.db.session() as s:
        try:
            claims = verify_token(password, ctx.keys)
        except AuthError:
            claims = None
        if claims is not None:
            if claims.get("org") != user:
                raise AuthError("The token is not of that org (user must be the org id)", status=401)
            client_id = str(claims["client_id"])
        else:
            cid, sep, secret = password.partition(":")
            client = s.get(ApiClient, cid) if sep else None
            if client is None or not verify_secret(secret, client.secret_hash):
                raise AuthError(
                    "Password authentication failed: use an access token or clientId:secret", status=401
                )
            if client.org_id != user:
                raise AuthError("The client is not of that org (user must be the org id)", status=401)
            client_id = cid
        client_row = s.get(ApiClient, client_id)
        if client_row is None or client_row.disabled:
            raise AuthError("The API client is disabled", status=401)
        return principal_for(s, user, sandbox, client_id)
