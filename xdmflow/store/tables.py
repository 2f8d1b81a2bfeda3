"""The metadata store's tables (SQLAlchemy 2, typed).

Resources of the REST API are stored as documents: the API-visible JSON body plus the
columns needed to scope (org, sandbox), filter and order them without reading the body.
Secrets never sit in a body in clear text (see ``xdmflow.services.secrets``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "Org",
    "ApiClient",
    "Sandbox",
    "Document",
    "Watermark",
    "RunQueue",
    "Lease",
    "FlowSchedule",
]


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    tenant_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class ApiClient(Base):
    __tablename__ = "api_clients"

    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    secret_hash: Mapped[str] = mapped_column(String(256))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Sandbox(Base):
    __tablename__ = "sandboxes"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_sandbox_org_name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(256))
    type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    etag: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(128))
    updated_by: Mapped[str] = mapped_column(String(128))


class Document(Base):
    """One REST resource (connection, flow, run, dataset, batch, XDM resource, mapping set…)."""

    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_scope", "kind", "org_id", "sandbox_name", "created_at"),
        Index("ix_documents_parent", "kind", "parent_id"),
        UniqueConstraint("kind", "dedupe_key", name="uq_documents_dedupe"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(48))
    id: Mapped[str] = mapped_column(String(256))
    org_id: Mapped[str] = mapped_column(String(128))
    sandbox_name: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(512), nullable=True)
    parent_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    state: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    etag: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    secret: Mapped[str | None] = mapped_column(Text, nullable=True)


Index("ix_documents_kind_id", Document.kind, Document.id, Document.org_id, Document.sandbox_name, unique=True)


class Watermark(Base):
    """The incremental position of one flow's source, advanced only after a lake commit."""

    __tablename__ = "watermarks"

    flow_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    delta_column: Mapped[str] = mapped_column(String(256))
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    batch_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class RunQueue(Base):
    """Runs waiting for or being executed by a worker (claimed with a lease + heartbeat)."""

    __tablename__ = "run_queue"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # xdmflow.runs.states.QueueStatus
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    heartbeat_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)

    #: At most one run of a flow is held (executed or recovered) at a time — enforced here, in
    #: the store, for every worker of every process (migration 0002).
    __table_args__ = (
        Index(
            "uq_run_queue_held_flow",
            "flow_id",
            unique=True,
            postgresql_where=text("status IN ('running', 'recovering')"),
            sqlite_where=text("status IN ('running', 'recovering')"),
        ),
    )


class Lease(Base):
    """A named lease (e.g. ``scheduler``) so that only one process holds a role at a time."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[int] = mapped_column(BigInteger)


class FlowSchedule(Base):
    """The durable schedule state of one flow: the next fire time and the last one fired."""

    __tablename__ = "flow_schedules"
    __table_args__ = (Index("ix_flow_schedules_due", "enabled", "next_fire"),)

    flow_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(128))
    sandbox_name: Mapped[str] = mapped_column(String(128))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    frequency: Mapped[str] = mapped_column(String(16))
    interval: Mapped[int] = mapped_column(Integer, default=1)
    start_time: Mapped[int] = mapped_column(BigInteger)
    backfill: Mapped[bool] = mapped_column(Boolean, default=True)
    next_fire: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_fired: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
