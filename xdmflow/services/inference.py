"""Schema inference as a use case: sample an object through its connection, propose XDM.

``infer`` describes a file, folder (its first file), table or PayPal table of a base
connection with a preview (the connector's ``describe``), runs :mod:`xdmflow.schema.infer` on
the sample and answers a proposal:

* ``fields`` — the inferred columns (XDM type, detected date pattern, values that do not fit);
* ``adhoc`` — the bodies of an ad-hoc class and of a schema on it, ready to ``POST`` to the
  Schema Registry;
* with ``schemaId`` (an existing schema: an ad-hoc one just created, or one composed of a
  standard class and field groups) — ``mappings`` onto that schema in the Data Prep shape
  (``sourceType``/``source``/``destination``; non-ISO dates parsed with ``date(col, pattern)``)
  and the source columns no field matched (``unmapped``).

Used by ``xdmflow ingest`` over ``POST /xdmflow/v1/infer``; everything it proposes is created
through the ordinary platform API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from xdmflow.connectors.registry import get_connector
from xdmflow.errors import BadRequestError
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.schema.infer import InferredField, adhoc_properties, infer_fields, leaf_fields
from xdmflow.services.connections import auth_params
from xdmflow.services.document_stores import CONNECTIONS
from xdmflow.services.identity import Principal
from xdmflow.services.schemas import compiled_schema
from xdmflow.services.secrets import Keyring
from xdmflow.store.documents import Scope

__all__ = ["infer", "map_onto", "ADHOC_CLASS"]

ADHOC_CLASS = "https://ns.adobe.com/xdm/data/adhoc"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NORM = re.compile(r"[^a-z0-9]")


def _norm(name: str) -> str:
    return _NORM.sub("", name.lower())


def _rule(source: str, destination: str, f: InferredField) -> dict[str, Any]:
    if f.source_format and _IDENT.match(source):
        return {
            "sourceType": "EXPRESSION",
            "source": f'date({source}, "{f.source_format}")',
            "destination": destination,
        }
    return {"sourceType": "ATTRIBUTE", "source": source, "destination": destination}


def map_onto(fields: list[InferredField], schema: CompiledSchema) -> tuple[list[dict[str, Any]], list[str]]:
    """Data Prep mappings of the inferred leaves onto ``schema``, and the unmatched sources.

    A leaf lands on the field of the same path at the root, under the ad-hoc dataset namespace
    or under the tenant namespace; failing that, on the one leaf of the schema whose last name
    is the same ignoring case and punctuation (``E-Mail`` → ``personalEmail.address`` is not
    guessed, ``email`` → ``…email`` is).
    """
    leaves = [f for f in schema.walk() if not f.children and f.items is None and f.values is None]
    by_last: dict[str, list[str]] = {}
    for leaf in leaves:
        by_last.setdefault(_norm(leaf.name), []).append(leaf.path)
    rules: list[dict[str, Any]] = []
    unmapped: list[str] = []
    used: set[str] = set()
    for src, dst, f in leaf_fields(fields):
        target: str | None = None
        for prefix in ("", schema.dataset_namespace, schema.tenant_namespace):
            if prefix is None:
                continue
            path = f"{prefix}.{dst}" if prefix else dst
            found = schema.field(path)
            if found is not None and not found.children and found.items is None:
                target = path
                break
        if target is None:
            candidates = [p for p in by_last.get(_norm(f.source), []) if p not in used]
            if len(candidates) == 1:
                target = candidates[0]
        if target is None or target in used:
            unmapped.append(src)
            continue
        used.add(target)
        rules.append(_rule(src, target, f))
    return rules, unmapped


def infer(
    s: Session,
    p: Principal,
    keys: Keyring,
    *,
    connection_id: str,
    object: str,
    options: Mapping[str, Any] | None = None,
    title: str | None = None,
    sample_rows: int = 1000,
    tolerance: float = 0.1,
    schema_id: str | None = None,
) -> dict[str, Any]:
    """The proposal for ``object`` of base connection ``connection_id`` (see the module doc)."""
    if sample_rows < 1 or sample_rows > 100_000:
        raise BadRequestError("sampleRows must be between 1 and 100000")
    if not 0 <= tolerance < 1:
        raise BadRequestError("tolerance must be at least 0 and below 1")
    doc = CONNECTIONS.get(s, Scope(p.org_id, p.sandbox_name), connection_id)
    connector = get_connector(doc.body["connectionSpec"]["id"])
    desc = connector.describe(
        auth_params(doc, keys), object, preview=True, preview_rows=sample_rows, options=dict(options or {})
    )
    if desc.preview is None or not desc.preview.column_names:
        raise BadRequestError(f"{object!r} has no columns to infer a schema from")
    fields = infer_fields(desc.preview, tolerance=tolerance)
    name = title or object
    out: dict[str, Any] = {
        "object": object,
        "format": desc.format,
        "properties": dict(desc.properties),
        "sampledRows": desc.preview.num_rows,
        "fields": [f.to_api() for f in fields],
        "adhoc": {
            "class": {
                "title": f"{name} (class)",
                "description": f"Ad-hoc class inferred from {object}",
                "type": "object",
                "allOf": [
                    {"$ref": ADHOC_CLASS},
                    {"properties": {"_adhoc": {"type": "object", "properties": adhoc_properties(fields)}}},
                ],
            },
            "schema": {
                "title": name,
                "description": f"Ad-hoc schema inferred from {object}",
                "type": "object",
                "allOf": [{"$ref": "<the class's $id>"}],
            },
        },
    }
    if schema_id:
        schema = compiled_schema(s, Scope(p.org_id, p.sandbox_name), schema_id)
        rules, unmapped = map_onto(fields, schema)
        out["schemaId"] = schema.id
        out["mappings"] = rules
        out["unmapped"] = unmapped
    return out
