"""Lake maintenance over every dataset of the store: bounded snapshots and metadata files.

Run by the scheduler's lease holder every ``lake_maintenance_interval_seconds`` and by
``xdmflow lake maintain``; the retention is the operator's (``XDMFLOW_SNAPSHOT_RETENTION_HOURS``,
``XDMFLOW_SNAPSHOT_KEEP_LAST``). See :mod:`xdmflow.lake.maintenance` for what one table's
maintenance does.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from xdmflow.lake.lake import Lake, namespace_for
from xdmflow.lake.maintenance import MaintenanceReport, maintain_table
from xdmflow.services.document_stores import DATASETS
from xdmflow.settings import Settings
from xdmflow.store.db import Database
from xdmflow.store.tables import Document

__all__ = ["maintain_lake"]

log = logging.getLogger(__name__)


def maintain_lake(
    settings: Settings, db: Database, lake: Lake, *, dataset_id: str | None = None
) -> list[MaintenanceReport]:
    """Maintain the table of every dataset (or of ``dataset_id``); a table that fails is logged
    and skipped, the others are still maintained."""
    q = select(Document.org_id, Document.sandbox_name, Document.id).where(Document.kind == DATASETS.kind)
    if dataset_id is not None:
        q = q.where(Document.id == dataset_id)
    with db.session() as s:
        datasets = list(s.execute(q.order_by(Document.created_at)))
    reports = []
    for org_id, sandbox, ds_id in datasets:
        namespace = namespace_for(org_id, sandbox)
        try:
            if not lake.table_exists(namespace, ds_id):
                continue
            reports.append(
                maintain_table(
                    lake,
                    namespace,
                    ds_id,
                    retention_seconds=settings.snapshot_retention_hours * 3600,
                    keep_last=settings.snapshot_keep_last,
                )
            )
        except Exception:
            log.exception("lake maintenance of dataset %s failed", ds_id)
    return reports
