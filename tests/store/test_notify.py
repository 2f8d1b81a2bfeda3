"""Cross-process wake-ups (PostgreSQL LISTEN/NOTIFY): a transaction that queues a run notifies
the listeners of every process when it commits — never when it rolls back — and a worker listens."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid

import pytest

from xdmflow.runs.worker import Worker
from xdmflow.store.db import Database
from xdmflow.store.notify import Listener

pytestmark = pytest.mark.postgres

_NOTIFY = """
import sys
from xdmflow.store.db import Database
from xdmflow.store.notify import notify_on_commit
db = Database(sys.argv[1])
try:
    with db.session() as s:
        notify_on_commit(s, sys.argv[3])
        notify_on_commit(s, sys.argv[3])  # once per transaction
        if sys.argv[2] == "rollback":
            raise RuntimeError("rolled back")
except RuntimeError:
    pass  # the rollback this run was asked for
db.dispose()
"""


def _other_process(url: str, outcome: str, channel: str) -> None:
    subprocess.run([sys.executable, "-c", _NOTIFY, url, outcome, channel], check=True, timeout=60)


def test_a_commit_in_another_process_wakes_the_listener_and_a_rollback_does_not(pg_url: str) -> None:
    db = Database(pg_url)
    woken = threading.Event()
    calls: list[float] = []

    def wake() -> None:
        calls.append(time.monotonic())
        woken.set()

    # a channel of its own: tests running beside this one queue runs on the same server
    channel = f"xdmflow_test_{uuid.uuid4().hex[:12]}"
    listener = Listener(db, wake, channel)
    listener.start()
    try:
        assert listener.connected.wait(10)
        _other_process(pg_url, "rollback", channel)
        assert not woken.wait(1.5), "a rolled-back transaction notified"
        _other_process(pg_url, "commit", channel)
        committed = time.monotonic()  # the other process has committed and exited
        assert woken.wait(10)
        assert calls[0] - committed < 5  # at the commit, not at some later poll
        time.sleep(0.5)
        assert len(calls) == 1  # two calls in one transaction: one notification
    finally:
        listener.stop()
        db.dispose()


def test_a_worker_on_postgresql_listens(pg_url: str) -> None:
    db = Database(pg_url)

    class Idle:
        def execute(self, claim: object) -> None:
            raise AssertionError("no run was queued")

        def recover(self, claim: object) -> None:
            raise AssertionError("no run was queued")

    worker = Worker(db, Idle(), slots=1, poll_interval=60)  # polling alone would take a minute
    worker.start()
    try:
        assert worker.listener.enabled and worker.listener.connected.wait(10)
    finally:
        worker.stop()
        db.dispose()


def test_on_sqlite_nothing_listens(tmp_path: object) -> None:
    db = Database(f"sqlite:///{tmp_path}/m.db")
    listener = Listener(db, lambda: None)
    listener.start()
    assert not listener.enabled and not listener.connected.is_set()
    listener.stop()
    db.dispose()
