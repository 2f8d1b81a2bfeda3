"""What the app holds for its lifetime: settings, the metadata store, keys, the lake, the executor."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xdmflow.services.secrets import Keyring
from xdmflow.settings import Settings
from xdmflow.store.db import Database

if TYPE_CHECKING:
    from xdmflow.executors.base import Executor
    from xdmflow.lake.diagnostics import ErrorStore
    from xdmflow.lake.lake import Lake

__all__ = ["AppContext"]


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
    def errors(self) -> ErrorStore:
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
