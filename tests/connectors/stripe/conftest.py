"""Fixtures of the Stripe tests: the emulator served by uvicorn on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator

import pytest
import uvicorn

from tests.connectors.stripe.stripehelp import FAST_RETRY, T0, Emulator, small_config
from xdmflow.connectors.stripe import StripeConnector
from xdmflow.emulators.stripe import EmulatorConfig, create_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(seed: int, config: EmulatorConfig, now: int | None) -> Generator[Emulator, None, None]:
    app = create_app(seed, now=now, config=config)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", date_header=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the Stripe emulator did not start")
        time.sleep(0.02)
    try:
        yield Emulator(f"http://127.0.0.1:{port}", app.state.emulator)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Start emulators with a seed/config (default: small, frozen at ``T0``); all stop at teardown."""
    running: list[Generator[Emulator, None, None]] = []

    def make(seed: int = 7, config: EmulatorConfig | None = None, now: int | None = T0) -> Emulator:
        gen = _serve(seed, config or small_config(), now)
        running.append(gen)
        emulator = next(gen)
        emulator.stop = gen.close
        return emulator

    yield make
    for gen in running:
        gen.close()


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator()


@pytest.fixture
def connector() -> StripeConnector:
    return StripeConnector(retry=FAST_RETRY, timeout=10.0)
