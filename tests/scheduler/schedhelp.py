"""Helpers of the scheduler tests: a flow's schedule row as the Flow Service stores it."""

from __future__ import annotations

from xdmflow.firetimes import Schedule
from xdmflow.store.documents import Scope
from xdmflow.store.tables import FlowSchedule


def schedule_row(scope: Scope, flow_id: str, schedule: Schedule, *, enabled: bool = True) -> FlowSchedule:
    """The schedule row of a flow that never fired (its first fire is the schedule's start)."""
    return FlowSchedule(
        flow_id=flow_id,
        org_id=scope.org_id,
        sandbox_name=scope.sandbox_name,
        enabled=enabled,
        frequency=schedule.frequency,
        interval=schedule.interval,
        start_time=schedule.start_time,
        backfill=schedule.backfill,
        next_fire=schedule.start_time,
        last_fired=None,
    )
