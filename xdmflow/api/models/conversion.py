"""Data Prep (Conversion) bodies: mapping sets, their validation and preview, EL validation."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from xdmflow.api.models.base import Body

__all__ = ["MappingSetBody", "MappingPreview", "ExpressionBody"]

Scalar = str | int | float | bool


class SchemaRef(Body):
    """The target XDM schema of a mapping set."""

    id: str | None = None
    content_type: str | None = Field(default=None, alias="contentType")


class OutputSchema(Body):
    """``outputSchema``: ``{"schemaRef": {"id", "contentType"}}``."""

    schema_ref: SchemaRef | None = Field(default=None, alias="schemaRef")


class MappingItem(Body):
    """One mapping: source (attribute, expression or constant) → destination XDM path."""

    source_type: str | None = Field(default=None, alias="sourceType")
    source: Scalar | None = None
    destination: str | None = None
    source_attribute: str | None = Field(default=None, alias="sourceAttribute")
    destination_xdm_path: str | None = Field(default=None, alias="destinationXdmPath")
    name: str | None = None
    description: str | None = None
    identity: bool | str | None = None
    identity_group: str | None = Field(default=None, alias="identityGroup")
    namespace_code: str | None = Field(default=None, alias="namespaceCode")
    primary_identity: bool | str | None = Field(default=None, alias="primaryIdentity")
    version: int | str | None = None


class MappingSetBody(Body):
    """``POST /mappingSets`` (and ``PUT``, ``/validate``): mappings onto an XDM schema."""

    name: str | None = None
    description: str | None = None
    output_schema: OutputSchema | None = Field(default=None, alias="outputSchema")
    schema_ref: SchemaRef | None = Field(default=None, alias="schemaRef")
    xdm_schema: str | None = Field(default=None, alias="xdmSchema")
    xdm_version: str | int | float | None = Field(default=None, alias="xdmVersion")
    mappings: list[MappingItem] | None = None
    strict_mapping: bool | None = Field(default=None, alias="strictMapping")
    allow_null_values: bool | None = Field(default=None, alias="allowNullValues")


class MappingPreview(MappingSetBody):
    """``POST /mappingSets/preview``: sample source rows through an inline or stored mapping set."""

    mapping_set: MappingSetBody | None = Field(default=None, alias="mappingSet")
    mapping_set_id: str | None = Field(default=None, alias="mappingSetId")
    mapping_set_version: int | None = Field(default=None, alias="mappingSetVersion")
    sample_data: list[dict[str, Any]] | None = Field(default=None, alias="sampleData")
    data: list[dict[str, Any]] | None = None


class ExpressionBody(Body):
    """``POST /languages/el/validate``: one Data Prep expression."""

    expression: str
