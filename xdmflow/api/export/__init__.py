"""Data Access routes (``/data/foundation/export``): diagnostics, batch files, downloads, preview."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse, StreamingResponse

from xdmflow.api.deps import CtxDep, PrincipalDep, allow_query, scope_of
from xdmflow.services.ingest import Uploads
from xdmflow.services.ingest import export as svc
from xdmflow.services.ingest.preview import dataset_preview

__all__ = ["router"]

router = APIRouter(prefix=svc.EXPORT, tags=["data access"])
JSON_LINES = "application/x-ndjson"
PAGING = ("start", "limit")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/batches/{batch_id}/meta", dependencies=[Depends(allow_query(*PAGING, "path"))])
def batch_meta(batch_id: str, request: Request, p: PrincipalDep, ctx: CtxDep) -> Any:
    """Diagnostics of a batch: listings, or one file as JSON Lines."""
    with ctx.db.session() as s:
        out = svc.batch_meta(
            s, scope_of(p), ctx.diagnostics, _base(request), batch_id, dict(request.query_params)
        )
    if isinstance(out, bytes):
        return Response(out, media_type=JSON_LINES)
    return out


@router.get("/batches/{batch_id}/failed", dependencies=[Depends(allow_query(*PAGING, "path"))])
def batch_failed(batch_id: str, request: Request, p: PrincipalDep, ctx: CtxDep) -> Any:
    """Input files of a failed batch (``?path=`` downloads one)."""
    uploads = Uploads.from_settings(ctx.settings)
    with ctx.db.session() as s:
        out = svc.batch_failed(s, scope_of(p), uploads, _base(request), batch_id, dict(request.query_params))
    if isinstance(out, str):
        return FileResponse(out, media_type="application/octet-stream")
    return out


@router.get("/batches/{batch_id}/files", dependencies=[Depends(allow_query(*PAGING))])
def batch_files(batch_id: str, request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    """The data files a batch committed."""
    with ctx.db.session() as s:
        return svc.batch_files(s, scope_of(p), _base(request), batch_id, dict(request.query_params))


@router.get("/files/{file_id}", dependencies=[Depends(allow_query(*PAGING, "path"))])
def get_file(file_id: str, request: Request, p: PrincipalDep, ctx: CtxDep) -> Any:
    """A dataset file: its listing, or (with ``?path=`` or a ``Range``) its bytes; Range → 206."""
    path = request.query_params.get("path")
    rng = request.headers.get("range")
    with ctx.db.session() as s:
        if not path and not rng:
            return svc.file_listing(s, scope_of(p), _base(request), file_id, dict(request.query_params))
        location, name, size = svc.file_location(s, scope_of(p), file_id, path)
    span = svc.byte_range(rng, size)
    headers = {"Accept-Ranges": "bytes", "Content-Disposition": f'attachment; filename="{name}"'}
    if span is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(
            svc.iter_file(location), media_type="application/octet-stream", headers=headers
        )
    start, end = span
    headers.update({"Content-Range": f"bytes {start}-{end}/{size}", "Content-Length": str(end - start + 1)})
    return StreamingResponse(
        svc.iter_file(location, start, end),
        status_code=206,
        media_type="application/octet-stream",
        headers=headers,
    )


@router.head("/files/{file_id}")
def head_file(file_id: str, request: Request, p: PrincipalDep, ctx: CtxDep) -> Response:
    """Size and type of a dataset file."""
    with ctx.db.session() as s:
        _, _, size = svc.file_location(s, scope_of(p), file_id, request.query_params.get("path"))
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(size),
        "Content-Type": "application/octet-stream",
    }
    return Response(status_code=200, headers=headers)


@router.get("/datasets/{dataset_id}/preview", dependencies=[Depends(allow_query("limit"))])
def preview_dataset(dataset_id: str, request: Request, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    """The first rows of a dataset (``limit``, default 100)."""
    with ctx.db.session() as s:
        return dataset_preview(s, scope_of(p), ctx.lake, dataset_id, dict(request.query_params))
