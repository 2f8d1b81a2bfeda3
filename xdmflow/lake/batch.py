"""A batch being written: files streamed to the lake, then committed as one snapshot."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

import pyarrow as pa

from xdmflow.errors import InternalError
from xdmflow.lake.files import DataFileInfo, ParquetFileRoller, delete_files, strip_scheme

if TYPE_CHECKING:
    from xdmflow.lake.lake import Lake

__all__ = ["BatchWriter", "CommitResult", "commit_batch"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommitResult:
    """The snapshot a batch became (``already_committed`` when the batch was there before)."""

    snapshot_id: int
    data_files: list[str]
    record_count: int
    byte_size: int
    already_committed: bool = False


def commit_batch(
    lake: Lake,
    namespace: str,
    dataset_id: str,
    batch_id: str,
    files: Sequence[DataFileInfo | str],
    *,
    replace_keys: Sequence[str] = (),
) -> CommitResult:
    """Commit ``files`` as the batch's one snapshot; the one commit path of every ingestion.

    A failure may be ambiguous (the commit landed before the error surfaced, e.g. a lost
    connection to the catalog): then the batch's snapshot is looked up and returned as if the
    commit had succeeded. Otherwise the original error is raised; the files are left to the
    caller (it deletes them).
    """
    try:
        return lake.commit_files(namespace, dataset_id, batch_id, files, replace_keys=replace_keys)
    except BaseException:
        try:
            landed = lake.batch_snapshot(namespace, dataset_id, batch_id)
        except Exception:
            log.warning(
                "commit of batch %s failed and its snapshot could not be looked up", batch_id, exc_info=True
            )
            landed = None
        if landed is None:
            raise
        log.info("commit of batch %s raised but the snapshot landed; using it", batch_id)
        return landed


class BatchWriter:
    """Writes one batch; commits all its files as one snapshot, or leaves nothing behind.

    Leaving the ``with`` block without :meth:`commit` (or with an exception) aborts: the
    files written are deleted and the table is unchanged.
    """

    def __init__(self, lake: Lake, namespace: str, dataset_id: str, batch_id: str, roller: ParquetFileRoller):
        self.lake = lake
        self.namespace = namespace
        self.dataset_id = dataset_id
        self.batch_id = batch_id
        self._roller = roller
        self.result: CommitResult | None = None
        self._aborted = False

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.result is None:
            self.abort()

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Add rows in the dataset's XDM Arrow shape."""
        if self.result is not None or self._aborted:
            raise InternalError(
                f"batch {self.batch_id} is already {'committed' if self.result else 'aborted'}"
            )
        self._roller.write(batch)

    def commit(self, *, replace_keys: Sequence[str] = ()) -> CommitResult:
        """Finish the files and commit them as one snapshot tagged with the batch id.

        ``replace_keys``: upsert - the same commit deletes the rows whose key is in the batch.
        """
        if self.result is not None:
            return self.result
        files = self._roller.close()
        try:
            result = commit_batch(
                self.lake, self.namespace, self.dataset_id, self.batch_id, files, replace_keys=replace_keys
            )
        except BaseException:
            self.abort()
            raise
        if result.already_committed:
            kept = set(map(strip_scheme, result.data_files))
            delete_files(p for p in self._roller.written_paths if strip_scheme(p) not in kept)
        self.result = result
        return result

    def abort(self) -> None:
        """Delete every file written; the table is unchanged."""
        if self.result is None and not self._aborted:
            self._aborted = True
            self._roller.abort()
