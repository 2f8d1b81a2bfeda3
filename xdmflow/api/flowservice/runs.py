"""``/runs``: list (``property=flowId==…``), get, on-demand creation, RE_TRIGGER."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from xdmflow.api.deps import CtxDep, PrincipalDep, allow_query, json_body, on_db, scope_of
from xdmflow.api.flowservice.resource import is_lookup
from xdmflow.api.models.flowservice import RunCreate
from xdmflow.runs import queue as svc
from xdmflow.services.document_stores import RUNS
from xdmflow.services.resource_docs import LIST_PARAMS, items, list_documents

router = APIRouter(prefix="/runs", tags=["runs"])
BASE = "/data/foundation/flowservice/runs"


@router.get("", dependencies=[Depends(allow_query(*LIST_PARAMS, code="1451"))])
async def list_runs(request: Request, p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
    params = list(request.query_params.multi_items())

    def work() -> dict[str, Any]:
        with ctx.db.session() as s:
            return list_documents(s, scope_of(p), RUNS, params, BASE, parent_field="flowId")

    out = await on_db(ctx, work, short=is_lookup(params, "flowId"))
    return JSONResponse(out)  # stored JSON: no re-encoding pass


@router.post("", status_code=201)
def create_run(body: Annotated[Any, json_body(RunCreate)], p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
    with ctx.db.session() as s:
        out = svc.create_run_on_demand(s, p, body, svc.QueueLimits.from_settings(ctx.settings))
    return JSONResponse(out, 201, headers={"Location": f"{BASE}/{out['id']}"})


@router.get("/{run_id}", dependencies=[Depends(allow_query(code="1451"))])
async def get_run(run_id: str, p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
    def work() -> dict[str, Any]:
        with ctx.db.session() as s:
            return items(svc.run_view(RUNS.get(s, scope_of(p), run_id)))

    return JSONResponse(await on_db(ctx, work))  # one read: no thread-pool hop on SQLite


@router.post("/{run_id}/action", dependencies=[Depends(allow_query("op", code="1451"))])
def run_action(run_id: str, p: PrincipalDep, ctx: CtxDep, op: str | None = None) -> dict[str, Any]:
    with ctx.db.session() as s:
        return svc.retrigger(s, p, run_id, op, svc.QueueLimits.from_settings(ctx.settings))
