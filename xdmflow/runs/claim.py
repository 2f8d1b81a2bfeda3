"""Claims on queued runs: who executes a run, proven by a row of ``run_queue``.

A worker claims a run by a compare-and-swap on ``run_queue`` (``status='queued'`` → ``running``,
``claimed_by`` = its id), so several workers — threads of one process or processes on several
machines sharing one PostgreSQL — never execute a run twice; on PostgreSQL the candidate is
picked with ``FOR UPDATE SKIP LOCKED``, so claimers do not wait on each other.

The claim is an explicit :class:`Claim` object handed to the code that executes the run and
down to the lake commit: if the worker stalled longer than the stale limit (a long pause, a
network partition), another worker recovered the run (failed it, queued a retry) and the
stalled worker must not commit its batch too. :meth:`Claim.ensure_held` — called just before
the lake commit — raises :class:`ClaimLostError` when the row is no longer held by this claim.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from xdmflow.errors import ConflictError
from xdmflow.ids import holder_id, now_ms
from xdmflow.runs.states import HELD, QueueStatus
from xdmflow.store.db import Database
from xdmflow.store.tables import RunQueue

__all__ = [
    "Claim",
    "ClaimLostError",
    "claim_next",
    "heartbeat",
    "finish",
    "stale_runs",
    "dead_holder_runs",
    "holder_gone",
    "worker_holder_id",
    "register_holder",
    "unregister_holder",
]

#: Holder ids of the workers alive in this process (a dead one's runs can be recovered at once).
_LIVE_HOLDERS: set[str] = set()
_LIVE_LOCK = threading.Lock()


@functools.cache
def _machine_tag() -> str:
    """Which kernel and pid namespace this process lives in (pids are only comparable inside one)."""
    parts = []
    for path in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        try:
            parts.append(os.readlink(path) if path.endswith("/pid") else Path(path).read_text().strip())
        except OSError:
            parts.append("?")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def worker_holder_id() -> str:
    """``host:pid:random:machine`` — a worker's claim holder id, from which a worker on the same
    machine can tell that the holder's process is gone."""
    return f"{holder_id()}:{_machine_tag()}"


def register_holder(worker_id: str) -> None:
    with _LIVE_LOCK:
        _LIVE_HOLDERS.add(worker_id)


def unregister_holder(worker_id: str) -> None:
    with _LIVE_LOCK:
        _LIVE_HOLDERS.discard(worker_id)


def holder_gone(holder: str | None) -> bool:
    """Whether ``holder`` is a worker of a process on this machine that no longer exists.

    Only holders of :func:`worker_holder_id`'s form on this host, kernel boot and pid namespace
    qualify; anything else (another machine, an unknown format) is left to the stale limit.
    A holder with this process's own pid that is not one of its live workers is a previous
    incarnation whose pid was reused after a restart (pid 1 in a container).
    """
    parts = (holder or "").split(":")
    if len(parts) != 4 or parts[0] != socket.gethostname() or parts[3] != _machine_tag():
        return False
    with _LIVE_LOCK:
        if holder in _LIVE_HOLDERS:
            return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by another user
        return False
    return False


class ClaimLostError(ConflictError):
    """This worker no longer holds the run (another worker recovered it)."""


@dataclass(frozen=True)
class Claim:
    """``worker_id``'s hold on ``run_id`` (to execute it, or to recover it)."""

    db: Database
    run_id: str
    worker_id: str

    def held(self) -> bool:
        """Whether the queue row is still held (executing or recovering) under this claim."""
        with self.db.session() as s:
            row = s.execute(
                select(RunQueue.status, RunQueue.claimed_by).where(RunQueue.run_id == self.run_id)
            ).one_or_none()
        return row is not None and row.status in HELD and row.claimed_by == self.worker_id

    def ensure_held(self) -> None:
        """Raise :class:`ClaimLostError` if another worker took the run over."""
        if not self.held():
            raise ClaimLostError(
                f"Run {self.run_id} was taken over by another worker after this one stopped "
                "heartbeating; its batch is not committed."
            )


def claim_next(db: Database, worker_id: str, *, attempts: int = 5) -> Claim | None:
    """Claim the oldest queued run of a flow that has no held run; ``None`` when there is none.

    One run of a flow at a time: a flow's queued runs wait behind its held one, and the store
    enforces it (the unique partial index ``uq_run_queue_held_flow``): when two workers race for
    runs of one flow, the loser's update fails and it tries the next candidate.
    """
    for _ in range(max(1, attempts)):
        try:
            with db.session() as s:
                run_id = s.scalar(_candidate(db))
                if run_id is None:
                    return None
                res = s.execute(
                    update(RunQueue)
                    .where(RunQueue.run_id == run_id, RunQueue.status == QueueStatus.QUEUED)
                    .values(
                        status=QueueStatus.RUNNING,
                        claimed_by=worker_id,
                        heartbeat_at=now_ms(),
                        attempts=RunQueue.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                if getattr(res, "rowcount", 1) == 1:
                    return Claim(db, str(run_id), worker_id)
        except IntegrityError:  # another worker just claimed a run of this flow
            continue
    return None


def _candidate(db: Database) -> Select[str]:
    other = aliased(RunQueue)
    held = select(other.run_id).where(other.flow_id == RunQueue.flow_id, other.status.in_(HELD))
    earlier = select(other.run_id).where(
        other.flow_id == RunQueue.flow_id,
        other.status == QueueStatus.QUEUED,
        other.created_at < RunQueue.created_at,
    )
    q = (
        select(RunQueue.run_id)
        .where(
            RunQueue.status == QueueStatus.QUEUED,
            RunQueue.not_before <= now_ms(),
            ~held.exists(),
            ~earlier.exists(),
        )
        .order_by(RunQueue.created_at)
        .limit(1)
    )
    if not db.is_sqlite:
        q = q.with_for_update(skip_locked=True, of=RunQueue)
    return q


def heartbeat(claim: Claim) -> bool:
    """Refresh the claim's heartbeat; ``False`` when the claim is lost."""
    with claim.db.session() as s:
        res = s.execute(
            update(RunQueue)
            .where(
                RunQueue.run_id == claim.run_id,
                RunQueue.claimed_by == claim.worker_id,
                RunQueue.status.in_(HELD),
            )
            .values(heartbeat_at=now_ms())
            .execution_options(synchronize_session=False)
        )
        return getattr(res, "rowcount", 1) == 1


def finish(db: Database, run_id: str, worker_id: str | None = None) -> bool:
    """Mark the run done (only while ``worker_id`` holds it, when given); ``True`` if marked."""
    cond = [RunQueue.run_id == run_id]
    if worker_id is not None:
        cond.append(RunQueue.claimed_by == worker_id)
    with db.session() as s:
        res = s.execute(
            update(RunQueue)
            .where(*cond)
            .values(status=QueueStatus.DONE)
            .execution_options(synchronize_session=False)
        )
        return getattr(res, "rowcount", 1) == 1


def stale_runs(db: Database, stale_after_ms: int, worker_id: str = "recovery") -> list[Claim]:
    """Runs whose worker stopped heartbeating, taken over atomically by ``worker_id`` for recovery.

    ``recovering`` rows count too: a worker that died while recovering is replaced the same way.
    """
    limit = now_ms() - stale_after_ms
    out = []
    with db.session() as s:
        ids = list(
            s.scalars(select(RunQueue.run_id).where(RunQueue.status.in_(HELD), RunQueue.heartbeat_at < limit))
        )
    for run_id in ids:
        with db.session() as s:
            res = s.execute(
                update(RunQueue)
                .where(
                    RunQueue.run_id == run_id,
                    RunQueue.status.in_(HELD),
                    RunQueue.heartbeat_at < limit,
                )
                .values(status=QueueStatus.RECOVERING, claimed_by=worker_id, heartbeat_at=now_ms())
                .execution_options(synchronize_session=False)
            )
            if getattr(res, "rowcount", 1) == 1:
                out.append(Claim(db, str(run_id), worker_id))
    return out


def dead_holder_runs(db: Database, worker_id: str) -> list[Claim]:
    """Held runs whose holder's process is gone (see :func:`holder_gone`), taken over at once by
    ``worker_id`` for recovery — a restarted sole worker does not wait out the stale limit."""
    with db.session() as s:
        rows = list(s.execute(select(RunQueue.run_id, RunQueue.claimed_by).where(RunQueue.status.in_(HELD))))
    out = []
    for run_id, holder in rows:
        if holder == worker_id or not holder_gone(holder):
            continue
        with db.session() as s:
            res = s.execute(
                update(RunQueue)
                .where(RunQueue.run_id == run_id, RunQueue.status.in_(HELD), RunQueue.claimed_by == holder)
                .values(status=QueueStatus.RECOVERING, claimed_by=worker_id, heartbeat_at=now_ms())
                .execution_options(synchronize_session=False)
            )
            if getattr(res, "rowcount", 1) == 1:
                out.append(Claim(db, str(run_id), worker_id))
    return out
