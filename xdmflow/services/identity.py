"""Orgs, API clients, access tokens and sandboxes."""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from xdmflow.errors import AuthError, BadRequestError, ConflictError, NotFoundError
from xdmflow.ids import new_uuid, now_ms, tenant_id_for_org
from xdmflow.services.secrets import Keyring, hash_secret, verify_secret
from xdmflow.settings import Settings
from xdmflow.store.db import Database
from xdmflow.store.documents import Scope
from xdmflow.store.tables import ApiClient, Org, Sandbox

__all__ = [
    "Principal",
    "SandboxNotFoundError",
    "authenticate",
    "ClientCredentials",
    "bootstrap",
    "create_org",
    "create_client",
    "issue_token",
    "verify_token",
    "list_sandboxes",
    "get_sandbox",
    "create_sandbox",
    "delete_sandbox",
    "sandbox_view",
]

_SANDBOX_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the client, its org, the sandbox the request is for."""

    client_id: str
    org_id: str
    sandbox_name: str
    sandbox_id: str
    sandbox_type: str
    tenant_id: str

    @property
    def user(self) -> str:
        return f"{self.client_id}@AdobeID"

    @property
    def scope(self) -> Scope:
        """The org and sandbox every resource of the request belongs to."""
        return Scope(self.org_id, self.sandbox_name)


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str
    org_id: str


def _new_org_id() -> str:
    return secrets.token_hex(12).upper() + "@AdobeOrg"


def create_org(s: Session, org_id: str | None = None, name: str | None = None) -> Org:
    """An org with its default ``prod`` sandbox (returns the existing one when it exists)."""
    org_id = org_id or _new_org_id()
    org = s.get(Org, org_id)
    if org is not None:
        return org
    org = Org(id=org_id, name=name or org_id, tenant_id=tenant_id_for_org(org_id), created_at=now_ms())
    s.add(org)
    s.flush()
    _add_sandbox(s, org_id, "prod", "Production", "production", is_default=True, by="system")
    return org


def create_client(
    s: Session,
    org_id: str,
    *,
    name: str = "default",
    client_id: str | None = None,
    client_secret: str | None = None,
) -> ClientCredentials:
    """A new API client of ``org_id`` (the org is created when missing). The secret is stored hashed."""
    create_org(s, org_id)
    cid = client_id or secrets.token_hex(16)
    secret = client_secret or "p8e-" + secrets.token_urlsafe(24)
    if s.get(ApiClient, cid) is not None:
        raise ConflictError(f"API client {cid} already exists")
    s.add(
        ApiClient(
            client_id=cid, org_id=org_id, name=name, secret_hash=hash_secret(secret), created_at=now_ms()
        )
    )
    s.flush()
    return ClientCredentials(cid, secret, org_id)


def bootstrap(db: Database, settings: Settings) -> dict[str, Any]:
    """Create the default org, client and ``prod`` sandbox on first start.

    Their credentials are kept in ``{home}/credentials.json`` (mode 0600). When the file exists
    but the database is new, the same credentials are registered again, so they stay valid.
    """
    path = Path(settings.home_path) / "credentials.json"
    saved: dict[str, Any] | None = json.loads(path.read_text()) if path.exists() else None
    with db.session() as s:
        if saved is not None:
            if s.get(ApiClient, saved["client_id"]) is None:
                create_client(
                    s, saved["org_id"], client_id=saved["client_id"], client_secret=saved["client_secret"]
                )
            return saved
        creds = create_client(s, _new_org_id(), name="default")
    data = {
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "org_id": creds.org_id,
        "sandbox": "prod",
        "token_url": settings.public_url.rstrip("/") + "/ims/token/v3",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    return data


# -- tokens ------------------------------------------------------------------------------


def issue_token(
    s: Session, keys: Keyring, settings: Settings, client_id: str, client_secret: str, scope: str = ""
) -> dict[str, Any]:
    """Client-credentials grant: a signed access token, or ``invalid_client``."""
    client = s.get(ApiClient, client_id) if client_id else None
    if client is None or client.disabled or not verify_secret(client_secret or "", client.secret_hash):
        raise AuthError("invalid_client", code="invalid_client", status=401)
    now = int(time.time())
    ttl = settings.token_ttl_seconds
    claims = {
        "sub": client.client_id,
        "client_id": client.client_id,
        "org": client.org_id,
        "scope": scope or "openid,AdobeID,read_organizations",
        "iat": now,
        "exp": now + ttl,
        "jti": new_uuid(),
        "type": "access_token",
    }
    token = jwt.encode(claims, keys.signing_key, algorithm="HS256")
    return {"access_token": token, "token_type": "bearer", "expires_in": ttl}


#: Tokens whose signature was checked, with their claims (a client sends the same token for up to
#: its lifetime; the expiry is still checked on every use).
_VERIFIED: OrderedDict[tuple[str, bytes], dict[str, Any]] = OrderedDict()
_VERIFIED_MAX = 4096
_VERIFIED_LOCK = threading.Lock()


def verify_token(token: str, keys: Keyring) -> dict[str, Any]:
    """The token's claims; ``AuthError`` 401013 when it is invalid or expired."""
    key = (token, keys.signing_key)
    with _VERIFIED_LOCK:
        known = _VERIFIED.get(key)
    if known is not None and known["exp"] > time.time():
        return dict(known)
    try:
        claims: dict[str, Any] = jwt.decode(
            token, keys.signing_key, algorithms=["HS256"], options={"require": ["exp", "org", "client_id"]}
        )
    except jwt.PyJWTError:
        raise AuthError("Oauth token is not valid", code="401013", status=401) from None
    with _VERIFIED_LOCK:
        _VERIFIED[key] = dict(claims)
        while len(_VERIFIED) > _VERIFIED_MAX:
            _VERIFIED.popitem(last=False)
    return claims


# -- sandboxes ---------------------------------------------------------------------------


def _add_sandbox(
    s: Session, org_id: str, name: str, title: str, type_: str, *, is_default: bool, by: str
) -> Sandbox:
    ts = now_ms()
    sb = Sandbox(
        id=new_uuid(),
        org_id=org_id,
        name=name,
        title=title,
        type=type_,
        state="active",
        is_default=is_default,
        etag=1,
        created_at=ts,
        updated_at=ts,
        created_by=by,
        updated_by=by,
    )
    s.add(sb)
    s.flush()
    return sb


def list_sandboxes(s: Session, org_id: str) -> list[Sandbox]:
    return list(
        s.scalars(
            select(Sandbox).where(Sandbox.org_id == org_id, Sandbox.state != "deleted").order_by(Sandbox.name)
        )
    )


def get_sandbox(s: Session, org_id: str, name: str) -> Sandbox:
    sb = s.scalars(
        select(Sandbox).where(Sandbox.org_id == org_id, Sandbox.name == name, Sandbox.state != "deleted")
    ).first()
    if sb is None:
        raise NotFoundError(f"Sandbox {name} not found", resource_type="sandbox", resource_id=name)
    return sb


def create_sandbox(s: Session, org_id: str, body: dict[str, Any], by: str) -> Sandbox:
    name = body.get("name")
    if not isinstance(name, str) or not _SANDBOX_NAME.match(name):
        raise BadRequestError(
            "Sandbox 'name' is required: lowercase letters, digits and hyphens, at most 63 characters"
        )
    type_ = body.get("type", "development")
    if type_ not in ("development", "production"):
        raise BadRequestError("Sandbox 'type' must be 'development' or 'production'")
    title = body.get("title") or name
    if not isinstance(title, str):
        raise BadRequestError("Sandbox 'title' must be a string")
    existing = s.scalars(select(Sandbox).where(Sandbox.org_id == org_id, Sandbox.name == name)).first()
    if existing is not None:
        if existing.state != "deleted":
            raise ConflictError(f"A sandbox named {name} already exists in this organization")
        s.delete(existing)
        s.flush()
    return _add_sandbox(s, org_id, name, title, type_, is_default=False, by=by)


def delete_sandbox(s: Session, org_id: str, name: str, by: str) -> Sandbox:
    sb = get_sandbox(s, org_id, name)
    if sb.is_default:
        raise BadRequestError("The default production sandbox cannot be deleted")
    sb.state = "deleted"
    sb.updated_at = now_ms()
    sb.updated_by = by
    sb.etag += 1
    s.flush()
    return sb


def sandbox_view(sb: Sandbox) -> dict[str, Any]:
    def fmt(ms: int) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))

    return {
        "id": sb.id,
        "name": sb.name,
        "title": sb.title,
        "state": sb.state,
        "type": sb.type,
        "region": "local",
        "isDefault": sb.is_default,
        "eTag": sb.etag,
        "createdDate": fmt(sb.created_at),
        "lastModifiedDate": fmt(sb.updated_at),
        "createdBy": sb.created_by,
        "modifiedBy": sb.updated_by,
    }


class SandboxNotFoundError(NotFoundError):
    """The ``x-sandbox-name`` names no sandbox of the org (Flow Service 2100-404 family)."""


#: Client, org and sandbox of a request in one round trip (the org and sandbox may be missing).
_IDENTITY = (
    select(
        ApiClient.disabled,
        ApiClient.org_id,
        Org.id.label("org"),
        Org.tenant_id,
        Sandbox.id.label("sandbox_id"),
        Sandbox.name.label("sandbox_name"),
        Sandbox.type.label("sandbox_type"),
    )
    .select_from(ApiClient)
    .outerjoin(Org, Org.id == bindparam("org_header"))
    .outerjoin(
        Sandbox,
        (Sandbox.org_id == Org.id) & (Sandbox.name == bindparam("sandbox")) & (Sandbox.state != "deleted"),
    )
    .where(ApiClient.client_id == bindparam("api_key"))
    .limit(1)
)


def authenticate(
    db: Database,
    keys: Keyring,
    auth: str | None,
    api_key: str | None,
    org_header: str | None,
    sandbox: str | None,
) -> Principal:
    """The platform gateway's checks on the four identity values (``Authorization``,
    ``x-api-key``, ``x-gw-ims-org-id``, ``x-sandbox-name``; platform-api.md §0.3), in its order
    and with its error codes; the client, org and sandbox are looked up in one round trip."""
    if not auth:
        raise AuthError("Oauth token is missing.", code="403010", status=403)
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Oauth token is not valid", code="401013", status=401)
    claims = verify_token(token.strip(), keys)
    if not api_key:
        raise AuthError("Api Key is required", code="403000", status=403)
    name = (sandbox or "prod").strip().lower()
    with db.engine.connect() as conn:
        row = conn.execute(
            _IDENTITY, {"api_key": api_key, "org_header": org_header or "", "sandbox": name}
        ).first()
    if row is None or row.disabled or row.org_id != claims["org"]:
        raise AuthError("Api Key is invalid", code="403003", status=403)
    if not org_header:
        raise AuthError("Missing header", code="400003", status=400)
    if org_header != claims["org"] or row.org is None:
        raise AuthError("Profile is not valid", code="403025", status=403)
    if row.sandbox_id is None:
        raise SandboxNotFoundError(
            f"Sandbox name {name} not found for the organization {row.org}. "
            "List the sandboxes with GET /data/foundation/sandbox-management/sandboxes.",
            code="2100",
            resource_type="sandbox",
            resource_id=name,
        )
    return Principal(
        client_id=api_key,
        org_id=row.org,
        sandbox_name=row.sandbox_name,
        sandbox_id=row.sandbox_id,
        sandbox_type=row.sandbox_type,
        tenant_id=row.tenant_id,
    )
