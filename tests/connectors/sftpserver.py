"""A small SFTP server for tests, built on paramiko's server classes.

``SftpServer(root, users={"ann": "pw"}, keys={"ann": public_key})`` serves the local folder
``root`` as ``/`` over SSH on ``127.0.0.1:<free port>``, in a background thread, with password
and/or public-key authentication. It is read-write enough for clients that list, stat and read
files (and create folders / files); every path is confined under ``root``.

Use it as a context manager or call ``start()`` / ``stop()``; ``stop()`` closes the listening
socket and every open session, so a client sees the server as down afterwards.
"""

from __future__ import annotations

import os
import posixpath
import socket
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import paramiko
from paramiko.sftp import SFTP_NO_SUCH_FILE, SFTP_OK, SFTP_PERMISSION_DENIED

__all__ = ["SftpServer"]


class _Auth(paramiko.ServerInterface):
    """Password and public-key authentication against fixed tables; only ``session`` channels."""

    def __init__(self, users: Mapping[str, str], keys: Mapping[str, paramiko.PKey]) -> None:
        self.users = users
        self.keys = keys

    def get_allowed_auths(self, username: str) -> str:
        kinds = [k for k, table in (("password", self.users), ("publickey", self.keys)) if table]
        return ",".join(kinds) or "none"

    def check_auth_password(self, username: str, password: str) -> int:
        ok = username in self.users and self.users[username] == password
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        known = self.keys.get(username)
        ok = known is not None and known.get_base64() == key.get_base64()
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class _Handle(paramiko.SFTPHandle):
    """An open file: paramiko's default read/write work on ``readfile`` / ``writefile``."""

    def __init__(self, flags: int, fobj: Any) -> None:
        super().__init__(flags)
        self.readfile = fobj
        self.writefile = fobj

    def stat(self) -> Any:
        try:
            return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)


class _Folder(paramiko.SFTPServerInterface):
    """Serves the folder ``root`` as the server's ``/``."""

    def __init__(self, server: Any, root: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(server, *args, **kwargs)
        self.root = os.path.realpath(root)

    def _local(self, path: str) -> str | None:
        """The local path of an SFTP path, or ``None`` when it leads outside the root."""
        clean = posixpath.normpath("/" + path.replace("\\", "/")).lstrip("/")
        full = os.path.realpath(os.path.join(self.root, clean))
        if full != self.root and not full.startswith(self.root + os.sep):
            return None
        return full

    def canonicalize(self, path: str) -> str:
        return posixpath.normpath("/" + path) if path not in ("", ".") else "/"

    def list_folder(self, path: str) -> Any:
        local = self._local(path)
        if local is None:
            return SFTP_PERMISSION_DENIED
        try:
            out = []
            for name in sorted(os.listdir(local)):
                attr = paramiko.SFTPAttributes.from_stat(os.stat(os.path.join(local, name)))
                attr.filename = name
                out.append(attr)
            return out
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    def stat(self, path: str) -> Any:
        local = self._local(path)
        if local is None:
            return SFTP_NO_SUCH_FILE
        try:
            return paramiko.SFTPAttributes.from_stat(os.stat(local))
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    lstat = stat

    def open(self, path: str, flags: int, attr: Any) -> Any:
        local = self._local(path)
        if local is None:
            return SFTP_PERMISSION_DENIED
        binary = getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(local, flags | binary, 0o644)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        if flags & os.O_WRONLY:
            mode = "ab" if flags & os.O_APPEND else "wb"
        elif flags & os.O_RDWR:
            mode = "a+b" if flags & os.O_APPEND else "r+b"
        else:
            mode = "rb"
        return _Handle(flags, os.fdopen(fd, mode))

    def mkdir(self, path: str, attr: Any) -> int:
        local = self._local(path)
        if local is None:
            return SFTP_PERMISSION_DENIED
        try:
            os.mkdir(local)
        except OSError as exc:
            return int(paramiko.SFTPServer.convert_errno(exc.errno))
        return SFTP_OK

    def remove(self, path: str) -> int:
        local = self._local(path)
        if local is None:
            return SFTP_PERMISSION_DENIED
        try:
            os.remove(local)
        except OSError as exc:
            return int(paramiko.SFTPServer.convert_errno(exc.errno))
        return SFTP_OK


class SftpServer:
    """An SFTP server on ``127.0.0.1`` serving ``root`` (see the module docstring)."""

    def __init__(
        self,
        root: str | Path,
        *,
        users: Mapping[str, str] | None = None,
        keys: Mapping[str, paramiko.PKey] | None = None,
        port: int = 0,
    ) -> None:
        self.root = str(root)
        self.users = dict(users or {})
        self.keys = dict(keys or {})
        self.host_key = paramiko.ECDSAKey.generate(bits=256)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port = int(self._sock.getsockname()[1])
        self._transports: list[paramiko.Transport] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"sftp-{self.port}", daemon=True)
        #: number of SSH sessions accepted so far
        self.sessions = 0

    def start(self) -> SftpServer:
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._thread.start()
        return self

    def __enter__(self) -> SftpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def open_sessions(self) -> int:
        """Sessions whose transport is still active."""
        with self._lock:
            return sum(1 for t in self._transports if t.is_active())

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            transport = paramiko.Transport(conn)
            transport.add_server_key(self.host_key)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, _Folder, self.root)
            with self._lock:
                if self._stopped.is_set():
                    conn.close()
                    return
                self._transports.append(transport)
                self.sessions += 1
            try:
                transport.start_server(server=_Auth(self.users, self.keys))
            except (paramiko.SSHException, OSError, EOFError):
                transport.close()

    def stop(self) -> None:
        """Stop accepting connections and close every session."""
        self._stopped.set()
        self._sock.close()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._lock:
            transports, self._transports = self._transports, []
        for t in transports:
            t.close()
