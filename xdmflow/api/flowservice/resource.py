"""A router factory for the Flow Service's plain resources (list / create / get / patch / delete)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from xdmflow.api.deps import CtxDep, PrincipalDep, allow_query, json_body, on_db, scope_of
from xdmflow.api.models import JsonPatch
from xdmflow.errors import XdmflowError
from xdmflow.services.identity import Principal
from xdmflow.services.query import parse_list_query
from xdmflow.services.resource_docs import LIST_PARAMS, items, list_documents, require_if_match
from xdmflow.store.documents import DocumentStore
from xdmflow.store.tables import Document

__all__ = ["resource_router", "is_lookup"]

Create = Callable[[Session, Principal, Any], dict[str, Any]]
Patch = Callable[[Session, Principal, DocumentStore, str, Any, str], dict[str, Any]]
Delete = Callable[[Session, Principal, DocumentStore, str], None]
View = Callable[[Document], dict[str, Any]]


def is_lookup(params: Sequence[tuple[str, str]], parent_field: str | None) -> bool:
    """Whether a list request names its documents by id or parent (``property=id==…``,
    ``property=flowId==…``): an index lookup of a few rows, a short read (:func:`on_db`). A list
    without one reads every document of the kind in the sandbox; a malformed query is refused
    by the list itself."""
    try:
        q = parse_list_query(params)
    except XdmflowError:
        return False
    return q.equality("id") is not None or (parent_field is not None and q.equality(parent_field) is not None)


def resource_router(
    name: str,
    store: DocumentStore,
    *,
    create: Create,
    patch: Patch,
    delete: Delete,
    view: View,
    create_model: type[BaseModel],
    patch_model: type[BaseModel] = JsonPatch,
    parent_field: str | None = None,
) -> APIRouter:
    """``/{name}`` with the Flow Service's list grammar, ``{id, etag}`` answers and If-Match.

    ``create_model`` / ``patch_model`` type the POST and PATCH bodies (validated, and declared
    in the OpenAPI document)."""
    # defaults, not annotations: these are local to the factory (annotations are strings here)
    create_body = json_body(create_model)
    patch_body = json_body(patch_model)
    router = APIRouter(prefix=f"/{name}", tags=[name])
    base = f"/data/foundation/flowservice/{name}"

    @router.get("", dependencies=[Depends(allow_query(*LIST_PARAMS, code="1451"))])
    async def list_all(request: Request, p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
        params = list(request.query_params.multi_items())

        def work() -> dict[str, Any]:
            with ctx.db.session() as s:
                return list_documents(s, scope_of(p), store, params, base, parent_field=parent_field)

        out = await on_db(ctx, work, short=is_lookup(params, parent_field))
        return JSONResponse(out)  # stored JSON: no re-encoding pass

    @router.post("", status_code=201)
    def create_one(p: PrincipalDep, ctx: CtxDep, body: Any = create_body) -> JSONResponse:
        with ctx.db.session() as s:
            out = create(s, p, body)
        return JSONResponse(out, 201, headers={"Location": f"{base}/{out['id']}"})

    @router.get("/{doc_id}", dependencies=[Depends(allow_query(code="1451"))])
    async def get_one(doc_id: str, p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
        def work() -> dict[str, Any]:
            with ctx.db.session() as s:
                return items(view(store.get(s, scope_of(p), doc_id)))

        return JSONResponse(await on_db(ctx, work))  # one read: no thread-pool hop on SQLite

    @router.patch("/{doc_id}")
    def patch_one(
        doc_id: str,
        p: PrincipalDep,
        ctx: CtxDep,
        if_match: Annotated[str | None, Header(alias="If-Match")] = None,
        body: Any = patch_body,
    ) -> dict[str, Any]:
        tag = require_if_match(if_match)
        with ctx.db.session() as s:
            return patch(s, p, store, doc_id, body, tag)

    @router.delete("/{doc_id}", status_code=204)
    def delete_one(doc_id: str, p: PrincipalDep, ctx: CtxDep) -> Response:
        with ctx.db.session() as s:
            delete(s, p, store, doc_id)
        return Response(status_code=204)

    return router
