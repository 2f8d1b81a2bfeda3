"""Flow Service bodies: connections, source/target connections, flows, runs."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from xdmflow.api.models.base import Body

__all__ = [
    "SpecRef",
    "Auth",
    "ConnectionCreate",
    "SourceConnectionCreate",
    "TargetConnectionCreate",
    "FlowCreate",
    "RunCreate",
]

Version = str | int | float


class SpecRef(Body):
    """``{id, version}`` of a connection spec or flow spec."""

    id: str
    version: Version | None = None


class Auth(Body):
    """``auth`` of a base connection: the auth spec's name and its parameters (secrets encrypted)."""

    spec_name: str | None = Field(default=None, alias="specName")
    params: dict[str, Any] | None = None


class ConnectionCreate(Body):
    """``POST /connections``: a base connection (credentials)."""

    name: str | None = None
    description: str | None = None
    auth: Auth | None = None
    connection_spec: SpecRef | None = Field(default=None, alias="connectionSpec")


class DataFormat(Body):
    """``data`` of a source/target connection: its format and optional schema."""

    format: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    properties: dict[str, Any] | None = None


class SourceConnectionCreate(Body):
    """``POST /sourceConnections``: what to read from a base connection."""

    name: str | None = None
    description: str | None = None
    base_connection_id: str | None = Field(default=None, alias="baseConnectionId")
    connection_spec: SpecRef | None = Field(default=None, alias="connectionSpec")
    data: DataFormat | None = None
    params: dict[str, Any] | None = None


class TargetConnectionCreate(Body):
    """``POST /targetConnections``: the dataset (and schema) a flow writes to."""

    name: str | None = None
    description: str | None = None
    base_connection_id: str | None = Field(default=None, alias="baseConnectionId")
    connection_spec: SpecRef | None = Field(default=None, alias="connectionSpec")
    data: DataFormat | None = None
    params: dict[str, Any] | None = None


class Transformation(Body):
    """One entry of a flow's ``transformations`` (``Mapping``, ``Copy``, ...)."""

    name: str
    params: dict[str, Any] | None = None


class ScheduleParams(Body):
    """A flow's schedule: start time (epoch seconds), frequency and interval."""

    start_time: int | str | None = Field(default=None, alias="startTime")
    frequency: str | None = None
    interval: int | str | None = None
    backfill: bool | str | None = None


class FlowCreate(Body):
    """``POST /flows``: source and target connections, transformations and schedule."""

    name: str | None = None
    description: str | None = None
    flow_spec: SpecRef | None = Field(default=None, alias="flowSpec")
    source_connection_ids: list[str] | None = Field(default=None, alias="sourceConnectionIds")
    target_connection_ids: list[str] | None = Field(default=None, alias="targetConnectionIds")
    transformations: list[Transformation] | None = None
    schedule_params: ScheduleParams | None = Field(default=None, alias="scheduleParams")


class RunParams(Body):
    """``params`` of an on-demand run: the window to read (epoch seconds)."""

    start_time: int | str | None = Field(default=None, alias="startTime")
    window_start_time: int | str | None = Field(default=None, alias="windowStartTime")
    window_end_time: int | str | None = Field(default=None, alias="windowEndTime")


class RunCreate(Body):
    """``POST /runs``: an on-demand run of a flow."""

    flow_id: str | None = Field(default=None, alias="flowId")
    params: RunParams | None = None
