"""Batch file uploads, streamed to the upload area: a local folder or object storage (``s3://``).

The area is ``XDMFLOW_UPLOADS_URL`` — by default ``{lake}/_uploads`` when the lake is on object
storage (so every API process behind a load balancer sees every upload), else
``{XDMFLOW_HOME}/uploads``. Layout under ``{area}/{batchId}/``:

* small files: ``files/<filePath>``, written from the request stream (locally into a temporary
  file then renamed; on object storage an object only appears once its upload completed), so a
  broken upload leaves nothing;
* large files: ``INITIALIZE`` writes the marker ``parts/<filePath>.chunks/.init``; each ``PATCH``
  stores its ``Content-Range`` as its own object ``parts/<filePath>.chunks/<start>-<end>`` (object
  storage cannot write at an offset, and separate objects let several API processes receive
  the chunks of one file); ``COMPLETE`` checks the chunks cover ``0..size-1`` exactly once and
  concatenates them into ``files/<filePath>``.

Readers (COMPLETE, previews, failed-batch downloads) need local files: :meth:`Uploads.files`
returns the files themselves for a local area and copies of them, staged under
``{XDMFLOW_HOME}/uploads-staging/``, for object storage (:meth:`Uploads.release` drops them).
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fsspec
from anyio import to_thread
from fsspec.implementations.local import LocalFileSystem

from xdmflow.errors import BadRequestError, NotFoundError
from xdmflow.lake.storage import configure_object_storage

if TYPE_CHECKING:
    from xdmflow.settings import Settings

__all__ = ["Uploads", "parse_content_range"]

_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)(?:/(\d+|\*))?\s*$")
_CHUNK = re.compile(r"^(\d{20})-(\d{20})$")
_MAX_PATH = 1024
_INIT = ".init"
_PARTS = ".chunks"
_COPY_BLOCK = 8 * 1024 * 1024


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
    if parts[-1] == _INIT or any(p.endswith(_PARTS) or _is_temp(p) for p in parts):
        raise BadRequestError(f"Invalid file path {file_path!r}: reserved name")
    return "/".join(parts)


def _is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def _clean_batch(batch_id: str) -> str:
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$", batch_id) or ".." in batch_id:
        raise BadRequestError(f"Invalid batch id {batch_id!r}")
    return batch_id


class Uploads:
    """The upload area of one deployment.

    Args:
        home: ``XDMFLOW_HOME`` (the default local area is ``{home}/uploads``; staged copies of
            remote uploads go under ``{home}/uploads-staging``).
        url: the area itself (local path or fsspec URL such as ``s3://bucket/prefix/_uploads``).
    """

    def __init__(self, home: Path, *, url: str | None = None) -> None:
        self.url = (url or str(home / "uploads")).rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.root = self.root.rstrip("/")
        self.is_local = isinstance(self.fs, LocalFileSystem)
        self.staging = home / "uploads-staging"

    @classmethod
    def from_settings(cls, settings: Settings) -> Uploads:
        """The area ``settings`` name (object storage is configured from the S3 settings)."""
        configure_object_storage(settings)
        return cls(settings.home_path, url=settings.resolved_uploads_url)

    # -- paths -------------------------------------------------------------------------------
    def batch_dir(self, batch_id: str) -> str:
        """Where a batch's uploads live (a path of the area's filesystem)."""
        return f"{self.root}/{_clean_batch(batch_id)}"

    def _file(self, batch_id: str, file_path: str) -> str:
        return f"{self.batch_dir(batch_id)}/files/{_clean(file_path)}"

    def _parts(self, batch_id: str, file_path: str) -> str:
        return f"{self.batch_dir(batch_id)}/parts/{_clean(file_path)}{_PARTS}"

    def _exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))

    # -- small files -------------------------------------------------------------------------
    async def write(self, batch_id: str, file_path: str, stream: AsyncIterator[bytes]) -> tuple[int, bool]:
        """Stream a whole file; returns (bytes written, whether it replaced an existing file)."""
        dest = self._file(batch_id, file_path)
        parent = dest.rsplit("/", 1)[0]
        existed = await to_thread.run_sync(self._exists, dest)
        target = f"{parent}/.{dest.rsplit('/', 1)[1]}.{uuid.uuid4().hex}.tmp" if self.is_local else dest
        size = 0
        await to_thread.run_sync(lambda: self.fs.makedirs(parent, exist_ok=True))
        fh = await to_thread.run_sync(self.fs.open, target, "wb")
        try:
            async for chunk in stream:
                size += len(chunk)
                await to_thread.run_sync(fh.write, chunk)
            await to_thread.run_sync(fh.close)
            if self.is_local:
                await to_thread.run_sync(self.fs.mv, target, dest)
        except BaseException:
            await to_thread.run_sync(self._discard, fh, target)
            raise
        return size, existed

    def _discard(self, fh: Any, path: str) -> None:
        """Drop a broken upload: abort an unfinished object upload, delete a partial local file."""
        if not self.is_local:
            fh.discard()  # aborts the multipart upload: the object never appears
            fh.closed = True  # closing would complete the upload
            return
        try:
            fh.close()
        finally:
            if self._exists(path):
                self.fs.rm(path)

    # -- large files -------------------------------------------------------------------------
    def initialize(self, batch_id: str, file_path: str) -> None:
        """Start a large file (an existing unfinished one is restarted)."""
        parts = self._parts(batch_id, file_path)
        if self._exists(parts):
            self.fs.rm(parts, recursive=True)
        self.fs.makedirs(parts, exist_ok=True)
        self.fs.pipe_file(f"{parts}/{_INIT}", b"")

    def _ranges(self, batch_id: str, file_path: str) -> tuple[str, list[tuple[int, int]]]:
        parts = self._parts(batch_id, file_path)
        names = self._names(parts)
        if _INIT not in names:
            raise NotFoundError(
                f"File {file_path} of batch {batch_id} was not initialized; POST ?action=INITIALIZE first",
                resource_type="file",
                resource_id=file_path,
            )
        ranges = []
        for name in names:
            m = _CHUNK.match(name)
            if m:
                ranges.append((int(m.group(1)), int(m.group(2))))
        return parts, sorted(ranges)

    def _names(self, directory: str) -> list[str]:
        try:
            entries = self.fs.ls(directory, detail=False)
        except FileNotFoundError:
            return []
        return [str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries]

    async def write_part(
        self, batch_id: str, file_path: str, start: int, end: int, stream: AsyncIterator[bytes]
    ) -> int:
        """Write one chunk at ``start``; its length must be ``end - start + 1`` (400 otherwise)."""
        parts, ranges = await to_thread.run_sync(self._ranges, batch_id, file_path)
        for a, b in ranges:
            if start <= b and end >= a:
                raise BadRequestError(f"Chunk bytes {start}-{end} overlaps the uploaded bytes {a}-{b}")
        name = f"{parts}/{start:020d}-{end:020d}"
        target = f"{parts}/.{uuid.uuid4().hex}.tmp" if self.is_local else name
        fh = await to_thread.run_sync(self.fs.open, target, "wb")
        size = 0
        try:
            async for chunk in stream:
                size += len(chunk)
                if size > end - start + 1:
                    raise BadRequestError(f"The chunk is longer than its Content-Range {start}-{end}")
                await to_thread.run_sync(fh.write, chunk)
            if size != end - start + 1:
                raise BadRequestError(
                    f"The chunk has {size} bytes but its Content-Range {start}-{end} says {end - start + 1}"
                )
            await to_thread.run_sync(fh.close)
            if self.is_local:
                await to_thread.run_sync(self.fs.mv, target, name)
        except BaseException:
            await to_thread.run_sync(self._discard, fh, target)
            raise
        return size

    def received(self, batch_id: str, file_path: str) -> int:
        """Bytes received contiguously from 0 (for HEAD); a finished file counts whole."""
        parts = self._parts(batch_id, file_path)
        if _INIT not in self._names(parts):
            done = self._file(batch_id, file_path)
            if self._exists(done):
                return int(self.fs.size(done))
            raise NotFoundError(
                f"File {file_path} is not in batch {batch_id}", resource_type="file", resource_id=file_path
            )
        _, ranges = self._ranges(batch_id, file_path)
        upto = 0
        for a, b in ranges:
            if a != upto:
                break
            upto = b + 1
        return upto

    def complete(self, batch_id: str, file_path: str) -> int:
        """Finish a large file: the chunks must cover it without gaps; returns its size."""
        parts, ranges = self._ranges(batch_id, file_path)
        upto = 0
        for a, b in ranges:
            if a != upto:
                raise BadRequestError(f"File {file_path} is missing bytes {upto}-{a - 1}; upload them first")
            upto = b + 1
        if upto == 0:
            raise BadRequestError(f"File {file_path} has no uploaded chunks")
        dest = self._file(batch_id, file_path)
        parent = dest.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        target = f"{parent}/.{dest.rsplit('/', 1)[1]}.{uuid.uuid4().hex}.tmp" if self.is_local else dest
        with self.fs.open(target, "wb") as out:
            for a, b in ranges:
                with self.fs.open(f"{parts}/{a:020d}-{b:020d}", "rb") as chunk:
                    while block := chunk.read(_COPY_BLOCK):
                        out.write(block)
        if self.is_local:
            self.fs.mv(target, dest)
        self.fs.rm(parts, recursive=True)
        return upto

    def pending(self, batch_id: str) -> list[str]:
        """Large files initialized but not completed."""
        base = f"{self.batch_dir(batch_id)}/parts"
        if not self._exists(base):
            return []
        markers = [str(p) for p in self.fs.find(base) if str(p).endswith(f"/{_INIT}")]
        return sorted(p[len(base) + 1 : -len(_INIT) - len(_PARTS) - 1] for p in markers)

    # -- reading -----------------------------------------------------------------------------
    def files(self, batch_id: str) -> list[tuple[str, Path]]:
        """The finished files of a batch: (file path, local path), sorted by file path.

        Remote files are staged (downloaded once per process) so readers get local paths.
        """
        base = f"{self.batch_dir(batch_id)}/files"
        if not self._exists(base):
            return []
        out = []
        for p in self.fs.find(base, detail=True).values():
            path = str(p["name"])
            name = path[len(base) + 1 :]
            if _is_temp(name.rsplit("/", 1)[-1]):
                continue
            out.append((name, Path(path) if self.is_local else self._stage(batch_id, name, path, p)))
        return sorted(out)

    def _stage(self, batch_id: str, name: str, path: str, info: dict[str, Any]) -> Path:
        local = self.staging / _clean_batch(batch_id) / name
        if local.exists() and local.stat().st_size == int(info.get("size") or 0):
            return local
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.{uuid.uuid4().hex}.tmp")
        try:
            self.fs.get_file(path, str(tmp))
            tmp.replace(local)
        finally:
            tmp.unlink(missing_ok=True)
        return local

    def release(self, batch_id: str) -> None:
        """Drop this process's staged copies of a batch's remote files (the uploads stay)."""
        if not self.is_local:
            shutil.rmtree(self.staging / _clean_batch(batch_id), ignore_errors=True)

    def remove(self, batch_id: str) -> None:
        """Delete everything uploaded for the batch."""
        self.release(batch_id)
        directory = self.batch_dir(batch_id)
        if self._exists(directory):
            self.fs.rm(directory, recursive=True)
