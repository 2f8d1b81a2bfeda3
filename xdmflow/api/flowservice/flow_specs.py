"""``/flowSpecs``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from xdmflow.api.deps import allow_query
from xdmflow.services import flowspecs

router = APIRouter(prefix="/flowSpecs", tags=["flowSpecs"])


@router.get("", dependencies=[Depends(allow_query("property", code="1451"))])
def list_flow_specs(request: Request) -> dict[str, Any]:
    return flowspecs.list_flow_specs(list(request.query_params.multi_items()))


@router.get("/{spec_id}")
def get_flow_spec(spec_id: str) -> dict[str, Any]:
    return {"items": [flowspecs.get_flow_spec(spec_id)]}
