"""What the app holds for its lifetime: settings, the metadata store, keys, the lake, the executor."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xdmflow.services.secrets import Keyring
from xdmflow.settings import Settings
from xdmflow.store.db import Database

if TYPE_CHECKING:
    from xdmflow.connectors.policy import AccessPolicy
    from xdmflow.executors.base import Executor
    from xdmflow.lake.diagnostics import ErrorStore
    from xdmflow.lake.lake import Lake

__all__ = ["AppContext", "access_policy"]


def _local_path(url: str) -> str | None:
    if url.startswith("file://"):
        return url[len("file://") :]
    return None if "://" in url else url


def access_policy(settings: Settings) -> AccessPolicy:
    """The operator's connector policy from the settings: the local roots and allowed hosts, with
    the home, the lake, the uploads and the SQLite database never reachable."""
    from xdmflow.connectors.policy import AccessPolicy

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
    settings: Settings
    db: Database
    keys: Keyring
    credentials: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def lake(self) -> Lake:
        """The deployment's lake (opened on first use, shared by every request and run)."""
        with self._lock:
            if "lake" not in self.extras:
                from xdmflow.lake.lake import Lake

                self.extras["lake"] = Lake.from_settings(self.settings)
            lake: Lake = self.extras["lake"]
            return lake

    @property
    def policy(self) -> AccessPolicy:
        """Where connectors may reach (``XDMFLOW_LOCAL_ROOTS``, ``XDMFLOW_ALLOWED_HOSTS``)."""
        with self._lock:
            if "policy" not in self.extras:
                self.extras["policy"] = access_policy(self.settings)
            policy: AccessPolicy = self.extras["policy"]
            return policy

    @property
    def diagnostics(self) -> ErrorStore:
        """Where rejected rows and batch diagnostics are kept."""
        with self._lock:
            if "errors" not in self.extras:
                from xdmflow.lake.diagnostics import ErrorStore

                self.extras["errors"] = ErrorStore(self.settings.resolved_lake_url)
            store: ErrorStore = self.extras["errors"]
            return store

    @property
    def executor(self) -> Executor:
        """Where the partitions of runs execute (``XDMFLOW_EXECUTOR``; created on first use)."""
        with self._lock:
            if "executor" not in self.extras:
                from xdmflow.executors.base import load_executor

                self.extras["executor"] = load_executor(self.settings)
            executor: Executor = self.extras["executor"]
            return executor

    def close(self) -> None:
        engine = self.extras.pop("query_engine", None)  # the Query Service's pool (services/queries.py)
        if engine is not None:
            engine.close()
        executor = self.extras.pop("executor", None)
        if executor is not None:
            executor.close()
        lake = self.extras.pop("lake", None)
        if lake is not None:
            lake.close()
        self.db.dispose()
