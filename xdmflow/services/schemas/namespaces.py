"""Identity namespaces known to the registry (xdm.md §10).

The standard namespaces of the platform's Identity Service; any other non-empty code is
accepted as a custom namespace (there is no Identity Service to create them in xdmflow).
Standard codes match case-insensitively and are stored in their canonical spelling.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from xdmflow.services.document_stores import DESCRIPTORS
from xdmflow.store.documents import Scope

__all__ = ["STANDARD_NAMESPACES", "canonical_namespace", "is_standard", "list_namespaces"]

#: (code, numeric id or None, name, idType)
STANDARD_NAMESPACES: tuple[tuple[str, int | None, str, str], ...] = (
    ("CORE", 0, "CORE", "COOKIE"),
    ("ECID", 4, "Experience Cloud ID", "COOKIE"),
    ("Email", 6, "Email", "EMAIL"),
    ("Phone", 7, "Phone", "PHONE"),
    ("WAID", 8, "Windows AID", "DEVICE"),
    ("TNTID", 9, "Adobe Target ID", "COOKIE"),
    ("AAID", None, "Adobe Analytics (Legacy ID)", "COOKIE"),
    ("AdCloud", 411, "AdCloud", "COOKIE"),
    ("GAID", 20914, "Google Ad ID", "DEVICE"),
    ("IDFA", 20915, "Apple IDFA", "DEVICE"),
    ("Email_LC_SHA256", None, "Emails (SHA256, lowercased)", "EMAIL"),
    ("Phone_SHA256", None, "Phone (SHA256)", "PHONE"),
    ("Phone_E.164", None, "Phone (E.164)", "PHONE"),
)
_BY_LOWER = {code.lower(): code for code, *_ in STANDARD_NAMESPACES}


def canonical_namespace(code: str) -> str:
    """The canonical spelling of a standard code; other (custom) codes unchanged."""
    return _BY_LOWER.get(code.strip().lower(), code.strip())


def is_standard(code: str) -> bool:
    """Whether ``code`` is a standard namespace code (case-insensitive)."""
    return code.strip().lower() in _BY_LOWER


def list_namespaces(s: Session, scope: Scope) -> list[dict[str, Any]]:
    """Standard namespaces plus the custom codes used by identity descriptors of the scope."""
    out: list[dict[str, Any]] = [
        {"id": nid, "code": code, "name": name, "idType": typ, "status": "ACTIVE", "custom": False}
        for code, nid, name, typ in STANDARD_NAMESPACES
    ]
    custom = sorted(
        {
            str(d.body.get("xdm:namespace") or d.body.get("xdm:identityNamespace"))
            for d in DESCRIPTORS.query(s, scope)
            if d.body.get("xdm:namespace") or d.body.get("xdm:identityNamespace")
        }
    )
    out += [
        {"id": None, "code": c, "name": c, "idType": "CROSS_DEVICE", "status": "ACTIVE", "custom": True}
        for c in custom
        if not is_standard(c)
    ]
    return out
