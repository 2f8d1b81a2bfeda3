"""Sandbox management bodies."""

from __future__ import annotations

from xdmflow.api.models.base import Body

__all__ = ["SandboxCreate", "SandboxReset"]


class SandboxCreate(Body):
    """``POST /sandboxes``: name (lowercase letters, digits, hyphens), title and type."""

    name: str | None = None
    title: str | None = None
    type: str | None = None


class SandboxReset(Body):
    """``PUT /sandboxes/{name}``: ``{"action": "reset"}`` empties the sandbox."""

    action: str
