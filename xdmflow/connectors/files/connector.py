"""The file-source connectors: Local Files, Amazon S3 and SFTP share one implementation.

A read names a file, a folder or a wildcard pattern (``source_params.path``, else
``ReadRequest.object``) with ``recursive``; every matched file is parsed with the source
connection's format options (``xdmflow.connectors.files.formats``).

Incremental reads go by the **set of ingested files**: ``ReadRequest.ingested_files`` maps
each file the flow already ingested to its signature (size and modification time); the runs
package keeps it beside the watermark and adds ``ReadResult.files`` to it after the commit. A
file not in the set is read whatever its mtime (a file moved in late with an old mtime is not
lost); unchanged files are not read again; a file whose signature changed is read again whole
(``ReadRequest.changed_files == "reread"``, the default; listed in the extension
``changedFilesReread``) or skipped (``"skip"``; listed in ``changedFilesSkipped`` and logged) —
either way it takes its new signature in the set, so it is reported once per change. Without a
set (``None``: a flow's first run, or a watermark of an older version) files whose mtime is
strictly later than ``ReadRequest.watermark`` are read and those not later join the set as
already ingested. ``ReadResult.new_watermark`` stays the latest mtime read (compared with ``>``).
S3 and SFTP report mtimes to the second; deleted files stay in the set.

A record that cannot be parsed (wrong column count, undecodable bytes, an invalid JSON line) is
not an error of the read: it lands in ``ReadResult.rejects`` with its file and 1-based record
number, and the pipeline makes it a row error (counted against ``partialIngestionPercent``).

Every call opens the connection's ``FileStore`` and closes it when done (SFTP: one SSH session
per call, closed even when a reader stops early).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from xdmflow.connectors.base import (
    ConnectionSpec,
    Connector,
    ExploreItem,
    ObjectDescription,
    ObjectType,
    ParseReject,
    ReadRequest,
    ReadResult,
)
from xdmflow.connectors.files.columns import arrow_column
from xdmflow.connectors.files.formats import (
    FormatOptions,
    byte_splittable,
    iter_delimited_range,
    iter_file,
    row_group_count,
    sample_file,
)
from xdmflow.connectors.files.specs import LOCALFILES_SPEC, S3_SPEC, SFTP_SPEC
from xdmflow.connectors.files.stores import LocalStore, S3Store, SftpStore
from xdmflow.connectors.policy import Reach
from xdmflow.errors import SourceError, SourceFatalError

__all__ = ["FilesConnector", "LocalFilesConnector", "S3Connector", "SftpConnector", "CHANGED_FILES"]

log = logging.getLogger(__name__)

#: The values of a flow's ``options.changedFiles``.
CHANGED_FILES = ("reread", "skip")

#: Smallest partition worth its overhead when a read is split for parallel execution.
_MIN_PARTITION_BYTES = 4 << 20


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def signature(entry: Any) -> str:
    """What identifies the content of a file as ingested: its size and modification time."""
    return f"{entry.size}:{_iso(entry.mtime)}"


def parse_watermark(value: Any) -> datetime | None:
    """A file watermark (ISO-8601 string, datetime or epoch seconds) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, int | float):
        ts = datetime.fromtimestamp(value, UTC)
    else:
        try:
            ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise SourceFatalError(f"File watermark {value!r} is not an ISO-8601 timestamp.") from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


class FilesConnector(Connector):
    """Shared behaviour of the file sources; subclasses say how to open the ``FileStore``."""

    def store(self, auth: Mapping[str, Any]) -> Any:
        """The ``FileStore`` for a base connection's auth params."""
        raise NotImplementedError

    def check(self, auth: Mapping[str, Any]) -> None:
        """List the connection's root folder."""
        with self.store(auth) as store:
            store.check()

    def explore(
        self, auth: Mapping[str, Any], object_type: ObjectType, object: str | None
    ) -> list[ExploreItem]:
        """``root`` lists the connection's root folder, ``folder`` the folder ``object``."""

        if object_type not in ("root", "folder"):
            raise SourceFatalError(f"objectType {object_type!r} cannot be listed: use root or folder.")
        with self.store(auth) as store:
            path = store.root if object_type == "root" or not object else object
            infos = store.listdir(path)
            paths = [store.to_user(info.path) for info in infos]
        items = []
        for info, user_path in zip(infos, paths, strict=True):
            is_dir = info.type == pafs.FileType.Directory
            items.append(
                ExploreItem(
                    type="folder" if is_dir else "file",
                    name=info.base_name,
                    path=user_path,
                    can_preview=not is_dir,
                    can_fetch_schema=not is_dir,
                )
            )
        return items

    def describe(
        self,
        auth: Mapping[str, Any],
        object: str,
        *,
        preview: bool = False,
        preview_rows: int = 100,
        options: Mapping[str, Any] | None = None,
    ) -> ObjectDescription:
        """Describe a file (or the first file of a folder/pattern): detected options, columns, preview."""

        opts_in = dict(options or {})
        with self.store(auth) as store:
            files = store.files(object, recursive=bool(opts_in.get("recursive", False)))
            if not files:
                raise SourceFatalError(f"No file matches {object!r}.")
            entry = files[0]
            opts = FormatOptions.from_params(opts_in, entry.path)
            rejects: list[ParseReject] = []
            try:
                table = sample_file(
                    self._opener(store, entry, opts),
                    opts,
                    max(preview_rows, 1) if preview else 100,
                    rejects=rejects.append,
                    name=entry.path,
                )
            except SourceError:
                raise
            except Exception as exc:
                raise store.translate(exc, entry.path) from exc
        columns = [arrow_column(f.name, f.type) for f in table.schema]
        props = {**opts.properties(entry.path), "path": entry.path}
        nested = any(c.xdm.get("type") in ("object", "array") for c in columns)
        return ObjectDescription(
            columns=columns,
            format="hierarchical" if nested else "flat",
            preview=table if preview else None,
            properties=props,
            rejects=rejects,
        )

    @staticmethod
    def _opener(store: Any, entry: Any, opts: Any) -> Any:
        def opener(random_access: bool) -> Any:
            try:
                if random_access:
                    return store.fs.open_input_file(entry.fs_path)
                return store.fs.open_input_stream(entry.fs_path, compression=opts.codec(entry.path))
            except Exception as exc:
                raise store.translate(exc, entry.path) from exc

        return opener

    def _params(self, request: ReadRequest) -> tuple[str, dict[str, Any]]:
        params = dict(request.source_params)
        path = str(params.get("path") or request.object or "")
        if not path:
            raise SourceFatalError("A file source connection needs params.path (a file, folder or pattern).")
        return path, params

    def _selected(self, store: Any, request: ReadRequest) -> list[Any]:
        return self._select(store, request)[0]

    def _select(self, store: Any, request: ReadRequest) -> tuple[list[Any], list[Any], list[Any]]:
        """``(files to read, changed files skipped, files already ingested by an mtime watermark)``."""
        path, params = self._params(request)
        part = params.get("partition") or {}
        recursive = bool(params.get("recursive", False))
        if part.get("file"):
            files = store.files(part["file"], recursive=recursive)
        else:
            files = store.files(path, recursive=recursive)
            if part.get("files") is not None:
                wanted = set(part["files"])
                files = [f for f in files if f.path in wanted]
        tracked = request.ingested_files
        if tracked is None:
            since = parse_watermark(request.watermark)
            if since is None:
                return files, [], []
            return [f for f in files if f.mtime > since], [], [f for f in files if f.mtime <= since]
        if part:  # a partition of a planned read: the plan chose its files
            return files, [], []
        policy = str(request.changed_files or "reread")
        if policy not in CHANGED_FILES:
            raise SourceFatalError(
                f"options.changedFiles must be one of {', '.join(CHANGED_FILES)}, not {policy!r}."
            )
        new = [f for f in files if f.path not in tracked]
        changed = [f for f in files if f.path in tracked and tracked[f.path] != signature(f)]
        if policy == "reread":
            return sorted(new + changed, key=lambda f: f.path), [], []
        return new, changed, []

    def read(
        self, auth: Mapping[str, Any], request: ReadRequest, result: ReadResult
    ) -> Iterator[pa.RecordBatch]:
        """Stream every selected file (not ingested yet, or changed and re-read), file after file, in
        path order; ``result.files`` gets the signature of each file read or skipped."""

        store = self.store(auth)
        _, params = self._params(request)
        part = params.get("partition") or {}
        row_groups = part.get("rowGroups")
        byte_range = part.get("byteRange")
        newest = parse_watermark(request.watermark)
        result.new_watermark = request.watermark
        result.files = dict(part.get("known") or {})  # already ingested (an mtime watermark's files)
        skipped = dict(part.get("skipped") or {})
        tracked = request.ingested_files or {}
        if not part:  # an unplanned read decides here what it skips
            to_read, changed, known = self._select(store, request)
            skipped.update({f.path: signature(f) for f in changed})
            result.files.update({f.path: signature(f) for f in known})
        else:
            to_read = self._selected(store, request)
        if skipped:  # changed in place, not read again (changedFiles: skip): reported, never silent
            result.files.update(skipped)
            result.extensions["changedFilesSkipped"] = sorted(skipped)
            log.warning(
                "changed since ingested, skipped (changedFiles: skip): %s", ", ".join(sorted(skipped))
            )
        for entry in to_read:
            opts = FormatOptions.from_params(params, entry.path)
            opener = self._opener(store, entry, opts)
            try:
                if byte_range is not None:
                    yield from iter_delimited_range(
                        opener,
                        opts,
                        request.batch_size,
                        int(byte_range[0]),
                        int(byte_range[1]),
                        rejects=result.rejects.append,
                        name=entry.path,
                        numbered=request.numbered,
                    )
                else:
                    yield from iter_file(
                        opener,
                        opts,
                        request.batch_size,
                        row_groups,
                        rejects=result.rejects.append,
                        name=entry.path,
                        numbered=request.numbered,
                    )
            except SourceError:
                raise
            except Exception as exc:
                raise store.translate(exc, entry.path) from exc
            if part.get("counts", True):  # a file split in pieces is counted by its first piece
                result.input_files += 1
                result.input_bytes += entry.size
                if entry.path in tracked:  # changed in place (changedFiles: reread): read again whole
                    reread = result.extensions.setdefault("changedFilesReread", [])
                    reread.append(entry.path)
                    log.warning(
                        "changed since ingested, read again whole (changedFiles: reread): %s", entry.path
                    )
            result.files[entry.path] = signature(entry)
            if newest is None or entry.mtime > newest:
                newest = entry.mtime
                result.new_watermark = _iso(newest)

    def partitions(self, auth: Mapping[str, Any], request: ReadRequest) -> list[ReadRequest]:
        """Split a read for parallel execution.

        Without ``targetPartitions`` (set by the pipeline from the executor's parallelism): one
        partition per selected file, or per Parquet row group with ``splitRowGroups``. With it,
        partitions of about ``total bytes / targetPartitions`` (at least ``minPartitionBytes``,
        default 4 MiB): small files are grouped, a big Parquet file is split by row groups and a
        big uncompressed delimited file on a local folder by byte ranges on line boundaries —
        unless a quote or escape character occurs in it (a quoted field may hold a newline).
        """
        store = self.store(auth)
        _, params = self._params(request)
        params.pop("partition", None)
        entries, changed, known = self._select(store, replace(request, source_params=params))
        # the bookkeeping of the run (changed files skipped, files an mtime watermark covered)
        # rides on its first partition, or on one that reads no file when nothing is to be read
        extra: dict[str, Any] = {}
        if changed:
            extra["skipped"] = {f.path: signature(f) for f in changed}
        if known:
            extra["known"] = {f.path: signature(f) for f in known}
        parts = self._plan(store, params, entries, request)
        if extra:
            if parts:
                first = parts[0]
                part0 = {**first.source_params["partition"], **extra}
                parts[0] = replace(first, source_params={**first.source_params, "partition": part0})
            else:
                parts.append(replace(request, source_params={**params, "partition": {"files": [], **extra}}))
        return parts

    def _plan(
        self, store: Any, params: dict[str, Any], entries: list[Any], request: ReadRequest
    ) -> list[ReadRequest]:

        target = int(params.get("targetPartitions") or 0)
        split_groups = bool(params.get("splitRowGroups"))

        def make(part: dict[str, Any]) -> ReadRequest:
            return replace(request, source_params={**params, "partition": part})

        if target <= 0 or split_groups:
            parts = []
            for entry in entries:
                opts = FormatOptions.from_params(params, entry.path)
                groups: list[list[int] | None] = [None]
                if opts.file_type == "parquet" and split_groups:
                    count = row_group_count(self._opener(store, entry, opts))
                    groups = [[g] for g in range(count)] or [None]
                for i, g in enumerate(groups):
                    part: dict[str, Any] = {"file": entry.path, "mtime": _iso(entry.mtime)}
                    if g is not None:
                        part.update(rowGroups=g, counts=i == 0)
                    parts.append(make(part))
            return parts
        total = sum(e.size for e in entries)
        goal = max(total / target, float(params.get("minPartitionBytes") or _MIN_PARTITION_BYTES))
        parts = []
        group: list[str] = []
        group_bytes = 0
        for entry in entries:
            pieces = self._split(store, entry, params, goal) if entry.size > 1.5 * goal else []
            if len(pieces) > 1:
                parts += [make(p) for p in pieces]
                continue
            if group and group_bytes + entry.size / 2 > goal:
                # the file would end nearer the next partition's share than this one's: groups
                # of about equal files stay equal (8 files, 4 partitions → 2/2/2/2, not 3/2/2/1)
                parts.append(make({"files": group}))
                group, group_bytes = [], 0
            group.append(entry.path)
            group_bytes += entry.size
            if group_bytes >= goal:
                parts.append(make({"files": group}))
                group, group_bytes = [], 0
        if group:
            parts.append(make({"files": group}))
        return parts

    def _split(self, store: Any, entry: Any, params: Mapping[str, Any], goal: float) -> list[dict[str, Any]]:
        """Pieces of one big file of about ``goal`` bytes (one piece: the file is not split)."""

        opts = FormatOptions.from_params(params, entry.path)
        opener = self._opener(store, entry, opts)
        base = {"file": entry.path, "mtime": _iso(entry.mtime)}
        try:
            if opts.file_type == "parquet":
                with opener(True) as f:
                    meta = pq.ParquetFile(f).metadata
                sizes = [
                    sum(meta.row_group(g).column(c).total_compressed_size for c in range(meta.num_columns))
                    for g in range(meta.num_row_groups)
                ]
                pieces, run, run_bytes = [], [], 0
                for g, size in enumerate(sizes):
                    run.append(g)
                    run_bytes += size
                    if run_bytes >= goal:
                        pieces.append(run)
                        run, run_bytes = [], 0
                if run:
                    pieces.append(run)
                return [{**base, "rowGroups": p, "counts": i == 0} for i, p in enumerate(pieces)]
            if isinstance(store.fs, pafs.LocalFileSystem) and byte_splittable(opener, opts, entry.path):
                n = max(1, math.ceil(entry.size / goal))
                edges = [entry.size * i // n for i in range(n + 1)]
                return [{**base, "byteRange": [edges[i], edges[i + 1]], "counts": i == 0} for i in range(n)]
        except SourceError:
            raise
        except Exception as exc:
            raise store.translate(exc, entry.path) from exc
        return []


class LocalFilesConnector(FilesConnector):
    """Files under a folder of the xdmflow host (auth ``rootPath``); paths are relative to it."""

    spec: ConnectionSpec = LOCALFILES_SPEC

    def store(self, auth: Mapping[str, Any]) -> Any:

        return LocalStore(auth)

    def reach(self, auth: Mapping[str, Any]) -> Reach:
        root = str(auth.get("rootPath") or "")
        return Reach(folders=(root,)) if root else Reach()


class S3Connector(FilesConnector):
    """Amazon S3 and S3-compatible servers (``serviceUrl``); paths are ``/bucket/key``."""

    spec: ConnectionSpec = S3_SPEC

    def store(self, auth: Mapping[str, Any]) -> Any:

        return S3Store(auth)

    def reach(self, auth: Mapping[str, Any]) -> Reach:

        url = str(auth.get("serviceUrl") or auth.get("endpoint") or "")
        if not url:
            return Reach()  # AWS S3 itself: public
        parts = urlsplit(url if "://" in url else f"https://{url}")
        try:
            port = parts.port
        except ValueError:
            port = None
        default = 80 if parts.scheme == "http" else 443
        return Reach(hosts=((parts.hostname or "", port or default),))


class SftpConnector(FilesConnector):
    """SFTP servers (password or private key); needs the optional ``paramiko`` package."""

    spec: ConnectionSpec = SFTP_SPEC

    def store(self, auth: Mapping[str, Any]) -> Any:

        return SftpStore(auth)

    def reach(self, auth: Mapping[str, Any]) -> Reach:
        try:
            port = int(auth.get("port") or 22)
        except (TypeError, ValueError):
            port = 22
        host = str(auth.get("host") or "")
        return Reach(hosts=((host, port),)) if host else Reach()
