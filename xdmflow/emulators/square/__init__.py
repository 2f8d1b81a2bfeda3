"""A Square API emulator (OAuth refresh, locations, payments, refunds, orders, customers, catalog).

``create_app(seed, config=...)`` builds the ASGI app; ``run(host, port, seed)`` serves it with
uvicorn (the ``xdmflow emulate square`` command). It accepts the personal access token
``DEFAULT_ACCESS_TOKEN`` (never expires) and OAuth tokens obtained with ``DEFAULT_CLIENT_ID`` /
``DEFAULT_CLIENT_SECRET`` and ``DEFAULT_REFRESH_TOKEN`` (they expire after
``SquareConfig.token_ttl_seconds``). ``/_emulator/*`` is the admin API (see ``app``).
"""

from __future__ import annotations

import uvicorn

from xdmflow.emulators.square.app import create_app
from xdmflow.emulators.square.state import (
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    SquareConfig,
    SquareState,
)

__all__ = [
    "create_app",
    "run",
    "SquareConfig",
    "SquareState",
    "DEFAULT_ACCESS_TOKEN",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REFRESH_TOKEN",
]


def run(host: str = "127.0.0.1", port: int = 8091, seed: int = 0) -> None:
    """Serve the emulator until interrupted."""

    uvicorn.run(create_app(seed), host=host, port=port, log_level="warning")
