"""A batch being written: files streamed to the lake, then committed as one snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

import pyarrow as pa

from xdmflow.errors import InternalError
from xdmflow.lake.files import ParquetFileRoller, delete_files, strip_scheme

if TYPE_CHECKING:
    from xdmflow.lake.lake import Lake

__all__ = ["BatchWriter", "CommitResult"]


@dataclass(frozen=True)
class CommitResult:
    """The snapshot a batch became (``already_committed`` when the batch was there before)."""

    snapshot_id: int
    data_files: list[str]
    record_count: int
    byte_size: int
    already_committed: bool = False


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

    def commit(self) -> CommitResult:
        """Finish the files and commit them as one snapshot tagged with the batch id."""
        if self.result is not None:
            return self.result
        files = self._roller.close()
        try:
            result = self.lake.commit_files(self.namespace, self.dataset_id, self.batch_id, files)
        except BaseException:
            # Ambiguous failures: only delete our files if the batch really did not land.
            landed = None
            try:
                landed = self.lake.batch_snapshot(self.namespace, self.dataset_id, self.batch_id)
            except Exception:  # noqa: S110 - keep the original error
                pass
            if landed is None:
                self.abort()
                raise
            result = landed
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
