"""The Schema Registry URL space: ``/data/foundation/schemaregistry``.

Specific routes (stats, behaviors, unions, descriptors) come before the generic
``/{container}/{type}[/{id}]`` ones. The identity namespace list is served at
``/data/foundation/identity/idnamespace/namespaces``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from xdmflow.api.deps import get_principal
from xdmflow.api.schemaregistry import descriptors, resources, stats_unions

registry = APIRouter(prefix="/data/foundation/schemaregistry", dependencies=[Depends(get_principal)])
registry.include_router(stats_unions.router)
registry.include_router(descriptors.router)
registry.include_router(resources.router)

router = APIRouter()
router.include_router(registry)
router.include_router(
    stats_unions.identity_router, prefix="/data/foundation/identity", dependencies=[Depends(get_principal)]
)
