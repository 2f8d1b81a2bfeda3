"""What the app holds for its lifetime: settings, the metadata store, keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xdmflow.services.secrets import Keyring
from xdmflow.settings import Settings
from xdmflow.store.db import Database

__all__ = ["AppContext"]


@dataclass
class AppContext:
    settings: Settings
    db: Database
    keys: Keyring
    credentials: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)
