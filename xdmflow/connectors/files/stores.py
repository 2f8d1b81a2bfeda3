"""Where files live: local folders, S3 buckets, SFTP servers, behind one ``pyarrow.fs`` interface.

A ``FileStore`` maps the *user paths* a connection shows (``/sales/2024/jan.csv``) to paths of
a ``pyarrow.fs.FileSystem`` and back, confines every path under the connection's root, lists
files (folders, wildcards, recursion) with their size and modification time, and turns the
backend's exceptions into ``SourceError`` subclasses.

* local: ``pyarrow.fs.LocalFileSystem`` confined under ``rootPath`` (``..`` and symlink escapes
  are refused);
* S3: ``pyarrow.fs.S3FileSystem`` (built into pyarrow, no s3fs needed), user paths are
  ``/bucket/key``, optionally confined to ``bucketName`` / ``folderPath``;
* SFTP: fsspec's ``SFTPFileSystem`` (needs ``paramiko``) wrapped in ``pyarrow.fs.PyFileSystem``;
  one SSH session per store, closed by ``close()`` (stores are context managers).
"""

from __future__ import annotations

import base64
import fnmatch
import io
import os
import posixpath
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow.fs as pafs

from xdmflow.connectors.policy import attached, is_within
from xdmflow.errors import (
    ConfigError,
    SourceAuthError,
    SourceError,
    SourceFatalError,
    SourceRetriableError,
)

__all__ = ["FileEntry", "FileStore", "LocalStore", "S3Store", "SftpStore", "has_wildcard"]

_WILDCARD = re.compile(r"[*?\[]")
_SCHEME = re.compile(r"^(s3a?|file)://")


def has_wildcard(path: str) -> bool:
    """Whether ``path`` holds a glob wildcard (``*``, ``?``, ``[``)."""
    return bool(_WILDCARD.search(path))


def clean_user_path(path: str | None) -> str:
    """Normalise a user path to ``/a/b`` form; refuse ``..`` parts (no escape from the root).

    ``s3://bucket/key`` and ``file:///path`` URLs are accepted and become ``/bucket/key``, ``/path``.
    """
    raw = _SCHEME.sub("", (path or "/").replace("\\", "/"), count=1)
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise SourceFatalError(f"Path {path!r} is refused: '..' may not appear in a path.")
    return "/" + "/".join(parts)


@dataclass(frozen=True)
class FileEntry:
    """One file: its user path, backend path, size in bytes and modification time (UTC)."""

    path: str
    fs_path: str
    size: int
    mtime: datetime


class FileStore:
    """Base class: path mapping, listing and error translation over a ``pyarrow.fs`` filesystem."""

    fs: pafs.FileSystem
    #: user path that explore's ``root`` lists
    root: str = "/"

    def to_fs(self, user_path: str) -> str:
        """The backend path of a (clean) user path; raises if outside the connection's root."""
        raise NotImplementedError

    def to_user(self, fs_path: str) -> str:
        """The user path of a backend path."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise ``SourceAuthError`` / ``SourceRetriableError`` unless the root can be listed."""
        self.info(self.root, must_exist=True)

    def ready(self) -> None:
        """Cheap pre-flight before any listing (local: the root folder must be there)."""

    def close(self) -> None:
        """Release the connection to the backend (SFTP: the SSH session); idempotent."""

    def __enter__(self) -> FileStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def translate(self, exc: BaseException, what: str) -> SourceError:
        """Turn a backend exception into a ``SourceError`` (the default: fatal)."""
        if isinstance(exc, SourceError):
            return exc
        if isinstance(exc, PermissionError):
            return SourceAuthError(f"Access to {what} was denied: {exc.strerror or exc}.")
        if isinstance(exc, TimeoutError | ConnectionError):
            return SourceRetriableError(f"The file source could not be reached while reading {what}: {exc}.")
        return SourceFatalError(f"Could not read {what}: {exc}")

    # -- listing -------------------------------------------------------------------------------

    def info(self, user_path: str, *, must_exist: bool = False) -> pafs.FileInfo:
        """The ``FileInfo`` of a user path (``NotFound`` type when missing, unless ``must_exist``)."""
        self.ready()
        try:
            info = self.fs.get_file_info(self.to_fs(clean_user_path(user_path)))
        except Exception as exc:
            raise self.translate(exc, user_path) from exc
        if must_exist and info.type == pafs.FileType.NotFound:
            raise SourceFatalError(f"Path {user_path!r} was not found.")
        return info

    def listdir(self, user_path: str) -> list[pafs.FileInfo]:
        """The direct children of a folder, folders first then files, by name."""
        path = clean_user_path(user_path)
        info = self.info(path, must_exist=True)
        if info.type != pafs.FileType.Directory:
            raise SourceFatalError(f"Path {path!r} is not a folder.")
        infos = self._select(path, recursive=False)
        return sorted(infos, key=lambda i: (i.type != pafs.FileType.Directory, i.base_name))

    def _select(self, user_path: str, *, recursive: bool) -> list[pafs.FileInfo]:
        self.ready()
        try:
            selector = pafs.FileSelector(self.to_fs(user_path), recursive=recursive, allow_not_found=False)
            infos = self.fs.get_file_info(selector)
        except Exception as exc:
            raise self.translate(exc, user_path) from exc
        return [i for i in infos if not i.base_name.startswith(".") and self.visible(i.path)]

    def visible(self, fs_path: str) -> bool:
        """Whether a listed backend path may be shown and read (local: it stays inside the root)."""
        return True

    def files(self, user_path: str, *, recursive: bool = False) -> list[FileEntry]:
        """The files a source connection's ``path`` names: a file, a folder or a wildcard pattern.

        Hidden (``.``-prefixed) and empty files are skipped; the result is sorted by path.
        """
        path = clean_user_path(user_path)
        if has_wildcard(path):
            parts = path.strip("/").split("/")
            first = next(i for i, p in enumerate(parts) if has_wildcard(p))
            base = "/" + "/".join(parts[:first])
            pattern = "/".join(parts[first:])
            deep = recursive or len(parts) - first > 1
            infos = self._select(base, recursive=deep)
            base_fs = self.to_fs(base).rstrip("/")
            chosen = []
            for i in infos:
                rel = i.path[len(base_fs) :].lstrip("/")
                target = rel if "/" in pattern else posixpath.basename(rel)
                if fnmatch.fnmatchcase(target, pattern) and (deep or "/" not in rel):
                    chosen.append(i)
        else:
            info = self.info(path, must_exist=True)
            chosen = [info] if info.type == pafs.FileType.File else self._select(path, recursive=recursive)
        return sorted(
            (self._entry(i) for i in chosen if i.type == pafs.FileType.File and (i.size or 0) > 0),
            key=lambda e: e.path,
        )

    def _entry(self, info: pafs.FileInfo) -> FileEntry:
        mtime = info.mtime or datetime.fromtimestamp(0, UTC)
        mtime = mtime.replace(tzinfo=UTC) if mtime.tzinfo is None else mtime.astimezone(UTC)
        return FileEntry(
            path=self.to_user(info.path), fs_path=info.path, size=int(info.size or 0), mtime=mtime
        )


class LocalStore(FileStore):
    """Files under ``rootPath`` on the xdmflow host.

    Every path is resolved (``realpath``) and must stay under the root: a symlink pointing out
    of the tree is hidden from listings and refused when named. With the operator's
    ``AccessPolicy`` attached to the auth params (the services always attach it) the root must
    lie under ``XDMFLOW_LOCAL_ROOTS`` and xdmflow's own files are never reachable through it.
    """

    def __init__(self, auth: Mapping[str, Any]) -> None:
        root = str(auth.get("rootPath") or "")
        if not root or not os.path.isabs(root):
            raise SourceAuthError("rootPath must be an absolute folder path.")
        self.policy = attached(auth)
        self.base = self.policy.check_folder(root) if self.policy else os.path.realpath(root)
        self.fs = pafs.LocalFileSystem()

    def _inside(self, real: str) -> bool:
        if not is_within(real, self.base):
            return False
        return self.policy is None or self.policy.path_allowed(real)

    def visible(self, fs_path: str) -> bool:
        return self._inside(os.path.realpath(fs_path))

    def check(self) -> None:
        """A missing root is an unavailable volume (retriable); a non-folder root is refused."""
        if not os.path.exists(self.base):
            raise SourceRetriableError(f"rootPath {self.base!r} does not exist (is the volume mounted?).")
        if not os.path.isdir(self.base):
            raise SourceAuthError(f"rootPath {self.base!r} is not a folder.")
        if not os.access(self.base, os.R_OK | os.X_OK):
            raise SourceAuthError(f"rootPath {self.base!r} is not readable by the xdmflow process.")

    def ready(self) -> None:
        self.check()

    def to_fs(self, user_path: str) -> str:
        full = os.path.realpath(os.path.join(self.base, clean_user_path(user_path).lstrip("/")))
        if not self._inside(full):
            raise SourceFatalError(
                f"Path {user_path!r} leads outside rootPath (or into xdmflow's own files) and is refused."
            )
        return full

    def to_user(self, fs_path: str) -> str:
        rel = os.path.relpath(fs_path, self.base).replace(os.sep, "/")
        return "/" if rel == "." else "/" + rel

    def translate(self, exc: BaseException, what: str) -> SourceError:
        if isinstance(exc, FileNotFoundError) and not os.path.isdir(self.base):
            return SourceRetriableError(f"rootPath {self.base!r} does not exist (is the volume mounted?).")
        return super().translate(exc, what)


class S3Store(FileStore):
    """Objects of an S3 (or S3-compatible) service; user paths are ``/bucket/key``."""

    def __init__(self, auth: Mapping[str, Any]) -> None:
        access, secret = auth.get("s3AccessKey"), auth.get("s3SecretKey")
        if not access or not secret:
            raise SourceAuthError("s3AccessKey and s3SecretKey are required.")
        kwargs: dict[str, Any] = {
            "access_key": str(access),
            "secret_key": str(secret),
            "region": str(auth.get("region") or "us-east-1"),
            "connect_timeout": float(auth.get("connectTimeout") or 5),
            "request_timeout": float(auth.get("requestTimeout") or 60),
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=2),
        }
        url = str(auth.get("serviceUrl") or auth.get("endpoint") or "")
        if url:
            scheme, _, host = url.partition("://")
            if not host:
                scheme, host = "https", url
            kwargs.update(endpoint_override=host.rstrip("/"), scheme=scheme)
        self.fs = pafs.S3FileSystem(**kwargs)
        self.endpoint = url or "AWS S3"
        bucket = str(auth.get("bucketName") or "").strip("/")
        folder = str(auth.get("folderPath") or "").strip("/") if bucket else ""
        self.prefix = "/".join(p for p in (bucket, folder) if p)
        self.root = clean_user_path(self.prefix)

    def to_fs(self, user_path: str) -> str:
        path = clean_user_path(user_path).lstrip("/")
        if self.prefix and path != self.prefix and not path.startswith(self.prefix + "/"):
            raise SourceFatalError(
                f"Path {user_path!r} is outside this connection's bucket/folder {self.root!r}."
            )
        return path

    def to_user(self, fs_path: str) -> str:
        return "/" + fs_path.lstrip("/")

    def check(self) -> None:
        """List the root (the buckets, or the configured bucket/folder)."""
        path = self.root
        try:
            if path == "/":
                self.fs.get_file_info(pafs.FileSelector("", recursive=False))
            else:
                bucket = self.prefix.split("/", 1)[0]
                if self.fs.get_file_info(bucket).type == pafs.FileType.NotFound:
                    raise SourceFatalError(
                        f"Bucket {bucket!r} does not exist (or is not visible to this key)."
                    )
                self.fs.get_file_info(
                    pafs.FileSelector(self.to_fs(path), recursive=False, allow_not_found=True)
                )
        except Exception as exc:
            raise self.translate(exc, path) from exc

    def translate(self, exc: BaseException, what: str) -> SourceError:
        if isinstance(exc, SourceError):
            return exc
        text = str(exc)
        low = text.lower().replace("_", "")
        auth_markers = (
            "accessdenied",
            "invalidaccesskeyid",
            "signaturedoesnotmatch",
            "forbidden",
            "http status 403",
            "invalidtoken",
            "unrecognizedclient",
        )
        if any(m in low for m in auth_markers):
            return SourceAuthError(f"S3 refused the credentials for {what} ({_first_line(text)}).")
        down_markers = (
            "networkconnection",
            "curl error",
            "couldn't connect",
            "connection refused",
            "timed out",
            "timeout",
            "slowdown",
            "service unavailable",
            "http status 5",
            "internalerror",
            "throttl",
        )
        if any(m in low for m in down_markers):
            return SourceRetriableError(
                f"S3 endpoint {self.endpoint} could not be reached or is unavailable ({_first_line(text)}); "
                "the run will be retried."
            )
        if "nosuchbucket" in low or "no such bucket" in low or "bucket does not exist" in low:
            return SourceFatalError(f"The bucket of {what} does not exist.")
        return super().translate(exc, what)


class SftpStore(FileStore):
    """Files on an SFTP server, through fsspec's ``sftp`` implementation (needs ``paramiko``).

    Each store holds one SSH session, closed by ``close()`` (or when the store is collected).
    """

    def __init__(self, auth: Mapping[str, Any]) -> None:
        try:
            import paramiko  # noqa: F401
            from fsspec.implementations.sftp import SFTPFileSystem
        except ImportError:
            raise ConfigError(
                "The SFTP connector needs the optional package paramiko: pip install paramiko"
            ) from None
        host = str(auth.get("host") or "")
        if not host:
            raise SourceAuthError("host is required.")
        try:
            port = int(auth.get("port") or 22)
        except (TypeError, ValueError):
            raise SourceAuthError(f"port {auth.get('port')!r} is not a port number.") from None
        kwargs: dict[str, Any] = {
            "port": port,
            "username": auth.get("userName"),
            "timeout": float(auth.get("connectTimeout") or 10),
            "banner_timeout": float(auth.get("connectTimeout") or 10),
            "auth_timeout": float(auth.get("connectTimeout") or 10),
            "allow_agent": False,
            "look_for_keys": False,
        }
        if auth.get("privateKeyContent"):
            kwargs["pkey"] = _load_private_key(str(auth["privateKeyContent"]), auth.get("passPhrase"))
        else:
            kwargs["password"] = auth.get("password")
        self.host = host
        self.port = port
        self.root = clean_user_path(str(auth.get("folderPath") or "/"))
        try:
            fs = SFTPFileSystem(host, skip_instance_cache=True, **kwargs)
        except Exception as exc:
            raise self.translate(exc, f"sftp://{host}:{port}") from exc
        self._sftp = fs
        self._finalizer = weakref.finalize(self, _close_sftp, fs)
        self.fs = pafs.PyFileSystem(pafs.FSSpecHandler(fs))

    def close(self) -> None:
        self._finalizer()

    def to_fs(self, user_path: str) -> str:
        return clean_user_path(user_path)

    def to_user(self, fs_path: str) -> str:
        return clean_user_path(fs_path)

    def translate(self, exc: BaseException, what: str) -> SourceError:
        import paramiko

        if isinstance(exc, SourceError):
            return exc
        where = f"{self.host}:{self.port}"
        if isinstance(exc, FileNotFoundError) and getattr(self, "_sftp", None) is not None:
            # fsspec's isfile() (used by pyarrow before opening) answers False when the session
            # died: ask the server again to tell a missing file from a dropped connection
            return self._missing(what, where)
        if isinstance(exc, paramiko.AuthenticationException | paramiko.PasswordRequiredException):
            return SourceAuthError(f"The SFTP server {where} refused the credentials of this connection.")
        if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
            return SourceRetriableError(
                f"The SFTP server {where} could not be reached (connection refused); the run will be retried."
            )
        if isinstance(exc, TimeoutError | ConnectionError | EOFError | paramiko.SSHException) or (
            isinstance(exc, OSError) and exc.errno in (110, 111, 113)
        ):
            return SourceRetriableError(
                f"The SFTP server {where} could not be reached or dropped the connection while "
                f"reading {what} ({type(exc).__name__}: {exc}); the run will be retried."
            )
        if isinstance(exc, OSError) and str(exc) == "Socket is closed":
            return SourceRetriableError(
                f"The SFTP server {where} closed the connection while reading {what}; "
                "the run will be retried."
            )
        return super().translate(exc, what)

    def _missing(self, what: str, where: str) -> SourceError:
        try:
            transport = self._sftp.client.get_transport()
            if transport is None or not transport.is_active():
                raise SourceRetriableError("the SSH session is closed")
            self._sftp.ftp.stat(clean_user_path(what))
        except FileNotFoundError:
            return SourceFatalError(
                f"{what} was not found on the SFTP server {where} (deleted or moved since it was listed?)."
            )
        except Exception as exc:
            return SourceRetriableError(
                f"The SFTP server {where} dropped the connection while reading {what} "
                f"({type(exc).__name__}: {exc}); the run will be retried."
            )
        return SourceRetriableError(
            f"{what} could not be opened on the SFTP server {where} although it exists; "
            "the run will be retried."
        )


def _close_sftp(fs: Any) -> None:
    for part in (getattr(fs, "ftp", None), getattr(fs, "client", None)):
        try:
            if part is not None:
                part.close()
        except Exception:  # noqa: S110 - closing a dead session must not raise
            pass


def _load_private_key(content: str, passphrase: Any) -> Any:

    import paramiko

    text = content if "-----BEGIN" in content else base64.b64decode(content).decode()
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(text), password=passphrase or None)
        except paramiko.SSHException:
            continue
    raise SourceAuthError("privateKeyContent is not a readable RSA, ECDSA or Ed25519 private key.")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else "no detail"
