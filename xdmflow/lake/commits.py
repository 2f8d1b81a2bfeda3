"""What the lake's commit paths share: which commit failures are worth a retry, and finding the
snapshot a commit left by a property of its summary (a batch id, a compaction id)."""

from __future__ import annotations

from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot
from sqlalchemy.exc import OperationalError

__all__ = ["find_snapshot", "is_retriable"]


def is_retriable(exc: BaseException) -> bool:
    """A commit lost a race (another writer committed first) and may simply be tried again."""
    if isinstance(exc, CommitFailedException):
        return True
    # SQLite: a concurrent writer holds the lock past the busy timeout.
    return isinstance(exc, OperationalError) and "locked" in str(exc).lower()


def find_snapshot(table: Table, prop: str, value: str) -> Snapshot | None:
    """The table's snapshot whose summary has ``prop`` = ``value`` (``None``: none has)."""
    for snap in table.metadata.snapshots:
        if snap.summary is not None and snap.summary[prop] == value:
            return snap
    return None
