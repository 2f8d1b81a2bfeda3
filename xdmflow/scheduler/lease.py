"""Named leases in the metadata store: at most one holder of a role (e.g. ``scheduler``) at a time.

A lease is one row of ``leases`` (``name``, ``holder``, ``expires_at`` in epoch milliseconds).
:func:`acquire` is a compare-and-swap: the row is taken over only when it is free, expired or
already ours, and the update says whether it won. The first holder inserts the row; a racing
insert loses on the primary key. A holder renews well before ``expires_at``; when it stops
renewing (process killed, machine gone), another instance acquires the lease once it expires;
a holder that stops cleanly :func:`release`\\ s it so a standby takes over at its next attempt.

Expiry compares the clocks of different machines: keep them synchronised (NTP) and the TTL
much larger than the clock skew.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from xdmflow.store.db import Database
from xdmflow.store.tables import Lease

__all__ = ["acquire", "release", "holder_of"]


def acquire(db: Database, name: str, holder: str, *, ttl_ms: int, now_ms: int) -> bool:
    """Take or renew ``name`` for ``holder`` until ``now_ms + ttl_ms``; ``True`` when held."""
    expires = now_ms + ttl_ms
    with db.session() as s:
        res = s.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now_ms))
            .values(holder=holder, expires_at=expires)
            .execution_options(synchronize_session=False)
        )
        if getattr(res, "rowcount", 0) == 1:
            return True
        if s.scalar(select(Lease.name).where(Lease.name == name)) is not None:
            return False  # held by someone else and not expired
    try:
        with db.session() as s:
            s.add(Lease(name=name, holder=holder, expires_at=expires))
    except IntegrityError:
        return False  # another instance created it first
    return True


def release(db: Database, name: str, holder: str) -> bool:
    """Give the lease up now (only if ``holder`` holds it); ``True`` when it was released."""
    with db.session() as s:
        res = s.execute(
            update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=0)
            .execution_options(synchronize_session=False)
        )
        return getattr(res, "rowcount", 0) == 1


def holder_of(db: Database, name: str, *, now_ms: int) -> str | None:
    """Who holds ``name`` at ``now_ms`` (``None`` when free or expired)."""
    with db.session() as s:
        row = s.get(Lease, name)
        if row is None or row.expires_at <= now_ms:
            return None
        return row.holder
