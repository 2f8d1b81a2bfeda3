"""Settings: one typed class read from the environment (prefix ``XDMFLOW_``), never an import-time global.

Every variable is documented in the README's Configuration section.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XDMFLOW_", extra="ignore")

    home: Path = Field(default=Path(".xdmflow"))
    """Where xdmflow keeps its SQLite database, lake, uploads, keys and credentials."""

    database_url: str | None = None
    """SQLAlchemy URL of the metadata store; default: SQLite file ``{home}/xdmflow.db``.
    Use ``postgresql+psycopg://user@host:5432/db`` in production."""

    lake_url: str | None = None
    """Where dataset files live (local path or fsspec URL such as ``s3://bucket/prefix``);
    default ``{home}/lake``."""

    secret_key: str | None = None
    """Key that encrypts connection secrets at rest (urlsafe base64 of 32 bytes, a Fernet key).
    Default: generated into ``{home}/secret.key`` (mode 0600) on first use."""

    token_ttl_seconds: int = 86_400
    """Lifetime of access tokens issued by ``/ims/token/v3``."""

    max_body_bytes: int = 10 * 1024 * 1024
    """Largest JSON request body accepted (batch file uploads are streamed and not limited by this)."""

    executor: str = "inprocess"
    """Where runs execute: ``inprocess`` (default) or ``dask``."""

    dask_address: str | None = None
    """Address of the Dask scheduler when ``executor`` is ``dask`` (``tcp://host:8786``)."""

    workers: int = 2
    """In-process worker threads executing runs."""

    scheduler_interval_seconds: float = 5.0
    """How often the scheduler looks for due flows."""

    run_stale_seconds: float = 60.0
    """A running run whose worker has not heartbeated for this long is recovered (worker died)."""

    heartbeat_seconds: float = 5.0
    """How often a worker heartbeats the runs it executes."""

    public_url: str = "http://127.0.0.1:8080"
    """Base URL clients reach the service at (used in links such as the token URL)."""

    @property
    def home_path(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home_path / 'xdmflow.db'}"

    @property
    def resolved_lake_url(self) -> str:
        if self.lake_url:
            return self.lake_url
        return str(self.home_path / "lake")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
