"""CPU-heavy request work off the event loop, with a time limit (mapping preview and validation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

from xdmflow.errors import TimeLimitError

__all__ = ["run_limited", "HEAVY_THREADS"]

T = TypeVar("T")

#: Threads that may run heavy request work at once; more requests wait (within their limit), so
#: previews can never take every thread of the pool the other endpoints run on.
HEAVY_THREADS = 4


def _limiter(request: Request) -> anyio.CapacityLimiter:
    state = request.app.state
    limiter: anyio.CapacityLimiter | None = getattr(state, "heavy_limiter", None)
    if limiter is None:
        limiter = anyio.CapacityLimiter(HEAVY_THREADS)
        state.heavy_limiter = limiter
    return limiter


async def run_limited(request: Request, what: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a worker thread; past ``XDMFLOW_PREVIEW_TIMEOUT_SECONDS`` answer a 504.

    The event loop stays free meanwhile (``/health`` answers). A thread cannot be killed: on
    timeout it is abandoned and finishes on its own (it only reads, its answer is dropped)."""
    seconds = float(request.app.state.ctx.settings.preview_timeout_seconds)
    try:
        with anyio.fail_after(seconds):
            return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True, limiter=_limiter(request))
    except TimeoutError:
        raise TimeLimitError(
            f"The {what} took longer than {seconds:g} s (XDMFLOW_PREVIEW_TIMEOUT_SECONDS); "
            "send fewer sample rows or simpler expressions"
        ) from None
