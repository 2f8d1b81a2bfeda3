"""Catalog Service bodies: datasets."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, RootModel

from xdmflow.api.models.base import PATCH_MEDIA, Body, PatchOp, with_media

__all__ = ["SchemaRef", "DatasetCreate", "DatasetReplace", "DatasetPatch"]


class SchemaRef(Body):
    """``schemaRef``: the XDM schema of the dataset."""

    id: str
    content_type: str | None = Field(default=None, alias="contentType")


class _DatasetFields(Body):
    name: str | None = None
    description: str | None = None
    tags: dict[str, list[str]] | None = None
    file_description: dict[str, Any] | None = Field(default=None, alias="fileDescription")
    enable_error_diagnostics: bool | None = Field(default=None, alias="enableErrorDiagnostics")


class DatasetCreate(_DatasetFields):
    """``POST /dataSets``: a dataset of an XDM schema (its Iceberg table is created with it)."""

    name: str
    schema_ref: SchemaRef = Field(alias="schemaRef")


class DatasetReplace(_DatasetFields):
    """``PUT /dataSets/{id}``: the editable fields."""

    schema_ref: SchemaRef | None = Field(default=None, alias="schemaRef")


class DatasetPatch(RootModel[DatasetReplace | list[PatchOp]]):
    """``PATCH /dataSets/{id}``: a partial object, or a JSON Patch."""

    model_config = ConfigDict(strict=True)


with_media(DatasetPatch, *PATCH_MEDIA)
