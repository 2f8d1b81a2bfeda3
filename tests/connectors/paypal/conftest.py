"""Fixtures of the PayPal tests: the emulator served by uvicorn on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator

import pytest
import uvicorn

from tests.connectors.paypal.paypalhelp import FAST_RETRY, Emulator
from xdmflow.connectors.paypal import PayPalConnector
from xdmflow.emulators.paypal import EmulatorConfig, create_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(seed: int, config: EmulatorConfig | None) -> Generator[Emulator, None, None]:
    app = create_app(seed, config=config)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the PayPal emulator did not start")
        time.sleep(0.02)
    try:
        yield Emulator(f"http://127.0.0.1:{port}", app.state.emulator)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def big_emulator() -> Iterator[Emulator]:
    """The default dataset (>= 20,000 transactions, 10k-cap burst), shared by a module."""
    yield from _serve(0, None)


SMALL = EmulatorConfig(n_transactions=2_500, days=60, burst_fraction=0.3, n_products=25)


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Start emulators with a given seed/config (default: a small dataset); all stop at teardown."""
    running: list[Generator[Emulator, None, None]] = []

    def make(seed: int = 1, config: EmulatorConfig | None = SMALL) -> Emulator:
        gen = _serve(seed, config)
        running.append(gen)
        emulator = next(gen)
        emulator.stop = gen.close
        return emulator

    yield make
    for gen in running:
        gen.close()


@pytest.fixture
def connector() -> PayPalConnector:
    return PayPalConnector(retry=FAST_RETRY, timeout=10.0)
