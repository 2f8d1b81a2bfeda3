"""Batch file uploads, streamed to disk under ``{XDMFLOW_HOME}/uploads/{batchId}/``.

* small files: ``files/<filePath>`` written from the request stream into a temporary file,
  then renamed (a broken upload leaves nothing);
* large files: ``INITIALIZE`` creates ``parts/<filePath>`` plus a ranges record; each
  ``PATCH`` writes its ``Content-Range`` at its offset; ``COMPLETE`` checks the ranges cover
  ``0..size-1`` exactly once and moves the file to ``files/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from xdmflow.errors import BadRequestError, NotFoundError

__all__ = ["Uploads", "parse_content_range"]

_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)(?:/(\d+|\*))?\s*$")
_MAX_PATH = 1024


def parse_content_range(raw: str | None) -> tuple[int, int]:
    """``bytes a-b/*`` -> ``(a, b)`` (inclusive); 400 when missing or malformed."""
    m = _RANGE.match(raw or "")
    if not m:
        raise BadRequestError("Content-Range 'bytes <start>-<end>/*' is required for a file part")
    start, end = int(m.group(1)), int(m.group(2))
    if end < start:
        raise BadRequestError(f"Invalid Content-Range {raw!r}: end is before start")
    return start, end


def _clean(file_path: str) -> str:
    parts = file_path.replace("\\", "/").split("/")
    bad_chars = any(ord(ch) < 32 for ch in file_path)
    if not file_path or len(file_path) > _MAX_PATH or bad_chars or any(p in ("", ".", "..") for p in parts):
        raise BadRequestError(f"Invalid file path {file_path!r}: use names separated by '/', without '..'")
    return "/".join(parts)


class Uploads:
    """The upload area of one deployment."""

    def __init__(self, home: Path) -> None:
        self.root = home / "uploads"

    def batch_dir(self, batch_id: str) -> Path:
        """Where a batch's uploads live."""
        return self.root / batch_id

    def _file(self, batch_id: str, file_path: str) -> Path:
        return self.batch_dir(batch_id) / "files" / _clean(file_path)

    def _part(self, batch_id: str, file_path: str) -> Path:
        return self.batch_dir(batch_id) / "parts" / _clean(file_path)

    def _ranges_of(self, part: Path) -> Path:
        return part.with_name(part.name + ".ranges.json")

    async def write(self, batch_id: str, file_path: str, stream: AsyncIterator[bytes]) -> tuple[int, bool]:
        """Stream a whole file; returns (bytes written, whether it replaced an existing file)."""
        dest = self._file(batch_id, file_path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        size = 0
        try:
            with tmp.open("wb") as fh:
                async for chunk in stream:
                    fh.write(chunk)
                    size += len(chunk)
            existed = dest.exists()
            os.replace(tmp, dest)
        finally:
            if tmp.exists():
                tmp.unlink()
        return size, existed

    def initialize(self, batch_id: str, file_path: str) -> None:
        """Start a large file (an existing unfinished one is restarted)."""
        part = self._part(batch_id, file_path)
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(b"")
        self._ranges_of(part).write_text("[]")

    def _ranges(self, batch_id: str, file_path: str) -> tuple[Path, list[list[int]]]:
        part = self._part(batch_id, file_path)
        rec = self._ranges_of(part)
        if not rec.exists():
            raise NotFoundError(
                f"File {file_path} of batch {batch_id} was not initialized; POST ?action=INITIALIZE first",
                resource_type="file",
                resource_id=file_path,
            )
        return part, json.loads(rec.read_text())

    async def write_part(
        self, batch_id: str, file_path: str, start: int, end: int, stream: AsyncIterator[bytes]
    ) -> int:
        """Write one chunk at ``start``; its length must be ``end - start + 1`` (400 otherwise)."""
        part, ranges = self._ranges(batch_id, file_path)
        for a, b in ranges:
            if start <= b and end >= a:
                raise BadRequestError(f"Chunk bytes {start}-{end} overlaps the uploaded bytes {a}-{b}")
        size = 0
        with part.open("r+b") as fh:
            fh.seek(start)
            async for chunk in stream:
                size += len(chunk)
                if size > end - start + 1:
                    raise BadRequestError(f"The chunk is longer than its Content-Range {start}-{end}")
                fh.write(chunk)
        if size != end - start + 1:
            raise BadRequestError(
                f"The chunk has {size} bytes but its Content-Range {start}-{end} says {end - start + 1}"
            )
        ranges.append([start, end])
        self._ranges_of(part).write_text(json.dumps(sorted(ranges)))
        return size

    def received(self, batch_id: str, file_path: str) -> int:
        """Bytes received contiguously from 0 (for HEAD); a finished file counts whole."""
        done = self._file(batch_id, file_path)
        part = self._part(batch_id, file_path)
        if not self._ranges_of(part).exists():
            if done.exists():
                return done.stat().st_size
            raise NotFoundError(
                f"File {file_path} is not in batch {batch_id}", resource_type="file", resource_id=file_path
            )
        _, ranges = self._ranges(batch_id, file_path)
        upto = 0
        for a, b in sorted(ranges):
            if a != upto:
                break
            upto = b + 1
        return upto

    def complete(self, batch_id: str, file_path: str) -> int:
        """Finish a large file: the chunks must cover it without gaps; returns its size."""
        part, ranges = self._ranges(batch_id, file_path)
        upto = 0
        for a, b in sorted(ranges):
            if a != upto:
                raise BadRequestError(f"File {file_path} is missing bytes {upto}-{a - 1}; upload them first")
            upto = b + 1
        if upto == 0:
            raise BadRequestError(f"File {file_path} has no uploaded chunks")
        with part.open("r+b") as fh:
            fh.truncate(upto)
        dest = self._file(batch_id, file_path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, dest)
        self._ranges_of(part).unlink()
        return upto

    def files(self, batch_id: str) -> list[tuple[str, Path]]:
        """The finished files of a batch: (file path, local path), sorted by file path."""
        base = self.batch_dir(batch_id) / "files"
        if not base.exists():
            return []
        out = []
        for p in base.rglob("*"):
            if p.is_file() and not p.name.endswith(".tmp"):
                out.append((p.relative_to(base).as_posix(), p))
        return sorted(out)

    def pending(self, batch_id: str) -> list[str]:
        """Large files initialized but not completed."""
        base = self.batch_dir(batch_id) / "parts"
        if not base.exists():
            return []
        return sorted(
            p.relative_to(base).as_posix()[: -len(".ranges.json")] for p in base.rglob("*.ranges.json")
        )

    def remove(self, batch_id: str) -> None:
        """Delete everything uploaded for the batch."""
        shutil.rmtree(self.batch_dir(batch_id), ignore_errors=True)
