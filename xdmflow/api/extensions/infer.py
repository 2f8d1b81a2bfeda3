"""``POST /xdmflow/v1/infer``: propose an XDM schema (and mappings) for an explorable object."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from xdmflow.api.deps import CtxDep, PrincipalDep
from xdmflow.services import inference

router = APIRouter()


class InferRequest(BaseModel):
    """What to sample: an object (file, folder, table) of a base connection."""

    model_config = ConfigDict(extra="forbid")

    connectionId: str = Field(min_length=1, description="The base connection to explore.")
    object: str = Field(min_length=1, description="A file, folder or pattern, or a table name.")
    options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Explore options (fileType, columnDelimiter, encoding...)."
    )
    title: str | None = Field(default=None, description="Title of the proposed schema.")
    sampleRows: int = Field(default=1000, ge=1, le=100_000)
    tolerance: float = Field(
        default=0.1, ge=0, lt=1, description="Share of sample values allowed not to fit a typed column."
    )
    schemaId: str | None = Field(default=None, description="Also propose mappings onto this schema.")


@router.post("/infer")
def infer(body: InferRequest, p: PrincipalDep, ctx: CtxDep) -> dict[str, Any]:
    with ctx.db.session() as s:
        return inference.infer(
            s,
            p,
            ctx.keys,
            connection_id=body.connectionId,
            object=body.object,
            options=body.options,
            title=body.title,
            sample_rows=body.sampleRows,
            tolerance=body.tolerance,
            schema_id=body.schemaId,
        )
