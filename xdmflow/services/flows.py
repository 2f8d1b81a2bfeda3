"""Flows (dataflows): validation against the flow spec, fit of the pieces, lifecycle, schedules."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
from sqlalchemy.orm import Session

from xdmflow.errors import BadRequestError, ValidationFailedError
from xdmflow.firetimes import Schedule, next_fire_after, parse_schedule
from xdmflow.ids import new_uuid, now_ms
from xdmflow.services.connections import DATA_LAKE_SPEC_ID
from xdmflow.services.document_stores import DATASETS, FLOWS, SOURCE_CONNECTIONS, TARGET_CONNECTIONS
from xdmflow.services.flowspecs import get_flow_spec
from xdmflow.services.identity import Principal
from xdmflow.services.jsonpatch import apply_patch
from xdmflow.services.mappings import check_mapping_for_flow
from xdmflow.services.resource_docs import audit_create, audit_update, require_object
from xdmflow.services.sandboxes import stop_deleted_flow
from xdmflow.store.documents import Scope
from xdmflow.store.tables import Document, FlowSchedule

__all__ = ["create_flow", "flow_view", "patch_flow", "delete_flow", "flow_action", "normalize_flow"]

_IMMUTABLE = (
    "id",
    "flowSpec",
    "sourceConnectionIds",
    "targetConnectionIds",
    "createdAt",
    "imsOrgId",
    "sandboxName",
    "sandboxId",
    "inheritedAttributes",
)


def _schema_errors(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    v = jsonschema.Draft7Validator(schema)
    out = []
    for err in v.iter_errors(value):
        path = ".".join(str(p) for p in err.absolute_path)
        out.append(f"{where}{'.' + path if path else ''}: {err.message}")
    return out


def _coerce_schedule(params: Any) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise BadRequestError("'scheduleParams' must be an object with startTime and frequency")
    sched = parse_schedule(params)
    out: dict[str, Any] = {"startTime": sched.start_time, "frequency": sched.frequency}
    if sched.frequency != "once":
        out["interval"] = sched.interval
        if "backfill" in params:
            out["backfill"] = sched.backfill
    return out


def normalize_flow(body: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Validate a flow body against its spec's JSON Schemas (strings accepted for numbers)."""
    errors: list[str] = []
    schedule = _coerce_schedule(
        body.get("scheduleParams") or {"startTime": now_ms() // 1000, "frequency": "once"}
    )
    errors += _schema_errors(spec["scheduleSpec"]["spec"], schedule, "scheduleParams")
    options = body.get("options") or {}
    errors += _schema_errors(spec["optionSpec"]["spec"], options, "options")
    known = {t["name"].lower(): t for t in spec["transformationSpecs"]}
    transformations = []
    for i, t in enumerate(body.get("transformations") or []):
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            errors.append(f"transformations.{i}: must be an object with 'name' and 'params'")
            continue
        tspec = known.get(t["name"].lower())
        if tspec is None:
            errors.append(
                f"transformations.{i}.name: {t['name']!r} is not one of {', '.join(known)} "
                f"for flow spec {spec['name']}"
            )
            continue
        params = copy.deepcopy(t.get("params") or {})
        if tspec["name"] == "Mapping" and "mappingVersion" in params:
            params["mappingVersion"] = str(params["mappingVersion"])
        errors += _schema_errors(tspec["spec"], params, f"transformations.{i}.params")
        transformations.append({"name": tspec["name"], "params": params})
    if errors:
        raise ValidationFailedError("Invalid flow: " + "; ".join(errors), details={"errors": errors})
    return {"scheduleParams": schedule, "options": options, "transformations": transformations}


def _echo_schedule(schedule: dict[str, Any]) -> dict[str, Any]:
    """Schedule params are echoed as strings, as the platform does."""
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in schedule.items()}


def _ids(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(x, str) for x in value):
        raise BadRequestError(f"'{key}' must be a non-empty array of ids")
    return list(value)


def _check_delta_column(sid: str, source: dict[str, Any], name: Any) -> None:
    """The Copy step's ``deltaColumn`` is one of the source's declared columns (when it declares them)."""
    columns = (source.get("params") or {}).get("columns")
    if not name or not isinstance(columns, list):
        return
    names = [c.get("name") for c in columns if isinstance(c, dict)]
    if names and name not in names:
        raise BadRequestError(
            f"deltaColumn {name!r} of the Copy transformation is not a column of source connection {sid} "
            f"(columns: {', '.join(str(n) for n in names[:20])}); name one of them",
            code="1419",
        )


def _check_pieces(
    s: Session,
    scope: Scope,
    body: dict[str, Any],
    spec: dict[str, Any],
    transformations: list[dict[str, Any]],
) -> dict[str, Any]:
    """Source spec in the flow spec, target is a dataset, mapping fits the dataset: inheritedAttributes."""
    sources, targets = [], []
    copy = next((t for t in transformations if t["name"] == "Copy"), None)
    delta = ((copy or {}).get("params") or {}).get("deltaColumn") or {}
    for sid in _ids(body, "sourceConnectionIds"):
        sc = SOURCE_CONNECTIONS.find(s, scope, sid)
        if sc is None:
            raise BadRequestError(
                f"Source connection {sid} is not found in sandbox {scope.sandbox_name}", code="1101"
            )
        cs = sc.body["connectionSpec"]["id"]
        if cs not in spec["sourceConnectionSpecIds"]:
            raise BadRequestError(
                f"Source connection {sid} uses connection spec {cs}, which flow spec {spec['name']} "
                f"({spec['id']}) does not accept as a source",
                code="1413",
            )
        _check_delta_column(sid, sc.body, delta.get("name") if isinstance(delta, dict) else None)
        entry: dict[str, Any] = {"id": sid, "connectionSpec": sc.body["connectionSpec"]}
        if sc.body.get("baseConnectionId"):
            entry["baseConnection"] = sc.body.get("inheritedAttributes", {}).get("baseConnection") or {
                "id": sc.body["baseConnectionId"]
            }
        sources.append(entry)
    dataset_ids = []
    for tid in _ids(body, "targetConnectionIds"):
        tc = TARGET_CONNECTIONS.find(s, scope, tid)
        if tc is None:
            raise BadRequestError(
                f"Target connection {tid} is not found in sandbox {scope.sandbox_name}", code="1101"
            )
        cs = tc.body["connectionSpec"]["id"]
        if cs != DATA_LAKE_SPEC_ID:
            raise BadRequestError(
                f"Target connection {tid} uses connection spec {cs}; flows of {spec['name']} write to the "
                f"data lake, connection spec {DATA_LAKE_SPEC_ID}",
                code="1413",
            )
        ds_id = str(tc.body.get("params", {}).get("dataSetId"))
        if DATASETS.find(s, scope, ds_id) is None:
            raise BadRequestError(f"Dataset {ds_id} of target connection {tid} no longer exists", code="1101")
        dataset_ids.append(ds_id)
        targets.append({"id": tid, "connectionSpec": tc.body["connectionSpec"]})
    mapping = next((t for t in transformations if t["name"] == "Mapping"), None)
    if mapping is not None:
        check_mapping_for_flow(s, scope, mapping["params"], dataset_ids, body["sourceConnectionIds"])
    return {"properties": {"isSourceFlow": True}, "sourceConnections": sources, "targetConnections": targets}


def _save_schedule(
    s: Session,
    flow_id: str,
    scope: Scope,
    schedule: Schedule,
    enabled: bool,
    previous: FlowSchedule | None = None,
) -> None:
    row = previous or s.get(FlowSchedule, flow_id)
    last = row.last_fired if row is not None else None
    nxt = next_fire_after(schedule, last if last is not None else schedule.start_time - 1)
    if row is None:
        row = FlowSchedule(flow_id=flow_id, org_id=scope.org_id, sandbox_name=scope.sandbox_name)
        s.add(row)
    row.enabled = enabled
    row.frequency = schedule.frequency
    row.interval = schedule.interval
    row.start_time = schedule.start_time
    row.backfill = schedule.backfill
    row.next_fire = nxt
    row.last_fired = last
    s.flush()


def create_flow(s: Session, p: Principal, body: Any) -> dict[str, Any]:
    body = require_object(body, "flow")
    if "state" in body:
        raise BadRequestError(
            "'state' cannot be set when creating a flow; use the enable/disable actions", code="1410"
        )
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequestError("'name' is required")
    ref = body.get("flowSpec")
    if not isinstance(ref, dict) or not isinstance(ref.get("id"), str):
        raise BadRequestError(
            "'flowSpec.id' is required (CRMToAEP for tables, CloudStorageToAEP for files)", code="1413"
        )
    spec = get_flow_spec(ref["id"])
    scope = Scope(p.org_id, p.sandbox_name)
    norm = normalize_flow(body, spec)
    inherited = _check_pieces(s, scope, body, spec, norm["transformations"])
    flow_id = new_uuid()
    created = audit_create(p)
    doc_body = {
        "id": flow_id,
        **created,
        "name": name,
        "description": body.get("description", ""),
        "flowSpec": {"id": spec["id"], "version": str(ref.get("version", "1.0"))},
        "state": "enabled",
        "sourceConnectionIds": list(body["sourceConnectionIds"]),
        "targetConnectionIds": list(body["targetConnectionIds"]),
        "inheritedAttributes": inherited,
        "options": norm["options"],
        "scheduleParams": _echo_schedule(norm["scheduleParams"]),
        "transformations": norm["transformations"],
        "runs": f"/runs?property=flowId=={flow_id}",
        "lastOperation": {
            "started": created["createdAt"],
            "updated": 0,
            "percentCompleted": 100.0,
            "status": {"value": "completed", "errors": []},
            "ops": [],
            "operation": "create",
        },
        "labels": list(body.get("labels") or []),
        "recordTypes": [{"type": "experienceevent", "extensions": {}}],
    }
    doc = FLOWS.insert(s, scope, flow_id, doc_body, name=name, state="enabled")
    _save_schedule(s, flow_id, scope, parse_schedule(norm["scheduleParams"]), enabled=True)
    return {"id": flow_id, "etag": doc.etag}


def flow_view(doc: Document) -> dict[str, Any]:
    return {**doc.body, "etag": doc.etag, "version": doc.etag}


def patch_flow(s: Session, p: Principal, flow_id: str, ops: Any, if_match: str) -> dict[str, Any]:
    scope = Scope(p.org_id, p.sandbox_name)
    doc = FLOWS.get(s, scope, flow_id, code="1439")
    patched = apply_patch(doc.body, ops, allowed={"add", "replace", "remove"})
    for key in _IMMUTABLE:
        if patched.get(key) != doc.body.get(key):
            raise BadRequestError(f"'{key}' of a flow cannot be changed", code="1455")
    if patched.get("state") != doc.body.get("state"):
        raise BadRequestError(
            "Change a flow's state with POST /flows/{id}/action?op=enable|disable", code="1422"
        )
    spec = get_flow_spec(doc.body["flowSpec"]["id"])
    norm = normalize_flow(patched, spec)
    if norm["transformations"] != doc.body.get("transformations"):
        _check_pieces(s, scope, patched, spec, norm["transformations"])
    patched.update(
        scheduleParams=_echo_schedule(norm["scheduleParams"]),
        options=norm["options"],
        transformations=norm["transformations"],
    )
    ts = now_ms()
    patched["lastOperation"] = {
        "started": ts,
        "updated": ts,
        "percentCompleted": 100.0,
        "status": {"value": "completed", "errors": []},
        "ops": list(ops),
        "operation": "update",
    }
    audit_update(patched, p)
    FLOWS.save(s, doc, patched, expected_etag=if_match, name=patched.get("name"))
    _save_schedule(
        s, flow_id, scope, parse_schedule(norm["scheduleParams"]), enabled=patched.get("state") == "enabled"
    )
    return {"id": flow_id, "etag": doc.etag}


def delete_flow(s: Session, p: Principal, flow_id: str) -> None:

    scope = Scope(p.org_id, p.sandbox_name)
    doc = FLOWS.get(s, scope, flow_id, code="1439")
    FLOWS.remove(s, doc)
    stop_deleted_flow(s, scope, flow_id)  # its schedule, its queued runs; a running one is fenced


def flow_action(s: Session, p: Principal, flow_id: str, op: str | None) -> dict[str, Any]:
    action = (op or "").lower()
    if action not in ("enable", "disable"):
        raise BadRequestError(f"Unsupported action op {op!r}; use enable or disable", code="1422")
    doc = FLOWS.get(s, Scope(p.org_id, p.sandbox_name), flow_id, code="1439")
    target = "enabled" if action == "enable" else "disabled"
    if doc.body.get("state") == target:
        raise BadRequestError(f"Flow {flow_id} is already {target}", code="1422")
    body = audit_update(copy.deepcopy(doc.body), p)
    body["state"] = target
    FLOWS.save(s, doc, body, state=target)
    row = s.get(FlowSchedule, flow_id)
    if row is not None:
        row.enabled = target == "enabled"
        if row.enabled:  # fires missed while disabled are not run
            row.last_fired = max(row.last_fired or 0, now_ms() // 1000)
            row.next_fire = next_fire_after(
                Schedule(row.start_time, row.frequency, row.interval, row.backfill), row.last_fired
            )
        s.flush()
    return {"id": flow_id, "etag": doc.etag}
