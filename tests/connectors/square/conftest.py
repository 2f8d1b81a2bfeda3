"""Fixtures of the Square tests: the emulator served by uvicorn on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn

from tests.connectors.square.squarehelp import SquareEmulator
from xdmflow.emulators.square import SquareConfig, create_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def make_square() -> Iterator[Callable[..., SquareEmulator]]:
    """Start Square emulators with a seed and config; all stop at teardown."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def make(seed: int = 7, config: SquareConfig | None = None) -> SquareEmulator:
        app = create_app(seed, config=config or SquareConfig(n_payments=250, n_customers=30, n_catalog=12))
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the Square emulator did not start")
            time.sleep(0.02)
        servers.append((server, thread))

        def stop() -> None:
            server.should_exit = True
            thread.join(timeout=10)

        return SquareEmulator(f"http://127.0.0.1:{port}", app.state.emulator, stop)

    yield make
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def square(make_square: Callable[..., SquareEmulator]) -> SquareEmulator:
    return make_square()
