"""Query templates and scheduled queries of the Query Service (``/query-templates``, ``/schedules``).

* Templates: a named SQL statement with ``$name`` placeholders and default ``queryParameters``;
  ``POST /queries`` with ``templateId`` runs one (:func:`render_template`).
* Schedules: a query (``sql`` or ``templateId``) plus a 5-field UTC cron expression, a
  ``startDate`` and an optional ``endDate``; ENABLED or DISABLED (JSON Patch on ``/state``).
* Runs: :func:`fire_query_schedules` — called by the lease-holding scheduler loop — turns each
  due fire time into a run whose query is an ordinary query object (:func:`submit_query`, the
  same path as ``POST /queries``, so CTAS / INSERT schedules commit through the lake). A run's
  ``dedupe_key`` ``{scheduleId}@{fire}`` is unique in the store and the schedule's next fire time
  is advanced with compare-and-swap on its etag, so a fire time never runs twice. Missed fire
  times are not back-filled: only the newest due one runs (the platform's behaviour).
  A run's state is its query's: SUBMITTED / IN_PROGRESS → IN_PROGRESS, SUCCESS, FAILED / KILLED
  → FAILED. A tick reads only the due schedules (their next fire time compared in the database).
* A CTAS schedule creates its dataset on its first successful run; later runs append to that
  dataset (the platform's "create and append into new dataset"); if it is deleted, the next run
  creates it again. A CTAS onto a table the schedule did not create fails its run with the reason.
"""

from __future__ import annotations

import base64
import copy
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from croniter import CroniterBadCronError, croniter
from sqlalchemy import select
from sqlalchemy.orm import Session

from xdmflow.errors import BadRequestError, ConflictError, NotFoundError, PreconditionFailedError
from xdmflow.ids import new_uuid, now_ms
from xdmflow.services.catalog.common import PRIVATE
from xdmflow.services.context import AppContext
from xdmflow.services.document_stores import DATASETS
from xdmflow.services.identity import Principal
from xdmflow.services.queries import (
    QUERIES,
    ScheduledCtas,
    _iso,
    _matches,
    cancel_query,
    prepare,
    principal_for,
    submit_query,
)
from xdmflow.store.documents import DocumentStore, Scope
from xdmflow.store.tables import ApiClient, Document

__all__ = [
    "TEMPLATES",
    "SCHEDULES",
    "SCHEDULE_RUNS",
    "render_template",
    "create_template",
    "list_templates",
    "count_templates",
    "get_template",
    "update_template",
    "delete_template",
    "create_schedule",
    "list_schedules",
    "get_schedule",
    "patch_schedule",
    "delete_schedule",
    "trigger_run",
    "list_runs",
    "get_run",
    "cancel_run",
    "fire_query_schedules",
]

log = logging.getLogger(__name__)

TEMPLATES = DocumentStore("queryTemplate", "Query template")
SCHEDULES = DocumentStore("querySchedule", "Schedule")
SCHEDULE_RUNS = DocumentStore("queryScheduleRun", "Schedule run")

BASE = "/data/foundation/query"
_PLACEHOLDER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


# -- shared helpers -----------------------------------------------------------------------------


def _page(
    docs: list[dict[str, Any]],
    params: Sequence[tuple[str, str]],
    *,
    path: str,
    allowed: set[str],
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Filter (``property``), order (``orderby`` ``[+-]created|updated``) and page (``start``
    offset, ``limit``) documents: (page, ``_page``, ``_links``)."""
    values = dict(params)
    props = [c.strip() for k, v in params if k == "property" for c in v.split(",") if c.strip()]
    for cond in props:
        key = re.split(r"==|!=|>=|<=|~|>|<", cond, maxsplit=1)[0].strip()
        if key not in allowed:
            raise BadRequestError(f"property filter {cond!r}: filter on {', '.join(sorted(allowed))}")
        docs = [d for d in docs if _matches(d, cond)]
    order = values.get("orderby", "-created")
    field = order.lstrip("+- ") or "created"
    if field not in ("created", "updated"):
        raise BadRequestError(f"orderby {order!r}: use created or updated (with + or -)")
    desc = order.startswith("-")  # '+created' (a '+' not escaped arrives as a space) or 'created': ascending
    # ties (one millisecond) in store order, which is creation order
    ranked = sorted(enumerate(docs), key=lambda e: (str(e[1].get(field, "")), e[0]), reverse=desc)
    docs = [d for _, d in ranked]
    try:
        limit = int(values.get("limit", "50"))
        start = int(values.get("start", "0"))
    except ValueError:
        raise BadRequestError("limit and start must be integers") from None
    if not 1 <= limit <= 1000 or start < 0:
        raise BadRequestError("limit must be 1..1000 and start >= 0")
    page = docs[start : start + limit]
    links: dict[str, Any] = {}
    if start + limit < len(docs):
        links["next"] = {"href": f"{BASE}{path}?orderby={order}&start={start + limit}&limit={limit}"}
    if start > 0:
        links["prev"] = {"href": f"{BASE}{path}?orderby={order}&start={max(0, start - limit)}&limit={limit}"}
    meta = {"orderby": order, "start": start, "count": len(page)}
    if props:
        meta["property"] = ",".join(props)
    return page, meta, links


def _public(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != PRIVATE}


def _str_params(raw: Any, what: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, (str, int, float)) for k, v in raw.items()
    ):
        raise BadRequestError(f"{what}: queryParameters must be an object of names to strings")
    return {k: str(v) for k, v in raw.items()}


# -- templates ----------------------------------------------------------------------------------


def render_template(sql: str, params: dict[str, str]) -> str:
    """``$name`` placeholders replaced by ``params`` (400 naming every one without a value).

    The rendered statement still goes through :func:`prepare` (the guard), so a parameter cannot
    smuggle in a statement the Query Service refuses."""
    missing = sorted({m for m in _PLACEHOLDER.findall(sql) if m not in params})
    if missing:
        raise BadRequestError(f"No value for query parameter(s) {', '.join('$' + m for m in missing)}")
    return _PLACEHOLDER.sub(lambda m: params[m.group(1)], sql)


def _template_view(body: dict[str, Any]) -> dict[str, Any]:
    href = f"{BASE}/query-templates/{body['id']}"
    return {
        **_public(body),
        "_links": {
            "self": {"href": href, "method": "GET"},
            "update": {"href": href, "method": "PUT", "body": '{"sql": "new sql", "name": "new name"}'},
            "delete": {"href": href, "method": "DELETE"},
        },
    }


def _check_template_sql(sql: str, params: dict[str, str]) -> None:
    if not sql.strip():
        raise BadRequestError("'sql' is required")
    if all(m in params for m in _PLACEHOLDER.findall(sql)):
        prepare(render_template(sql, params))  # complete: refuse a bad or forbidden statement now


def create_template(
    s: Session, p: Principal, *, sql: str, name: str, query_parameters: dict[str, Any] | None
) -> dict[str, Any]:
    params = _str_params(query_parameters, "template")
    _check_template_sql(sql, params)
    tid = new_uuid()
    ts = _iso(now_ms())
    body = {
        "id": tid,
        "name": name,
        "sql": sql,
        "queryParameters": params,
        "userId": p.user,
        "lastUpdatedBy": p.user,
        "created": ts,
        "updated": ts,
    }
    TEMPLATES.insert(s, Scope(p.org_id, p.sandbox_name), tid, body, name=name[:512])
    return _template_view(body)


def list_templates(s: Session, scope: Scope, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    docs = [d.body for d in TEMPLATES.query(s, scope)]
    page, meta, links = _page(
        docs, params, path="/query-templates", allowed={"name", "userId", "lastUpdatedBy"}
    )
    return {"templates": [_template_view(b) for b in page], "_page": meta, "_links": links, "version": 1}


def count_templates(s: Session, scope: Scope, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    docs = [d.body for d in TEMPLATES.query(s, scope)]
    for k, raw in params:
        if k == "property":
            for cond in filter(None, (c.strip() for c in raw.split(","))):
                if not cond.startswith("userId=="):
                    raise BadRequestError(f"property filter {cond!r}: only userId== is allowed here")
                docs = [d for d in docs if _matches(d, cond)]
    return {"totalCount": len(docs), "version": 1}


def get_template(s: Session, scope: Scope, template_id: str) -> dict[str, Any]:
    return _template_view(TEMPLATES.get(s, scope, template_id).body)


def update_template(
    s: Session,
    p: Principal,
    template_id: str,
    *,
    sql: str,
    name: str,
    query_parameters: dict[str, Any] | None,
) -> dict[str, Any]:
    doc = TEMPLATES.get(s, Scope(p.org_id, p.sandbox_name), template_id)
    params = _str_params(query_parameters, "template")
    _check_template_sql(sql, params)
    body = {
        **copy.deepcopy(doc.body),
        "name": name,
        "sql": sql,
        "queryParameters": params,
        "lastUpdatedBy": p.user,
        "updated": _iso(now_ms()),
    }
    TEMPLATES.save(s, doc, body, name=name[:512])
    return _template_view(body)


def delete_template(s: Session, scope: Scope, template_id: str) -> dict[str, Any]:
    TEMPLATES.remove(s, TEMPLATES.get(s, scope, template_id))
    return {"message": "Deleted", "statusCode": 202}


def template_sql(
    s: Session, scope: Scope, template_id: str, overrides: dict[str, Any] | None
) -> tuple[str, str]:
    """(rendered SQL, template name) of a template with ``overrides`` over its parameters."""
    doc = TEMPLATES.find(s, scope, template_id)
    if doc is None:
        raise BadRequestError(f"Query template {template_id} does not exist in this sandbox")
    params = {**doc.body.get("queryParameters", {}), **_str_params(overrides, "query")}
    return render_template(str(doc.body["sql"]), params), str(doc.body.get("name") or "")


# -- cron ---------------------------------------------------------------------------------------


def _parse_cron(expr: str) -> str:
    expr = " ".join(str(expr).split())
    fields = expr.split(" ") if expr else []
    if len(fields) != 5:
        raise BadRequestError(
            f"schedule {expr!r}: use a 5-field cron expression (minute hour day-of-month month "
            "day-of-week, UTC), e.g. '30 2 * * 1'"
        )
    bad = BadRequestError(f"schedule {expr!r} is not a valid cron expression")
    if not croniter.is_valid(expr):
        raise bad
    try:
        croniter(expr, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except (ValueError, KeyError, CroniterBadCronError):
        raise bad from None
    return expr


def _parse_date(raw: str | None, what: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    try:
        dt = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestError(f"{what} {raw!r}: use 'YYYY-MM-DD HH:MM:SS+00:00' (ISO 8601)") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _next_fire(expr: str, after: float, end: float | None) -> int | None:
    """The first cron time strictly after ``after`` (epoch s), ``None`` past ``end``."""
    nxt = croniter(expr, datetime.fromtimestamp(after, UTC)).get_next(datetime)
    t = int(nxt.timestamp())
    return None if end is not None and t > end else t


def _latest_fire(expr: str, now: float) -> int:
    """The newest cron time at or before ``now``."""
    prev = croniter(expr, datetime.fromtimestamp(int(now) + 1, UTC)).get_prev(datetime)
    return int(prev.timestamp())


# -- schedules ----------------------------------------------------------------------------------


def _schedule_view(body: dict[str, Any]) -> dict[str, Any]:
    href = f"{BASE}/schedules/{body['id']}"
    return {
        **_public(body),
        "_links": {
            "self": {"href": href, "method": "GET"},
            "enable": {
                "href": href,
                "method": "PATCH",
                "body": '{"body": [{"op": "replace", "path": "/state", "value": "enable"}]}',
            },
            "disable": {
                "href": href,
                "method": "PATCH",
                "body": '{"body": [{"op": "replace", "path": "/state", "value": "disable"}]}',
            },
            "delete": {"href": href, "method": "DELETE"},
            "runs": {"href": f"{href}/runs", "method": "GET"},
            "trigger": {"href": f"{href}/runs", "method": "POST"},
        },
    }


def create_schedule(
    s: Session, p: Principal, query: dict[str, Any], schedule: dict[str, Any]
) -> dict[str, Any]:
    """``POST /schedules``: validated at once (cron, dates, the SQL or template); ENABLED."""
    scope = Scope(p.org_id, p.sandbox_name)
    sql, template_id = query.get("sql"), query.get("templateId")
    if bool(sql) == bool(template_id):
        raise BadRequestError("query: give either 'sql' or 'templateId'")
    db_name = query.get("dbName")
    if db_name and str(db_name).split(":", 1)[0].lower() != p.sandbox_name:
        raise BadRequestError(f"dbName {db_name!r} is not the sandbox of the request ({p.sandbox_name}:all)")
    params = _str_params(query.get("queryParameters"), "query")
    if template_id:
        rendered, template_name = template_sql(s, scope, str(template_id), params)
    else:
        rendered, template_name = render_template(str(sql), params), ""
    prepare(rendered)
    expr = _parse_cron(str(schedule.get("schedule") or ""))
    start = _parse_date(schedule.get("startDate"), "startDate")
    if start is None:
        raise BadRequestError("schedule.startDate is required")
    end = _parse_date(schedule.get("endDate"), "endDate")
    if end is not None and end <= start:
        raise BadRequestError("schedule.endDate must be after startDate")
    max_active = schedule.get("maxActiveRuns")
    if max_active is not None and (not isinstance(max_active, int) or max_active < 1):
        raise BadRequestError("schedule.maxActiveRuns must be a positive integer")
    end_ts = end.timestamp() if end is not None else None
    first = _next_fire(expr, start.timestamp() - 1, end_ts)
    sid = new_uuid()
    ts = _iso(now_ms())
    stored_query = {k: v for k, v in query.items() if v is not None}
    stored_query.setdefault("dbName", f"{p.sandbox_name}:all")
    stored_query.setdefault("name", template_name)
    body: dict[str, Any] = {
        "id": sid,
        "userId": p.user,
        "updatedUserId": p.user,
        "state": "ENABLED",
        "query": stored_query,
        "schedule": {
            "schedule": expr,
            "startDate": start.isoformat(sep=" "),
            **({"endDate": end.isoformat(sep=" ")} if end is not None else {}),
            **({"maxActiveRuns": max_active} if max_active is not None else {}),
        },
        "created": ts,
        "updated": ts,
        PRIVATE: {"clientId": p.client_id, "nextFire": first, "endTs": end_ts},
    }
    SCHEDULES.insert(
        s, scope, sid, body, name=str(stored_query.get("name") or "")[:512] or None, state="ENABLED"
    )
    return _schedule_view(body)


def list_schedules(s: Session, scope: Scope, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    docs = []
    for d in SCHEDULES.query(s, scope):
        flat = dict(d.body)
        flat["templateId"] = (d.body.get("query") or {}).get("templateId", "")
        docs.append(flat)
    page, meta, links = _page(docs, params, path="/schedules", allowed={"created", "templateId", "userId"})
    return {
        "schedules": [_schedule_view({k: v for k, v in b.items() if k != "templateId"}) for b in page],
        "_page": meta,
        "_links": links,
        "version": 1,
    }


def get_schedule(s: Session, scope: Scope, schedule_id: str) -> dict[str, Any]:
    return _schedule_view(SCHEDULES.get(s, scope, schedule_id).body)


def patch_schedule(s: Session, p: Principal, schedule_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    """JSON Patch ``replace`` of ``/state`` (``enable`` | ``disable``) or ``/schedule/schedule``."""
    doc = SCHEDULES.get(s, Scope(p.org_id, p.sandbox_name), schedule_id)
    body = copy.deepcopy(doc.body)
    priv = body[PRIVATE]
    if not ops:
        raise BadRequestError("The patch has no operations")
    for op in ops:
        if op.get("op") != "replace":
            raise BadRequestError(f"op {op.get('op')!r}: only 'replace' is supported on a schedule")
        path, value = op.get("path"), op.get("value")
        if path == "/state":
            if value not in ("enable", "disable"):
                raise BadRequestError("/state: the value is 'enable' or 'disable'")
            new_state = "ENABLED" if value == "enable" else "DISABLED"
            if new_state == "ENABLED" and body["state"] != "ENABLED":
                # no catch-up for the time it was off: the next fire time from now
                priv["nextFire"] = _next_fire(
                    body["schedule"]["schedule"], now_ms() / 1000, priv.get("endTs")
                )
            body["state"] = new_state
        elif path == "/schedule/schedule":
            expr = _parse_cron(str(value or ""))
            body["schedule"]["schedule"] = expr
            priv["nextFire"] = _next_fire(expr, now_ms() / 1000, priv.get("endTs"))
        else:
            raise BadRequestError(f"path {path!r}: patch /state or /schedule/schedule")
    body["updated"] = _iso(now_ms())
    body["updatedUserId"] = p.user
    SCHEDULES.save(s, doc, body, state=body["state"])
    return _schedule_view(body)


def delete_schedule(ctx: AppContext, scope: Scope, schedule_id: str) -> dict[str, Any]:
    """Only a DISABLED schedule without active runs can be deleted (400 otherwise); its runs go too."""
    with ctx.db.session() as s:
        doc = SCHEDULES.get(s, scope, schedule_id)
        if doc.body["state"] == "ENABLED":
            raise BadRequestError("Please disable the schedule before requesting delete operation")
        runs = SCHEDULE_RUNS.query(s, scope, parent_ids=[schedule_id])
        if any(_run_state(s, scope, r.body)[0] == "IN_PROGRESS" for r in runs):
            raise BadRequestError(
                "There are active run(s) for this schedule, please wait for completion "
                "before requesting delete operation"
            )
        for r in runs:
            SCHEDULE_RUNS.remove(s, r)
        SCHEDULES.remove(s, doc)
    return {"message": "Schedule deleted", "statusCode": 202}


# -- runs ---------------------------------------------------------------------------------------


def _run_id(schedule_id: str, kind: str, fire: int) -> str:
    """``{base64url("scheduled__<fire time>")}_{schedule id}`` — the platform's
    run-id shape, unique per (kind, id, org, sandbox) as the store requires even when several
    schedules share a fire time."""
    stamp = datetime.fromtimestamp(fire, UTC).isoformat()
    head = base64.urlsafe_b64encode(f"{kind}__{stamp}".encode()).decode().rstrip("=")
    return f"{head}_{schedule_id}"


#: A recorded run whose query is not submitted within this long is FAILED (its scheduler stopped).
_SUBMIT_GRACE_MS = 300_000


def _run_state(s: Session, scope: Scope, run: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """(the run's state, its query object or None)."""
    qid = run.get("queryId")
    if qid is None:
        if run.get("errors") or now_ms() - int(run.get("recordedAt") or 0) > _SUBMIT_GRACE_MS:
            return "FAILED", None  # its query was never submitted (the process stopped in between)
        return "IN_PROGRESS", None
    q = QUERIES.find(s, scope, qid)
    if q is None:
        return "FAILED", None
    state = str(q.body.get("state"))
    mapped = {"SUBMITTED": "IN_PROGRESS", "IN_PROGRESS": "IN_PROGRESS", "SUCCESS": "SUCCESS"}
    return mapped.get(state, "FAILED"), q.body


def _run_view(s: Session, scope: Scope, run: dict[str, Any], *, details: bool) -> dict[str, Any]:
    state, q = _run_state(s, scope, run)
    href = f"{BASE}/schedules/{run['scheduleId']}/runs/{run['id']}"
    out: dict[str, Any] = {
        "id": run["id"],
        "scheduleId": run["scheduleId"],
        "created": run["created"],
        "updated": (q or run).get("updated", run["created"]),
        "state": state,
        "externalTrigger": run["externalTrigger"],
        "queryId": run.get("queryId"),
        "version": 1,
        "_links": {
            "self": {"href": href, "method": "GET"},
            "cancel": {"href": href, "method": "PATCH", "body": '{"op": "cancel"}'},
        },
    }
    if q is not None:
        out["rowCount"] = q.get("rowCount", 0)
        if q.get("referenced_datasets"):
            out["referenced_datasets"] = q["referenced_datasets"]
    if details:
        errors = (q or {}).get("errors") or run.get("errors") or []
        if state == "FAILED" and not errors:
            errors = [{"message": "The run's query was never submitted: the scheduler stopped first"}]
        out["taskStatusList"] = [
            {
                "taskId": run.get("queryId") or run["id"],
                "state": state,
                "startDate": run["created"],
                **({"endDate": q.get("updated")} if q is not None and state != "IN_PROGRESS" else {}),
                **({"duration": str((q or {}).get("elapsedTime", 0) / 1000)} if q is not None else {}),
                "message": "; ".join(str(e.get("message")) for e in errors)
                if errors
                else ("Processing Succeeded" if state == "SUCCESS" else ""),
            }
        ]
    return out


@dataclass(frozen=True)
class _Sched:
    org_id: str
    sandbox_name: str
    id: str
    body: dict[str, Any]

    @classmethod
    def of(cls, doc: Document) -> _Sched:
        return cls(doc.org_id, doc.sandbox_name, doc.id, copy.deepcopy(doc.body))


def _record_run(s: Session, schedule: _Sched, run_doc_id: str, fire: int, *, external: bool) -> bool:
    """Record the run of a fire time (unique per schedule and fire time); false when it has one."""
    run = {
        "id": run_doc_id,
        "scheduleId": schedule.id,
        "created": _iso(fire * 1000),
        "externalTrigger": external,
        "recordedAt": now_ms(),
    }
    try:
        with s.begin_nested():
            SCHEDULE_RUNS.insert(
                s,
                Scope(schedule.org_id, schedule.sandbox_name),
                run_doc_id,
                run,
                parent_id=schedule.id,
                dedupe_key=f"{schedule.id}@{'manual' if external else 'cron'}@{fire}",
            )
    except ConflictError:
        return False
    return True


def _ctas_dataset(s: Session, scope: Scope, schedule_id: str) -> str | None:
    """The dataset the schedule's CTAS writes to: the one its newest successful run created or
    appended to (``None`` before its first success, or once that dataset is deleted — the next
    run then creates it again). Kept in the schedule's private state while the dataset exists,
    so later fires do not read the runs again."""
    doc = SCHEDULES.get(s, scope, schedule_id)
    known = (doc.body.get(PRIVATE) or {}).get("ctasDatasetId")
    if known and DATASETS.find(s, scope, str(known)) is not None:
        return str(known)
    found: str | None = None
    runs = SCHEDULE_RUNS.query(s, scope, parent_ids=[schedule_id])
    for run in sorted(runs, key=lambda r: (r.created_at, r.pk), reverse=True):
        qid = run.body.get("queryId")
        q = QUERIES.find(s, scope, qid) if qid else None
        if q is not None and q.body.get("isCTAS") and q.body.get("state") == "SUCCESS":
            refs = q.body.get("referenced_datasets") or []
            if refs:
                found = str(refs[0]["id"])
                break
    if found is not None and DATASETS.find(s, scope, found) is None:
        found = None
    if found is not None and found != known:
        body = copy.deepcopy(doc.body)
        body[PRIVATE]["ctasDatasetId"] = found
        try:
            with s.begin_nested():
                SCHEDULES.save(s, doc, body)
        except PreconditionFailedError:
            pass  # a concurrent patch: found again at the next fire
    return found


def _submit_run(ctx: AppContext, schedule: _Sched, run_doc_id: str) -> None:
    """Submit the recorded run's query (the path of ``POST /queries``) and link it to the run."""
    scope = Scope(schedule.org_id, schedule.sandbox_name)
    body = schedule.body
    query = body.get("query") or {}
    try:
        with ctx.db.session() as s:
            client = s.get(ApiClient, body[PRIVATE]["clientId"])
            if client is None or client.disabled:
                raise BadRequestError("The API client that created this schedule is disabled or deleted")
            p = principal_for(s, schedule.org_id, schedule.sandbox_name, body[PRIVATE]["clientId"])
            params = _str_params(query.get("queryParameters"), "query")
            if query.get("templateId"):
                sql, _ = template_sql(s, scope, str(query["templateId"]), params)
            else:
                sql = render_template(str(query.get("sql") or ""), params)
            ctas = (
                ScheduledCtas(schedule.id, _ctas_dataset(s, scope, schedule.id))
                if prepare(sql).kind == "ctas"
                else None
            )
        q = submit_query(
            ctx,
            p,
            sql=sql,
            db_name=query.get("dbName"),
            name=query.get("name") or None,
            description=f"Schedule {schedule.id} run {run_doc_id}",
            schedule=ctas,
        )
        changes: dict[str, Any] = {"queryId": q["id"]}
    except (BadRequestError, NotFoundError) as exc:  # the template went away, the sandbox was deleted
        changes = {"errors": [{"code": exc.code or "400", "message": exc.message}]}
    with ctx.db.session() as s:
        doc = SCHEDULE_RUNS.query(s, scope, ids=[run_doc_id], parent_ids=[schedule.id])
        for d in doc:
            if d.id == run_doc_id:
                SCHEDULE_RUNS.save(s, d, {**d.body, **changes})


def _active_runs(s: Session, scope: Scope, schedule_id: str) -> int:
    runs = SCHEDULE_RUNS.query(s, scope, parent_ids=[schedule_id])
    return sum(1 for r in runs if _run_state(s, scope, r.body)[0] == "IN_PROGRESS")


def fire_query_schedules(ctx: AppContext, now: float) -> list[str]:
    """Start the run of every ENABLED schedule whose next fire time is due at ``now`` (epoch s).

    Called by the scheduler loop while it holds the scheduler lease. Returns the new run ids."""
    with ctx.db.session() as s:
        # only the due schedules of every org: the next fire time is compared in the database
        # (a JSON path on the body), so a tick reads no document that is not due
        next_fire = Document.body[(PRIVATE, "nextFire")].as_float()
        due = [
            (org_id, sandbox, sid)
            for org_id, sandbox, sid in s.execute(
                select(Document.org_id, Document.sandbox_name, Document.id).where(
                    Document.kind == SCHEDULES.kind,
                    Document.state == "ENABLED",
                    next_fire.is_not(None),
                    next_fire <= now,
                )
            )
        ]
    made: list[str] = []
    for org_id, sandbox, sid in due:
        scope = Scope(org_id, sandbox)
        with ctx.db.session() as s:
            doc = SCHEDULES.find(s, scope, sid)
            if doc is None or doc.body.get("state") != "ENABLED":
                continue
            body = copy.deepcopy(doc.body)
            priv = body[PRIVATE]
            if priv.get("nextFire") is None or priv["nextFire"] > now:
                continue
            expr = body["schedule"]["schedule"]
            fire = max(_latest_fire(expr, now), int(priv["nextFire"]))
            end = priv.get("endTs")
            priv["nextFire"] = _next_fire(expr, fire, end)
            priv["lastFired"] = fire
            try:
                SCHEDULES.save(s, doc, body)  # compare-and-swap: another scheduler may have claimed it
            except PreconditionFailedError:
                continue
            if end is not None and fire > end:
                continue
            max_active = body["schedule"].get("maxActiveRuns")
            if max_active is not None and _active_runs(s, scope, sid) >= max_active:
                log.info("schedule %s: fire %s skipped, %s active run(s)", sid, fire, max_active)
                continue
            sched = _Sched.of(doc)
            run_id = _run_id(sid, "scheduled", fire)
            # claimed and recorded in one transaction: a crash loses neither or both
            if not _record_run(s, sched, run_id, fire, external=False):
                continue
        _submit_run(ctx, sched, run_id)
        made.append(run_id)
    return made


def trigger_run(ctx: AppContext, scope: Scope, schedule_id: str) -> dict[str, Any]:
    """``POST /schedules/{id}/runs``: a run now (``externalTrigger``), whatever the schedule's state."""
    with ctx.db.session() as s:
        sched = _Sched.of(SCHEDULES.get(s, scope, schedule_id))
    fire = now_ms() // 1000
    for offset in range(60):  # two triggers within one second get distinct runs
        run_id = _run_id(schedule_id, "manual", fire + offset)
        with ctx.db.session() as s:
            recorded = _record_run(s, sched, run_id, fire + offset, external=True)
        if recorded:
            _submit_run(ctx, sched, run_id)
            return {"message": "Trigger run successful", "statusCode": 202, "runId": run_id}
    raise ConflictError("Too many triggered runs in one minute; try again shortly")


def _runs_of(s: Session, scope: Scope, schedule_id: str) -> list[Document]:
    SCHEDULES.get(s, scope, schedule_id)  # 404 for another org's or a deleted schedule
    return list(SCHEDULE_RUNS.query(s, scope, parent_ids=[schedule_id]))


def list_runs(
    s: Session, scope: Scope, schedule_id: str, params: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    views = [_run_view(s, scope, r.body, details=False) for r in _runs_of(s, scope, schedule_id)]
    for v in views:
        v["externalTrigger"] = str(v["externalTrigger"]).lower()  # filtered as text
    page, meta, links = _page(
        views,
        params,
        path=f"/schedules/{schedule_id}/runs",
        allowed={"created", "state", "externalTrigger"},
    )
    for v in page:
        v["externalTrigger"] = v["externalTrigger"] == "true"
    return {"runsSchedules": page, "_page": meta, "_links": links, "version": 1}


def _find_run(s: Session, scope: Scope, schedule_id: str, run_id: str) -> dict[str, Any]:
    for r in _runs_of(s, scope, schedule_id):
        if r.id == run_id:
            return r.body
    raise NotFoundError(f"Run {run_id} of schedule {schedule_id} not found", resource_type="runs")


def get_run(s: Session, scope: Scope, schedule_id: str, run_id: str) -> dict[str, Any]:
    return _run_view(s, scope, _find_run(s, scope, schedule_id, run_id), details=True)


def cancel_run(ctx: AppContext, scope: Scope, schedule_id: str, run_id: str) -> dict[str, Any]:
    """``PATCH {"op": "cancel"}``: the run's query is killed (400 unless it is still running)."""
    with ctx.db.session() as s:
        run = _find_run(s, scope, schedule_id, run_id)
    if run.get("queryId") is None:
        raise BadRequestError(f"Run {run_id} has no running query to cancel")
    cancel_query(ctx, scope, run["queryId"])
    return {"message": "Cancel run request received", "statusCode": 202}
