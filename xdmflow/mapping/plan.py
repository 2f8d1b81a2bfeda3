"""Compile normalised mappings against a target :class:`CompiledSchema` into a :class:`MappingPlan`.

Every problem of a mapping set is collected and raised as ONE ``ValidationFailedError`` whose
``details["errors"]`` holds TransformErrorInfo-shaped dicts ``{destination, source, sourceType,
columnName, exception, message}``. The plan is plain frozen data (ASTs, paths, Arrow types):
it pickles and can be shipped to other processes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from xdmflow.errors import ValidationFailedError
from xdmflow.mapping import casts
from xdmflow.mapping.ast import Node
from xdmflow.mapping.model import Mapping
from xdmflow.mapping.parser import ExpressionSyntaxError, parse_expression
from xdmflow.mapping.typecheck import check_expression
from xdmflow.schema.arrow import arrow_type, to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema, XdmField

__all__ = ["CompiledMapping", "IdentitySpec", "MappingPlan", "compile_mapping", "source_field_types"]

#: Which expression/source types can be cast to each XDM type.
_CASTABLE: dict[str, frozenset[str]] = {
    "string": frozenset({"string", "number", "boolean", "datetime", "null", "any"}),
    "number": frozenset({"string", "number", "boolean", "null", "any"}),
    "long": frozenset({"string", "number", "boolean", "datetime", "null", "any"}),
    "int": frozenset({"string", "number", "boolean", "null", "any"}),
    "short": frozenset({"string", "number", "boolean", "null", "any"}),
    "byte": frozenset({"string", "number", "boolean", "null", "any"}),
    "boolean": frozenset({"string", "number", "boolean", "null", "any"}),
    "date": frozenset({"string", "number", "datetime", "null", "any"}),
    "date-time": frozenset({"string", "number", "datetime", "null", "any"}),
    "object": frozenset({"object", "map", "null", "any"}),
    "map": frozenset({"map", "object", "null", "any"}),
    "array": frozenset({"array", "null", "any"}),
}


@dataclass(frozen=True)
class CompiledMapping:
    """One mapping, checked and ready to run."""

    index: int
    mapping: Mapping
    kind: Literal["attribute", "expression", "static"]
    dest_path: tuple[str, ...]
    dest_type: str
    arrow_type: pa.DataType
    dest_field: XdmField | None = None
    source_path: tuple[str, ...] = ()
    expr: Node | None = None
    static: str | None = None

    @property
    def destination(self) -> str:
        return self.mapping.destination

    @property
    def source(self) -> str:
        return self.mapping.source


@dataclass(frozen=True)
class IdentitySpec:
    """An identity-flagged mapping that also fills ``identityMap[namespace]``."""

    mapping_index: int
    namespace: str
    primary: bool
    authenticated_state: str = "ambiguous"


@dataclass(frozen=True)
class MappingPlan:
    """The compiled mapping set. ``warnings`` lists non-fatal findings (unmapped required fields...)."""

    target: CompiledSchema
    arrow_schema: pa.Schema
    mappings: tuple[CompiledMapping, ...]
    identities: tuple[IdentitySpec, ...] = ()
    allow_null_on_error: bool = False
    warnings: tuple[dict[str, Any], ...] = field(default=())


def source_field_types(schema: pa.Schema) -> dict[str, str]:
    """Dotted path -> expression type for every (nested struct) field of a source schema."""
    out: dict[str, str] = {}

    def visit(prefix: str, f: pa.Field) -> None:
        path = f"{prefix}.{f.name}" if prefix else f.name
        out[path] = casts.el_type(f.type)
        if pa.types.is_struct(f.type):
            for i in range(f.type.num_fields):
                visit(path, f.type.field(i))

    for f in schema:
        visit("", f)
    return out


def _split_dest(dest: str) -> tuple[str, ...]:
    return tuple(p for p in dest.strip().split("."))


def _error(m: Mapping, message: str, column: str | None = None) -> dict[str, Any]:
    return {
        "destination": m.destination,
        "source": m.source,
        "sourceType": m.source_type,
        "columnName": column if column is not None else (m.source if m.source_type == "ATTRIBUTE" else None),
        "exception": message,
        "message": message,
    }


_SEGMENT = re.compile(r"^([^\[\]]+)((?:\[\d+\])*)$")


def resolve_destination(
    target: CompiledSchema, destination: str
) -> tuple[XdmField | None, tuple[str, ...], str]:
    """The field a destination path writes, its internal path, or an error message.

    Arrays are addressed with an index (``productListItems[0].SKU``, ``tags[1]``); an
    object path through an array without an index means element 0. The internal path holds
    ``"[i]"`` steps for array elements. Paths into maps are not supported.
    """
    where = f"schema '{target.title or target.id}'"
    parts = destination.strip().split(".")
    level: tuple[XdmField, ...] = target.fields
    path: list[str] = []
    leaf: XdmField | None = None
    for i, seg in enumerate(parts):
        m = _SEGMENT.match(seg)
        if m is None:
            return None, (), f"destination path '{destination}' is malformed (segment {seg!r})"
        name, idx = m.group(1), re.findall(r"\[(\d+)\]", m.group(2))
        f = next((c for c in level if c.name == name), None)
        if f is None:
            return None, (), f"destination path '{destination}' does not exist in {where}"
        path.append(name)
        last = i == len(parts) - 1
        if len(idx) > 1:
            return None, (), f"destination path '{destination}': nested array indexes are not supported"
        if f.xdm_type == "array" and f.items is not None and (idx or not last):
            if f.items.xdm_type in ("array", "map"):
                return None, (), f"destination path '{destination}': arrays of arrays/maps are not supported"
            path.append(f"[{idx[0] if idx else 0}]")
            leaf = f.items
            level = f.items.children
            continue
        if idx:
            return None, (), f"destination path '{destination}': '{name}' is not an array"
        if f.xdm_type == "map" and not last:
            return None, (), f"destination path '{destination}' is inside the map '{name}'; map the whole map"
        leaf = f
        level = f.children
    if leaf is None:
        return None, (), f"destination path '{destination}' does not exist in {where}"
    return leaf, tuple(path), ""


def compile_mapping(
    mappings: list[Mapping],
    target: CompiledSchema,
    source_schema: pa.Schema | None = None,
    *,
    allow_null_on_error: bool = False,
) -> MappingPlan:
    """Check ``mappings`` against ``target`` (and the source schema when known) and build a plan.

    Raises one :class:`ValidationFailedError` listing: unknown destination paths, duplicate
    destinations, expressions that do not parse / call unknown functions / have a wrong
    arity or argument type, unknown source attributes, and source types that cannot be cast
    to the destination type. Unmapped top-level required fields become ``plan.warnings``.
    """
    field_types = source_field_types(source_schema) if source_schema is not None else None
    errors: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    compiled: list[CompiledMapping] = []
    seen: dict[str, int] = {}
    identities: list[IdentitySpec] = []
    for i, m in enumerate(mappings):
        f, dest, dest_error = resolve_destination(target, m.destination)
        problems: list[str] = [dest_error] if dest_error else []
        key = ".".join(dest) if dest else m.destination
        if key in seen:
            problems.append(
                f"destination '{m.destination}' is mapped more than once (also by mapping #{seen[key]})"
            )
        else:
            seen[key] = i
        kind: Literal["attribute", "expression", "static"]
        src_type = "any"
        expr: Node | None = None
        src_path: tuple[str, ...] = ()
        if m.source_type == "ATTRIBUTE":
            kind = "attribute"
            src_path = _split_dest(m.source)
            if field_types is not None:
                if m.source in field_types:
                    src_type = field_types[m.source]
                else:
                    problems.append(f"source attribute '{m.source}' does not exist in the source schema")
        elif m.source_type == "EXPRESSION":
            kind = "expression"
            try:
                expr = parse_expression(m.source)
            except ExpressionSyntaxError as e:
                problems.append(f"expression does not parse: {e}")
            else:
                src_type, issues, _refs = check_expression(expr, field_types)
                problems += [f"{iss.message} (position {iss.pos})" for iss in issues]
        else:
            kind = "static"
            src_type = "string"
        if f is not None and src_type not in _CASTABLE.get(f.xdm_type, frozenset({"any"})):
            problems.append(
                f"source type {src_type} of '{m.source}' cannot be converted to {f.xdm_type} "
                f"(destination '{m.destination}')"
            )
        if problems:
            errors.extend(_error(m, p) for p in problems)
            continue
        assert f is not None
        compiled.append(
            CompiledMapping(
                index=i,
                mapping=m,
                kind=kind,
                dest_path=dest,
                dest_type=f.xdm_type,
                arrow_type=arrow_type(f),
                dest_field=f,
                source_path=src_path,
                expr=expr,
                static=m.source if kind == "static" else None,
            )
        )
        if m.identity:
            ns = m.namespace_code or (f.identity.namespace if f.identity else None)
            if not ns:
                errors.append(_error(m, f"identity mapping to '{m.destination}' has no namespaceCode"))
            else:
                identities.append(IdentitySpec(i, ns, m.primary))
    if errors:
        names = sorted({str(e["destination"]) for e in errors})
        raise ValidationFailedError(
            f"The mapping set is invalid: {len(errors)} problem(s) in mapping(s) to {', '.join(names)}. "
            + " | ".join(e["message"] for e in errors),
            details={"errors": errors},
        )
    mapped = {cm.dest_path[0] for cm in compiled}
    for f in target.fields:
        if f.required and f.name not in mapped and not (f.name == "identityMap" and identities):
            warnings.append(
                {
                    "destination": f.path,
                    "message": f"required field '{f.path}' is not mapped",
                    "level": "warning",
                }
            )
    if identities and target.field("identityMap") is None:
        warnings.append(
            {
                "destination": "identityMap",
                "level": "warning",
                "message": "identity mappings are flagged but the target schema has no identityMap; "
                "identities rely on the schema's identity descriptors",
            }
        )
        identities = []
    elif identities and "identityMap" in mapped:
        warnings.append(
            {
                "destination": "identityMap",
                "level": "warning",
                "message": "identityMap is mapped explicitly; identity flags do not add to it",
            }
        )
        identities = []
    return MappingPlan(
        target=target,
        arrow_schema=to_arrow_schema(target),
        mappings=tuple(compiled),
        identities=tuple(identities),
        allow_null_on_error=allow_null_on_error,
        warnings=tuple(warnings),
    )
