"""Ready-made compiled schemas for tests across xdmflow (mapping, lake, pipeline).

* :func:`payments_profile_schema` - the PayPal payments tutorial's target schema: XDM
  Individual Profile + Demographic Details + Personal Contact Details (listed twice in
  ``allOf``, as in the tutorial);
* :func:`commerce_event_schema` - XDM ExperienceEvent (with its IdentityMap) + Commerce Details.
"""

from __future__ import annotations

from typing import Any

from xdmflow.schema.builtins import (
    COMMERCE_DETAILS,
    EXPERIENCE_EVENT,
    PERSON_DETAILS,
    PERSONAL_DETAILS,
    PROFILE,
)
from xdmflow.schema.compile import IdentitySpec, compile_schema
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.schema.naming import alt_id
from xdmflow.schema.registry_model import compose_schema
from xdmflow.schema.resolve import resolve_body

__all__ = [
    "TEST_TENANT",
    "PAYMENTS_SCHEMA_ID",
    "COMMERCE_SCHEMA_ID",
    "payments_profile_body",
    "commerce_event_body",
    "payments_profile_schema",
    "commerce_event_schema",
]

TEST_TENANT = "acme"
PAYMENTS_SCHEMA_ID = f"https://ns.adobe.com/{TEST_TENANT}/schemas/" + "5a7e" * 8
COMMERCE_SCHEMA_ID = f"https://ns.adobe.com/{TEST_TENANT}/schemas/" + "c0ee" * 8


def _body(rid: str, title: str, refs: list[str]) -> dict[str, Any]:
    body = {
        "title": title,
        "description": f"{title} (test fixture)",
        "type": "object",
        "allOf": [{"$ref": r} for r in refs],
    }
    out = compose_schema(body, None, TEST_TENANT)
    out.update({"$id": rid, "meta:altId": alt_id(rid), "version": "1.0", "meta:containerId": "tenant"})
    return out


def payments_profile_body() -> dict[str, Any]:
    """The composed (raw ``xed``) payments-tutorial schema, with ``$id`` and version."""
    refs = [PROFILE, PERSON_DETAILS, PERSONAL_DETAILS, PERSONAL_DETAILS]
    return _body(PAYMENTS_SCHEMA_ID, "PayPal target XDM schema", refs)


def commerce_event_body() -> dict[str, Any]:
    """The composed (raw ``xed``) ExperienceEvent + Commerce Details schema."""
    return _body(COMMERCE_SCHEMA_ID, "Commerce events", [EXPERIENCE_EVENT, COMMERCE_DETAILS])


def payments_profile_schema(identities: tuple[IdentitySpec, ...] = ()) -> CompiledSchema:
    """The payments-tutorial target schema, compiled (optionally with identity descriptors)."""
    return compile_schema(resolve_body(payments_profile_body()), identities=identities)


def commerce_event_schema(identities: tuple[IdentitySpec, ...] = ()) -> CompiledSchema:
    """ExperienceEvent + IdentityMap + Commerce Details, compiled."""
    return compile_schema(resolve_body(commerce_event_body()), identities=identities)
