"""Background loops of a service process: the scheduler and the run worker, per role."""

from __future__ import annotations

import functools
from typing import Any

from xdmflow.runs.execute import ContextRuns
from xdmflow.runs.queue import QueueLimits
from xdmflow.runs.worker import Worker
from xdmflow.scheduler.loop import SchedulerLoop
from xdmflow.services.context import AppContext
from xdmflow.services.lake_maintenance import maintain_lake
from xdmflow.services.query_schedules import fire_query_schedules

__all__ = ["Background", "start_worker", "start_scheduler"]


def start_scheduler(ctx: AppContext) -> SchedulerLoop:
    loop = SchedulerLoop(
        ctx.db,
        ctx.settings.scheduler_interval_seconds,
        lease_seconds=ctx.settings.scheduler_lease_seconds,
        limits=QueueLimits.from_settings(ctx.settings),
        maintenance=lambda: maintain_lake(ctx.settings, ctx.db, ctx.lake),
        maintenance_interval=ctx.settings.lake_maintenance_interval_seconds,
        queries=functools.partial(fire_query_schedules, ctx),
    )
    loop.start()
    return loop


def start_worker(ctx: AppContext, **kw: Any) -> Worker:
    worker = Worker(
        ctx.db,
        ContextRuns(ctx),
        slots=ctx.settings.workers,
        heartbeat_interval=ctx.settings.heartbeat_seconds,
        stale_after=ctx.settings.run_stale_seconds,
        **kw,
    )
    worker.start()
    return worker


class Background:
    """The loops ``role`` runs (``api`` runs none), started and stopped with the app."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.scheduler: SchedulerLoop | None = None
        self.worker: Worker | None = None

    def start(self, ctx: AppContext) -> None:
        if self.role in ("scheduler", "all"):
            self.scheduler = start_scheduler(ctx)
        if self.role in ("worker", "all"):
            self.worker = start_worker(ctx)

    def stop(self, ctx: AppContext) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.stop()
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            scheduler.stop()
