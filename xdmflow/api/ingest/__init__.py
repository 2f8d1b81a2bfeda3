"""Batch Ingestion routes (``/data/foundation/import``): batches, streamed file uploads, preview."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from xdmflow.api.deps import CtxDep, PrincipalDep, allow_query, json_body
from xdmflow.api.models.ingest import BatchCreate
from xdmflow.errors import BadRequestError, UnsupportedMediaTypeError
from xdmflow.services import ingest as svc
from xdmflow.services.context import AppContext
from xdmflow.services.identity import Principal
from xdmflow.services.ingest.preview import batch_preview

__all__ = ["router"]

router = APIRouter(prefix="/data/foundation/import", tags=["batch ingestion"])
FILE_PATH = "/batches/{batch_id}/datasets/{dataset_id}/files/{file_path:path}"
#: The binary body of a file upload, declared in the OpenAPI document (it is streamed, not parsed).
BINARY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _uploads(ctx: AppContext) -> svc.Uploads:
    return svc.Uploads.from_settings(ctx.settings)


def _check_binary(request: Request) -> None:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/octet-stream":
        raise UnsupportedMediaTypeError("File uploads must be sent as Content-Type: application/octet-stream")


def _target(ctx: AppContext, p: Principal, batch_id: str, dataset_id: str) -> None:
    with ctx.db.session() as s:
        svc.upload_target(s, p, batch_id, dataset_id)


@router.post("/batches", status_code=201, dependencies=[Depends(allow_query())])
def create_batch(body: Annotated[Any, json_body(BatchCreate)], p: PrincipalDep, ctx: CtxDep) -> JSONResponse:
    """Create a batch in ``loading`` status."""
    with ctx.db.session() as s:
        out = svc.create_batch(s, p, body)
    return JSONResponse(out, 201)


@router.put(FILE_PATH, dependencies=[Depends(allow_query())], openapi_extra=BINARY_BODY)
async def upload_file(
    batch_id: str, dataset_id: str, file_path: str, request: Request, p: PrincipalDep, ctx: CtxDep
) -> Response:
    """Upload a whole file, streamed to disk (never held in memory)."""
    _check_binary(request)
    await run_in_threadpool(_target, ctx, p, batch_id, dataset_id)
    _, existed = await _uploads(ctx).write(batch_id, file_path, request.stream())
    return Response(status_code=200 if existed else 201)


@router.post(FILE_PATH, dependencies=[Depends(allow_query("action"))])
def file_action(
    batch_id: str, dataset_id: str, file_path: str, request: Request, p: PrincipalDep, ctx: CtxDep
) -> JSONResponse:
    """Large files: ``?action=INITIALIZE`` starts one, ``?action=COMPLETE`` stitches it."""
    action = request.query_params.get("action", "").upper()
    _target(ctx, p, batch_id, dataset_id)
    uploads = _uploads(ctx)
    if action == "INITIALIZE":
        uploads.initialize(batch_id, file_path)
        return JSONResponse({"name": file_path, "sizeInBytes": 0}, 201)
    if action == "COMPLETE":
        size = uploads.complete(batch_id, file_path)
        return JSONResponse({"name": file_path, "sizeInBytes": size}, 201)
    raise BadRequestError("Invalid action: use ?action=INITIALIZE or ?action=COMPLETE for a file")


@router.patch(FILE_PATH, dependencies=[Depends(allow_query())], openapi_extra=BINARY_BODY)
async def upload_part(
    batch_id: str, dataset_id: str, file_path: str, request: Request, p: PrincipalDep, ctx: CtxDep
) -> JSONResponse:
    """One chunk of a large file at its ``Content-Range``."""
    _check_binary(request)
    start, end = svc.parse_content_range(request.headers.get("content-range"))
    await run_in_threadpool(_target, ctx, p, batch_id, dataset_id)
    uploads = _uploads(ctx)
    await uploads.write_part(batch_id, file_path, start, end, request.stream())
    received = uploads.received(batch_id, file_path)
    headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
    return JSONResponse({"name": file_path, "sizeInBytes": received}, 200, headers=headers)


@router.head(FILE_PATH)
def upload_status(batch_id: str, dataset_id: str, file_path: str, p: PrincipalDep, ctx: CtxDep) -> Response:
    """How much of a file has arrived (``Range: bytes=0-N``)."""
    with ctx.db.session() as s:
        svc.batch_of_dataset(s, p, batch_id, dataset_id)
    received = _uploads(ctx).received(batch_id, file_path)
    headers = {"Range": f"bytes=0-{received - 1}" if received else "bytes=0-0", "Content-Length": "0"}
    return Response(status_code=200, headers=headers)


@router.post("/batches/{batch_id}", dependencies=[Depends(allow_query("action"))])
def batch_action(batch_id: str, request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    """``?action=COMPLETE|ABORT|FAIL`` (any case)."""
    action = request.query_params.get("action")
    if not action:
        raise BadRequestError("?action= is required: COMPLETE, ABORT or FAIL")
    return svc.batch_action(ctx.db, ctx.lake, ctx.diagnostics, _uploads(ctx), p, batch_id, action)


@router.get("/batches/{batch_id}/datasets/{dataset_id}/preview")
def preview(batch_id: str, dataset_id: str, request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    """The first rows of the files uploaded so far."""
    with ctx.db.session() as s:
        return batch_preview(s, p, _uploads(ctx), batch_id, dataset_id, dict(request.query_params))
