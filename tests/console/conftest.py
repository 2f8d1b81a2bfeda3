"""Browser fixtures: the whole service and the PayPal emulator on loopback ports, Debian's Chromium
driven by Playwright (no downloaded browser)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import make_settings
from xdmflow.cli.demo import ServiceThread, free_port
from xdmflow.emulators.paypal import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, EmulatorConfig
from xdmflow.emulators.paypal import create_app as paypal_app
from xdmflow.runtime import build_app

CHROMIUM = "/usr/bin/chromium"


@dataclass
class Console:
    url: str
    app: Any
    credentials: dict[str, str]
    paypal_url: str
    paypal_client: tuple[str, str] = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    home = tmp_path_factory.mktemp("console") / "home"
    settings = make_settings(home, scheduler_interval_seconds=0.2, workers=1)
    port = free_port()
    settings.public_url = f"http://127.0.0.1:{port}"
    app = build_app(settings, role="all")
    server = ServiceThread(app, port).start()
    emulator = ServiceThread(
        paypal_app(7, config=EmulatorConfig(n_transactions=50, days=5, n_products=37, latency_seconds=0.0)),
        free_port(),
    ).start()
    try:
        yield Console(server.url, app, dict(app.state.ctx.credentials), emulator.url)
    finally:
        emulator.stop()
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    p = context.new_page()
    p.set_default_timeout(15000)
    try:
        yield p
    finally:
        context.close()


def sign_in(page: Any, url: str, client_id: str, secret: str) -> None:
    page.goto(url + "/")
    page.get_by_label("Client id").fill(client_id)
    page.get_by_label("Client secret").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")
