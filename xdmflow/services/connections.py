"""Connection specs, base connections (secrets encrypted at rest), explore, source and target connections."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema
from sqlalchemy.orm import Session

from xdmflow.connectors.base import Connector
from xdmflow.connectors.policy import AccessPolicy, attach
from xdmflow.connectors.registry import all_connectors, get_connector
from xdmflow.errors import BadRequestError, ConflictError, NotFoundError, ValidationFailedError
from xdmflow.ids import new_uuid
from xdmflow.services.document_stores import (
    CONNECTIONS,
    DATASETS,
    FLOWS,
    SOURCE_CONNECTIONS,
    TARGET_CONNECTIONS,
)
from xdmflow.services.identity import Principal
from xdmflow.services.jsonpatch import apply_patch
from xdmflow.services.query import parse_list_query
from xdmflow.services.resource_docs import (
    audit_create,
    audit_update,
    require_object,
    rows_to_json,
    spec_ref,
)
from xdmflow.services.secrets import Keyring
from xdmflow.store.documents import DocumentStore, Scope
from xdmflow.store.tables import Document

__all__ = [
    "DATA_LAKE_SPEC_ID",
    "CONNECTIONS",
    "SOURCE_CONNECTIONS",
    "TARGET_CONNECTIONS",
    "list_specs",
    "get_spec",
    "create_connection",
    "connection_view",
    "patch_connection",
    "delete_connection",
    "test_connection",
    "explore",
    "auth_params",
    "policed_auth",
    "create_source_connection",
    "create_target_connection",
    "patch_simple",
    "delete_simple",
]

DATA_LAKE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
_SOURCE_FORMATS = ("delimited", "json", "parquet", "tabular")


# -- connection specs ----------------------------------------------------------------------


def _spec_body(c: Connector) -> dict[str, Any]:
    body = copy.deepcopy(dict(c.spec.body))
    body.setdefault("id", c.spec.id)
    body.setdefault("name", c.spec.name)
    body.setdefault("providerId", "0ed90a81-07f4-4586-8190-b40eccef1c5a")
    body.setdefault("version", "1.0")
    return body


def list_specs(params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    q = parse_list_query(params, allow_paging=False)
    return {"items": q.apply([_spec_body(c) for c in all_connectors()])}


def get_spec(spec_id: str) -> dict[str, Any]:
    try:
        return {"items": [_spec_body(get_connector(spec_id))]}
    except NotFoundError:
        raise NotFoundError(
            f"The requested connectionSpecs resource {spec_id} is not found. Verify the resource ID "
            "before trying again.",
            resource_type="connectionSpecs",
            resource_id=spec_id,
            code="1101",
        ) from None


# -- base connections ----------------------------------------------------------------------


def _auth_spec(connector: Connector, spec_name: str | None) -> dict[str, Any] | None:
    specs = list(connector.spec.body.get("authSpec") or [])
    if not specs:
        return None
    if spec_name is None:
        if len(specs) == 1:
            return dict(specs[0])
        names = ", ".join(repr(a.get("name")) for a in specs)
        raise BadRequestError(f"'auth.specName' is required; one of {names}", code="1415")
    for a in specs:
        if str(a.get("name", "")).lower() == spec_name.lower():
            return dict(a)
    names = ", ".join(repr(a.get("name")) for a in specs)
    raise BadRequestError(
        f"Auth spec {spec_name!r} is not found for connection spec {connector.spec.id}; use one of {names}",
        code="1415",
    )


def _validate_params(schema: Mapping[str, Any], params: Any, where: str, secret: frozenset[str]) -> None:
    if not isinstance(params, dict):
        raise ValidationFailedError(f"'{where}' must be a JSON object", code="1415")
    validator = jsonschema.Draft7Validator(dict(schema))
    problems = []
    for err in sorted(validator.iter_errors(params), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in err.absolute_path)
        field = f"{where}.{path}" if path else where
        if path.split(".")[0] in secret:
            problems.append(f"{field}: invalid value (fails '{err.validator}')")
        elif err.validator == "required":
            missing = str(err.message).split("'")[1] if "'" in err.message else err.message
            problems.append(f"{where}.{missing}: is required")
        else:
            problems.append(f"{field}: {err.message}")
    if problems:
        raise ValidationFailedError(
            "Invalid connection parameters: " + "; ".join(problems), details={"errors": problems}
        )


def create_connection(
    s: Session, p: Principal, keys: Keyring, body: Any, policy: AccessPolicy
) -> dict[str, Any]:
    body = require_object(body, "connection")
    if "state" in body:
        raise BadRequestError("'state' cannot be set when creating a connection", code="1410")
    spec_id = spec_ref(body)
    connector = get_connector(spec_id)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequestError("'name' is required and must be a non-empty string")
    auth = body.get("auth")
    secrets: dict[str, Any] = {}
    visible_auth: dict[str, Any] | None = None
    auth_spec = _auth_spec(connector, auth.get("specName") if isinstance(auth, dict) else None)
    if auth_spec is not None:
        if not isinstance(auth, dict):
            raise BadRequestError("'auth' with 'specName' and 'params' is required for this connection spec")
        params = auth.get("params")
        _validate_params(auth_spec.get("spec", {}), params, "auth.params", connector.spec.secret_params)
        assert isinstance(params, dict)
        policy.enforce(connector.reach(params))
        secrets = {k: v for k, v in params.items() if k in connector.spec.secret_params}
        visible_auth = {
            "specName": auth_spec.get("name"),
            "params": {k: v for k, v in params.items() if k not in connector.spec.secret_params},
        }
    conn_id = new_uuid()
    doc_body: dict[str, Any] = {
        "id": conn_id,
        **audit_create(p),
        "name": name,
        "description": body.get("description", ""),
        "connectionSpec": {"id": spec_id, "version": str(body["connectionSpec"].get("version", "1.0"))},
        "state": "enabled",
    }
    if visible_auth is not None:
        doc_body["auth"] = visible_auth
    doc = CONNECTIONS.insert(
        s,
        Scope(p.org_id, p.sandbox_name),
        conn_id,
        doc_body,
        name=name,
        state="enabled",
        parent_id=spec_id,
        secret=keys.encrypt(secrets) if secrets else None,
    )
    return {"id": conn_id, "etag": doc.etag}


def connection_view(doc: Document) -> dict[str, Any]:
    """The API view of a stored Flow Service document (etag and version from the row)."""
    return {**doc.body, "etag": doc.etag, "version": doc.etag}


def auth_params(doc: Document, keys: Keyring) -> dict[str, Any]:
    """The base connection's full auth params, secrets decrypted (for connectors only)."""
    params = dict((doc.body.get("auth") or {}).get("params") or {})
    if doc.secret:
        params.update(keys.decrypt(doc.secret))
    return params


def patch_connection(
    s: Session, p: Principal, keys: Keyring, conn_id: str, ops: Any, if_match: str, policy: AccessPolicy
) -> dict[str, Any]:
    scope = Scope(p.org_id, p.sandbox_name)
    doc = CONNECTIONS.get(s, scope, conn_id)
    connector = get_connector(doc.body["connectionSpec"]["id"])
    full = copy.deepcopy(doc.body)
    if "auth" in full:
        full["auth"]["params"] = auth_params(doc, keys)
    patched = apply_patch(full, ops, allowed={"add", "replace", "remove"})
    if patched.get("connectionSpec") != full.get("connectionSpec"):
        raise BadRequestError("The connectionSpec of a connection cannot be changed", code="1414")
    for key in ("id", "createdAt", "createdBy", "imsOrgId", "sandboxName", "sandboxId"):
        if patched.get(key) != full.get(key):
            raise BadRequestError(f"'{key}' cannot be changed", code="1455")
    secret_blob = doc.secret
    if "auth" in patched:
        auth_spec = _auth_spec(connector, patched["auth"].get("specName"))
        params = patched["auth"].get("params")
        if auth_spec is not None:
            _validate_params(auth_spec.get("spec", {}), params, "auth.params", connector.spec.secret_params)
        policy.enforce(connector.reach(params or {}))
        secrets = {k: v for k, v in (params or {}).items() if k in connector.spec.secret_params}
        patched["auth"]["params"] = {
            k: v for k, v in (params or {}).items() if k not in connector.spec.secret_params
        }
        secret_blob = keys.encrypt(secrets) if secrets else None
    audit_update(patched, p)
    CONNECTIONS.save(
        s, doc, patched, expected_etag=if_match, name=patched.get("name"), state=patched.get("state")
    )
    doc.secret = secret_blob
    s.flush()
    return {"id": conn_id, "etag": doc.etag}


def _flows_using(
    s: Session,
    scope: Scope,
    *,
    base_id: str | None = None,
    source_id: str | None = None,
    target_id: str | None = None,
) -> list[str]:
    used = []
    for flow in FLOWS.query(s, scope):
        inh = flow.body.get("inheritedAttributes", {})
        if base_id and any(
            (sc.get("baseConnection") or {}).get("id") == base_id for sc in inh.get("sourceConnections", [])
        ):
            used.append(flow.id)
        if source_id and source_id in flow.body.get("sourceConnectionIds", []):
            used.append(flow.id)
        if target_id and target_id in flow.body.get("targetConnectionIds", []):
            used.append(flow.id)
    return used


def delete_connection(s: Session, p: Principal, conn_id: str) -> None:
    scope = Scope(p.org_id, p.sandbox_name)
    doc = CONNECTIONS.get(s, scope, conn_id)
    flows = _flows_using(s, scope, base_id=conn_id)
    if flows:
        raise ConflictError(
            f"Connection {conn_id} is used by flow(s) {', '.join(flows)}; delete those flows first",
            code="1418",
            status=400,
        )
    CONNECTIONS.remove(s, doc)


def policed_auth(connector: Connector, doc: Document, keys: Keyring, policy: AccessPolicy) -> dict[str, Any]:
    """The auth params for ``connector``, checked against the operator's policy and carrying it.

    A connection created before the policy (or before the operator narrowed it) fails here with
    the policy's message naming the setting to change.
    """
    auth = auth_params(doc, keys)
    policy.enforce(connector.reach(auth))
    return attach(auth, policy)


def test_connection(
    s: Session, p: Principal, keys: Keyring, conn_id: str, policy: AccessPolicy
) -> dict[str, Any]:
    doc = CONNECTIONS.get(s, Scope(p.org_id, p.sandbox_name), conn_id)
    connector = get_connector(doc.body["connectionSpec"]["id"])
    connector.check(policed_auth(connector, doc, keys, policy))
    return {"result": True}


_OBJECT_TYPES = {"root", "folder", "table", "file"}


def explore(
    s: Session,
    p: Principal,
    keys: Keyring,
    conn_id: str,
    params: Mapping[str, str],
    policy: AccessPolicy,
) -> Any:
    doc = CONNECTIONS.get(s, Scope(p.org_id, p.sandbox_name), conn_id)
    connector = get_connector(doc.body["connectionSpec"]["id"])
    object_type = (params.get("objectType") or "root").lower()
    if object_type not in _OBJECT_TYPES:
        raise BadRequestError(
            f"Invalid objectType {params.get('objectType')!r}; use root, folder, table or file"
        )
    auth = policed_auth(connector, doc, keys, policy)
    obj = params.get("object")
    if object_type in ("root", "folder"):
        if object_type == "folder" and not obj:
            raise BadRequestError("'object' (the folder path) is required with objectType=folder")
        return [item.to_api() for item in connector.explore(auth, object_type, obj)]  # type: ignore[arg-type]
    if not obj:
        raise BadRequestError(f"'object' is required with objectType={object_type}")
    preview = str(params.get("preview", "false")).lower() == "true"
    if params.get("filters") not in (None, ""):
        raise BadRequestError(
            "Explore does not apply 'filters' to a preview; remove the parameter (a flow's source "
            "connection selects rows, explore shows the object's first rows)"
        )
    options = {k: v for k, v in params.items() if k not in ("objectType", "object", "preview", "filters")}
    desc = connector.describe(auth, obj, preview=preview, options=options)
    out: dict[str, Any] = {
        "format": desc.format,
        "schema": {"columns": [c.to_api() for c in desc.columns]},
    }
    if desc.properties:
        out["properties"] = dict(desc.properties)
    if preview:
        out["data"] = rows_to_json(desc.preview)
        if desc.rejects:
            # the sample's records that cannot be parsed: flagged, as a run would report them
            out["rejectedRows"] = [
                {"file": r.filename, "row": r.row, "message": r.message, "record": r.text}
                for r in desc.rejects
            ]
    return out


# -- source and target connections -------------------------------------------------------


def create_source_connection(s: Session, p: Principal, body: Any) -> dict[str, Any]:
    body = require_object(body, "source connection")
    if "state" in body:
        raise BadRequestError("'state' cannot be set when creating a source connection", code="1410")
    scope = Scope(p.org_id, p.sandbox_name)
    spec_id = spec_ref(body)
    connector = get_connector(spec_id)
    if not connector.spec.is_source:
        raise BadRequestError(
            f"Connection spec {spec_id} ({connector.spec.name}) is not a source", code="1413"
        )
    base_id = body.get("baseConnectionId")
    base = None
    if base_id is not None:
        base = CONNECTIONS.find(s, scope, str(base_id))
        if base is None:
            raise BadRequestError(
                f"Base connection {base_id} is not found in sandbox {p.sandbox_name}; create it first "
                "with POST /connections",
                code="1101",
            )
        if base.body["connectionSpec"]["id"] != spec_id:
            raise BadRequestError(
                f"connectionSpec {spec_id} does not match the base connection's "
                f"{base.body['connectionSpec']['id']}",
                code="1414",
            )
    data = body.get("data") or {}
    if not isinstance(data, dict):
        raise BadRequestError("'data' must be an object with 'format'")
    fmt = str(data.get("format", "tabular")).lower()
    if fmt not in _SOURCE_FORMATS:
        raise BadRequestError(
            f"Invalid data.format {data.get('format')!r}; use one of {', '.join(_SOURCE_FORMATS)}"
        )
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise BadRequestError("'params' must be an object")
    if not (params.get("tableName") or params.get("path")):
        raise BadRequestError("'params.tableName' (tables) or 'params.path' (files) is required")
    sc_id = new_uuid()
    doc_body = {
        "id": sc_id,
        **audit_create(p),
        "name": body.get("name") or f"source connection {sc_id}",
        "description": body.get("description", ""),
        "baseConnectionId": base_id,
        "state": "enabled",
        "data": {**data, "format": fmt},
        "connectionSpec": {"id": spec_id, "version": str(body["connectionSpec"].get("version", "1.0"))},
        "params": params,
        "inheritedAttributes": {
            "baseConnection": {"id": base_id, "connectionSpec": base.body["connectionSpec"]}
        }
        if base is not None
        else {},
    }
    doc = SOURCE_CONNECTIONS.insert(
        s, scope, sc_id, doc_body, name=doc_body["name"], parent_id=base_id, state="enabled"
    )
    return {"id": sc_id, "etag": doc.etag}


def create_target_connection(s: Session, p: Principal, body: Any) -> dict[str, Any]:
    body = require_object(body, "target connection")
    if "state" in body:
        raise BadRequestError("'state' cannot be set when creating a target connection", code="1410")
    scope = Scope(p.org_id, p.sandbox_name)
    spec_id = spec_ref(body)
    connector = get_connector(spec_id)
    if not connector.spec.is_target:
        raise BadRequestError(
            f"Connection spec {spec_id} ({connector.spec.name}) is a source, not a target. A target "
            f"connection to the data lake uses connectionSpec.id {DATA_LAKE_SPEC_ID}",
            code="1413",
        )
    params = body.get("params") or {}
    if not isinstance(params, dict) or not params.get("dataSetId"):
        raise BadRequestError("'params.dataSetId' is required: the id of the dataset to write to")
    dataset = DATASETS.find(s, scope, str(params["dataSetId"]))
    if dataset is None:
        raise BadRequestError(
            f"Dataset {params['dataSetId']} is not found in sandbox {p.sandbox_name}; create it with "
            "POST /data/foundation/catalog/dataSets",
            code="1101",
        )
    data = body.get("data") or {}
    if not isinstance(data, dict):
        raise BadRequestError("'data' must be an object")
    schema_ref = dataset.body.get("schemaRef") or {}
    data = {"format": data.get("format", "parquet_xdm"), **data}
    if "schema" not in data and schema_ref:
        data["schema"] = {"id": schema_ref.get("id"), "version": schema_ref.get("contentType")}
    tc_id = new_uuid()
    doc_body = {
        "id": tc_id,
        **audit_create(p),
        "name": body.get("name") or f"target connection {tc_id}",
        "description": body.get("description", ""),
        "baseConnectionId": body.get("baseConnectionId"),
        "state": "enabled",
        "data": data,
        "params": params,
        "connectionSpec": {"id": spec_id, "version": str(body["connectionSpec"].get("version", "1.0"))},
    }
    doc = TARGET_CONNECTIONS.insert(
        s, scope, tc_id, doc_body, name=doc_body["name"], parent_id=str(params["dataSetId"]), state="enabled"
    )
    return {"id": tc_id, "etag": doc.etag}


def patch_simple(
    s: Session,
    p: Principal,
    store: DocumentStore,
    doc_id: str,
    ops: Any,
    if_match: str,
    immutable: Sequence[str] = (
        "id",
        "connectionSpec",
        "baseConnectionId",
        "createdAt",
        "imsOrgId",
        "sandboxName",
    ),
) -> dict[str, Any]:
    doc = store.get(s, Scope(p.org_id, p.sandbox_name), doc_id)
    patched = apply_patch(doc.body, ops, allowed={"add", "replace", "remove"})
    for key in immutable:
        if patched.get(key) != doc.body.get(key):
            code = "1414" if key == "connectionSpec" else "1455"
            raise BadRequestError(f"'{key}' cannot be changed", code=code)
    audit_update(patched, p)
    store.save(s, doc, patched, expected_etag=if_match, name=patched.get("name"))
    return {"id": doc_id, "etag": doc.etag}


def delete_simple(s: Session, p: Principal, store: DocumentStore, doc_id: str) -> None:
    scope = Scope(p.org_id, p.sandbox_name)
    doc = store.get(s, scope, doc_id)
    kw = {"source_id": doc_id} if store is SOURCE_CONNECTIONS else {"target_id": doc_id}
    flows = _flows_using(s, scope, **kw)
    if flows:
        raise ConflictError(
            f"{store.label} {doc_id} is used by flow(s) {', '.join(flows)}; delete those flows first",
            code="1447",
            status=400,
        )
    store.remove(s, doc)
