"""Encryption of secrets at rest and the service's signing key.

One key (``XDMFLOW_SECRET_KEY``, or generated into ``{home}/secret.key`` with mode 0600)
encrypts connection secrets (Fernet: AES-128-CBC + HMAC-SHA256) and, through a derived key,
signs access tokens. Several service processes must share it (same home or same variable).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from xdmflow.errors import ConfigError
from xdmflow.settings import Settings

__all__ = ["Keyring", "keyring_for", "hash_secret", "verify_secret"]


class Keyring:
    def __init__(self, master: bytes) -> None:
        self._master = master
        fernet_key = base64.urlsafe_b64encode(hashlib.sha256(b"xdmflow-secrets:" + master).digest())
        self._fernet = Fernet(fernet_key)
        self.signing_key = hashlib.sha256(b"xdmflow-tokens:" + master).digest()

    def encrypt(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(data, sort_keys=True).encode()).decode()

    def decrypt(self, token: str) -> dict[str, Any]:
        try:
            out: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise ConfigError(
                "Stored secrets cannot be decrypted with the current XDMFLOW_SECRET_KEY; "
                "use the key they were written with, or re-enter the connection's credentials."
            ) from exc
        return out


def _load_master(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    path = Path(settings.home_path) / "secret.key"
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = base64.urlsafe_b64encode(os.urandom(32))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
    finally:
        os.close(fd)
    return key


@lru_cache(maxsize=8)
def _keyring_cached(secret_key: str | None, home: str) -> Keyring:
    return Keyring(_load_master(Settings(secret_key=secret_key, home=Path(home))))


def keyring_for(settings: Settings) -> Keyring:
    return _keyring_cached(settings.secret_key, str(settings.home_path))


def hash_secret(secret: str) -> str:
    """A salted scrypt hash of a client secret (``scrypt$salt$hash``)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str) -> bool:

    try:
        algo, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    if algo != "scrypt":
        return False
    digest = hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt_hex), n=2**14, r=8, p=1)
    return hmac.compare_digest(digest.hex(), digest_hex)
