"""Request plumbing of the console: templates, the signed-in principal, CSRF, HTML error pages."""

from __future__ import annotations

import functools
import inspect
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from xdmflow.api.deps import resolve_principal
from xdmflow.console.session import COOKIE, ConsoleSession, csrf_ok, decode_session, encode_session
from xdmflow.errors import AuthError, XdmflowError
from xdmflow.services import identity
from xdmflow.services.context import AppContext
from xdmflow.services.identity import Principal

__all__ = ["Ui", "page", "render", "TEMPLATES", "SignInRequired", "set_session", "clear_session"]

HERE = Path(__file__).parent


def _ts(ms: Any) -> str:
    """Epoch milliseconds (or seconds) as ``YYYY-MM-DD HH:MM:SS UTC``."""
    try:
        v = float(ms)
    except (TypeError, ValueError):
        return "—"
    if v <= 0:
        return "—"
    if v > 1e11:
        v /= 1000
    return datetime.fromtimestamp(v, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(ms: Any) -> str:
    if ms is None:
        return "—"
    v = float(ms)
    if v < 1000:
        return f"{v:.0f} ms"
    if v < 120_000:
        return f"{v / 1000:.1f} s"
    return f"{v / 60000:.1f} min"


def _size(n: Any) -> str:
    v = float(n or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if v < 1024 or unit == "GB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return str(n)


TEMPLATES = Environment(
    loader=FileSystemLoader(str(HERE / "templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters.update(ts=_ts, duration=_duration, size=_size, q=quote)
TEMPLATES.filters["json"] = lambda v: json.dumps(v, indent=2, default=str, ensure_ascii=False)
TEMPLATES.globals["urlencode"] = urlencode


class SignInRequired(XdmflowError):
    """No session, or its token expired: back to the sign-in page."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("sign in")
        self.expired = expired


class CsrfRefused(XdmflowError):
    status = 403
    default_title = "Forbidden"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def set_session(response: Response, request: Request, sess: ConsoleSession, ctx: AppContext) -> None:
    response.set_cookie(
        COOKIE,
        encode_session(sess, ctx.keys),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))


class Ui:
    """What a console page has: the context, the session, the principal it acts as."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.ctx: AppContext = request.app.state.ctx
        sess = decode_session(request.cookies.get(COOKIE), self.ctx.keys)
        if sess is None:
            raise SignInRequired(expired=COOKIE in request.cookies)
        if sess.expired:
            raise SignInRequired(expired=True)
        self.session = sess
        ident = sess.identity
        try:
            self.principal: Principal = resolve_principal(
                self.ctx, f"Bearer {ident.token}", ident.client_id, ident.org_id, sess.sandbox
            )
        except AuthError as exc:
            if exc.code == "401013":
                raise SignInRequired(expired=True) from None
            raise
        self.scope = self.principal.scope

    def sandboxes(self) -> list[str]:
        with self.ctx.db.session() as s:
            return [sb.name for sb in identity.list_sandboxes(s, self.principal.org_id)]

    async def form(self) -> dict[str, str]:
        """The posted form after the CSRF check (403 without the session's token)."""
        form = await self.request.form()
        values = {k: str(v) for k, v in form.multi_items() if isinstance(v, str)}
        if not csrf_ok(self.session, values.get("csrf")):
            raise CsrfRefused("The form's CSRF token is missing or wrong; reload the page and try again.")
        return values

    async def form_lists(self) -> dict[str, list[str]]:
        form = await self.request.form()
        out: dict[str, list[str]] = {}
        for k, v in form.multi_items():
            if isinstance(v, str):
                out.setdefault(k, []).append(v)
        if not csrf_ok(self.session, (out.get("csrf") or [""])[0]):
            raise CsrfRefused("The form's CSRF token is missing or wrong; reload the page and try again.")
        return out

    def check_header_csrf(self) -> None:
        if not csrf_ok(self.session, self.request.headers.get("x-csrf-token")):
            raise CsrfRefused("The request's CSRF token is missing or wrong; reload the page.")

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return render(self.request, template, status, ui=self, **values)


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    ui = values.pop("ui", None)
    started = getattr(request.state, "console_started", time.perf_counter())
    html = TEMPLATES.get_template(template).render(
        request=request,
        ui=ui,
        path=request.url.path,
        request_id=getattr(request.state, "request_id", ""),
        **values,
    )
    response = HTMLResponse(html, status)
    response.headers["server-timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    response.headers["cache-control"] = "no-store"
    return response


def _error_page(request: Request, exc: XdmflowError, ui: Ui | None) -> HTMLResponse:
    return render(
        request,
        "error.html",
        exc.status if 400 <= exc.status < 600 else 500,
        ui=ui,
        error=exc,
    )


def page(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A console handler: sign-in redirects, platform errors as an HTML page with the request id."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        request: Request = kwargs["request"]
        request.state.console_started = time.perf_counter()
        try:
            if inspect.iscoroutinefunction(fn):
                return await fn(*args, **kwargs)
            return await run_in_threadpool(fn, *args, **kwargs)
        except SignInRequired as exc:
            target = "/signin?" + urlencode(
                {"next": request.url.path, **({"expired": "1"} if exc.expired else {})}
            )
            if request.method != "GET":
                target = "/signin?expired=1" if exc.expired else "/signin"
            response = RedirectResponse(target, 303)
            if exc.expired:
                clear_session(response, request)
            return response
        except XdmflowError as exc:
            ui = None
            try:
                ui = Ui(request)
            except (SignInRequired, XdmflowError):
                pass
            return _error_page(request, exc, ui)

    return wrapper
