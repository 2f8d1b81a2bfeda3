"""Data Access (``/data/foundation/export``): batch diagnostics, batch files, file downloads.

Listings use the platform's shape
``{"_page": {"count", "limit"}, "data": [{"_links": {"self": {"href"}}, "length", "name"}]}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import fsspec
from sqlalchemy.orm import Session

from xdmflow.errors import BadRequestError, NotFoundError
from xdmflow.services.catalog.batches import file_views, find_dataset_file
from xdmflow.services.document_stores import BATCHES
from xdmflow.services.ingest.uploads import Uploads
from xdmflow.store.documents import Scope
from xdmflow.store.tables import Document

if TYPE_CHECKING:
    from xdmflow.lake.diagnostics import ErrorStore

__all__ = [
    "EXPORT",
    "SAMPLE_NAMES",
    "batch_meta",
    "batch_failed",
    "batch_files",
    "file_listing",
    "file_location",
    "byte_range",
    "iter_file",
]

EXPORT = "/data/foundation/export"
SAMPLE_NAMES = ("row_error_samples.json", "row_errors_sample.json")
SAMPLE_SIZE = 100
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _page(params: Mapping[str, str]) -> tuple[int, int]:
    try:
        start = int(params.get("start") or 0)
        limit = int(params.get("limit") or 100)
    except ValueError:
        raise BadRequestError("'start' and 'limit' must be integers") from None
    if start < 0 or not 1 <= limit <= 100:
        raise BadRequestError("'start' must be >= 0 and 'limit' between 1 and 100")
    return start, limit


def _listing(entries: list[dict[str, Any]], params: Mapping[str, str]) -> dict[str, Any]:
    start, limit = _page(params)
    chunk = entries[start : start + limit]
    return {"_page": {"count": len(chunk), "limit": limit}, "data": chunk}


def _entry(href: str, name: str, length: int) -> dict[str, Any]:
    return {"_links": {"self": {"href": href}}, "length": str(length), "name": name}


def _batch(s: Session, scope: Scope, batch_id: str) -> Document:
    return BATCHES.get(s, scope, batch_id)


def batch_meta(
    s: Session, scope: Scope, errors: ErrorStore, base_url: str, batch_id: str, params: Mapping[str, str]
) -> dict[str, Any] | bytes:
    """``GET /batches/{id}/meta[?path=]``: a listing (dict) or a file's JSON Lines (bytes)."""
    _batch(s, scope, batch_id)
    path = (params.get("path") or "").strip("/")
    href = f"{base_url}{EXPORT}/batches/{batch_id}/meta?path="
    if path in SAMPLE_NAMES:
        sample = []
        for record in errors.rows(batch_id):
            sample.append(json.dumps(record, default=str, ensure_ascii=False))
            if len(sample) >= SAMPLE_SIZE:
                break
        if not sample:
            raise NotFoundError(
                f"Batch {batch_id} has no row errors", resource_type="batch", resource_id=batch_id
            )
        return ("\n".join(sample) + "\n").encode()
    found = errors.list(batch_id, path)
    if path and len(found) == 1 and found[0].path == path and not found[0].is_dir:
        return errors.read(batch_id, path)
    entries = [_entry(href + quote(e.path), e.name, e.length) for e in found]
    if not path and errors.exists(batch_id, "row_errors"):
        size = sum(
            len(json.dumps(r, default=str)) + 1
            for _, r in zip(range(SAMPLE_SIZE), errors.rows(batch_id), strict=False)
        )
        entries.append(_entry(href + SAMPLE_NAMES[0], SAMPLE_NAMES[0], size))
    return _listing(entries, params)


def batch_failed(
    s: Session, scope: Scope, uploads: Uploads, base_url: str, batch_id: str, params: Mapping[str, str]
) -> dict[str, Any] | str:
    """``GET /batches/{id}/failed``: the input files of a failed batch, or one file (its local path)."""
    doc = _batch(s, scope, batch_id)
    files = uploads.files(batch_id) if doc.state in ("failed", "failure") else []
    wanted = params.get("path")
    if wanted:
        for name, local in files:
            if name == wanted:
                return str(local)
        raise NotFoundError(
            f"Failed batch {batch_id} has no file {wanted!r}", resource_type="file", resource_id=wanted
        )
    href = f"{base_url}{EXPORT}/batches/{batch_id}/failed?path="
    return _listing([_entry(href + quote(n), n, p.stat().st_size) for n, p in files], params)


def batch_files(
    s: Session, scope: Scope, base_url: str, batch_id: str, params: Mapping[str, str]
) -> dict[str, Any]:
    """``GET /batches/{id}/files``: the batch's committed data files."""
    doc = _batch(s, scope, batch_id)
    views = file_views(doc) if doc.state in ("success", "active") else []
    data = [
        {
            "dataSetFileId": fid,
            "dataSetViewId": v["dataSetViewId"],
            "version": v["version"],
            "created": str(v["created"]),
            "updated": str(v["updated"]),
            "records": str(v["records"]),
            "size": str(v["size"]),
            "isValid": True,
            "_links": {"self": {"href": f"{base_url}{EXPORT}/files/{fid}"}},
        }
        for fid, v in views
    ]
    return _listing(data, params)


def file_location(s: Session, scope: Scope, file_id: str, path: str | None = None) -> tuple[str, str, int]:
    """(storage URL, file name, size) of dataset file ``file_id``; ``path`` must be its name if given."""
    _, view, location = find_dataset_file(s, scope, file_id)
    if path and path.strip("/") != view["fileName"]:
        raise NotFoundError(
            f"Dataset file {file_id} has no file {path!r}", resource_type="file", resource_id=path
        )
    return location, view["fileName"], int(view["size"])


def file_listing(
    s: Session, scope: Scope, base_url: str, file_id: str, params: Mapping[str, str]
) -> dict[str, Any]:
    """``GET /files/{id}`` without ``path``: the one Parquet file behind the dataset file."""
    _, name, size = file_location(s, scope, file_id)
    href = f"{base_url}{EXPORT}/files/{file_id}?path={quote(name)}"
    return _listing([_entry(href, name, size)], params)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``Range: bytes=a-b`` -> inclusive (a, b) clipped to the file; ``None`` for no range."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (m.group(1) == "" and m.group(2) == ""):
        raise BadRequestError(f"Invalid Range {header!r}: use bytes=<start>-<end>")
    if m.group(1) == "":
        start, end = max(0, size - int(m.group(2))), size - 1
    else:
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    if start >= size or end < start:
        raise BadRequestError(f"Range {header!r} is outside the file (size {size})", status=416)
    return start, end


def iter_file(location: str, start: int = 0, end: int | None = None, chunk: int = 1 << 20) -> Iterator[bytes]:
    """Stream bytes ``start..end`` (inclusive) of a lake file."""
    fs, path = fsspec.core.url_to_fs(location)
    with fs.open(path, "rb") as fh:
        fh.seek(start)
        remaining = None if end is None else end - start + 1
        while remaining is None or remaining > 0:
            data = fh.read(chunk if remaining is None else min(chunk, remaining))
            if not data:
                break
            if remaining is not None:
                remaining -= len(data)
            yield data
