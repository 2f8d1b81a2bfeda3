"""Schema Registry bodies: tenant resources (schemas, classes, field groups, data types) and descriptors."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from xdmflow.api.models.base import Body

__all__ = ["XdmResource", "Descriptor"]


class XdmResource(Body):
    """A tenant XDM resource (JSON Schema with ``meta:`` keywords); the registry checks the rest."""

    title: str | None = None
    description: str | None = None
    type: str | None = None
    all_of: list[dict[str, Any]] | None = Field(default=None, alias="allOf")
    properties: dict[str, Any] | None = None
    definitions: dict[str, Any] | None = None
    meta_extends: list[str] | None = Field(default=None, alias="meta:extends")
    meta_intended_to_extend: list[str] | None = Field(default=None, alias="meta:intendedToExtend")
    meta_immutable_tags: list[str] | None = Field(default=None, alias="meta:immutableTags")


class Descriptor(Body):
    """A descriptor: identity, relationship, friendly name, ... of a schema field."""

    type_: str = Field(alias="@type")
    source_schema: str | None = Field(default=None, alias="xdm:sourceSchema")
    source_version: int | None = Field(default=None, alias="xdm:sourceVersion")
    source_property: str | list[str] | None = Field(default=None, alias="xdm:sourceProperty")
    namespace: str | None = Field(default=None, alias="xdm:namespace")
    property_: str | None = Field(default=None, alias="xdm:property")
    is_primary: bool | None = Field(default=None, alias="xdm:isPrimary")
