"""The console's pages. Every handler builds a ``Ui`` (session → principal, the API's own checks) and
calls the same services as the API; form posts carry the session's CSRF token."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from xdmflow.connectors.registry import all_connectors, get_connector
from xdmflow.console import charts
from xdmflow.console.session import COOKIE, ConsoleSession, Identity, decode_session
from xdmflow.console.web import Ui, clear_session, page, render, set_session
from xdmflow.console.wizard import create_target_dataset, preview, submit, wizard_page
from xdmflow.errors import AuthError, BadRequestError, NotFoundError, XdmflowError
from xdmflow.runs import queue as runs
from xdmflow.services import connections as conn_svc
from xdmflow.services import flows as flow_svc
from xdmflow.services import identity, overview, queries
from xdmflow.services.catalog import datasets as ds_svc
from xdmflow.services.document_stores import (
    CONNECTIONS,
    DATASETS,
    FLOWS,
    RUNS,
    TARGET_CONNECTIONS,
    XDM_RESOURCES,
)
from xdmflow.services.ingest.preview import dataset_preview
from xdmflow.services.schemas import compiled_schema, resolved_schema

router = APIRouter(include_in_schema=False)

PAYPAL_CATEGORY = {"payments": "Payments", "database": "Databases", "cloud storage": "Cloud storage"}


def _int(raw: str | None, default: int = 1) -> int:
    try:
        return max(1, int(raw or default))
    except ValueError:
        return default


# -- sign in / out, org and sandbox switcher ---------------------------------------------------------


@router.get("/signin")
@page
def signin_page(request: Request) -> Response:
    expired = request.query_params.get("expired") == "1"
    return render(
        request, "signin.html", next=request.query_params.get("next", "/"), expired=expired, errors={}
    )


def _safe_next(raw: str | None) -> str:
    raw = raw or "/"
    return raw if raw.startswith("/") and not raw.startswith("//") else "/"


@router.post("/signin")
@page
async def signin(request: Request) -> Response:
    ctx = request.app.state.ctx
    form = {k: str(v) for k, v in (await request.form()).items() if isinstance(v, str)}
    nxt = _safe_next(form.get("next"))
    errors: dict[str, str] = {}
    token = form.get("token", "").strip()
    client_id = form.get("client_id", "").strip()
    try:
        if token:
            claims = identity.verify_token(token, ctx.keys)
            ident = Identity(token, str(claims["client_id"]), str(claims["org"]), int(claims["exp"]))
        else:
            if not client_id:
                errors["client_id"] = "Enter the client id (or paste an access token)."
            if not form.get("client_secret"):
                errors["client_secret"] = "Enter the client secret."
            if errors:
                raise BadRequestError("Sign-in needs a client id and secret, or an access token.")
            with ctx.db.session() as s:
                issued = identity.issue_token(s, ctx.keys, ctx.settings, client_id, form["client_secret"])
                client = s.get(identity.ApiClient, client_id)
                org = client.org_id if client is not None else ""
            ident = Identity(
                issued["access_token"], client_id, org, int(time.time()) + int(issued["expires_in"])
            )
    except XdmflowError as exc:
        if isinstance(exc, AuthError):
            errors.setdefault("token" if token else "client_secret", f"{exc.message} ({exc.code})")
        return render(
            request,
            "signin.html",
            401 if isinstance(exc, AuthError) else 400,
            next=nxt,
            expired=False,
            errors=errors,
            error=exc,
            form=form,
        )
    sess = decode_session(request.cookies.get(COOKIE), ctx.keys)
    if sess is None or sess.expired:
        sess = ConsoleSession([ident])
    else:
        sess.add(ident)
    sess.sandbox = "prod"
    response = RedirectResponse(nxt, 303)
    set_session(response, request, sess, ctx)
    return response


@router.post("/signout")
@page
async def signout(request: Request) -> Response:
    ui = Ui(request)
    await ui.form()
    response = RedirectResponse("/signin", 303)
    clear_session(response, request)
    return response


@router.post("/switch")
@page
async def switch(request: Request) -> Response:
    ui = Ui(request)
    form = await ui.form()
    sess = ui.session
    org = form.get("org")
    if org and org != ui.principal.org_id:
        # another org: its default sandbox (the sandbox select still names the old org's)
        for i, ident in enumerate(sess.identities):
            if ident.org_id == org:
                sess.current = i
                sess.sandbox = "prod"
    elif form.get("sandbox"):
        name = form["sandbox"].strip().lower()
        if name not in ui.sandboxes():
            raise NotFoundError(
                f"Sandbox name {name} not found for the organization {ui.principal.org_id}.",
                code="2100",
                resource_type="sandbox",
                resource_id=name,
            )
        sess.sandbox = name
    response = RedirectResponse(_safe_next(form.get("next")), 303)
    set_session(response, request, sess, ui.ctx)
    return response


# -- home -----------------------------------------------------------------------------------


@router.get("/")
@page
def home(request: Request) -> Response:
    ui = Ui(request)
    with ui.ctx.db.session() as s:
        counts = {
            "connections": CONNECTIONS.count(s, ui.scope),
            "flows": FLOWS.count(s, ui.scope),
            "datasets": DATASETS.count(s, ui.scope),
        }
        recent = overview.page_of(s, ui.scope, RUNS, 1, 10)
        recent_runs = [overview.run_summary(d) for d in recent.items]
    return ui.render("home.html", counts=counts, runs=recent_runs)


# -- sources ----------------------------------------------------------------------------------


def _category(spec: Any) -> str:
    if spec.name.lower().startswith("local"):
        return "Local"
    raw = str((dict(spec.body).get("attributes") or {}).get("category", "Other"))
    return PAYPAL_CATEGORY.get(raw.lower(), raw)


@router.get("/sources")
@page
def sources(request: Request) -> Response:
    ui = Ui(request)
    groups: dict[str, list[Any]] = {}
    for c in all_connectors():
        if not c.spec.is_source:
            continue
        groups.setdefault(_category(c.spec), []).append(c.spec)
    order = ["Payments", "Databases", "Cloud storage", "Local"]
    ordered = sorted(groups.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0]))
    return ui.render("sources.html", groups=ordered)


def _auth_fields(spec_body: dict[str, Any], auth_index: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    auths = spec_body.get("authSpec") or []
    auth: dict[str, Any] = (
        auths[min(auth_index, len(auths) - 1)] if auths else {"name": "", "spec": {"properties": {}}}
    )
    schema = auth.get("spec") or {}
    required = set(schema.get("required") or [])
    fields = []
    for name, prop in (schema.get("properties") or {}).items():
        ptype = prop.get("type", "string")
        kind = (
            "password"
            if prop.get("format") == "password"
            else "number"
            if ptype in ("integer", "number")
            else "checkbox"
            if ptype == "boolean"
            else "select"
            if prop.get("enum")
            else "text"
        )
        fields.append(
            {
                "name": name,
                "kind": kind,
                "required": name in required,
                "description": prop.get("description", ""),
                "default": prop.get("default"),
                "enum": prop.get("enum") or [],
                "type": ptype,
            }
        )
    return fields, auth


def _connect_page(ui: Ui, spec_id: str, auth_index: int, status: int = 200, **extra: Any) -> Response:
    connector = get_connector(spec_id)
    body = dict(connector.spec.body)
    fields, auth = _auth_fields(body, auth_index)
    return ui.render(
        "connect.html",
        status,
        spec=connector.spec,
        auths=body.get("authSpec") or [],
        auth_index=auth_index,
        auth=auth,
        fields=fields,
        values=extra.pop("values", {}),
        errors=extra.pop("errors", {}),
        **extra,
    )


@router.get("/sources/{spec_id}/connect")
@page
def connect_page(spec_id: str, request: Request) -> Response:
    ui = Ui(request)
    return _connect_page(ui, spec_id, int(request.query_params.get("auth", "0") or 0))


@router.post("/sources/{spec_id}/connect")
@page
async def connect(spec_id: str, request: Request) -> Response:
    ui = Ui(request)
    form = await ui.form()
    auth_index = int(form.get("auth", "0") or 0)
    connector = get_connector(spec_id)
    fields, auth = _auth_fields(dict(connector.spec.body), auth_index)
    params: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        raw = form.get(f"p_{f['name']}", "")
        if f["kind"] == "checkbox":
            params[f["name"]] = raw == "on"
        elif raw == "":
            if f["required"]:
                errors[f["name"]] = "Required."
        elif f["type"] in ("integer", "number"):
            try:
                params[f["name"]] = int(raw) if f["type"] == "integer" else float(raw)
            except ValueError:
                errors[f["name"]] = f"Enter a {f['type']}."
        else:
            params[f["name"]] = raw
    name = form.get("name", "").strip()
    if not name:
        errors["name"] = "Give the connection a name."
    safe = {f["name"]: form.get(f"p_{f['name']}", "") for f in fields if f["kind"] != "password"}
    if errors:
        return _connect_page(ui, spec_id, auth_index, 400, values={**safe, "name": name}, errors=errors)
    body = {
        "name": name,
        "description": form.get("description", ""),
        "auth": {"specName": auth.get("name"), "params": params},
        "connectionSpec": {"id": spec_id, "version": "1.0"},
    }
    try:
        with ui.ctx.db.session() as s:
            out = conn_svc.create_connection(s, ui.principal, ui.ctx.keys, body, ui.ctx.policy)
    except XdmflowError as exc:
        return _connect_page(
            ui, spec_id, auth_index, exc.status, values={**safe, "name": name}, errors={}, error=exc
        )
    return RedirectResponse(f"/connections/{out['id']}?created=1", 303)


@router.get("/connections")
@page
def connections_list(request: Request) -> Response:
    ui = Ui(request)
    with ui.ctx.db.session() as s:
        pg = overview.connections_page(s, ui.scope, _int(request.query_params.get("page")))
    names = {c.spec.id: c.spec.name for c in all_connectors()}
    return ui.render("connections.html", pg=pg, spec_names=names)


def _connection(ui: Ui, conn_id: str) -> dict[str, Any]:
    with ui.ctx.db.session() as s:
        return conn_svc.connection_view(CONNECTIONS.get(s, ui.scope, conn_id))


@router.get("/connections/{conn_id}")
@page
def connection_page(conn_id: str, request: Request) -> Response:
    ui = Ui(request)
    conn = _connection(ui, conn_id)
    spec = get_connector(conn["connectionSpec"]["id"]).spec
    return ui.render("connection.html", conn=conn, spec=spec, test=None)


@router.post("/connections/{conn_id}/test")
@page
async def connection_test(conn_id: str, request: Request) -> Response:
    ui = Ui(request)
    await ui.form()
    conn = _connection(ui, conn_id)
    spec = get_connector(conn["connectionSpec"]["id"]).spec
    try:
        with ui.ctx.db.session() as s:
            conn_svc.test_connection(s, ui.principal, ui.ctx.keys, conn_id, ui.ctx.policy)
        test: dict[str, Any] = {"ok": True}
    except XdmflowError as exc:
        test = {"ok": False, "error": exc}
    return ui.render("connection.html", conn=conn, spec=spec, test=test)


@router.get("/connections/{conn_id}/explore")
@page
def explore(conn_id: str, request: Request) -> Response:
    ui = Ui(request)
    conn = _connection(ui, conn_id)
    folder = request.query_params.get("folder")
    obj = request.query_params.get("object")
    obj_type = request.query_params.get("type", "table")
    with ui.ctx.db.session() as s:
        root = conn_svc.explore(s, ui.principal, ui.ctx.keys, conn_id, {"objectType": "root"}, ui.ctx.policy)
        children = (
            conn_svc.explore(
                s,
                ui.principal,
                ui.ctx.keys,
                conn_id,
                {"objectType": "folder", "object": folder},
                ui.ctx.policy,
            )
            if folder
            else None
        )
        desc = (
            conn_svc.explore(
                s,
                ui.principal,
                ui.ctx.keys,
                conn_id,
                {"objectType": obj_type, "object": obj, "preview": "true"},
                ui.ctx.policy,
            )
            if obj
            else None
        )
    return ui.render(
        "explore.html",
        conn=conn,
        root=root,
        folder=folder,
        children=children,
        obj=obj,
        obj_type=obj_type,
        desc=desc,
    )


# -- flows --------------------------------------------------------------------------------------


@router.get("/flows")
@page
def flows_list(request: Request) -> Response:
    ui = Ui(request)
    with ui.ctx.db.session() as s:
        pg = overview.flows_page(s, ui.scope, _int(request.query_params.get("page")))
    return ui.render("flows.html", pg=pg, message=request.query_params.get("message"))


@router.get("/flows/new")
@page
def wizard(request: Request) -> Response:

    return wizard_page(Ui(request), dict(request.query_params))


@router.post("/flows/new/dataset")
@page
async def wizard_dataset(request: Request) -> Response:

    ui = Ui(request)
    return create_target_dataset(ui, await ui.form_lists())


@router.post("/flows/new/preview")
@page
async def wizard_preview(request: Request) -> Response:

    ui = Ui(request)
    ui.check_header_csrf()
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise BadRequestError("Send the preview request as JSON") from None
    try:
        return JSONResponse(preview(ui, body))
    except XdmflowError as exc:
        return JSONResponse(
            {
                "message": exc.message,
                "code": exc.code,
                "details": exc.details,
                "requestId": getattr(request.state, "request_id", ""),
            },
            exc.status,
        )


@router.post("/flows/new")
@page
async def wizard_submit(request: Request) -> Response:

    ui = Ui(request)
    return submit(ui, await ui.form_lists())


@router.post("/flows/{flow_id}/{action}")
@page
async def flow_action(flow_id: str, action: str, request: Request) -> Response:
    ui = Ui(request)
    form = await ui.form()
    back = _safe_next(form.get("next") or f"/flows/{flow_id}")
    with ui.ctx.db.session() as s:
        if action in ("enable", "disable"):
            flow_svc.flow_action(s, ui.principal, flow_id, action)
            msg = f"Flow {action}d."
        elif action == "run":
            out = runs.create_run_on_demand(
                s, ui.principal, {"flowId": flow_id}, runs.QueueLimits.from_settings(ui.ctx.settings)
            )
            return RedirectResponse(f"/runs/{out['id']}", 303)
        elif action == "delete":
            flow_svc.delete_flow(s, ui.principal, flow_id)
            return RedirectResponse("/flows?" + urlencode({"message": "Flow deleted."}), 303)
        else:
            raise NotFoundError(f"Unknown flow action {action!r}", resource_type="action", resource_id=action)
    sep = "&" if "?" in back else "?"
    return RedirectResponse(back + sep + urlencode({"message": msg}), 303)


@router.get("/flows/{flow_id}")
@page
def flow_page(flow_id: str, request: Request) -> Response:
    ui = Ui(request)
    with ui.ctx.db.session() as s:
        flow = flow_svc.flow_view(FLOWS.get(s, ui.scope, flow_id, code="1439"))
        history = overview.runs_of_flow(s, ui.scope, flow_id, 50)

        datasets = [
            str(t.body.get("params", {}).get("dataSetId"))
            for t in TARGET_CONNECTIONS.query(s, ui.scope, ids=list(flow.get("targetConnectionIds") or []))
            if t.body.get("params", {}).get("dataSetId")
        ]
        next_fire = overview.next_fire(s, flow_id)
    svg = {
        "records": charts.bars(
            [(r["id"][:8], [r["output"], r["failed"]]) for r in history],
            ["ingested", "failed"],
            "Records per run",
        ),
        "duration": charts.line(
            [(r["id"][:8], (r["durationMs"] or 0) / 1000) for r in history], "Duration per run (s)"
        ),
    }
    return ui.render(
        "flow.html",
        flow=flow,
        runs=list(reversed(history)),
        svg=svg,
        next_fire=next_fire,
        datasets=datasets,
        message=request.query_params.get("message"),
    )


# -- runs --------------------------------------------------------------------------------------


@router.get("/runs/{run_id}")
@page
def run_page(run_id: str, request: Request) -> Response:
    ui = Ui(request)
    with ui.ctx.db.session() as s:
        doc = RUNS.get(s, ui.scope, run_id)
        run = runs.run_view(doc)
        summary = overview.run_summary(doc)
        rejected = overview.rejected_rows(
            s, ui.scope, ui.ctx.diagnostics, run_id, _int(request.query_params.get("page"))
        )
    live = summary["state"] in ("scheduled", "inProgress", "queued", "pending", "running")
    return ui.render("run.html", run=run, summary=summary, rejected=rejected, live=live)


@router.get("/runs/{run_id}/status")
@page
def run_status(run_id: str, request: Request) -> Response:
    ui = Ui(request)
    with ui.ctx.db.session() as s:
        return JSONResponse(overview.run_summary(RUNS.get(s, ui.scope, run_id)))


@router.get("/runs/{run_id}/diagnostics")
@page
def run_diagnostics(run_id: str, request: Request) -> Response:
    ui = Ui(request)
    with ui.ctx.db.session() as s:
        run = RUNS.get(s, ui.scope, run_id)
        batch = run.body.get("batchId")
    lines = []
    if batch:
        lines = [json.dumps(r, default=str, ensure_ascii=False) for r in ui.ctx.diagnostics.rows(str(batch))]
    return Response(
        ("\n".join(lines) + "\n") if lines else "",
        media_type="application/x-ndjson",
        headers={"content-disposition": f'attachment; filename="run-{run_id}-rejected-rows.jsonl"'},
    )


@router.post("/runs/{run_id}/retry")
@page
async def run_retry(run_id: str, request: Request) -> Response:
    ui = Ui(request)
    await ui.form()
    with ui.ctx.db.session() as s:
        out = runs.retrigger(
            s, ui.principal, run_id, "RE_TRIGGER", runs.QueueLimits.from_settings(ui.ctx.settings)
        )
    return RedirectResponse(f"/runs/{out['id']}", 303)


# -- datasets and schemas -------------------------------------------------------------------------


@router.get("/datasets")
@page
def datasets_list(request: Request) -> Response:
    ui = Ui(request)
    with ui.ctx.db.session() as s:
        pg = overview.datasets_page(s, ui.scope, _int(request.query_params.get("page")))
    return ui.render("datasets.html", pg=pg)


#: most rows the dataset page's SQL box shows
SQL_BOX_ROWS = 200


@router.get("/datasets/{dataset_id}")
@page
def dataset_page(dataset_id: str, request: Request) -> Response:
    return _dataset_page(Ui(request), dataset_id)


@router.post("/datasets/{dataset_id}/sql")
@page
async def dataset_sql(dataset_id: str, request: Request) -> Response:
    """The dataset page's SQL box: one read-only statement through the Query Service's engine, with
    the same guard, limits and tenant scope as psql and ``POST /queries``."""

    ui = Ui(request)
    form = await ui.form()
    sql = form.get("sql", "").strip()
    result: dict[str, Any] = {"sql": sql}
    try:
        if not sql:
            raise BadRequestError("Write a SELECT statement to run.")
        checked = queries.prepare(sql)
        if checked.kind in ("ctas", "insert"):
            raise BadRequestError(
                "The dataset page runs read-only queries; CREATE TABLE AS and INSERT go through psql, "
                "xdmflow sql or POST /data/foundation/query/queries."
            )
        table, _write, truncated = await run_in_threadpool(queries.run_statement, ui.ctx, ui.principal, sql)
        assert table is not None
        shown = table.slice(0, SQL_BOX_ROWS)
        result.update(
            columns=shown.column_names,
            rows=shown.to_pylist(),
            total=table.num_rows,
            truncated=truncated or table.num_rows > SQL_BOX_ROWS,
        )
    except XdmflowError as exc:
        result["error"] = exc.message
    return _dataset_page(ui, dataset_id, sql_box=result)


def _dataset_page(ui: Ui, dataset_id: str, sql_box: dict[str, Any] | None = None) -> Response:
    with ui.ctx.db.session() as s:
        ds = ds_svc.get_dataset(s, ui.scope, dataset_id, [])[dataset_id]
        batches = overview.batches_of_dataset(s, ui.scope, dataset_id)
        schema_id = (ds.get("schemaRef") or {}).get("id")
        tree = compiled_schema(s, ui.scope, schema_id).fields if schema_id else ()
        rows = dataset_preview(s, ui.scope, ui.ctx.lake, dataset_id, {"limit": "20"})
    total = sum(b["records"] for b in batches if b["status"] == "success")
    size = sum(b["size"] for b in batches if b["status"] == "success")
    sql_box = sql_box or {"sql": f'SELECT * FROM "{dataset_id}" LIMIT 10'}
    return ui.render(
        "dataset.html",
        ds=ds,
        ds_id=dataset_id,
        batches=batches,
        tree=tree,
        rows=rows,
        total=total,
        size=size,
        sql_box=sql_box,
    )


@router.get("/schemas")
@page
def schemas_list(request: Request) -> Response:
    ui = Ui(request)
    with ui.ctx.db.session() as s:
        pg = overview.page_of(s, ui.scope, XDM_RESOURCES, _int(request.query_params.get("page")))
    items = [
        {
            "id": d.body.get("$id"),
            "title": d.body.get("title"),
            "type": d.body.get("meta:resourceType"),
            "altId": d.body.get("meta:altId"),
            "createdAt": d.created_at,
        }
        for d in pg.items
    ]
    pg.items = items
    return ui.render("schemas.html", pg=pg)


@router.get("/schemas/view")
@page
def schema_page(request: Request) -> Response:
    ui = Ui(request)
    schema_id = request.query_params.get("id", "")
    with ui.ctx.db.session() as s:
        body = resolved_schema(s, ui.scope, schema_id)
        tree = compiled_schema(s, ui.scope, schema_id).fields
    return ui.render("schema.html", body=body, tree=tree, schema_id=schema_id)
