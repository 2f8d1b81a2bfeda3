"""Request bodies of the Query Service's templates and schedules (openapi/query-service.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

__all__ = [
    "TemplateRequest",
    "ScheduleQuery",
    "ScheduleTiming",
    "ScheduleRequest",
    "SchedulePatchOp",
    "SchedulePatch",
    "RunPatch",
    "TriggerRun",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemplateRequest(_Strict):
    """``POST`` / ``PUT /query-templates``: a named statement with ``$name`` placeholders."""

    name: str = Field(min_length=1, max_length=512)
    sql: str = Field(min_length=1)
    queryParameters: dict[str, str] | None = Field(
        default=None, description="Default values of the template's `$name` placeholders."
    )


class ScheduleQuery(_Strict):
    """The query of a schedule: ``sql`` or ``templateId`` (with ``queryParameters``)."""

    dbName: str | None = Field(default=None, description="`{sandbox}:all` (the request's sandbox).")
    sql: str | None = None
    templateId: str | None = None
    queryParameters: dict[str, str] | None = None
    name: str | None = Field(default=None, max_length=512)
    description: str | None = None


class ScheduleTiming(_Strict):
    """When it fires: a 5-field cron expression (UTC) from ``startDate`` until ``endDate``."""

    schedule: str = Field(min_length=1, description="Cron: minute hour day-of-month month day-of-week.")
    startDate: str = Field(description="ISO 8601, e.g. `2026-01-08 12:30:00+00:00`.")
    endDate: str | None = None
    maxActiveRuns: int | None = Field(default=None, ge=1)


class ScheduleRequest(_Strict):
    """``POST /schedules``."""

    query: ScheduleQuery
    schedule: ScheduleTiming


class SchedulePatchOp(_Strict):
    """One operation: ``replace`` ``/state`` with ``enable`` | ``disable``, or ``/schedule/schedule``."""

    op: Literal["replace"]
    path: Literal["/state", "/schedule/schedule"]
    value: str


class _WrappedPatch(_Strict):
    body: list[SchedulePatchOp] = Field(min_length=1)


class SchedulePatch(RootModel[_WrappedPatch | list[SchedulePatchOp]]):
    """``PATCH /schedules/{id}``: ``{"body": [operations]}`` as the spec gives it (a bare array too)."""

    def ops(self) -> list[SchedulePatchOp]:
        root = self.root
        return root.body if isinstance(root, _WrappedPatch) else root


class RunPatch(_Strict):
    """``PATCH /schedules/{id}/runs/{runId}``: ``{"op": "cancel"}``."""

    op: Literal["cancel"]


class TriggerRun(_Strict):
    """``POST /schedules/{id}/runs``: no fields (the run starts now)."""
