"""The Dask executor: a run's partitions as Dask tasks, results gathered by the coordinator.

``XDMFLOW_EXECUTOR=dask`` with ``XDMFLOW_DASK_ADDRESS=tcp://host:8786`` connects to a running
scheduler; without an address the executor starts (and owns) a ``LocalCluster`` of
``XDMFLOW_WORKERS`` worker processes with one thread each.

Failure semantics: a task whose worker dies (killed, out of memory) is rescheduled by Dask on
another worker, up to the scheduler's ``allowed-failures``; a task that raises fails the
``map`` (after the other tasks have finished, see :meth:`Executor.map`). Tasks are never
marked pure: each attempt runs again, and a retried partition writes files under new names —
only the files the successful attempt returns are committed.

Workers need xdmflow installed and must reach what the partitions read and write: the sources
(a local-files source needs the same folder on every worker) and the lake's storage (a shared
path or an object store). Partition inputs (the run spec, the connector, decrypted source
credentials) travel to the workers over Dask's comms: use a scheduler on a trusted network or
Dask's TLS security.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pyarrow as pa
from distributed import Client, LocalCluster, as_completed
from distributed.diagnostics.plugin import WorkerPlugin

from xdmflow.errors import ConfigError
from xdmflow.executors.base import Executor, OnError

__all__ = ["ArrowThreads", "DaskExecutor"]

T = TypeVar("T")

log = logging.getLogger("xdmflow.executors.dask")


class ArrowThreads(WorkerPlugin):
    """Dask worker plugin: size Arrow's CPU thread pool on every worker (also restarted ones)."""

    name = "xdmflow-arrow-threads"

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def setup(self, worker: Any) -> None:
        pa.set_cpu_count(self.threads)


class DaskExecutor(Executor):
    """Partitions as tasks of a Dask cluster.

    Args:
        address: the scheduler (``tcp://host:8786``); ``None`` starts a local cluster.
        n_workers: worker processes of the local cluster (ignored with an address).
        connect_timeout: seconds to wait for the scheduler.
    """

    name = "dask"

    def __init__(
        self, address: str | None = None, *, n_workers: int = 2, connect_timeout: float = 30
    ) -> None:
        self.address = address
        self._cluster: Any = None
        self._lock = threading.Lock()
        if address:
            try:
                self.client = Client(address, timeout=connect_timeout, set_as_default=False)
            except OSError as exc:
                raise ConfigError(f"Cannot reach the Dask scheduler at {address}: {exc}") from exc
        else:
            self._cluster = LocalCluster(
                n_workers=max(1, n_workers),
                threads_per_worker=1,
                processes=True,
                # no dashboard; the scheduler's HTTP routes (health) on a free port
                dashboard_address=":0",
                scheduler_kwargs={"dashboard": False},
            )
            self.client = Client(self._cluster, set_as_default=False)
            # The workers share this machine's cores. Arrow's own CPU pool (CSV conversion,
            # compute kernels, Parquet encoding) keeps the machine's size in each worker: the
            # partitions are rarely equal (files are grouped, not split), and a worker left with
            # the last, longest partition then uses the cores the finished workers left idle —
            # with an equal share each (one thread on 2 cores and 2 workers) the tail ran on one
            # core, 15-20 % slower per run on this 2-core machine (bench/notes/dask.md). While
            # every worker is busy the pools oversubscribe the cores, which costs little here.
            self.client.register_plugin(
                ArrowThreads(max(1, os.cpu_count() or 1)), name="xdmflow-arrow-threads"
            )

    @property
    def parallelism(self) -> int:
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:  # the scheduler is unreachable: the next map will say so
            log.warning("cannot reach the Dask scheduler to count its threads", exc_info=True)
            return 1

    def warm_up(self, *modules: str) -> None:
        """Import ``modules`` (default: the partition pipeline) on every worker now, instead of
        in the first task each worker runs."""
        defaults = ("xdmflow.pipeline.partition", "xdmflow.connectors.files.connector", "pyarrow.csv")
        for name in modules or defaults:
            self.client.run(importlib.import_module, name)

    def map(
        self, fn: Callable[[Any], T], items: Sequence[Any], *, on_error: OnError | None = None
    ) -> list[T]:
        if not items:
            return []
        futures = [self.client.submit(fn, x, pure=False) for x in items]
        error: BaseException | None = None
        try:
            pending = as_completed(futures, loop=self.client.loop)
            for fut in pending:
                if fut.status != "finished":
                    try:
                        fut.result()
                    except BaseException as exc:
                        error = exc
                    else:  # pragma: no cover - status says otherwise
                        error = RuntimeError(f"Dask task {fut.key} was {fut.status}")
                    break
            if error is None:
                results: list[T] = self.client.gather(futures)
                return results
            if on_error is not None:
                on_error(error)
            # Running tasks cannot be interrupted: wait for them (``on_error`` told them to stop
            # early) so that nothing is still writing when the caller cleans up.
            for _ in pending:
                pass
            raise error
        finally:
            self.client.cancel(futures)

    def close(self) -> None:
        with self._lock:
            try:
                self.client.close()
            finally:
                if self._cluster is not None:
                    self._cluster.close()
                    self._cluster = None
