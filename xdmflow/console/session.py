"""The console's session: a signed, HttpOnly, SameSite=Strict cookie holding the signed-in identities
(access token, client id, org) and the chosen sandbox, plus the CSRF token every form post carries."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from xdmflow.services.secrets import Keyring

__all__ = ["COOKIE", "Identity", "ConsoleSession", "encode_session", "decode_session", "csrf_ok"]

COOKIE = "xdmflow_console"
_AUDIENCE = "xdmflow-console"


@dataclass
class Identity:
    token: str
    client_id: str
    org_id: str
    expires: int


@dataclass
class ConsoleSession:
    identities: list[Identity]
    current: int = 0
    sandbox: str = "prod"
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def identity(self) -> Identity:
        return self.identities[min(self.current, len(self.identities) - 1)]

    @property
    def expired(self) -> bool:
        return self.identity.expires <= time.time()

    def add(self, ident: Identity) -> None:
        """Sign in (again) as ``ident``; one identity per org, the newest wins and becomes current."""
        self.identities = [i for i in self.identities if i.org_id != ident.org_id] + [ident]
        self.current = len(self.identities) - 1


def _key(keys: Keyring) -> bytes:
    # a key of its own: a session cookie can never be replayed as an access token or vice versa
    return hmac.new(keys.signing_key, b"xdmflow-console-session", "sha256").digest()


def encode_session(sess: ConsoleSession, keys: Keyring) -> str:
    claims: dict[str, Any] = {
        "aud": _AUDIENCE,
        "ids": [[i.token, i.client_id, i.org_id, i.expires] for i in sess.identities],
        "cur": sess.current,
        "sb": sess.sandbox,
        "csrf": sess.csrf,
        "exp": max(i.expires for i in sess.identities),
    }
    return jwt.encode(claims, _key(keys), algorithm="HS256")


def decode_session(raw: str | None, keys: Keyring) -> ConsoleSession | None:
    """The session of a cookie; ``None`` when absent, forged or past every token's expiry."""
    if not raw:
        return None
    try:
        claims = jwt.decode(raw, _key(keys), algorithms=["HS256"], audience=_AUDIENCE)
        ids = [Identity(str(t), str(c), str(o), int(e)) for t, c, o, e in claims["ids"]]
        if not ids:
            return None
        return ConsoleSession(ids, int(claims["cur"]), str(claims["sb"]), str(claims["csrf"]))
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None


def csrf_ok(sess: ConsoleSession, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(sess.csrf, str(sent))
