"""Where connectors may reach: the operator's policy, never a tenant's.

Two settings decide it, passed here as plain values (this module knows nothing of settings,
services or the store):

* ``XDMFLOW_LOCAL_ROOTS`` - the only folders a local file connection may read. A connection's
  ``rootPath`` must resolve (``realpath``: ``..`` and symlinks followed) under one of them, and so
  must every file it lists or reads (a symlink inside the tree pointing out is skipped in listings
  and refused when named).
* ``XDMFLOW_ALLOWED_HOSTS`` - loopback, link-local, private and other non-public addresses
  (including the cloud metadata address ``169.254.169.254``) a connector may reach anyway.
  Entries are host names, ``host:port``, IP addresses or CIDR ranges. Host names are resolved
  (``getaddrinfo``) and **every** resolved address is checked; public addresses need no entry.

The service's own files are never reachable: the home folder is excluded from every root that
equals or contains it (only roots strictly *inside* the home, such as the default
``{home}/inbox``, open a part of it), and the lake, upload and database paths are excluded from
every root whatever the roots say.

The services build one ``AccessPolicy`` from the settings, check a connection's ``reach``
(``Connector.reach``) at create, update, test, explore and run, and attach the policy to the auth
params they hand the connector (``attach`` / ``attached``) so the file stores can confine every
listing and read.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from xdmflow.errors import PolicyRefusedError

__all__ = [
    "POLICY_KEY",
    "AccessPolicy",
    "Reach",
    "attach",
    "attached",
    "is_within",
    "url_reach",
]

#: The auth-params key under which the services hand the policy to a connector.
POLICY_KEY = "__xdmflow_access_policy__"

LOCAL_ROOTS_SETTING = "XDMFLOW_LOCAL_ROOTS"
ALLOWED_HOSTS_SETTING = "XDMFLOW_ALLOWED_HOSTS"

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Reach:
    """What a connection's auth params make a connector reach: hosts and local folders."""

    hosts: tuple[tuple[str, int | None], ...] = ()
    folders: tuple[str, ...] = ()


def url_reach(url: str) -> Reach:
    """The host and port of an http(s) base URL (``Reach()`` when it has none)."""

    parts = urlsplit(url if "://" in url else f"https://{url}")
    try:
        port = parts.port
    except ValueError:
        return Reach()
    if not parts.hostname:
        return Reach()
    return Reach(hosts=((parts.hostname, port or (80 if parts.scheme == "http" else 443)),))


def is_within(path: str, folder: str) -> bool:
    """Whether the (real) ``path`` is ``folder`` or lies below it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _real(path: str | os.PathLike[str]) -> str:
    return os.path.realpath(os.path.expanduser(os.fspath(path)))


@dataclass(frozen=True)
class _HostRule:
    name: str | None = None
    network: _Network | None = None
    port: int | None = None

    def matches(self, host: str, port: int | None, addr: _Address | None) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.name is not None:
            return host.lower().rstrip(".") == self.name
        return addr is not None and self.network is not None and addr in self.network


def _parse_rule(entry: str) -> _HostRule:
    text = entry.strip()
    try:
        return _HostRule(network=ipaddress.ip_network(text, strict=False))
    except ValueError:
        pass
    port: int | None = None
    host = text
    if text.startswith("["):  # [v6]:port
        inner, _, rest = text[1:].partition("]")
        host = inner
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    else:
        name, sep, tail = text.rpartition(":")
        if sep and tail.isdigit() and ":" not in name:
            host, port = name, int(tail)
    try:
        return _HostRule(network=ipaddress.ip_network(host, strict=False), port=port)
    except ValueError:
        return _HostRule(name=host.lower().rstrip("."), port=port)


def _as_address(value: str) -> _Address | None:
    try:
        addr = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _internal(addr: _Address) -> bool:
    """Not a public internet address: loopback, private, link-local, CGNAT, reserved, multicast."""
    return not addr.is_global or addr.is_multicast


@dataclass(frozen=True)
class AccessPolicy:
    """The operator's policy as plain, picklable values (``AccessPolicy.build`` normalises them)."""

    local_roots: tuple[str, ...] = ()
    home: str | None = None
    private_paths: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    _rules: tuple[_HostRule, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def build(
        cls,
        *,
        local_roots: Iterable[str | os.PathLike[str]],
        allowed_hosts: Iterable[str],
        home: str | os.PathLike[str] | None = None,
        private_paths: Iterable[str | os.PathLike[str]] = (),
    ) -> AccessPolicy:
        hosts = tuple(h.strip() for h in allowed_hosts if h and h.strip())
        return cls(
            local_roots=tuple(_real(r) for r in local_roots),
            home=_real(home) if home is not None else None,
            private_paths=tuple(_real(p) for p in private_paths),
            allowed_hosts=hosts,
            _rules=tuple(_parse_rule(h) for h in hosts),
        )

    # -- local folders ----------------------------------------------------------------------

    def path_allowed(self, real: str) -> bool:
        """Whether a real path may be read: under an operator root, outside the service's files."""
        if any(is_within(real, p) for p in self.private_paths):
            return False
        for root in self.local_roots:
            if not is_within(real, root):
                continue
            if self.home is not None and is_within(real, self.home):
                # the home is reachable only through a root strictly inside it ({home}/inbox)
                if not (is_within(root, self.home) and root != self.home):
                    continue
            return True
        return False

    def check_folder(self, path: str) -> str:
        """The real path of a connection's root folder; ``PolicyRefusedError`` unless allowed."""
        real = _real(path)
        if not self.path_allowed(real):
            roots = os.pathsep.join(self.local_roots) or "(none)"
            raise PolicyRefusedError(
                f"Local path {path!r} is refused: local folders must lie under one of the operator's "
                f"local roots ({roots}), outside xdmflow's own home, lake and database files. "
                f"The operator opens a folder with the setting {LOCAL_ROOTS_SETTING}.",
                details={"setting": LOCAL_ROOTS_SETTING, "rootPath": path},
            )
        return real

    # -- hosts ------------------------------------------------------------------------------

    def _listed(self, host: str, port: int | None, addr: _Address | None) -> bool:
        rules = self._rules or tuple(_parse_rule(h) for h in self.allowed_hosts)
        return any(rule.matches(host, port, addr) for rule in rules)

    def check_host(self, host: str, port: int | None = None) -> None:
        """Refuse ``host`` when it is or resolves to a non-public address the operator did not list.

        A name listed as such (``localhost``, ``db.internal:5432``) is allowed without resolving;
        otherwise every address ``getaddrinfo`` answers must be public or within a listed entry.
        A name that does not resolve is left to the connector (it fails to connect).
        """
        name = host.strip().strip("[]").lower().rstrip(".")
        if not name:
            return
        if self._listed(name, port, None):
            return
        literal = _as_address(name)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = socket.getaddrinfo(name, port or 0, proto=socket.IPPROTO_TCP)
            except (socket.gaierror, UnicodeError, OSError):
                return
            addresses = [a for a in (_as_address(str(i[4][0])) for i in infos) if a is not None]
        for addr in addresses:
            if _internal(addr) and not self._listed(name, port, addr):
                where = f"{host}:{port}" if port else host
                shown = "" if literal is not None else f" (resolves to {addr})"
                raise PolicyRefusedError(
                    f"Host {where}{shown} is refused: connectors may reach loopback, link-local and "
                    "private addresses only when the operator lists them in the setting "
                    f"{ALLOWED_HOSTS_SETTING} (comma-separated hosts, host:port or CIDR ranges).",
                    details={"setting": ALLOWED_HOSTS_SETTING, "host": host},
                )

    def enforce(self, reach: Reach) -> None:
        """Check every host and folder of a connection's reach."""
        for folder in reach.folders:
            self.check_folder(folder)
        for host, port in reach.hosts:
            self.check_host(host, port)


def attach(auth: Mapping[str, Any], policy: AccessPolicy) -> dict[str, Any]:
    """A copy of ``auth`` carrying ``policy`` for the connector (picklable, for remote executors)."""
    return {**auth, POLICY_KEY: policy}


def attached(auth: Mapping[str, Any]) -> AccessPolicy | None:
    """The policy the services attached to ``auth`` (``None`` when a caller used a connector directly)."""
    value = auth.get(POLICY_KEY)
    return value if isinstance(value, AccessPolicy) else None
