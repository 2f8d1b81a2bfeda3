"""Query templates and scheduled queries (``/query-templates``, ``/schedules`` and their runs)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from xdmflow.api.deps import CtxDep, PrincipalDep, allow_query, scope_of
from xdmflow.api.models.query import RunPatch, SchedulePatch, ScheduleRequest, TemplateRequest, TriggerRun
from xdmflow.services import query_schedules as qs

router = APIRouter(tags=["query"])

_LIST = Depends(allow_query("limit", "start", "orderby", "property", "isPrevLink"))


@router.post("/query-templates", status_code=202)
def create_template(body: TemplateRequest, p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
    with ctx.db.session() as s:
        out = qs.create_template(s, p, sql=body.sql, name=body.name, query_parameters=body.queryParameters)
    return JSONResponse(out, status_code=202)


@router.get("/query-templates", dependencies=[_LIST])
def list_templates(request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    with ctx.db.session() as s:
        return qs.list_templates(s, scope_of(p), list(request.query_params.multi_items()))


@router.get("/query-templates/count", dependencies=[Depends(allow_query("property"))])
def count_templates(request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    with ctx.db.session() as s:
        return qs.count_templates(s, scope_of(p), list(request.query_params.multi_items()))


@router.get("/query-templates/{template_id}")
def get_template(template_id: str, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    with ctx.db.session() as s:
        return qs.get_template(s, scope_of(p), template_id)


@router.put("/query-templates/{template_id}", status_code=202)
def update_template(template_id: str, body: TemplateRequest, p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
    with ctx.db.session() as s:
        out = qs.update_template(
            s, p, template_id, sql=body.sql, name=body.name, query_parameters=body.queryParameters
        )
    return JSONResponse(out, status_code=202)


@router.delete("/query-templates/{template_id}", status_code=202)
def delete_template(template_id: str, p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
    with ctx.db.session() as s:
        return JSONResponse(qs.delete_template(s, scope_of(p), template_id), status_code=202)


@router.post("/schedules", status_code=202)
def create_schedule(body: ScheduleRequest, p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
    with ctx.db.session() as s:
        out = qs.create_schedule(
            s, p, body.query.model_dump(exclude_none=True), body.schedule.model_dump(exclude_none=True)
        )
    return JSONResponse(out, status_code=202)


@router.get("/schedules", dependencies=[_LIST])
def list_schedules(request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    with ctx.db.session() as s:
        return qs.list_schedules(s, scope_of(p), list(request.query_params.multi_items()))


@router.get("/schedules/{schedule_id}")
def get_schedule(schedule_id: str, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    with ctx.db.session() as s:
        return qs.get_schedule(s, scope_of(p), schedule_id)


@router.patch("/schedules/{schedule_id}", status_code=202)
def patch_schedule(schedule_id: str, body: SchedulePatch, p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
    with ctx.db.session() as s:
        out = qs.patch_schedule(s, p, schedule_id, [op.model_dump() for op in body.ops()])
    return JSONResponse(out, status_code=202)


@router.delete("/schedules/{schedule_id}", status_code=202)
def delete_schedule(schedule_id: str, p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
    return JSONResponse(qs.delete_schedule(ctx, scope_of(p), schedule_id), status_code=202)


@router.get("/schedules/{schedule_id}/runs", dependencies=[_LIST])
def list_runs(schedule_id: str, request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    with ctx.db.session() as s:
        return qs.list_runs(s, scope_of(p), schedule_id, list(request.query_params.multi_items()))


@router.post("/schedules/{schedule_id}/runs", status_code=202)
def trigger_run(
    schedule_id: str, p: PrincipalDep, ctx: CtxDep, body: TriggerRun | None = None
) -> JSONResponse:
    return JSONResponse(qs.trigger_run(ctx, scope_of(p), schedule_id), status_code=202)


@router.get("/schedules/{schedule_id}/runs/{run_id}")
def get_run(schedule_id: str, run_id: str, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    with ctx.db.session() as s:
        return qs.get_run(s, scope_of(p), schedule_id, run_id)


@router.patch("/schedules/{schedule_id}/runs/{run_id}", status_code=202)
def cancel_run(schedule_id: str, run_id: str, body: RunPatch, p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
    return JSONResponse(qs.cancel_run(ctx, scope_of(p), schedule_id, run_id), status_code=202)
