"""``/flows`` and their enable/disable actions."""

from __future__ import annotations

from typing import Any

from fastapi import Depends

from xdmflow.api.deps import CtxDep, PrincipalDep, allow_query
from xdmflow.api.flowservice.resource import resource_router
from xdmflow.api.models.flowservice import FlowCreate
from xdmflow.services import flows as svc
from xdmflow.services.document_stores import FLOWS
from xdmflow.services.identity import Principal
from xdmflow.store.documents import DocumentStore


def _patch(s: Any, p: Principal, store: DocumentStore, doc_id: str, ops: Any, tag: str) -> dict[str, Any]:
    return svc.patch_flow(s, p, doc_id, ops, tag)


def _delete(s: Any, p: Principal, store: DocumentStore, doc_id: str) -> None:
    svc.delete_flow(s, p, doc_id)


router = resource_router(
    "flows",
    FLOWS,
    create=svc.create_flow,
    patch=_patch,
    delete=_delete,
    view=svc.flow_view,
    create_model=FlowCreate,
)


@router.post("/{flow_id}/action", dependencies=[Depends(allow_query("op", code="1451"))])
def flow_action(flow_id: str, p: PrincipalDep, ctx: CtxDep, op: str | None = None) -> dict[str, Any]:
    with ctx.db.session() as s:
        return svc.flow_action(s, p, flow_id, op)
