"""Error diagnostics of batches: rejected rows and input-file metadata, as JSON Lines files.

Layout (served by the data-access API ``/export/batches/{id}/meta?path=...``)::

    <lake>/_diagnostics/<batch id>/row_errors/parsing_errors_0.json
    <lake>/_diagnostics/<batch id>/row_errors/conversion_errors_0.json
    <lake>/_diagnostics/<batch id>/input_files/fileMetaData1.json

A row-error record (platform-api.md §5.2)::

    {"_corrupt_record": "{missingQuotes: 'v1'}",        # parsing errors: the raw text
     ...row fields...,                                 # conversion errors: the row data
     "_errors": [{"code": "1401", "message": "...", "path": "person.age"}],
     "_filename": "input.json", "_row": 17}

Storage goes through fsspec, so the lake may be a local path or ``s3://bucket/prefix``.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import fsspec

from xdmflow.errors import BadRequestError, NotFoundError
from xdmflow.lake.files import check_batch_id

__all__ = ["DiagnosticFile", "ErrorStore", "RowErrorKind", "row_error"]

RowErrorKind = Literal["parsing", "conversion"]
DEFAULT_RECORDS_PER_FILE = 100_000


@dataclass(frozen=True)
class DiagnosticFile:
    """An entry of a diagnostics listing: ``path`` is relative to the batch (``row_errors/x.json``)."""

    name: str
    path: str
    length: int
    is_dir: bool = False


def row_error(
    row: int,
    errors: Iterable[Mapping[str, Any]],
    *,
    data: Mapping[str, Any] | None = None,
    corrupt_record: str | None = None,
    filename: str | None = None,
) -> dict[str, Any]:
    """Build one rejected-row record: the row's data (or its raw text) plus its errors.

    Each error is ``{"code", "message", "path"}`` (``path`` may be omitted for row-level errors).
    """
    record: dict[str, Any] = {}
    if corrupt_record is not None:
        record["_corrupt_record"] = corrupt_record
    if data is not None:
        record.update(data)
    record["_errors"] = [{k: v for k, v in e.items() if v is not None} for e in errors]
    if filename is not None:
        record["_filename"] = filename
    record["_row"] = row
    return record


def _json_line(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(record, default=str, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


class ErrorStore:
    """Reads and writes the diagnostics of batches under ``<lake_url>/_diagnostics``."""

    def __init__(self, lake_url: str, *, storage_options: dict[str, Any] | None = None) -> None:
        self.root_url = f"{lake_url.rstrip('/')}/_diagnostics"
        self._fs, self._root = fsspec.core.url_to_fs(self.root_url, **(storage_options or {}))

    def _batch_dir(self, batch_id: str) -> str:
        return f"{self._root.rstrip('/')}/{check_batch_id(batch_id)}"

    def _resolve(self, batch_id: str, path: str) -> str:
        clean = posixpath.normpath(path.strip("/")) if path.strip("/") else ""
        if clean in (".", ""):
            return self._batch_dir(batch_id)
        if clean.startswith("..") or "/../" in f"/{clean}/":
            raise BadRequestError(f"Invalid diagnostics path {path!r}.")
        return f"{self._batch_dir(batch_id)}/{clean}"

    # -- writing ---------------------------------------------------------------------------
    def write_row_errors(
        self,
        batch_id: str,
        kind: RowErrorKind,
        records: Iterable[Mapping[str, Any]],
        *,
        records_per_file: int = DEFAULT_RECORDS_PER_FILE,
        first_part: int = 0,
    ) -> list[str]:
        """Write rejected rows as ``row_errors/<kind>_errors_<n>.json`` (JSON Lines).

        Records lacking ``_filename`` get the diagnostics file's name (as the platform does).
        Returns the written paths relative to the batch; nothing is written for no records.
        """
        if kind not in ("parsing", "conversion"):
            raise BadRequestError(f"Unknown row error kind {kind!r}.")
        directory = self._resolve(batch_id, "row_errors")
        written: list[str] = []
        part, count, fh = first_part, 0, None
        try:
            for record in records:
                if fh is None or count >= records_per_file:
                    if fh is not None:
                        fh.close()
                        part += 1
                    name = f"{kind}_errors_{part}.json"
                    self._fs.makedirs(directory, exist_ok=True)
                    fh = self._fs.open(f"{directory}/{name}", "wb")
                    written.append(f"row_errors/{name}")
                    count = 0
                rec = dict(record)
                rec.setdefault("_filename", written[-1].rsplit("/", 1)[1])
                fh.write(_json_line(rec))
                count += 1
        finally:
            if fh is not None:
                fh.close()
        return written

    def write_input_files(
        self, batch_id: str, files: Iterable[str], *, name: str = "fileMetaData1.json"
    ) -> str:
        """Record the batch's input files as ``input_files/<name>`` (one ``{"path"}`` per line)."""
        path = self._resolve(batch_id, f"input_files/{name}")
        self._fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with self._fs.open(path, "wb") as fh:
            for f in files:
                fh.write(_json_line({"path": f}))
        return f"input_files/{name}"

    def delete(self, batch_id: str) -> None:
        """Remove every diagnostic file of the batch."""
        directory = self._batch_dir(batch_id)
        if self._fs.exists(directory):
            self._fs.rm(directory, recursive=True)

    # -- reading ---------------------------------------------------------------------------
    def exists(self, batch_id: str, path: str = "") -> bool:
        """Whether the batch has diagnostics at ``path``."""
        return bool(self._fs.exists(self._resolve(batch_id, path)))

    def list(self, batch_id: str, path: str = "") -> list[DiagnosticFile]:
        """The entries under ``path`` (``""``, ``row_errors``, ``input_files``), sorted by name.

        A file path lists just that file. ``NotFoundError`` when nothing is there.
        """
        target = self._resolve(batch_id, path)
        if not self._fs.exists(target):
            raise NotFoundError(
                f"Batch {batch_id} has no diagnostics at {path or '/'!r}.",
                resource_type="batch",
                resource_id=batch_id,
            )
        base = self._batch_dir(batch_id)
        infos = [self._fs.info(target)] if self._fs.isfile(target) else self._fs.ls(target, detail=True)
        out = []
        for info in infos:
            full = str(info["name"]).rstrip("/")
            rel = full[len(base) :].lstrip("/") if full.startswith(base) else full.rsplit("/", 1)[-1]
            is_dir = info.get("type") == "directory"
            out.append(
                DiagnosticFile(
                    full.rsplit("/", 1)[-1], rel, 0 if is_dir else int(info.get("size") or 0), is_dir
                )
            )
        return sorted(out, key=lambda d: d.name)

    def read(self, batch_id: str, path: str) -> bytes:
        """The raw content of one diagnostic file (JSON Lines). ``NotFoundError`` if absent."""
        target = self._resolve(batch_id, path)
        if not self._fs.isfile(target):
            raise NotFoundError(
                f"Batch {batch_id} has no diagnostics file {path!r}.",
                resource_type="batch",
                resource_id=batch_id,
            )
        with self._fs.open(target, "rb") as fh:
            data: bytes = fh.read()
        return data

    def records(self, batch_id: str, path: str) -> Iterator[dict[str, Any]]:
        """The records of one diagnostic file, parsed."""
        for line in self.read(batch_id, path).splitlines():
            if line.strip():
                yield json.loads(line)

    def rows(self, batch_id: str) -> Iterator[dict[str, Any]]:
        """Every rejected-row record of the batch (all ``row_errors`` files)."""
        if not self.exists(batch_id, "row_errors"):
            return
        for entry in self.list(batch_id, "row_errors"):
            if not entry.is_dir:
                yield from self.records(batch_id, entry.path)
