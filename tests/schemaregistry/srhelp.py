"""Shared constants and helpers of the Schema Registry tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

SR = "/data/foundation/schemaregistry"
PROFILE = "https://ns.adobe.com/xdm/context/profile"
EE = "https://ns.adobe.com/xdm/context/experienceevent"
PERSON = "https://ns.adobe.com/xdm/context/profile-person-details"
PERSONAL = "https://ns.adobe.com/xdm/context/profile-personal-details"
IDMAP = "https://ns.adobe.com/xdm/context/identitymap"
RECORD = "https://ns.adobe.com/xdm/data/record"
ADHOC = "https://ns.adobe.com/xdm/data/adhoc"
ID_LIST = {"Accept": "application/vnd.adobe.xed-id+json"}
XED_LIST = {"Accept": "application/vnd.adobe.xed+json"}
XED = {"Accept": "application/vnd.adobe.xed+json; version=1"}
FULL = {"Accept": "application/vnd.adobe.xed-full+json; version=1"}

PAYMENTS = {
    "type": "object",
    "title": "Target schema for payments",
    "description": "Target schema for payments",
    "allOf": [{"$ref": PROFILE}, {"$ref": PERSON}, {"$ref": PERSONAL}, {"$ref": PERSONAL}],
    "meta:containerId": "tenant",
    "meta:resourceType": "schemas",
    "meta:xdmType": "object",
    "meta:class": PROFILE,
}


def enc(rid: str) -> str:
    """A URL-encoded ``$id`` for a path segment."""
    return quote(rid, safe="")


def schema_body(title: str, *refs: str, **extra: Any) -> dict[str, Any]:
    return {"title": title, "type": "object", "allOf": [{"$ref": r} for r in refs], **extra}


def fg_body(
    title: str, tenant: str, fields: dict[str, Any], intended: list[str] | None = None
) -> dict[str, Any]:
    return {
        "title": title,
        "type": "object",
        "meta:intendedToExtend": intended if intended is not None else [PROFILE],
        "definitions": {"d": {"properties": {f"_{tenant}": {"type": "object", "properties": fields}}}},
        "allOf": [{"$ref": "#/definitions/d"}],
    }


def tenant_of(api: Any) -> str:
    r = api.get(f"{SR}/stats")
    assert r.status_code == 200, r.text
    return str(r.json()["tenantId"])


def xdm_error(r: Any, code: str, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["type"].endswith(f"XDM-{code}-{status}"), body
    return body
