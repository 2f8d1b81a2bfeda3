"""The Query Service API (``/data/foundation/query``, openapi/query-service.yaml): queries, the
PostgreSQL connection parameters, and (:mod:`.schedules`) query templates and schedules."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from xdmflow.api.deps import CtxDep, PrincipalDep, allow_query, scope_of
from xdmflow.api.query import schedules
from xdmflow.errors import BadRequestError
from xdmflow.services import queries, query_schedules

router = APIRouter(prefix="/data/foundation/query", tags=["query"])
router.include_router(schedules.router)


class QueryRequest(BaseModel):
    """``POST /queries``: the SQL to run and where."""

    model_config = ConfigDict(extra="forbid")

    dbName: str | None = Field(default=None, description="`{sandbox}:all` (the request's sandbox).")
    sql: str | None = Field(
        default=None,
        min_length=1,
        description="One statement: SELECT, CREATE TABLE … AS SELECT, INSERT INTO … SELECT.",
    )
    templateId: str | None = Field(default=None, description="Run this query template instead of `sql`.")
    queryParameters: dict[str, str] | None = Field(
        default=None, description="Values of the `$name` placeholders (over the template's defaults)."
    )
    name: str | None = Field(default=None, max_length=512)
    description: str | None = None


class QueryPatch(BaseModel):
    """``PATCH /queries/{id}``: ``{"op": "cancel"}``."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["cancel"]


@router.post("/queries", status_code=202)
def create_query(body: QueryRequest, p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
    if (body.sql is None) == (body.templateId is None):
        raise BadRequestError("Give either 'sql' or 'templateId'")
    name = body.name
    if body.templateId is not None:
        with ctx.db.session() as s:
            sql, template_name = query_schedules.template_sql(
                s, scope_of(p), body.templateId, body.queryParameters
            )
        name = name or template_name
    else:
        assert body.sql is not None
        sql = query_schedules.render_template(body.sql, body.queryParameters or {})
    out = queries.submit_query(ctx, p, sql=sql, db_name=body.dbName, name=name, description=body.description)
    return JSONResponse(out, status_code=202)


@router.get(
    "/queries",
    dependencies=[
        Depends(allow_query("limit", "start", "orderby", "property", "excludeSoftDeleted", "excludeHidden"))
    ],
)
def list_queries(request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    with ctx.db.session() as s:
        return queries.list_queries(s, scope_of(p), list(request.query_params.multi_items()))


@router.get("/queries/{query_id}")
def get_query(query_id: str, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    with ctx.db.session() as s:
        return queries.get_query(s, scope_of(p), query_id)


@router.patch("/queries/{query_id}")
def patch_query(query_id: str, body: QueryPatch, p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
    out = queries.cancel_query(ctx, scope_of(p), query_id)
    return JSONResponse(
        {"message": "Query cancel request received", "statusCode": 202, **{"query": out}}, status_code=202
    )


@router.get("/connection_parameters")
def connection_parameters(request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    """What a PostgreSQL client needs: host, port, user (org id), a token (the caller's), database."""
    port = ctx.pg_port  # 0: the PostgreSQL port is not open
    host = request.url.hostname or "127.0.0.1"
    token = request.headers.get("authorization", "").partition(" ")[2]
    return {
        "host": host,
        "port": port,
        "username": p.org_id,
        "token": token,
        "dbName": f"{p.sandbox_name}:all",
        "version": "1",
        "enabled": bool(port),
        "psql": f'psql "host={host} port={port} dbname={p.sandbox_name}:all user={p.org_id} sslmode=prefer"',
    }
