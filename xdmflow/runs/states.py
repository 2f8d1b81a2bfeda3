"""The one state machine of a run.

A run is a document (its ``state`` is what the Flow Service shows) and a row of ``run_queue``
(its ``status`` is what workers claim). They are two projections of one lifecycle, defined
here once; every other module of :mod:`xdmflow.runs` uses these names::

    QUEUED ──claim──> RUNNING ──pipeline + finalize──> SUCCESS | FAILED
      │                  │
      │                  └─worker dies (stale heartbeat / dead pid)──> RECOVERING ──> SUCCESS | FAILED
      └─queue full (scheduled fire)──> SKIPPED

``QUEUED``: document ``scheduled``, queue ``queued``. ``RUNNING``/``RECOVERING``: document
``inProgress`` (``scheduled`` until the worker marks it), queue ``running``/``recovering`` —
the two *held* statuses, of which a flow has at most one (a unique partial index of
``run_queue``). ``SUCCESS``/``FAILED``: document ``success``/``failed``, queue ``done``.
``SKIPPED`` (a scheduled fire refused by the queue bound): document ``failed`` with the reason,
never queued.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["QueueStatus", "RunState", "HELD", "FINISHED", "TRANSITIONS", "can_move"]


class QueueStatus(StrEnum):
    """``run_queue.status``."""

    QUEUED = "queued"
    RUNNING = "running"
    RECOVERING = "recovering"
    DONE = "done"


class RunState(StrEnum):
    """The run document's ``state`` (platform values)."""

    SCHEDULED = "scheduled"
    IN_PROGRESS = "inProgress"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: Queue statuses under which some worker holds the run (executing it, or recovering it).
HELD: tuple[str, ...] = (QueueStatus.RUNNING, QueueStatus.RECOVERING)
#: Document states of a finished run (it may be re-triggered).
FINISHED: tuple[str, ...] = (RunState.SUCCESS, RunState.FAILED, RunState.CANCELLED)

#: Allowed moves of the run document's state.
TRANSITIONS: dict[str, frozenset[str]] = {
    RunState.SCHEDULED: frozenset({RunState.IN_PROGRESS, RunState.SUCCESS, RunState.FAILED}),
    RunState.IN_PROGRESS: frozenset({RunState.SUCCESS, RunState.FAILED}),
    RunState.SUCCESS: frozenset(),
    RunState.FAILED: frozenset(),
    RunState.CANCELLED: frozenset(),
}


def can_move(current: str | None, new: str) -> bool:
    """Whether a run document in ``current`` may move to ``new``."""
    return new in TRANSITIONS.get(current or RunState.SCHEDULED, frozenset())
