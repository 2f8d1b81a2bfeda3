"""The compiled schema: the one representation of an XDM schema the rest of xdmflow reads.

The Schema Registry composes a schema (class + field groups + data types, ``$ref`` resolved)
and compiles it to a :class:`CompiledSchema`: a tree of :class:`XdmField` in compatibility
mode (no ``xdm:`` prefixes, ``_id``, ``_repo.createDate``, tenant fields under ``_{TENANT}``).
Mapping (``xdmflow.mapping``), validation (``xdmflow.schema.validation``) and the lake
(``xdmflow.lake``) all take a ``CompiledSchema``; none of them reads registry JSON.

A ``CompiledSchema`` is plain frozen data: it pickles, it hashes by id+version, and it can
be rebuilt from its JSON form (``to_json`` / ``from_json``) so runs on other processes or
Dask workers get the exact same schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["XdmType", "XdmField", "IdentityInfo", "CompiledSchema", "INTEGER_RANGES"]

#: Logical XDM types (``meta:xdmType``).
XdmType = Literal[
    "string",
    "number",
    "long",
    "int",
    "short",
    "byte",
    "boolean",
    "date",
    "date-time",
    "object",
    "array",
    "map",
]

#: Inclusive ranges of the integer logical types (xdm.md §1.1).
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "long": (-9007199254740991, 9007199254740991),
    "int": (-2147483648, 2147483647),
    "short": (-32768, 32767),
    "byte": (-128, 127),
}


@dataclass(frozen=True)
class IdentityInfo:
    """An identity descriptor applied to a field."""

    namespace: str
    is_primary: bool = False


@dataclass(frozen=True)
class XdmField:
    """One field of a compiled schema.

    * ``name`` - compat-mode key (``personalEmail``); ``path`` - dotted path from the root
      (``personalEmail.address``); array elements add no path segment (the items' children
      are ``productListItems.SKU``);
    * ``xdm_type`` - logical type; ``format`` - ``email``, ``uri``, ``uri-reference``... for
      strings (``date`` / ``date-time`` are types, not formats, here);
    * ``enum`` - the hard ``enum`` (validated); ``meta_enum`` - suggested values (not validated);
    * ``required`` - required *within its parent object* (only checked when the parent is present);
    * ``children`` for objects, ``items`` for arrays, ``values`` for maps;
    * ``minimum`` / ``maximum`` / ``pattern`` / ``min_length`` / ``max_length`` - constraints;
    * ``identity`` - set when an identity descriptor targets this field.
    """

    name: str
    path: str
    xdm_type: XdmType
    title: str = ""
    description: str = ""
    format: str | None = None
    enum: tuple[Any, ...] | None = None
    meta_enum: tuple[str, ...] | None = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    children: tuple[XdmField, ...] = ()
    items: XdmField | None = None
    values: XdmField | None = None
    identity: IdentityInfo | None = None
    deprecated: bool = False

    def child(self, name: str) -> XdmField | None:
        for c in self.children:
            if c.name == name:
                return c
        return None

    def walk(self) -> Iterator[XdmField]:
        """This field and every field below it, depth first."""
        yield self
        for c in self.children:
            yield from c.walk()
        if self.items is not None:
            yield from self.items.walk()
        if self.values is not None:
            yield from self.values.walk()


@dataclass(frozen=True)
class CompiledSchema:
    """A composed XDM schema, compiled.

    ``id`` is the schema's ``$id``, ``version`` its ``version`` (``"1.3"``); ``class_id`` the
    ``meta:class``; ``fields`` the root fields in ASCII order; ``tenant_namespace`` /
    ``dataset_namespace`` (ad-hoc) the ``_xxx`` object that holds custom fields.
    """

    id: str
    version: str
    title: str
    class_id: str
    fields: tuple[XdmField, ...]
    tenant_namespace: str | None = None
    dataset_namespace: str | None = None
    behaviors: tuple[str, ...] = ()
    profile_enabled: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def field(self, path: str) -> XdmField | None:
        """The field at a dotted path (``person.name.firstName``), ``None`` when absent.

        Array items are transparent: ``productListItems.SKU`` finds the ``SKU`` of the items.
        """
        parts = path.split(".")
        level: tuple[XdmField, ...] = self.fields
        found: XdmField | None = None
        for part in parts:
            found = next((f for f in level if f.name == part), None)
            if found is None:
                return None
            node = found
            while node.xdm_type == "array" and node.items is not None:
                node = node.items
            level = node.children
        return found

    def walk(self) -> Iterator[XdmField]:
        for f in self.fields:
            yield from f.walk()

    def leaf_paths(self) -> list[str]:
        return [f.path for f in self.walk() if not f.children and f.items is None]

    @property
    def identities(self) -> list[XdmField]:
        return [f for f in self.walk() if f.identity is not None]

    @property
    def primary_identity(self) -> XdmField | None:
        return next((f for f in self.identities if f.identity and f.identity.is_primary), None)

    # -- serialisation -------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "class_id": self.class_id,
            "fields": [_field_to_json(f) for f in self.fields],
            "tenant_namespace": self.tenant_namespace,
            "dataset_namespace": self.dataset_namespace,
            "behaviors": list(self.behaviors),
            "profile_enabled": self.profile_enabled,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompiledSchema:
        return cls(
            id=data["id"],
            version=data["version"],
            title=data.get("title", ""),
            class_id=data.get("class_id", ""),
            fields=tuple(_field_from_json(f) for f in data["fields"]),
            tenant_namespace=data.get("tenant_namespace"),
            dataset_namespace=data.get("dataset_namespace"),
            behaviors=tuple(data.get("behaviors", ())),
            profile_enabled=bool(data.get("profile_enabled", False)),
        )


def _field_to_json(f: XdmField) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f.name, "path": f.path, "xdm_type": f.xdm_type}
    for key in (
        "title",
        "description",
        "format",
        "pattern",
        "minimum",
        "maximum",
        "min_length",
        "max_length",
    ):
        val = getattr(f, key)
        if val not in (None, ""):
            out[key] = val
    if f.enum is not None:
        out["enum"] = list(f.enum)
    if f.meta_enum is not None:
        out["meta_enum"] = list(f.meta_enum)
    if f.required:
        out["required"] = True
    if f.deprecated:
        out["deprecated"] = True
    if f.children:
        out["children"] = [_field_to_json(c) for c in f.children]
    if f.items is not None:
        out["items"] = _field_to_json(f.items)
    if f.values is not None:
        out["values"] = _field_to_json(f.values)
    if f.identity is not None:
        out["identity"] = {"namespace": f.identity.namespace, "is_primary": f.identity.is_primary}
    return out


def _field_from_json(d: dict[str, Any]) -> XdmField:
    ident = d.get("identity")
    return XdmField(
        name=d["name"],
        path=d["path"],
        xdm_type=d["xdm_type"],
        title=d.get("title", ""),
        description=d.get("description", ""),
        format=d.get("format"),
        enum=tuple(d["enum"]) if "enum" in d else None,
        meta_enum=tuple(d["meta_enum"]) if "meta_enum" in d else None,
        required=bool(d.get("required", False)),
        minimum=d.get("minimum"),
        maximum=d.get("maximum"),
        pattern=d.get("pattern"),
        min_length=d.get("min_length"),
        max_length=d.get("max_length"),
        children=tuple(_field_from_json(c) for c in d.get("children", ())),
        items=_field_from_json(d["items"]) if "items" in d else None,
        values=_field_from_json(d["values"]) if "values" in d else None,
        identity=IdentityInfo(ident["namespace"], bool(ident.get("is_primary"))) if ident else None,
        deprecated=bool(d.get("deprecated", False)),
    )
