"""``/connectionSpecs``: served from the connector registry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from xdmflow.api.deps import allow_query
from xdmflow.services import connections as svc

router = APIRouter(prefix="/connectionSpecs", tags=["connectionSpecs"])


@router.get("", dependencies=[Depends(allow_query("property", code="1451"))])
def list_specs(request: Request) -> dict[str, Any]:
    return svc.list_specs(list(request.query_params.multi_items()))


@router.get("/{spec_id}")
def get_spec(spec_id: str) -> dict[str, Any]:
    return svc.get_spec(spec_id)
