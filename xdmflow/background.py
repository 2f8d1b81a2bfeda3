"""Background loops of a service process: the scheduler and the run worker, per role."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from xdmflow.runs.queue import QueueLimits
from xdmflow.runs.worker import Worker
from xdmflow.scheduler.loop import SchedulerLoop
from xdmflow.services.context import AppContext
from xdmflow.services.lake_maintenance import maintain_lake
from xdmflow.services.query_schedules import fire_query_schedules

__all__ = ["background_hooks", "start_worker", "start_scheduler"]

Hook = Callable[[AppContext], Any]


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
    ctx.extras["scheduler"] = loop
    return loop


def start_worker(ctx: AppContext, **kw: Any) -> Worker:
    from xdmflow.runs.execute import execute_run, recover_run

    worker = Worker(
        ctx.db,
        functools.partial(execute_run, ctx),
        functools.partial(recover_run, ctx),
        slots=ctx.settings.workers,
        heartbeat_interval=ctx.settings.heartbeat_seconds,
        stale_after=ctx.settings.run_stale_seconds,
        **kw,
    )
    worker.start()
    ctx.extras["worker"] = worker
    return worker


def _stop(ctx: AppContext) -> None:
    for key in ("worker", "scheduler"):
        loop = ctx.extras.pop(key, None)
        if loop is not None:
            loop.stop()


def background_hooks(role: str) -> tuple[list[Hook], list[Hook]]:
    """(start hooks, stop hooks) for ``role`` (``api`` runs no background loop)."""
    start: list[Hook] = []
    if role in ("scheduler", "all"):
        start.append(start_scheduler)
    if role in ("worker", "all"):
        start.append(lambda ctx: start_worker(ctx))
    return start, [_stop]
