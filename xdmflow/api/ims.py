"""The token endpoint: ``POST /ims/token/v3`` (OAuth2 client credentials, form-encoded)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request

from xdmflow.api.deps import CtxDep
from xdmflow.errors import BadRequestError
from xdmflow.services import identity

router = APIRouter(tags=["ims"])

#: The form body, declared in the OpenAPI document (read by hand: the query string works too).
TOKEN_FORM = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                        "scope": {"type": "string"},
                    },
                    "required": ["client_id", "client_secret"],
                }
            }
        }
    }
}


@router.post("/ims/token/v3", openapi_extra=TOKEN_FORM)
@router.post("/ims/token/v2", include_in_schema=False)
async def token(request: Request, ctx: CtxDep) -> dict[str, Any]:
    """Issue an access token for ``client_id`` / ``client_secret`` (form body or query string)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    form: dict[str, str] = dict(request.query_params.items())
    raw = await request.body()
    if raw:
        if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data", ""):
            raise BadRequestError("Send the token request as application/x-www-form-urlencoded")
        form.update({k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()})
    grant = form.get("grant_type", "client_credentials")
    if grant != "client_credentials":
        raise BadRequestError(f"unsupported_grant_type {grant!r}: only client_credentials is supported")
    with ctx.db.session() as s:
        return identity.issue_token(
            s,
            ctx.keys,
            ctx.settings,
            form.get("client_id", ""),
            form.get("client_secret", ""),
            form.get("scope", ""),
        )
