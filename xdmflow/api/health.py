"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from xdmflow import __version__
from xdmflow.api.deps import CtxDep
from xdmflow.store.migrate import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, Any]:
    """Liveness: the process answers (on the event loop itself: no thread-pool hop to wait for)."""
    return {"status": "ok", "version": __version__}


@router.get("/ready")
def ready(ctx: CtxDep) -> JSONResponse:
    """Readiness: the metadata store answers and its schema is at the newest migration."""
    try:
        with ctx.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current, head = current_revision(ctx.db.engine), head_revision()
    except Exception as exc:  # report, never raise: readiness must answer
        return JSONResponse({"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"}, 503)
    if current != head:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": "ok",
                "migrations": {"current": current, "head": head},
                "hint": "run `xdmflow db upgrade`",
            },
            503,
        )
    return JSONResponse(
        {"status": "ready", "database": "ok", "migrations": {"current": current, "head": head}}
    )
