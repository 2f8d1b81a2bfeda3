"""The base of every request-body model and the RFC 6902 JSON Patch body."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

__all__ = ["Body", "PatchOp", "JsonPatch", "media_types", "PATCH_MEDIA"]

#: The media types an operation accepts, declared in the OpenAPI document (default: JSON).
_MEDIA_ATTR = "__xdmflow_media__"
JSON_MEDIA = ("application/json",)
PATCH_MEDIA = ("application/json", "application/json-patch+json")


class Body(BaseModel):
    """A JSON object body: strict JSON types, extra fields kept (the platform ignores or stores them)."""

    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)


class PatchOp(Body):
    """One RFC 6902 operation (which ops a resource allows is the service's check)."""

    op: Literal["add", "remove", "replace", "move", "copy", "test"]
    path: str
    value: Any = None
    from_: str | None = Field(default=None, alias="from")


class JsonPatch(RootModel[list[PatchOp]]):
    """An RFC 6902 JSON Patch document: an array of operations."""

    model_config = ConfigDict(strict=True)


def media_types(model: type[BaseModel]) -> tuple[str, ...]:
    """The request media types declared for ``model`` (``PATCH_MEDIA`` for patch bodies)."""
    declared: tuple[str, ...] | None = getattr(model, _MEDIA_ATTR, None)
    if declared:
        return declared
    if issubclass(model, JsonPatch):
        return PATCH_MEDIA
    return JSON_MEDIA


def with_media(model: type[BaseModel], *media: str) -> type[BaseModel]:
    """Declare the media types of ``model`` (e.g. JSON and JSON Patch for a Catalog PATCH)."""
    setattr(model, _MEDIA_ATTR, tuple(media))
    return model
