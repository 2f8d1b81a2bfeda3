"""The claim a worker thread holds on the run it executes — a fence checked before the lake commit.

A worker claims a run by a compare-and-swap on ``run_queue`` (``claimed_by`` = its id) and
heartbeats it. If the worker stalls longer than the stale limit (a long pause, a network
partition), another worker recovers the run: fails it and queues a retry. The stalled worker
must then not commit its batch too. :func:`executing` records the claim of the current thread
(a context variable); :func:`ensure_claim_held` — called just before the lake commit — raises
when the row is no longer ``running`` under this worker's id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import select

from xdmflow.errors import ConflictError
from xdmflow.store.db import Database
from xdmflow.store.tables import RunQueue

__all__ = ["ClaimLostError", "executing", "claim_held", "ensure_claim_held"]

_CURRENT: ContextVar[tuple[str, str] | None] = ContextVar("xdmflow_run_claim", default=None)


class ClaimLostError(ConflictError):
    """This worker no longer holds the run (another worker recovered it)."""


@contextmanager
def executing(run_id: str, worker_id: str) -> Iterator[None]:
    """Mark the current thread as executing ``run_id`` under ``worker_id``'s claim."""
    token = _CURRENT.set((run_id, worker_id))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def claim_held(db: Database, run_id: str) -> bool:
    """Whether the current thread still holds ``run_id`` (``True`` when not run by a worker)."""
    current = _CURRENT.get()
    if current is None or current[0] != run_id:
        return True
    with db.session() as s:
        row = s.execute(
            select(RunQueue.status, RunQueue.claimed_by).where(RunQueue.run_id == run_id)
        ).one_or_none()
    return row is not None and row.status == "running" and row.claimed_by == current[1]


def ensure_claim_held(db: Database, run_id: str) -> None:
    """Raise :class:`ClaimLostError` if another worker took ``run_id`` over."""
    if not claim_held(db, run_id):
        raise ClaimLostError(
            f"Run {run_id} was taken over by another worker after this one stopped heartbeating; "
            "its batch is not committed."
        )
