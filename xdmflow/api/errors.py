"""THE place where errors become the platform's error bodies.

* gateway auth errors -> ``{"error_code", "message"}`` (platform-api.md §0.3);
* Flow Service -> ``FLOW-{code}-{status}`` problem bodies with ``report``;
* Schema Registry -> ``XDM-{code}-{status}`` bodies with ``report``;
* everything else -> problem+json ``{type, title, status, detail, report}``.

Unknown exceptions become a 500 with a request id and no stack trace.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from xdmflow.errors import AuthError, XdmflowError

__all__ = ["install_error_handlers", "error_response", "ContentTypeError"]

log = logging.getLogger("xdmflow.api")

FLOW_PREFIX = "/data/foundation/flowservice"
XDM_PREFIX = "/data/foundation/schemaregistry"

_FLOW_DEFAULT_CODES = {
    400: "1400",
    401: "2115",
    403: "2120",
    404: "1101",
    405: "1400",
    406: "1400",
    409: "1400",
    412: "1404",
    413: "1400",
    415: "1400",
    500: "1102",
    503: "1103",
}
_XDM_DEFAULT_CODES = {
    400: "1000",
    404: "1012",
    406: "1010",
    409: "1013",
    412: "1014",
    413: "1000",
    415: "1000",
    500: "1500",
}


class ContentTypeError(XdmflowError):
    """POST/PUT/PATCH without a valid Content-Type (the gateway's own body)."""

    status = 400
    default_title = "BadRequestError"


def _request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    return str(rid) if rid else "-"


def error_response(request: Request, exc: XdmflowError) -> JSONResponse:
    status = exc.status
    rid = _request_id(request)
    path = request.url.path
    headers = {"x-request-id": rid}
    if isinstance(exc, AuthError):
        if exc.code == "invalid_client":
            return JSONResponse(
                {"error": "invalid_client", "error_description": "invalid client_id or client_secret"},
                status_code=401,
                headers=headers,
            )
        return JSONResponse({"error_code": exc.code, "message": exc.message}, status, headers=headers)
    if isinstance(exc, ContentTypeError):
        body = {
            "type": "/placeholder/type/uri",
            "status": 400,
            "title": "BadRequestError",
            "detail": exc.message,
        }
        return JSONResponse(body, 400, headers=headers)
    report: dict[str, Any] = {"detailed-message": exc.message, "request-id": rid}
    if path.startswith(FLOW_PREFIX) or exc.code == "2100":
        code = exc.code or _FLOW_DEFAULT_CODES.get(status, "1400")
        for key in ("id", "type"):
            if key in exc.details:
                report[key] = exc.details[key]
        extra = {k: v for k, v in exc.details.items() if k not in ("id", "type")}
        if extra:
            report["details"] = extra
        body = {
            "type": f"https://ns.adobe.com/aep/errors/FLOW-{code}-{status}",
            "title": exc.title,
            "status": status,
            "report": report,
            "errorMessage": exc.message,
            "errorDetails": exc.message,
        }
    elif path.startswith(XDM_PREFIX):
        code = exc.code or _XDM_DEFAULT_CODES.get(status, "1000")
        report = {
            "registryRequestId": rid,
            "timestamp": time.strftime("%m-%d-%Y %H:%M:%S", time.gmtime()),
            "detailed-message": exc.message,
            "sub-errors": list(exc.details.get("errors", [])),
        }
        body = {
            "type": f"http://ns.adobe.com/aep/errors/XDM-{code}-{status}",
            "title": exc.title,
            "status": status,
            "report": report,
            "detail": exc.message,
        }
    else:
        if exc.details:
            report.update({k: v for k, v in exc.details.items() if k not in report})
        body = {
            "type": f"https://ns.adobe.com/aep/errors/{exc.code or status}",
            "title": exc.title,
            "status": status,
            "detail": exc.message,
            "report": report,
        }
        if exc.code:
            body["code"] = exc.code
    return JSONResponse(
        body,
        status,
        headers=headers,
        media_type="application/problem+json"
        if not path.startswith((FLOW_PREFIX, XDM_PREFIX))
        else "application/json",
    )


def install_error_handlers(app: FastAPI) -> None:
    async def on_xdmflow(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, XdmflowError)
        if exc.status >= 500:
            log.error("request %s failed: %s", _request_id(request), exc.message)
        return error_response(request, exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
            problems.append(f"{loc}: {err.get('msg')}")
        msg = "Invalid request: " + "; ".join(problems)
        return error_response(request, XdmflowError(msg, status=400, title="Bad Request"))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404:
            detail = f"No such endpoint: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            detail = f"Method {request.method} is not allowed on {request.url.path}"
        return error_response(request, XdmflowError(detail, status=exc.status_code, title=str(detail)[:60]))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in request %s", _request_id(request))
        return error_response(
            request,
            XdmflowError(
                f"Internal error; quote request id {_request_id(request)} when reporting it", status=500
            ),
        )

    app.add_exception_handler(XdmflowError, on_xdmflow)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
