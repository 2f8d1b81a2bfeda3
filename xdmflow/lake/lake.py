"""The lake: one Apache Iceberg table per dataset, in a SQL catalog kept in the metadata database.

* Catalog: pyiceberg ``SqlCatalog`` on the service's SQLAlchemy URL (SQLite or PostgreSQL),
  warehouse = the lake URL (local path or fsspec URL). Namespace per org/sandbox
  (:func:`namespace_for`), table name = dataset id.
* A batch is **one Iceberg snapshot**: every file of the batch is appended in one commit whose
  summary carries ``xdmflow.batch-id``. Nothing of an aborted batch is visible.
* Commits are optimistic (compare-and-swap on the catalog row); on conflict the table is
  reloaded and the append re-applied, a bounded number of times, so concurrent batches all land.
* Re-committing a batch id already in the snapshot history is a no-op returning that snapshot.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan, parquet_file_to_data_file
from pyiceberg.manifest import DataFile, ManifestEntryStatus
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from xdmflow.errors import BadRequestError, ConflictError, NotFoundError, ValidationFailedError
from xdmflow.lake.batch import BatchWriter, CommitResult
from xdmflow.lake.commits import find_snapshot, is_retriable
from xdmflow.lake.evolution import incompatible_changes
from xdmflow.lake.files import (
    DataFileInfo,
    ParquetFileRoller,
    batch_data_dir,
    check_batch_id,
    conform_batch,
    read_parquet_files,
    strip_scheme,
)
from xdmflow.lake.maintenance import METADATA_PROPERTIES
from xdmflow.lake.storage import configure_object_storage, iceberg_properties, is_object_store, s3_options
from xdmflow.lake.upsert import UPSERT_PROPERTY, batch_keys, plan_replacement
from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.schema.iceberg import iceberg_to_arrow_schema, to_iceberg_schema
from xdmflow.settings import Settings

__all__ = ["BATCH_ID_PROPERTY", "CommitResult", "SnapshotInfo", "Lake", "BatchWriter", "namespace_for"]

log = logging.getLogger(__name__)

#: Snapshot-summary property holding the batch id.
BATCH_ID_PROPERTY = "xdmflow.batch-id"
#: Table property holding the compiled XDM schema (JSON) the table was created/evolved from.
SCHEMA_PROPERTY = "xdmflow.compiled-schema"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,127}$")


def namespace_for(org_id: str, sandbox: str) -> str:
    """The Iceberg namespace of an org's sandbox: ``org_<12 hex of sha256(org)>__<sandbox>``."""
    digest = hashlib.sha256(org_id.encode()).hexdigest()[:12]
    clean = re.sub(r"[^A-Za-z0-9_]", "_", sandbox.lower())
    return f"org_{digest}__{clean}"


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot of a dataset's table."""

    snapshot_id: int
    parent_id: int | None
    timestamp_ms: int
    operation: str
    batch_id: str | None
    summary: dict[str, str]


def _find_batch_snapshot(table: Table, batch_id: str) -> Snapshot | None:
    return find_snapshot(table, BATCH_ID_PROPERTY, batch_id)


def _added_files(table: Table, snap: Snapshot) -> list[DataFile]:
    files = []
    for manifest in snap.manifests(table.io):
        if manifest.added_snapshot_id != snap.snapshot_id:
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if entry.status == ManifestEntryStatus.ADDED and entry.snapshot_id == snap.snapshot_id:
                files.append(entry.data_file)
    return files


def _stored_schema(table: Table) -> CompiledSchema:
    raw = table.properties.get(SCHEMA_PROPERTY)
    if raw is None:
        raise ConflictError(
            f"Table {'.'.join(table.name())} was not created by xdmflow (no {SCHEMA_PROPERTY})."
        )
    return CompiledSchema.from_json(json.loads(raw))


class Lake:
    """Datasets as Iceberg tables in a SQL catalog.

    Args:
        database_url: SQLAlchemy URL of the metadata database (``Settings.resolved_database_url``).
        warehouse: root of the table files (``Settings.resolved_lake_url``).
        catalog_name: the catalog's name in the ``iceberg_tables`` rows (isolates catalogs
            sharing one database).
        max_commit_attempts: how many times a conflicting commit is retried.
        catalog_properties: extra pyiceberg catalog properties, e.g. ``s3.endpoint``,
            ``s3.access-key-id`` for an S3 warehouse (:func:`xdmflow.lake.storage.iceberg_properties`).
        storage_options: fsspec options of the warehouse (:func:`xdmflow.lake.storage.s3_options`).
    """

    def __init__(
        self,
        database_url: str,
        warehouse: str,
        *,
        catalog_name: str = "xdmflow",
        max_commit_attempts: int = 20,
        catalog_properties: dict[str, str] | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.database_url = database_url
        self.warehouse = warehouse
        #: fsspec options of the warehouse's filesystem (S3 endpoint, keys), for processes that
        #: write the lake's files without this object (Dask workers). Contains secrets: never log.
        self.storage_options: dict[str, Any] = dict(storage_options or {})
        self.max_commit_attempts = max_commit_attempts
        #: How many commits had to be retried because another writer committed first.
        self.commit_conflicts = 0
        props = {"pool_pre_ping": "true", **(catalog_properties or {})}
        self.catalog = SqlCatalog(catalog_name, uri=database_url, warehouse=warehouse, **props)

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> Lake:
        """The lake of a deployment: catalog in the metadata database, files under the lake URL.

        A lake on ``s3://`` uses the ``XDMFLOW_S3_*`` settings (:mod:`xdmflow.lake.storage`).
        """
        settings.home_path.mkdir(parents=True, exist_ok=True)  # where the default SQLite file lives
        configure_object_storage(settings)
        props = {**iceberg_properties(settings), **kw.pop("catalog_properties", {})}
        if is_object_store(settings.resolved_lake_url):
            kw.setdefault("storage_options", s3_options(settings))
        return cls(settings.resolved_database_url, settings.resolved_lake_url, catalog_properties=props, **kw)

    def close(self) -> None:
        """Release the catalog's database connections."""
        self.catalog.engine.dispose()

    # -- tables ----------------------------------------------------------------------------
    @staticmethod
    def _ident(namespace: str, dataset_id: str) -> tuple[str, str]:
        for what, value in (("namespace", namespace), ("dataset id", dataset_id)):
            if not _NAME.match(value):
                raise BadRequestError(f"Invalid {what} {value!r} for the lake.")
        return (namespace, dataset_id)

    def load(self, namespace: str, dataset_id: str) -> Table:
        """The dataset's Iceberg table; ``NotFoundError`` when it has none."""
        try:
            return self.catalog.load_table(self._ident(namespace, dataset_id))
        except NoSuchTableError as exc:
            raise NotFoundError(
                f"Dataset {dataset_id} has no table in the lake.",
                resource_type="dataset",
                resource_id=dataset_id,
            ) from exc

    def table_exists(self, namespace: str, dataset_id: str) -> bool:
        """Whether the dataset has a table."""
        return self.catalog.table_exists(self._ident(namespace, dataset_id))

    def create_table(self, namespace: str, dataset_id: str, schema: CompiledSchema) -> Table:
        """Create the dataset's table from ``schema`` (``ConflictError`` if it exists)."""
        ident = self._ident(namespace, dataset_id)
        try:
            self.catalog.create_namespace(namespace)
        except NamespaceAlreadyExistsError:
            pass
        try:
            return self.catalog.create_table(
                ident,
                schema=to_iceberg_schema(schema),
                properties={
                    SCHEMA_PROPERTY: json.dumps(schema.to_json(), separators=(",", ":")),
                    "xdmflow.schema-id": schema.id,
                    "xdmflow.schema-version": schema.version,
                    "write.parquet.compression-codec": "zstd",
                    # pyiceberg >= 0.12 retries conflicting appends inside commit_transaction,
                    # without our batch-id check: two writers of one batch would both land.
                    # The lake retries itself (commit_files), re-checking the history each time.
                    "commit.retry.num-retries": "0",
                    **METADATA_PROPERTIES,  # old metadata JSON files go as commits happen
                },
            )
        except TableAlreadyExistsError as exc:
            raise ConflictError(f"Dataset {dataset_id} already has a table in the lake.") from exc

    def drop_table(self, namespace: str, dataset_id: str) -> None:
        """Drop the table and delete all its files (data, manifests, metadata)."""
        table = self.load(namespace, dataset_id)
        location = table.location()
        self.catalog.purge_table(self._ident(namespace, dataset_id))
        fs, path = fsspec.core.url_to_fs(location)
        if fs.exists(path):
            fs.rm(path, recursive=True)

    def drop_namespace(self, namespace: str) -> list[str]:
        """Drop every table of ``namespace`` with all its files, then the namespace itself.

        Returns the dataset ids whose tables were dropped (a sandbox delete or reset). A
        namespace that does not exist is nothing to do.
        """
        if not _NAME.match(namespace):
            raise BadRequestError(f"Invalid namespace {namespace!r} for the lake.")
        if not self.catalog.namespace_exists(namespace):
            return []
        dropped = []
        for ident in self.catalog.list_tables(namespace):
            try:
                self.drop_table(namespace, ident[-1])
            except NotFoundError:  # dropped concurrently
                continue
            dropped.append(ident[-1])
        try:
            self.catalog.drop_namespace(namespace)
        except (NoSuchNamespaceError, NamespaceNotEmptyError):  # recreated or dropped meanwhile
            log.warning("lake namespace %s was not dropped (changed concurrently)", namespace)
        return dropped

    def compiled_schema(self, namespace: str, dataset_id: str) -> CompiledSchema:
        """The XDM schema the table was created or last evolved from."""
        return _stored_schema(self.load(namespace, dataset_id))

    def write_schema(self, namespace: str, dataset_id: str) -> pa.Schema:
        """The Arrow schema of the table's Parquet files (with Iceberg field ids)."""
        return iceberg_to_arrow_schema(self.load(namespace, dataset_id).schema())

    def evolve(self, namespace: str, dataset_id: str, schema: CompiledSchema) -> bool:
        """Evolve the table to ``schema``: additive changes only (new optional fields, nested too).

        Returns whether anything changed. Raises ``ValidationFailedError`` listing each
        incompatible change (removed field, changed type).
        """
        for attempt in range(self.max_commit_attempts):
            table = self.load(namespace, dataset_id)
            old = _stored_schema(table)
            problems = incompatible_changes(old, schema)
            if problems:
                raise ValidationFailedError(
                    f"Schema change for dataset {dataset_id} is not additive: {'; '.join(problems)}",
                    details={"errors": problems},
                )
            if old.to_json() == schema.to_json():
                return False
            tx = table.transaction()
            with tx.update_schema() as update:
                update.union_by_name(to_iceberg_schema(schema))
            tx.set_properties(
                {
                    SCHEMA_PROPERTY: json.dumps(schema.to_json(), separators=(",", ":")),
                    "xdmflow.schema-id": schema.id,
                    "xdmflow.schema-version": schema.version,
                }
            )
            try:
                tx.commit_transaction()
                return True
            except Exception as exc:
                if not is_retriable(exc):
                    raise
                self._backoff(attempt)
        raise ConflictError(f"Could not evolve dataset {dataset_id}: too many concurrent changes.")

    # -- batches ---------------------------------------------------------------------------
    def begin_batch(self, namespace: str, dataset_id: str, batch_id: str, **roll: Any) -> BatchWriter:
        """Start writing a batch; use as a context manager and call ``commit()``.

        ``roll`` is passed to :class:`ParquetFileRoller` (``target_file_bytes``,
        ``max_rows_per_file``, ``row_group_rows``).
        """
        table = self.load(namespace, dataset_id)
        roller = ParquetFileRoller(
            table.location(), batch_id, iceberg_to_arrow_schema(table.schema()), **roll
        )
        return BatchWriter(self, namespace, dataset_id, batch_id, roller)

    def commit_files(
        self,
        namespace: str,
        dataset_id: str,
        batch_id: str,
        files: Sequence[DataFileInfo | str],
        *,
        replace_keys: Sequence[str] = (),
    ) -> CommitResult:
        """Commit Parquet files (written by :func:`write_parquet_files`) as the batch's one snapshot.

        With ``replace_keys`` (upsert), the same transaction first deletes the existing rows
        whose key (those columns) appears in the files, so the table keeps one row per key.

        Idempotent: if ``batch_id`` is already in the snapshot history, that snapshot is
        returned (``already_committed=True``) and nothing is written. Conflicting concurrent
        commits are retried. The files are not deleted on failure (the caller owns them).
        """
        check_batch_id(batch_id)
        paths = [f.path if isinstance(f, DataFileInfo) else f for f in files]
        data_files: list[DataFile] | None = None
        schema_id: int | None = None
        for attempt in range(self.max_commit_attempts):
            table = self.load(namespace, dataset_id)
            existing = _find_batch_snapshot(table, batch_id)
            if existing is not None:
                return self._result(table, existing, already_committed=True)
            if data_files is None or schema_id != table.metadata.current_schema_id:
                try:
                    data_files = [parquet_file_to_data_file(table.io, table.metadata, p) for p in paths]
                except (ValueError, TypeError, FileNotFoundError) as exc:
                    raise ValidationFailedError(
                        f"Files of batch {batch_id} do not fit the dataset: {exc}"
                    ) from exc
                schema_id = table.metadata.current_schema_id
            tx = table.transaction()
            props = {BATCH_ID_PROPERTY: batch_id}
            if replace_keys:
                self._upsert(tx, table, batch_id, paths, data_files, replace_keys, props)
            else:
                # merge append: small manifests are merged (commit.manifest.min-count-to-merge), so a
                # table taking many small batches keeps a bounded number of manifests
                with tx.update_snapshot(snapshot_properties=props).merge_append() as append:
                    for df in data_files:
                        append.append_data_file(df)
            try:
                committed = tx.commit_transaction()
            except Exception as exc:
                if not is_retriable(exc):
                    raise
                self.commit_conflicts += 1
                log.debug("commit of batch %s conflicted (attempt %d), retrying", batch_id, attempt + 1)
                self._backoff(attempt)
                continue
            snap = _find_batch_snapshot(committed, batch_id)
            assert snap is not None
            return CommitResult(
                snapshot_id=snap.snapshot_id,
                data_files=[df.file_path for df in data_files],
                record_count=sum(df.record_count for df in data_files),
                byte_size=sum(df.file_size_in_bytes for df in data_files),
            )
        raise ConflictError(f"Could not commit batch {batch_id}: too many concurrent commits, retry later.")

    def _upsert(
        self,
        tx: Any,
        table: Table,
        batch_id: str,
        paths: Sequence[str],
        data_files: Sequence[DataFile],
        keys: Sequence[str],
        props: dict[str, str],
    ) -> None:
        """Stage one overwrite snapshot: the files holding the batch's keys out, their other
        rows rewritten, the batch's files in (see :mod:`xdmflow.lake.upsert`)."""
        plan = plan_replacement(table, keys, batch_keys(table, paths, keys))
        rewritten: list[DataFile] = []
        if plan.kept:
            roller = ParquetFileRoller(table.location(), batch_id, iceberg_to_arrow_schema(table.schema()))
            for kept in plan.kept:
                roller.write(kept)
            rewritten = [parquet_file_to_data_file(table.io, table.metadata, f.path) for f in roller.close()]
        props = {**props, UPSERT_PROPERTY: str(plan.replaced_rows)}
        with tx.update_snapshot(snapshot_properties=props).overwrite() as overwrite:
            for df in plan.removed:
                overwrite.delete_data_file(df)
            for df in (*rewritten, *data_files):
                overwrite.append_data_file(df)

    @staticmethod
    def _backoff(attempt: int) -> None:
        time.sleep(min(1.0, 0.01 * 2**attempt) * (0.5 + random.random()))

    def _result(self, table: Table, snap: Snapshot, *, already_committed: bool) -> CommitResult:
        files = _added_files(table, snap)
        return CommitResult(
            snapshot_id=snap.snapshot_id,
            data_files=[f.file_path for f in files],
            record_count=sum(f.record_count for f in files),
            byte_size=sum(f.file_size_in_bytes for f in files),
            already_committed=already_committed,
        )

    def batch_snapshot(self, namespace: str, dataset_id: str, batch_id: str) -> CommitResult | None:
        """The committed snapshot of ``batch_id``, ``None`` if the batch never landed."""
        table = self.load(namespace, dataset_id)
        snap = _find_batch_snapshot(table, batch_id)
        return None if snap is None else self._result(table, snap, already_committed=True)

    def batch_files(self, namespace: str, dataset_id: str, batch_id: str) -> list[str]:
        """Paths of the data files committed by ``batch_id`` (empty if it never landed)."""
        result = self.batch_snapshot(namespace, dataset_id, batch_id)
        return [] if result is None else result.data_files

    def cleanup_orphans(self, namespace: str, dataset_id: str, batch_id: str) -> list[str]:
        """Delete files under the batch's directory that its snapshot does not reference.

        Only call this for a batch whose writer is known to be gone (crashed or aborted):
        a writer still running would lose its files. Returns the deleted paths.
        """
        table = self.load(namespace, dataset_id)
        directory = batch_data_dir(table.location(), batch_id)
        snap = _find_batch_snapshot(table, batch_id)
        keep = {strip_scheme(f.file_path) for f in _added_files(table, snap)} if snap is not None else set()
        fs, root = fsspec.core.url_to_fs(directory)
        if not fs.exists(root):
            return []
        orphans = [p for p in fs.find(root) if strip_scheme(p) not in keep]
        for p in orphans:
            fs.rm(p)
        return [f"{directory}/{p.rsplit('/', 1)[1]}" for p in orphans]

    def discard_uncommitted(self, namespace: str, dataset_id: str, batch_id: str) -> list[str]:
        """Delete what a batch whose writer is gone (killed, aborted) left behind.

        A batch that never committed loses every file of its directory (footer-less Parquet of
        a writer killed mid-file included) and the directory itself; a committed batch keeps
        the files its snapshot references (only orphans are deleted). Returns deleted paths.
        """
        removed = self.cleanup_orphans(namespace, dataset_id, batch_id)
        if self.batch_snapshot(namespace, dataset_id, batch_id) is None:
            directory = batch_data_dir(self.table_location(namespace, dataset_id), batch_id)
            fs, root = fsspec.core.url_to_fs(directory)
            if fs.exists(root):
                fs.rm(root, recursive=True)
        return removed

    # -- reading ---------------------------------------------------------------------------
    def scan(
        self, namespace: str, dataset_id: str, *, limit: int | None = None, batch_id: str | None = None
    ) -> pa.Table:
        """Read the table (optionally only the rows of one batch) as Arrow in the XDM shape."""
        table = self.load(namespace, dataset_id)
        target = to_arrow_schema(_stored_schema(table))
        tasks = list(table.scan().plan_files())
        if batch_id is not None:
            snap = _find_batch_snapshot(table, batch_id)
            wanted = {strip_scheme(f.file_path) for f in _added_files(table, snap)} if snap else set()
            tasks = [t for t in tasks if strip_scheme(t.file.file_path) in wanted]
        if any(t.delete_files for t in tasks):
            raw = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue(), limit=limit).to_table(
                tasks
            )
            batches = [conform_batch(b, target) for b in raw.to_batches()]
        else:
            batches = list(read_parquet_files([t.file.file_path for t in tasks], target, limit))
        return pa.Table.from_batches(batches, schema=target)

    def snapshots(self, namespace: str, dataset_id: str) -> list[SnapshotInfo]:
        """The table's snapshots, oldest first."""
        table = self.load(namespace, dataset_id)
        out = []
        for s in table.metadata.snapshots:
            summary = {k: str(v) for k, v in (s.summary.model_dump() if s.summary else {}).items()}
            out.append(
                SnapshotInfo(
                    snapshot_id=s.snapshot_id,
                    parent_id=s.parent_snapshot_id,
                    timestamp_ms=s.timestamp_ms,
                    operation=summary.get("operation", ""),
                    batch_id=summary.get(BATCH_ID_PROPERTY),
                    summary=summary,
                )
            )
        return out

    def table_location(self, namespace: str, dataset_id: str) -> str:
        """The table's root location (data under ``data/``, metadata under ``metadata/``)."""
        return self.load(namespace, dataset_id).location()

    def metadata_location(self, namespace: str, dataset_id: str) -> str:
        """The current metadata JSON file (what engines such as DuckDB read)."""
        location = self.load(namespace, dataset_id).metadata_location
        assert location is not None
        return location

    def duckdb_sql_example(self, namespace: str, dataset_id: str) -> str:
        """A DuckDB query reading the table's current snapshot (for docs and the UI)."""
        metadata = self.metadata_location(namespace, dataset_id).replace("'", "''")
        return f"INSTALL iceberg;\nLOAD iceberg;\nSELECT * FROM iceberg_scan('{metadata}') LIMIT 10;"
