"""Where the partitions of a run execute: the ``Executor`` interface and its factory."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from xdmflow.errors import ConfigError
from xdmflow.settings import Settings

__all__ = ["Executor", "InProcessExecutor", "load_executor"]

T = TypeVar("T")


class Executor(abc.ABC):
    """Runs independent pieces of work (a run's partitions) and gathers their results in order."""

    name: str = "executor"

    @abc.abstractmethod
    def map(self, fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
        """``[fn(x) for x in items]``, possibly in parallel; the first failure is raised."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the executor's resources."""


class InProcessExecutor(Executor):
    """Partitions in a local thread pool (Arrow, Parquet and DuckDB release the GIL)."""

    name = "inprocess"

    def __init__(self, workers: int = 2) -> None:
        self.workers = max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="xdmflow-part")

    def map(self, fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
        if len(items) <= 1:
            return [fn(x) for x in items]
        return list(self._pool.map(fn, items))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def load_executor(settings: Settings) -> Executor:
    """The executor ``XDMFLOW_EXECUTOR`` names."""
    if settings.executor == "inprocess":
        return InProcessExecutor(settings.workers)
    if settings.executor == "dask":
        try:
            from xdmflow.executors.dask import DaskExecutor
        except ImportError as exc:
            raise ConfigError("XDMFLOW_EXECUTOR=dask needs Dask: pip install 'xdmflow[dask]'") from exc
        return DaskExecutor(settings.dask_address)
    raise ConfigError(f"Unknown XDMFLOW_EXECUTOR {settings.executor!r}; use inprocess or dask")
