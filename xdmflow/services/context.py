"""What the app holds for its lifetime: settings, the metadata store, keys, the lake, the executor.

The context is built where the process is composed (:func:`xdmflow.runtime.build_context`); it
builds nothing itself but the executor, which it starts on first use from the factory it is
given (a Dask executor starts a cluster: only a process that executes runs pays for it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from xdmflow.connectors.policy import AccessPolicy
from xdmflow.lake.diagnostics import ErrorStore
from xdmflow.lake.lake import Lake
from xdmflow.pipeline.run import PartitionRunner
from xdmflow.query.engine import QueryEngine
from xdmflow.services.secrets import Keyring
from xdmflow.settings import Settings
from xdmflow.store.db import Database

__all__ = ["AppContext", "RunExecutor", "access_policy"]


class RunExecutor(PartitionRunner, Protocol):
    """What the context holds of an executor (:class:`xdmflow.executors.base.Executor`): the
    pipeline's partition runner, with a name and ``close``."""

    name: str

    def close(self) -> None: ...


def _local_path(url: str) -> str | None:
    if url.startswith("file://"):
        return url[len("file://") :]
    return None if "://" in url else url


def access_policy(settings: Settings) -> AccessPolicy:
    """The operator's connector policy from the settings: the local roots and allowed hosts, with
    the home, the lake, the uploads and the SQLite database never reachable."""
    private = [
        p for p in (_local_path(settings.resolved_lake_url), _local_path(settings.resolved_uploads_url)) if p
    ]
    db_url = settings.resolved_database_url
    if db_url.startswith("sqlite:///"):
        db_file = db_url[len("sqlite:///") :].split("?", 1)[0]
        private += [db_file + suffix for suffix in ("", "-wal", "-shm", "-journal")]
    return AccessPolicy.build(
        local_roots=[str(r) for r in settings.resolved_local_roots],
        allowed_hosts=settings.allowed_hosts,
        home=settings.home_path,
        private_paths=private,
    )


@dataclass
class AppContext:
    """The process's long-lived objects, handed to every request, run and loop.

    Attributes:
        lake: the deployment's lake, shared by every request and run.
        policy: where connectors may reach (``XDMFLOW_LOCAL_ROOTS``, ``XDMFLOW_ALLOWED_HOSTS``).
        diagnostics: where rejected rows and batch diagnostics are kept.
        executor_factory: builds the executor (``XDMFLOW_EXECUTOR``) on first use of
            :attr:`executor`.
        query_engine: the Query Service's SQL engine once it is first used
            (:func:`xdmflow.services.queries.query_engine`).
        pg_port: the PostgreSQL port of the Query Service while it is open (``0``: closed).
    """

    settings: Settings
    db: Database
    keys: Keyring
    credentials: dict[str, Any]
    lake: Lake
    policy: AccessPolicy
    diagnostics: ErrorStore
    executor_factory: Callable[[], RunExecutor]
    query_engine: QueryEngine | None = None
    pg_port: int = 0
    _executor: RunExecutor | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def executor(self) -> RunExecutor:
        """Where the partitions of runs execute (created on first use)."""
        with self._lock:
            if self._executor is None:
                self._executor = self.executor_factory()
            return self._executor

    def close(self) -> None:
        with self._lock:
            engine, self.query_engine = self.query_engine, None
            executor, self._executor = self._executor, None
        if engine is not None:
            engine.close()
        if executor is not None:
            executor.close()
        self.lake.close()
        self.db.dispose()
