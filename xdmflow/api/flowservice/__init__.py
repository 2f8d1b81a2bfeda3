"""The Flow Service URL space: ``/data/foundation/flowservice``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from xdmflow.api.deps import get_principal
from xdmflow.api.flowservice import connection_specs, connections, flow_specs, flows, runs
from xdmflow.api.flowservice.resource import resource_router
from xdmflow.api.models.flowservice import SourceConnectionCreate, TargetConnectionCreate
from xdmflow.services import connections as csvc
from xdmflow.services.document_stores import SOURCE_CONNECTIONS, TARGET_CONNECTIONS

__all__ = ["PREFIX", "routers", "include"]

PREFIX = "/data/foundation/flowservice"

#: The Flow Service's resources, in the order of its URL space (and of the OpenAPI document).
routers: list[APIRouter] = [
    connection_specs.router,
    connections.router,
    resource_router(
        "sourceConnections",
        SOURCE_CONNECTIONS,
        create=csvc.create_source_connection,
        patch=csvc.patch_simple,
        delete=csvc.delete_simple,
        view=csvc.connection_view,
        create_model=SourceConnectionCreate,
        parent_field="baseConnectionId",
    ),
    resource_router(
        "targetConnections",
        TARGET_CONNECTIONS,
        create=csvc.create_target_connection,
        patch=csvc.patch_simple,
        delete=csvc.delete_simple,
        view=csvc.connection_view,
        create_model=TargetConnectionCreate,
    ),
    flow_specs.router,
    flows.router,
    runs.router,
]


def include(app: FastAPI) -> None:
    """Include each resource router into the app itself under :data:`PREFIX`, with the gateway's
    principal check. Not through one ``/flowservice`` router: FastAPI matches the path of a
    request once per level of routers to find the route and once more to run it, so that a
    level less is about twenty route matches less on every Flow Service request."""
    for sub in routers:
        app.include_router(sub, prefix=PREFIX, dependencies=[Depends(get_principal)])
