"""Mapping-set model: both request dialects (platform-api.md §4.2) normalised to :class:`Mapping`.

* reference dialect: ``{"sourceType": "ATTRIBUTE"|"EXPRESSION"|"STATIC", "source", "destination",
  "name", "description"}`` (``sourceType`` may also be a stored MIME-like value such as
  ``text/x.schema-path``);
* tutorial dialect: ``{"destinationXdmPath", "sourceAttribute", "identity", "identityGroup",
  "namespaceCode", "version"}`` (``primaryIdentity`` / ``primary`` mark the primary identity).

:func:`render_stored_mapping` renders a mapping the way the platform returns it (both sets
of keys, ``sourceType`` as ``text/x.schema-path``...).
"""

from __future__ import annotations

from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from typing import Any, Literal

from xdmflow.errors import InvalidValueError, ValidationFailedError
from xdmflow.mapping.ast import FieldRef
from xdmflow.mapping.parser import ExpressionSyntaxError, parse_expression

__all__ = [
    "SourceType",
    "Mapping",
    "STORED_SOURCE_TYPES",
    "normalize_mappings",
    "normalize_mapping",
    "render_stored_mapping",
    "render_stored_mappings",
    "render_request_mapping",
]

SourceType = Literal["ATTRIBUTE", "EXPRESSION", "STATIC"]

#: ``sourceType`` as stored/returned by the platform for each request value.
STORED_SOURCE_TYPES: dict[str, str] = {
    "ATTRIBUTE": "text/x.schema-path",
    "EXPRESSION": "text/x.aep-xl",
    "STATIC": "text/plain",
}
_SOURCE_TYPE_ALIASES: dict[str, SourceType] = {
    "attribute": "ATTRIBUTE",
    "text/x.schema-path": "ATTRIBUTE",
    "expression": "EXPRESSION",
    "text/x.aep-xl": "EXPRESSION",
    "text/x.expression": "EXPRESSION",
    "static": "STATIC",
    "text/plain": "STATIC",
    "text/x.static": "STATIC",
}


@dataclass(frozen=True)
class Mapping:
    """One normalised mapping (frozen, picklable).

    ``dialect`` records which request dialect it came from (``reference`` / ``tutorial``);
    ``stored_source_type`` keeps a MIME-like ``sourceType`` given on input so it renders back.
    """

    source_type: SourceType
    source: str
    destination: str
    name: str | None = None
    description: str | None = None
    identity: bool = False
    identity_group: str | None = None
    namespace_code: str | None = None
    primary: bool = False
    version: int = 0
    id: str | None = None
    dialect: Literal["reference", "tutorial"] = "reference"
    stored_source_type: str | None = None

    @property
    def source_type_stored(self) -> str:
        return self.stored_source_type or STORED_SOURCE_TYPES[self.source_type]


def _looks_like_expression(text: str) -> bool:

    if "(" not in text and '"' not in text:
        return False
    try:
        return not isinstance(parse_expression(text), FieldRef)
    except ExpressionSyntaxError:
        return False


def _bool(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes")
    return bool(v)


def normalize_mapping(item: AbcMapping[str, Any]) -> Mapping:
    """Normalise one mapping dict of either dialect (raises ``ValueError`` on a bad entry)."""
    if not isinstance(item, AbcMapping):
        raise InvalidValueError("a mapping must be a JSON object")
    tutorial = "destinationXdmPath" in item or "sourceAttribute" in item
    destination = item.get("destination") or item.get("destinationXdmPath")
    source = item.get("source") if item.get("source") is not None else item.get("sourceAttribute")
    if not isinstance(destination, str) or not destination.strip():
        raise InvalidValueError("mapping has no destination (destination / destinationXdmPath)")
    raw_type = item.get("sourceType")
    stored: str | None = None
    st: SourceType
    if raw_type is not None:
        if not isinstance(raw_type, str) or raw_type.lower() not in _SOURCE_TYPE_ALIASES:
            raise InvalidValueError(f"unknown sourceType {raw_type!r} (ATTRIBUTE, EXPRESSION or STATIC)")
        st = _SOURCE_TYPE_ALIASES[raw_type.lower()]
        if "/" in raw_type:
            stored = raw_type
    elif isinstance(source, str) and _looks_like_expression(source):
        st = "EXPRESSION"
    else:
        st = "ATTRIBUTE"
    if source is None or (st != "STATIC" and (not isinstance(source, str) or not source.strip())):
        raise InvalidValueError("mapping has no source (source / sourceAttribute)")
    version = item.get("version", 0)
    return Mapping(
        source_type=st,
        source=source if isinstance(source, str) else str(source),
        destination=destination.strip(),
        name=item.get("name"),
        description=item.get("description"),
        identity=_bool(item.get("identity", False)),
        identity_group=item.get("identityGroup"),
        namespace_code=item.get("namespaceCode") or item.get("namespace"),
        primary=_bool(item.get("primaryIdentity", item.get("primary", False))),
        version=int(version) if isinstance(version, int | str) and str(version).lstrip("-").isdigit() else 0,
        id=item.get("id"),
        dialect="tutorial" if tutorial else "reference",
        stored_source_type=stored,
    )


def normalize_mappings(body: AbcMapping[str, Any] | list[Any]) -> list[Mapping]:
    """Normalise a mapping-set body (``{"mappings": [...]}``) or a bare list of mappings.

    Raises one :class:`ValidationFailedError` listing every malformed entry.
    """
    items = body.get("mappings") if isinstance(body, AbcMapping) else body
    if not isinstance(items, list):
        raise ValidationFailedError("The mapping set has no 'mappings' array.", details={"errors": []})
    out: list[Mapping] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        try:
            out.append(normalize_mapping(item))
        except ValueError as e:
            src = item.get("source", item.get("sourceAttribute")) if isinstance(item, AbcMapping) else None
            dst = (
                item.get("destination", item.get("destinationXdmPath"))
                if isinstance(item, AbcMapping)
                else None
            )
            errors.append(
                {"index": i, "destination": dst, "source": src, "exception": str(e), "message": str(e)}
            )
    if errors:
        raise ValidationFailedError(
            f"{len(errors)} mapping(s) are malformed: "
            + "; ".join(f"#{e['index']}: {e['message']}" for e in errors),
            details={"errors": errors},
        )
    return out


def render_request_mapping(m: Mapping) -> dict[str, Any]:
    """The mapping in the dialect it was written in (as a client would send it)."""
    if m.dialect == "tutorial":
        return {
            "destinationXdmPath": m.destination,
            "sourceAttribute": m.source,
            "identity": m.identity,
            "identityGroup": m.identity_group,
            "namespaceCode": m.namespace_code,
            "version": m.version,
        }
    out: dict[str, Any] = {"sourceType": m.source_type, "source": m.source, "destination": m.destination}
    if m.name is not None:
        out["name"] = m.name
    if m.description is not None:
        out["description"] = m.description
    return out


def render_stored_mapping(m: Mapping, **meta: Any) -> dict[str, Any]:
    """The stored/returned form (GET mappingSet ``mappings[]``), both key sets filled in.

    ``meta`` supplies ``id``, ``version``, ``createdDate``, ``modifiedDate``, ``createdBy``,
    ``modifiedBy`` (omitted keys are left out, except ``id``/``version`` from the mapping).
    """
    out: dict[str, Any] = {}
    if meta.get("id", m.id) is not None:
        out["id"] = meta.get("id", m.id)
    out["version"] = meta.get("version", m.version)
    for key in ("createdDate", "modifiedDate", "createdBy", "modifiedBy"):
        if key in meta:
            out[key] = meta[key]
    out.update(
        {
            "sourceType": m.source_type_stored,
            "source": m.source,
            "destination": m.destination,
            "identity": m.identity,
            "primaryIdentity": m.primary,
            "matchScore": 0.0,
            "functionVersion": 1,
            "sourceAttribute": m.source,
            "destinationXdmPath": m.destination,
        }
    )
    if m.name is not None:
        out["name"] = m.name
    if m.description is not None:
        out["description"] = m.description
    if m.namespace_code is not None:
        out["namespaceCode"] = m.namespace_code
    if m.identity_group is not None:
        out["identityGroup"] = m.identity_group
    return out


def render_stored_mappings(mappings: list[Mapping], **meta: Any) -> list[dict[str, Any]]:
    """:func:`render_stored_mapping` for each mapping (shared ``meta``, per-mapping ids kept)."""
    return [render_stored_mapping(m, **{k: v for k, v in meta.items() if k != "id"}) for m in mappings]
