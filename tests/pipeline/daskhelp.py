"""A local Dask cluster for the executor tests (2 worker processes, one thread each)."""

from __future__ import annotations

import os
import signal
import time

from xdmflow.executors.dask import DaskExecutor


def start_dask(n_workers: int = 2) -> DaskExecutor:
    """A ``DaskExecutor`` owning a fresh ``LocalCluster`` (close it when done)."""
    executor = DaskExecutor(None, n_workers=n_workers)
    executor.client.wait_for_workers(n_workers, timeout=120)
    return executor


def kill_busy_worker(executor: DaskExecutor, timeout: float = 60) -> int:
    """SIGKILL the process of a worker that is executing a partition (waits for one); its pid."""
    client = executor.client
    pids = client.run(os.getpid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [
            w
            for w, tasks in client.processing().items()
            if w in pids and any(str(t).startswith("run_partition") for t in tasks)
        ]
        if busy:
            pid = int(pids[busy[0]])
            os.kill(pid, signal.SIGKILL)
            return pid
        time.sleep(0.02)
    raise AssertionError("no Dask worker started a task in time")


def square(x: int) -> int:
    """A task for the executor tests."""
    time.sleep(0.01)
    return x * x


def fail_on_three(x: int) -> int:
    """A task that fails for item 3 (with an error of ours: it must cross process boundaries)."""
    from xdmflow.errors import SourceFatalError

    if x == 3:
        raise SourceFatalError("item 3 is broken")
    time.sleep(0.05)
    return x
