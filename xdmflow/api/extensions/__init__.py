"""xdmflow's own endpoints, outside the platform's URL space: ``/xdmflow/v1``.

They need the same gateway headers as the platform's services and answer errors as
``application/problem+json``. ``infer.py``: ``POST /xdmflow/v1/infer`` (schema inference).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from xdmflow.api.deps import get_principal
from xdmflow.api.extensions import infer

PREFIX = "/xdmflow/v1"

router = APIRouter(prefix=PREFIX, dependencies=[Depends(get_principal)], tags=["xdmflow extensions"])
router.include_router(infer.router)
