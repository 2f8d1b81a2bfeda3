"""Where the partitions of a run execute: the ``Executor`` interface and its factory.

An executor runs independent pieces of work (a run's partitions: top-level functions over
picklable inputs) and gathers their results, in the order of the inputs, on the coordinator.
``map`` returns or raises only once every piece has finished or will never start, so the
coordinator can clean up what the pieces wrote without racing a straggler.
"""

from __future__ import annotations

import abc
import concurrent.futures as cf
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from xdmflow.errors import ConfigError
from xdmflow.settings import Settings

__all__ = ["Executor", "InProcessExecutor", "load_executor"]

T = TypeVar("T")

#: Called once with the first failure, before ``map`` waits for the pieces still running.
OnError = Callable[[BaseException], None]


class Executor(abc.ABC):
    """Runs independent pieces of work (a run's partitions) and gathers their results in order."""

    name: str = "executor"

    @property
    def parallelism(self) -> int:
        """How many pieces can run at the same time (used to size a run's partitions)."""
        return 1

    @abc.abstractmethod
    def map(
        self, fn: Callable[[Any], T], items: Sequence[Any], *, on_error: OnError | None = None
    ) -> list[T]:
        """``[fn(x) for x in items]``, possibly in parallel.

        On the first failure ``on_error`` is called with it (e.g. to tell the other pieces to
        stop early), pieces not started yet are dropped, the running ones are waited for, and
        then the first failure is raised.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the executor's resources."""


class InProcessExecutor(Executor):
    """Partitions in a local thread pool (Arrow, Parquet and DuckDB release the GIL)."""

    name = "inprocess"

    def __init__(self, workers: int = 2) -> None:
        self.workers = max(1, workers)
        self._pool = cf.ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="xdmflow-part")

    @property
    def parallelism(self) -> int:
        return self.workers

    def map(
        self, fn: Callable[[Any], T], items: Sequence[Any], *, on_error: OnError | None = None
    ) -> list[T]:
        if len(items) <= 1:
            try:
                return [fn(x) for x in items]
            except BaseException as exc:
                if on_error is not None:
                    on_error(exc)
                raise
        futures = [self._pool.submit(fn, x) for x in items]
        done, _ = cf.wait(futures, return_when=cf.FIRST_EXCEPTION)
        failed = next((f for f in futures if f in done and f.exception() is not None), None)
        if failed is None:
            return [f.result() for f in futures]
        error = failed.exception()
        assert error is not None
        if on_error is not None:
            on_error(error)
        for f in futures:
            f.cancel()
        cf.wait(futures)
        raise error

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def load_executor(settings: Settings) -> Executor:
    """The executor ``XDMFLOW_EXECUTOR`` names."""
    if settings.executor == "inprocess":
        return InProcessExecutor(settings.workers)
    if settings.executor == "dask":
        try:
            from xdmflow.executors.dask import DaskExecutor
        except ImportError as exc:
            raise ConfigError("XDMFLOW_EXECUTOR=dask needs Dask: pip install 'xdmflow[dask]'") from exc
        return DaskExecutor(settings.dask_address, n_workers=settings.workers)
    raise ConfigError(f"Unknown XDMFLOW_EXECUTOR {settings.executor!r}; use inprocess or dask")
