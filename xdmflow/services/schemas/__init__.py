"""The Schema Registry service: tenant XDM resources, descriptors, views for other layers.

Other layers use :func:`compiled_schema`, :func:`resolved_schema`, :func:`schema_exists`
and :func:`tenant_id`; the HTTP routers in :mod:`xdmflow.api.schemaregistry` use the
submodules (``resources``, ``views``, ``descriptors``, ``stats_unions``).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from xdmflow.errors import NotFoundError
from xdmflow.schema.compile import compile_schema
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.schema.resolve import resolve_body
from xdmflow.services.schemas.repo import Json, find_any, not_found, tenant_id
from xdmflow.services.schemas.resources import identity_specs
from xdmflow.services.schemas.views import tenant_resources
from xdmflow.store.documents import Scope

__all__ = ["compiled_schema", "resolved_schema", "schema_exists", "tenant_id", "identity_specs"]


def _schema_body(s: Session, scope: Scope, schema_id: str) -> Json:
    body = find_any(s, scope, schema_id)
    if body is None or body.get("meta:resourceType") != "schemas":
        raise not_found(schema_id)
    return body


def schema_exists(s: Session, scope: Scope, schema_id: str) -> bool:
    """Whether ``schema_id`` (``$id`` or altId) names a schema of the scope."""
    try:
        _schema_body(s, scope, schema_id)
    except NotFoundError:
        return False
    return True


def resolved_schema(s: Session, scope: Scope, schema_id: str, *, notext: bool = False) -> Json:
    """The ``xed-full`` (or ``xed-full-notext``) view of a schema; XDM-1012 ``NotFoundError`` when absent."""
    body = _schema_body(s, scope, schema_id)
    return resolve_body(body, tenant_resources(s, scope), notext=notext)


def compiled_schema(s: Session, scope: Scope, schema_id: str) -> CompiledSchema:
    """The schema resolved with its identity descriptors and compiled.

    ``schema_id`` is a ``$id`` or ``meta:altId`` of a schema of the scope. Raises
    :class:`~xdmflow.errors.NotFoundError` (XDM-1012) when absent.
    """
    body = _schema_body(s, scope, schema_id)
    resolved = resolve_body(body, tenant_resources(s, scope))
    return compile_schema(resolved, identities=identity_specs(s, scope, body["$id"]))
