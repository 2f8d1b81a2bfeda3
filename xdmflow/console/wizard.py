"""The dataflow wizard: source object → target dataset (existing, or new) → mapping with a live
Conversion preview → schedule → review → create. Each step is a URL (query string = the choices so
far); validation errors are shown on the field that caused them."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import RedirectResponse, Response

from xdmflow.console.web import Ui
from xdmflow.errors import InvalidValueError, ValidationFailedError, XdmflowError
from xdmflow.schema.compiled import XdmField
from xdmflow.services import connections as conn_svc
from xdmflow.services import flows as flow_svc
from xdmflow.services import mappings, overview
from xdmflow.services.catalog import datasets as ds_svc
from xdmflow.services.connections import DATA_LAKE_SPEC_ID
from xdmflow.services.document_stores import CONNECTIONS
from xdmflow.services.flowspecs import CLOUD_STORAGE_TO_AEP, CRM_TO_AEP
from xdmflow.services.schemas import compiled_schema
from xdmflow.services.schemas.resources import create_resource

__all__ = ["wizard_page", "create_target_dataset", "preview", "submit"]

STANDARD_CLASSES = {
    "https://ns.adobe.com/xdm/context/profile": "XDM Individual Profile",
    "https://ns.adobe.com/xdm/context/experienceevent": "XDM ExperienceEvent",
}
FIELD_GROUPS = {
    "https://ns.adobe.com/xdm/context/profile-person-details": "Demographic details (Profile)",
    "https://ns.adobe.com/xdm/context/profile-personal-details": "Personal contact details (Profile)",
    "https://ns.adobe.com/xdm/context/experienceevent-commerce": "Commerce details (ExperienceEvent)",
}
FREQUENCIES = ("once", "minute", "hour", "day", "week")


def leaf_paths(fields: tuple[XdmField, ...]) -> list[tuple[str, str]]:
    """Every mappable (scalar) path of the schema with its type, in tree order."""
    out: list[tuple[str, str]] = []
    for f in fields:
        for node in f.walk():
            if not node.children and node.items is None and node.values is None:
                out.append((node.path, str(node.xdm_type)))
    return out


def _describe(ui: Ui, conn_id: str, obj: str, obj_type: str) -> dict[str, Any]:
    with ui.ctx.db.session() as s:
        out: dict[str, Any] = conn_svc.explore(
            s,
            ui.principal,
            ui.ctx.keys,
            conn_id,
            {"objectType": obj_type, "object": obj, "preview": "true"},
            ui.ctx.policy,
        )
    return out


def _dataset_schema(ui: Ui, dataset_id: str) -> tuple[dict[str, Any], str, list[tuple[str, str]]]:
    with ui.ctx.db.session() as s:
        ds = ds_svc.get_dataset(s, ui.scope, dataset_id, [])[dataset_id]
        schema_id = str((ds.get("schemaRef") or {}).get("id"))
        paths = leaf_paths(compiled_schema(s, ui.scope, schema_id).fields)
    return ds, schema_id, paths


def _guess(column: str, paths: list[tuple[str, str]]) -> str:
    for p, _ in paths:
        if p.rsplit(".", 1)[-1] == column:
            return p
    return ""


def wizard_page(ui: Ui, q: dict[str, str], status: int = 200, **extra: Any) -> Response:
    conn_id, obj, dataset = q.get("connection"), q.get("object"), q.get("dataset")
    obj_type = q.get("type", "table")
    values: dict[str, Any] = {"connection": conn_id, "object": obj, "type": obj_type, "dataset": dataset}
    if not conn_id:
        with ui.ctx.db.session() as s:
            conns = overview.connections_page(s, ui.scope, 1, 200)
        return ui.render("wizard.html", status, step="source", values=values, conns=conns.items, **extra)
    with ui.ctx.db.session() as s:
        conn = conn_svc.connection_view(CONNECTIONS.get(s, ui.scope, conn_id))
    if not obj:
        folder = q.get("folder")
        with ui.ctx.db.session() as s:
            params = {"objectType": "folder", "object": folder} if folder else {"objectType": "root"}
            items = conn_svc.explore(s, ui.principal, ui.ctx.keys, conn_id, params, ui.ctx.policy)
        return ui.render(
            "wizard.html",
            status,
            step="object",
            values=values,
            conn=conn,
            items=items,
            folder=folder,
            **extra,
        )
    desc = _describe(ui, conn_id, obj, obj_type)
    columns = desc["schema"]["columns"]
    if not dataset:
        with ui.ctx.db.session() as s:
            dss = overview.datasets_page(s, ui.scope, 1, 200).items
        return ui.render(
            "wizard.html",
            status,
            step="target",
            values=values,
            conn=conn,
            columns=columns,
            datasets=dss,
            classes=STANDARD_CLASSES,
            field_groups=FIELD_GROUPS,
            form=extra.pop("form", {}),
            **extra,
        )
    ds, schema_id, paths = _dataset_schema(ui, dataset)
    form = extra.pop("form", None)
    if form is None:
        rows = [{"src": c["name"], "dst": _guess(c["name"], paths)} for c in columns]
        rows = [r for r in rows if r["dst"]] or [{"src": "", "dst": ""}]
        form = {
            "name": f"{obj} to {ds.get('name')}",
            "frequency": "once",
            "interval": "1",
            "rows": rows,
            "start": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M"),
            "backfill": True,
            "delta": "",
        }
    return ui.render(
        "wizard.html",
        status,
        step="mapping",
        values=values,
        conn=conn,
        columns=columns,
        ds=ds,
        schema_id=schema_id,
        paths=paths,
        sample=desc.get("data") or [],
        form=form,
        frequencies=FREQUENCIES,
        **extra,
    )


def create_target_dataset(ui: Ui, form: dict[str, list[str]]) -> Response:
    """The 'new dataset' choice of the target step: an ad-hoc schema from the source's columns, or a
    standard class with field groups; then back to the wizard with the new dataset chosen."""
    one = {k: v[0] for k, v in form.items() if v}
    q = {k: one.get(k, "") for k in ("connection", "object", "type")}
    errors: dict[str, str] = {}
    name = one.get("ds_name", "").strip()
    if not name:
        errors["ds_name"] = "Give the new dataset a name."
    kind = one.get("kind", "adhoc")
    cls = one.get("class", "")
    groups = [g for g in form.get("fieldgroup", []) if g in FIELD_GROUPS]
    if kind == "standard" and cls not in STANDARD_CLASSES:
        errors["class"] = "Choose a class."
    if errors:
        return wizard_page(ui, q, 400, errors=errors, form=one)
    try:
        with ui.ctx.db.session() as s:
            if kind == "adhoc":
                desc = _describe(ui, q["connection"], q["object"], q["type"] or "table")
                sample = desc.get("data") or []
                props = {
                    c["name"]: _json_type(str(c.get("type", "string")), [r.get(c["name"]) for r in sample])
                    for c in desc["schema"]["columns"]
                }
                klass = create_resource(
                    s,
                    ui.principal,
                    "classes",
                    {
                        "title": f"{name} (ad-hoc class)",
                        "description": f"Columns of {q['object']}",
                        "type": "object",
                        "allOf": [
                            {"$ref": "https://ns.adobe.com/xdm/data/adhoc"},
                            {"properties": {"_adhoc": {"type": "object", "properties": props}}},
                        ],
                    },
                )
                refs = [klass["$id"]]
            else:
                refs = [cls, *groups]
            schema = create_resource(
                s,
                ui.principal,
                "schemas",
                {
                    "title": f"{name} schema",
                    "description": "Created in the console",
                    "type": "object",
                    "allOf": [{"$ref": r} for r in refs],
                },
            )
        ds_id = ds_svc.create_dataset(
            ui.ctx.db,
            ui.ctx.lake,
            ui.principal,
            {
                "name": name,
                "schemaRef": {"id": schema["$id"], "contentType": "application/vnd.adobe.xed+json;version=1"},
                "enableErrorDiagnostics": True,
            },
        )
    except XdmflowError as exc:
        return wizard_page(ui, q, exc.status, error=exc, form=one)
    return RedirectResponse("/flows/new?" + urlencode({**q, "dataset": ds_id}), 303)


_URL = re.compile(r"^https?://\S+$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


def _json_type(t: str, sample: list[Any] | None = None) -> dict[str, Any]:
    """The JSON Schema of an ad-hoc field for a source column; a string column whose sample values
    are all URLs becomes a ``uri`` (the data says what it is)."""
    t = t.lower()
    seen = [v for v in sample or [] if v is not None]
    if t == "string" and seen and all(isinstance(v, str) and _URL.match(v) for v in seen):
        return {"type": "string", "format": "uri"}
    if t == "string" and seen and all(isinstance(v, str) and _DATETIME.match(v) for v in seen):
        return {"type": "string", "format": "date-time"}
    if t in ("integer", "long", "int", "short", "byte"):
        return {"type": "integer"}
    if t in ("number", "double", "float", "decimal"):
        return {"type": "number"}
    if t == "boolean":
        return {"type": "boolean"}
    if t in ("date-time", "datetime", "timestamp"):
        return {"type": "string", "format": "date-time"}
    if t == "date":
        return {"type": "string", "format": "date"}
    return {"type": "string"}


def _file_format(path: str) -> str:
    """The source connection's ``data.format`` for a file, from its name."""
    name = path.lower().removesuffix(".gz")
    if name.endswith((".json", ".jsonl", ".ndjson")):
        return "json"
    if name.endswith(".parquet"):
        return "parquet"
    return "delimited"


def _mapping_body(schema_id: str, rows: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "xdmSchema": schema_id,
        "xdmVersion": "1.0",
        "mappings": [
            {
                # no sourceType: Data Prep tells a column from an expression itself
                "source": r["src"],
                "destination": r["dst"],
            }
            for r in rows
        ],
    }


def preview(ui: Ui, body: dict[str, Any]) -> dict[str, Any]:
    """The Conversion preview of the mapping being edited on the sample rows of the source."""
    _, schema_id, _ = _dataset_schema(ui, str(body.get("dataset", "")))
    rows = [r for r in body.get("rows", []) if isinstance(r, dict) and r.get("src") and r.get("dst")]
    sample = body.get("sample") if isinstance(body.get("sample"), list) else []
    with ui.ctx.db.session() as s:
        out = mappings.preview_mapping_set(
            s, ui.principal, {**_mapping_body(schema_id, rows), "sampleData": sample}
        )
    return {"rows": out, "rejected": sum(1 for r in out if r.get("errors"))}


def _rows_of(form: dict[str, list[str]]) -> list[dict[str, str]]:
    srcs, dsts = form.get("src", []), form.get("dst", [])
    return [
        {"src": a.strip(), "dst": b.strip()}
        for a, b in zip(srcs, dsts, strict=False)
        if a.strip() or b.strip()
    ]


def submit(ui: Ui, form: dict[str, list[str]]) -> Response:
    one = {k: v[0] for k, v in form.items() if v}
    q = {k: one.get(k, "") for k in ("connection", "object", "type", "dataset")}
    rows = _rows_of(form)
    state: dict[str, Any] = {
        "name": one.get("name", "").strip(),
        "frequency": one.get("frequency", "once"),
        "interval": one.get("interval", "1"),
        "start": one.get("start", ""),
        "backfill": one.get("backfill") == "on",
        "delta": one.get("delta", ""),
        "partial": one.get("partial", "").strip(),
        "rows": rows or [{"src": "", "dst": ""}],
    }
    if one.get("action") == "edit":
        return wizard_page(ui, q, form=state)
    errors: dict[str, str] = {}
    row_errors: dict[int, str] = {}
    if not state["name"]:
        errors["name"] = "Give the dataflow a name."
    if state["frequency"] not in FREQUENCIES:
        errors["frequency"] = "Choose a frequency."
    try:
        interval = int(state["interval"])
        if interval < 1:
            raise InvalidValueError("invalid value")
    except ValueError:
        errors["interval"] = "The interval is a whole number of at least 1."
        interval = 1
    try:
        start = int(datetime.strptime(state["start"], "%Y-%m-%dT%H:%M").replace(tzinfo=UTC).timestamp())
    except ValueError:
        errors["start"] = "Enter the start as a date and time."
        start = int(time.time())
    partial: float | None = None
    if state["partial"]:
        try:
            partial = float(state["partial"])
            if not 0 <= partial <= 100:
                raise InvalidValueError("invalid value")
        except ValueError:
            errors["partial"] = "A percentage between 0 and 100, or empty for none."
    for i, r in enumerate(rows):
        if not r["src"]:
            row_errors[i] = "Choose a source column or write an expression."
        elif not r["dst"]:
            row_errors[i] = "Choose the XDM field to map to."
    if not rows:
        errors["mappings"] = "Map at least one field."
    ds, schema_id, _ = _dataset_schema(ui, q["dataset"])
    desc = _describe(ui, q["connection"], q["object"], q["type"] or "table")
    columns = [c["name"] for c in desc["schema"]["columns"]]
    if state["delta"] and state["delta"] not in columns:
        errors["delta"] = "The delta column must be a column of the source."
    good = [r for i, r in enumerate(rows) if i not in row_errors]
    if good and not row_errors:
        with ui.ctx.db.session() as s:
            try:
                checked = mappings.validate_mapping_set(s, ui.principal, _mapping_body(schema_id, good))
            except ValidationFailedError as exc:
                checked = {"validationResponse": []}
                errors["mappings"] = exc.message
        for i, v in enumerate(checked["validationResponse"]):
            if v["status"] == "FAILED":
                row_errors[i] = "; ".join(
                    str(e.get("message") or e.get("exception")) for e in v["errors"] or []
                )
    if errors or row_errors:
        return wizard_page(ui, q, 400, form=state, errors=errors, row_errors=row_errors)
    if one.get("action") != "create":
        return ui.render(
            "wizard.html",
            step="review",
            values=q,
            form=state,
            ds=ds,
            schema_id=schema_id,
            conn={"id": q["connection"]},
            desc=desc,
        )
    is_file = q["type"] == "file"
    schedule: dict[str, Any] = {"startTime": str(start), "frequency": state["frequency"]}
    if state["frequency"] != "once":
        schedule.update(interval=interval, backfill=state["backfill"])
    try:
        with ui.ctx.db.session() as s:
            conn = CONNECTIONS.get(s, ui.scope, q["connection"])
            spec_id = conn.body["connectionSpec"]["id"]
            src = conn_svc.create_source_connection(
                s,
                ui.principal,
                {
                    "name": f"{state['name']} source",
                    "baseConnectionId": q["connection"],
                    "data": {"format": _file_format(q["object"]) if is_file else "tabular"},
                    "params": {"path": q["object"]}
                    if is_file
                    else {"tableName": q["object"], "columns": desc["schema"]["columns"]},
                    "connectionSpec": {"id": spec_id, "version": "1.0"},
                },
            )
            tgt = conn_svc.create_target_connection(
                s,
                ui.principal,
                {
                    "name": f"{state['name']} target",
                    "data": {
                        "format": "parquet_xdm",
                        "schema": {
                            "id": schema_id,
                            "version": "application/vnd.adobe.xed-full+json;version=1",
                        },
                    },
                    "params": {"dataSetId": q["dataset"]},
                    "connectionSpec": {"id": DATA_LAKE_SPEC_ID, "version": "1.0"},
                },
            )
            mset = mappings.create_mapping_set(
                s, ui.principal, {**_mapping_body(schema_id, good), "version": 0}
            )
            transformations: list[dict[str, Any]] = [
                {"name": "Mapping", "params": {"mappingId": mset["id"], "mappingVersion": 0}}
            ]
            if not is_file and state["delta"]:
                delta = {"name": state["delta"], "dateFormat": "YYYY-MM-DD", "timezone": "UTC"}
                transformations.insert(0, {"name": "Copy", "params": {"deltaColumn": delta}})
            flow = flow_svc.create_flow(
                s,
                ui.principal,
                {
                    "name": state["name"],
                    "flowSpec": {"id": CLOUD_STORAGE_TO_AEP if is_file else CRM_TO_AEP, "version": "1.0"},
                    "sourceConnectionIds": [src["id"]],
                    "targetConnectionIds": [tgt["id"]],
                    "transformations": transformations,
                    "scheduleParams": schedule,
                    "options": {
                        "errorDiagnosticsEnabled": True,
                        **({"partialIngestionPercent": partial} if partial is not None else {}),
                    },
                },
            )
    except XdmflowError as exc:
        on_field = {"delta": exc.message} if "deltaColumn" in exc.message else {}
        return wizard_page(ui, q, exc.status, form=state, error=exc, errors=on_field, row_errors={})
    return RedirectResponse(f"/flows/{flow['id']}?" + urlencode({"message": "Dataflow created."}), 303)
