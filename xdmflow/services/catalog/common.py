"""What Catalog objects share: the private section, versions, If-Match, keyed views."""

from __future__ import annotations

from typing import Any

from xdmflow.errors import BadRequestError, PreconditionFailedError
from xdmflow.store.tables import Document

__all__ = ["PRIVATE", "bump_version", "check_if_match", "public", "require_object", "keyed"]

#: Body key holding xdmflow's own bookkeeping (never shown by the API).
PRIVATE = "_xdmflow"


def bump_version(version: Any) -> str:
    """``"1.0.3"`` -> ``"1.0.4"`` (a malformed version restarts at ``"1.0.1"``)."""
    parts = str(version or "1.0.0").split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return "1.0.1"
    return f"{parts[0]}.{parts[1]}.{int(parts[2]) + 1}"


def check_if_match(doc: Document, if_match: str | None) -> None:
    """Optional optimistic lock: ``If-Match`` must equal the object's version (or etag)."""
    if if_match is None or not if_match.strip():
        return
    wanted = if_match.strip()
    if wanted.startswith("W/"):
        wanted = wanted[2:]
    bare = wanted.strip('"')
    current = str(doc.body.get("version", ""))
    if bare not in (current, doc.etag.strip('"')) and wanted != doc.etag:
        raise PreconditionFailedError(
            f"If-Match {if_match!r} does not match the current version {current!r} of {doc.id}; "
            "read the object again and retry"
        )


def public(body: dict[str, Any]) -> dict[str, Any]:
    """The API view of a stored body (private bookkeeping removed)."""
    return {k: v for k, v in body.items() if k != PRIVATE}


def require_object(body: Any, what: str) -> dict[str, Any]:
    """``body`` if it is a non-empty JSON object, else a 400 naming ``what``."""
    if not isinstance(body, dict) or not body:
        raise BadRequestError(f"The {what} request body must be a non-empty JSON object")
    return body


def keyed(pairs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Catalog's keyed shape ``{"<id>": {...}}``."""
    return dict(pairs)
