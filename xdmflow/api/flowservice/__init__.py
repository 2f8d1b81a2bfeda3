"""The Flow Service URL space: ``/data/foundation/flowservice``."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from xdmflow.api.deps import get_principal
from xdmflow.api.flowservice import connection_specs, connections, flow_specs, flows, runs
from xdmflow.api.flowservice.resource import resource_router
from xdmflow.api.models.flowservice import SourceConnectionCreate, TargetConnectionCreate
from xdmflow.services import connections as csvc
from xdmflow.services.document_stores import SOURCE_CONNECTIONS, TARGET_CONNECTIONS

router = APIRouter(prefix="/data/foundation/flowservice", dependencies=[Depends(get_principal)])
router.include_router(connection_specs.router)
router.include_router(connections.router)
router.include_router(
    resource_router(
        "sourceConnections",
        SOURCE_CONNECTIONS,
        create=csvc.create_source_connection,
        patch=csvc.patch_simple,
        delete=csvc.delete_simple,
        view=csvc.connection_view,
        create_model=SourceConnectionCreate,
        parent_field="baseConnectionId",
    )
)
router.include_router(
    resource_router(
        "targetConnections",
        TARGET_CONNECTIONS,
        create=csvc.create_target_connection,
        patch=csvc.patch_simple,
        delete=csvc.delete_simple,
        view=csvc.connection_view,
        create_model=TargetConnectionCreate,
    )
)
for module in (flow_specs, flows, runs):
    router.include_router(module.router)
