"""Cross-process wake-ups through the metadata store: PostgreSQL's ``LISTEN`` / ``NOTIFY``.

A transaction that queues a run calls :func:`notify_on_commit`; PostgreSQL delivers the
notification to every listening connection when — and only if — that transaction commits, so a
worker in another process (or on another machine) wakes the moment a run can be claimed instead
of at its next poll. :class:`Listener` is that worker's side: one connection of its own, a thread
that waits for notifications and calls back. On SQLite both are no-ops (one machine: the
in-process wake of ``runs/queue.py`` covers it, polling the rest).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from xdmflow.store.db import Database

__all__ = ["RUNS_CHANNEL", "Listener", "notify_on_commit"]

log = logging.getLogger(__name__)

#: The channel a committed enqueue notifies.
RUNS_CHANNEL = "xdmflow_runs"
_SENT = "xdmflow_notified"


def _reset(session: Session) -> None:
    """The next transaction of the session notifies again."""
    session.info.pop(_SENT, None)


def notify_on_commit(s: Session, channel: str = RUNS_CHANNEL) -> None:
    """Have the session's transaction notify ``channel`` when it commits (PostgreSQL; once per
    transaction — the server folds repeats anyway)."""
    if s.get_bind().dialect.name != "postgresql":
        return
    sent: set[str] = s.info.setdefault(_SENT, set())
    if channel in sent:
        return
    s.execute(text(f"NOTIFY {channel}"))
    sent.add(channel)
    for name in ("after_commit", "after_rollback"):
        if not event.contains(s, name, _reset):
            event.listen(s, name, _reset, once=True)


class Listener:
    """Calls ``callback()`` for each notification on ``channel`` (PostgreSQL only; on other
    stores :meth:`start` does nothing). Reconnects after a lost connection."""

    def __init__(self, db: Database, callback: Callable[[], None], channel: str = RUNS_CHANNEL) -> None:
        self.db = db
        self.callback = callback
        self.channel = channel
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()

    @property
    def enabled(self) -> bool:
        return self.db.engine.dialect.name == "postgresql"

    def start(self) -> None:
        if not self.enabled:
            return
        self._thread = threading.Thread(target=self._run, name="xdmflow-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _connect(self) -> Any:
        """A psycopg connection of its own (not the pool's: it stays open, waiting), autocommit."""
        import psycopg  # noqa: PLC0415 - the PostgreSQL driver, an optional dependency

        url = self.db.engine.url.set(drivername="postgresql")
        conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        try:
            conn.execute(f"LISTEN {self.channel}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            conn = None
            try:
                conn = self._connect()
                self.connected.set()
                backoff = 0.5
                while not self._stop.is_set():
                    for _ in conn.notifies(timeout=0.5):
                        self.callback()
            except Exception:  # the store went away: the worker still polls; listen again soon
                self.connected.clear()
                log.warning("listening for queued runs failed; retrying in %.1f s", backoff, exc_info=True)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        log.debug("closing the listening connection failed", exc_info=True)
