"""Ids, etags and timestamps in the platform's formats (platform-api.md §0.5)."""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid

__all__ = [
    "new_uuid",
    "new_etag",
    "new_dataset_id",
    "new_batch_id",
    "new_hex_id",
    "now_ms",
    "holder_id",
    "tenant_id_for_org",
]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_uuid() -> str:
    """A Flow Service id: UUID v4."""
    return str(uuid.uuid4())


def new_etag() -> str:
    """A Cosmos-style etag, quotes included: ``"6802064a-0000-0200-0000-6387c6b90000"``."""
    rnd = os.urandom(4).hex()
    ts = f"{int(time.time()):08x}"
    return f'"{rnd}-0000-0200-0000-{ts}0000"'


def new_dataset_id() -> str:
    """A Catalog dataset id: 24 hex digits (ObjectId style: 4 bytes of time + 8 random)."""
    return f"{int(time.time()):08x}" + os.urandom(8).hex()


def new_batch_id() -> str:
    """A ULID-like batch id: 26 Crockford base32 characters, time-ordered."""
    ms = int(time.time() * 1000)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_hex_id(nbytes: int = 16) -> str:
    """Hex id without dashes (mapping sets: 32 hex; XDM resources: 32 or 48 hex)."""
    return os.urandom(nbytes).hex()


def now_ms() -> int:
    return int(time.time() * 1000)


def holder_id() -> str:
    """``host:pid:random`` — who holds a claim or a lease (a worker, a scheduler instance)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def tenant_id_for_org(org_id: str) -> str:
    """The Schema Registry tenant id of an org: a stable lowercase identifier derived from it."""
    base = org_id.split("@", 1)[0].lower()
    cleaned = "".join(ch for ch in base if ch.isalnum())[:16] or "tenant"
    if cleaned[0].isdigit():
        cleaned = "t" + cleaned
    suffix = hashlib.sha256(org_id.encode()).hexdigest()[:4]
    return f"{cleaned}{suffix}"
