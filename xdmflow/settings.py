"""Settings: one typed class read from the environment (prefix ``XDMFLOW_``), never an import-time global.

Every variable is documented in the README's Configuration section.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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

    uploads_url: str | None = None
    """Where files uploaded to the Batch Ingestion API are kept until their batch is processed
    (local path or ``s3://bucket/prefix``); default ``{lake_url}/_uploads`` when the lake is on
    object storage (every API process must see every upload), else ``{home}/uploads``."""

    s3_endpoint_url: str | None = None
    """Endpoint of an S3-compatible object store (MinIO, Ceph, a cloud other than AWS) for the
    lake and uploads on ``s3://``; unset: AWS S3 (or ``AWS_ENDPOINT_URL_S3``)."""

    s3_region: str | None = None
    """Region of the S3 bucket(s); unset: the AWS SDK's default (``AWS_REGION``, profile)."""

    s3_access_key_id: SecretStr | None = None
    """Access key for ``s3://``; unset: the AWS SDK's credential chain (``AWS_ACCESS_KEY_ID``,
    profile, instance role). Never logged."""

    s3_secret_access_key: SecretStr | None = None
    """Secret key paired with ``s3_access_key_id``. Never logged."""

    secret_key: str | None = None
    """Key that encrypts connection secrets at rest (urlsafe base64 of 32 bytes, a Fernet key).
    Default: generated into ``{home}/secret.key`` (mode 0600) on first use."""

    token_ttl_seconds: int = 86_400
    """Lifetime of access tokens issued by ``/ims/token/v3``."""

    max_body_bytes: int = 10 * 1024 * 1024
    """Largest JSON request body accepted (batch file uploads are streamed and not limited by this)."""

    max_json_depth: int = 100
    """Deepest nesting of arrays/objects accepted in a JSON request body (deeper: a 400)."""

    preview_timeout_seconds: float = 10.0
    """Time limit of a mapping preview or validation request (longer: a 504; the work runs off
    the event loop, so other requests are served meanwhile)."""

    executor: str = "inprocess"
    """Where runs execute: ``inprocess`` (default) or ``dask``."""

    dask_address: str | None = None
    """Address of the Dask scheduler when ``executor`` is ``dask`` (``tcp://host:8786``)."""

    workers: int = 2
    """In-process worker threads executing runs."""

    scheduler_interval_seconds: float = 5.0
    """How often the scheduler looks for due flows."""

    scheduler_lease_seconds: float = 30.0
    """How long the scheduler lease lasts without renewal: with several scheduler processes a
    standby takes over this long after the active one died. Must exceed the scheduler interval."""

    run_stale_seconds: float = 60.0
    """A running run whose worker has not heartbeated for this long is recovered (worker died)."""

    heartbeat_seconds: float = 5.0
    """How often a worker heartbeats the runs it executes."""

    max_queued_runs_per_flow: int = Field(default=20, ge=0)
    """Runs of one flow that may wait in the queue (``0``: no bound). Beyond it ``POST /runs`` is a
    429 and a scheduled fire is recorded as a skipped run instead of being queued."""

    max_queued_runs: int = Field(default=10_000, ge=0)
    """Runs of all flows that may wait in the queue (``0``: no bound); same refusals as above."""

    snapshot_retention_hours: float = 168.0
    """Lake maintenance expires table snapshots older than this (``XDMFLOW_SNAPSHOT_RETENTION_HOURS``)..."""

    snapshot_keep_last: int = 100
    """...but always keeps each table's newest this many snapshots (``XDMFLOW_SNAPSHOT_KEEP_LAST``)."""

    lake_maintenance_interval_seconds: float = 3600.0
    """How often the scheduler (the lease holder) runs lake maintenance; 0 disables it."""

    compact_target_bytes: int = Field(default=128 * 1024 * 1024, ge=1024)
    """Lake maintenance rewrites data files smaller than this (of batches whose snapshots have
    expired) into files of about this size (``XDMFLOW_COMPACT_TARGET_BYTES``)..."""

    compact_min_files: int = Field(default=8, ge=0)
    """...once a table has at least this many such files (``XDMFLOW_COMPACT_MIN_FILES``; ``0``
    turns compaction off)."""

    public_url: str = "http://127.0.0.1:8080"
    """Base URL clients reach the service at (used in links such as the token URL)."""

    local_roots: Annotated[list[Path] | None, NoDecode] = None
    """The only folders a Local Folder connection may read (``XDMFLOW_LOCAL_ROOTS``: paths
    separated by ``os.pathsep``). Default: one inbox folder, ``{home}/inbox``. The operator's
    setting, never a tenant's."""

    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Loopback, link-local and private hosts connectors may reach anyway (``XDMFLOW_ALLOWED_HOSTS``:
    comma-separated hosts, ``host:port`` or CIDR ranges). Public hosts need no entry."""

    pg_port: int = 5433
    """Port of the PostgreSQL wire protocol (Query Service) that ``xdmflow serve`` opens; ``0``
    turns it off. Clients sign in with user = org id, password = an access token."""

    pg_tls_cert: Path | None = None
    """PEM certificate for TLS on the PostgreSQL port (with ``pg_tls_key``); unset: no TLS."""

    pg_tls_key: Path | None = None
    """PEM private key paired with ``pg_tls_cert``."""

    query_timeout_seconds: float = 300.0
    """Longest a SQL query may run (Query Service, psql) before it is interrupted."""

    query_memory_limit: str = "1GB"
    """DuckDB memory limit of one SQL query."""

    query_threads: int = 2
    """DuckDB threads of one SQL query."""

    query_max_rows: int = 1_000_000
    """Most rows one SQL query returns (the rest is cut off, with a notice)."""

    query_workers: int = 2
    """SQL queries running at once across every tenant (more wait their turn), so heavy queries
    cannot starve the API."""

    @field_validator("local_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [Path(p) for p in value.split(os.pathsep) if p.strip()]
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    @property
    def resolved_local_roots(self) -> list[Path]:
        """``local_roots`` resolved; the default is ``{home}/inbox``."""
        roots = self.local_roots if self.local_roots is not None else [self.home_path / "inbox"]
        return [Path(r).expanduser().resolve() for r in roots]

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

    @property
    def resolved_uploads_url(self) -> str:
        if self.uploads_url:
            return self.uploads_url
        lake = self.resolved_lake_url
        if "://" in lake and not lake.startswith("file://"):
            return f"{lake.rstrip('/')}/_uploads"
        return str(self.home_path / "uploads")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
