"""Typed request bodies: one Pydantic v2 model per operation that takes a JSON body.

The models describe what the platform accepts (camelCase names as aliases, extra fields allowed
where the platform allows them) and are validated *before* any service code runs, by
``xdmflow.api.deps.json_body``; ``xdmflow.api.openapi`` declares them as each operation's
``requestBody``. Strict mode: JSON types are not coerced (``"5"`` is not an integer), so type
confusion is a 400 naming the field, by construction. The services still receive the parsed JSON
document itself, unchanged, so behaviour for valid bodies is the same as without the models.
"""

from xdmflow.api.models.base import Body, JsonPatch, PatchOp, media_types

__all__ = ["Body", "JsonPatch", "PatchOp", "media_types"]
