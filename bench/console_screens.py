"""Screenshots of every console page from a real session: ``python -m bench.console_screens``.

Starts the service (role ``all``) and the PayPal emulator on loopback ports, drives Debian's Chromium
through the PayPal journey (sign in, connect, explore, wizard, run, dataset) and writes one PNG per
page to ``docs/console/`` (regenerated, never hand-made)."""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from xdmflow.cli.demo import ServiceThread, free_port
from xdmflow.emulators.paypal import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, EmulatorConfig
from xdmflow.emulators.paypal import create_app as paypal_app
from xdmflow.runtime import build_app
from xdmflow.settings import Settings

OUT = Path(__file__).resolve().parent.parent / "docs" / "console"


def shot(page: Page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    print(f"docs/console/{name}.png  {page.url}")


def journey(page: Page, url: str, creds: dict[str, str], paypal: str) -> None:
    page.goto(url + "/")
    shot(page, "01-signin")
    page.get_by_label("Client id").fill(creds["client_id"])
    page.get_by_label("Client secret").fill(creds["client_secret"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")
    page.goto(url + "/sources")
    shot(page, "02-sources")
    page.get_by_role("link", name="Connect PayPal").click()
    page.get_by_label("Connection name").fill("PayPal")
    page.locator("#p_host").fill(paypal)
    page.locator("#p_clientId").fill(DEFAULT_CLIENT_ID)
    page.locator("#p_clientSecret").fill(DEFAULT_CLIENT_SECRET)
    shot(page, "03-connect")
    page.get_by_role("button", name="Create connection").click()
    page.get_by_role("button", name="Test connection").click()
    page.get_by_text("Connection test succeeded.").wait_for()
    shot(page, "04-connection")
    page.get_by_role("link", name="Explore").click()
    page.get_by_role("link", name="PayPal.Catalog_Products").click()
    page.wait_for_url(re.compile("object="))
    shot(page, "05-explore")
    page.get_by_role("link", name=re.compile("New dataflow from this table")).click()
    shot(page, "06-wizard-target")
    page.get_by_label("Dataset name").fill("PayPal products")
    page.get_by_role("button", name="Create dataset").click()
    page.wait_for_url(re.compile("dataset="))
    row = page.locator(".mapping-row").filter(has=page.locator("input[value=Create_Time]"))
    row.locator("input[name=src]").fill('iif(Category == "CLOTHING", "not a date", Create_Time)')
    page.locator("#preview-summary").filter(has_text="rejected").wait_for()
    page.get_by_label("Dataflow name").fill("Products from PayPal")
    page.get_by_label("Partial ingestion: % of rows allowed to fail").fill("50")
    page.wait_for_timeout(500)
    shot(page, "07-wizard-mapping")
    page.get_by_role("button", name="Review").click()
    shot(page, "08-wizard-review")
    page.get_by_role("button", name="Create dataflow").click()
    page.wait_for_url(re.compile(r"/flows/[0-9a-f-]+\?"))
    page.get_by_role("button", name="Run now Products from PayPal").click()
    page.wait_for_url(re.compile("/runs/"))
    page.locator("#run-state").filter(has_text="success").wait_for(timeout=60000)
    shot(page, "09-run")
    page.get_by_role("link", name="its dataflow").click()
    shot(page, "10-flow")
    page.get_by_role("link", name="Dataflows").click()
    shot(page, "11-flows")
    page.get_by_role("link", name="Connections").click()
    shot(page, "12-connections")
    page.get_by_role("link", name="Datasets").click()
    shot(page, "13-datasets")
    page.get_by_role("link", name="PayPal products").click()
    shot(page, "14-dataset")
    page.get_by_role("link", name="Schemas", exact=True).click()
    shot(page, "15-schemas")
    page.get_by_role("link", name=re.compile("PayPal products schema")).click()
    shot(page, "16-schema")
    page.goto(url + "/")
    shot(page, "17-overview")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(url + "/flows")
    shot(page, "18-phone-flows")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp()) / "home"
    port = free_port()
    settings = Settings(
        home=home, scheduler_interval_seconds=0.2, workers=1, allowed_hosts=["127.0.0.0/8", "localhost"]
    )
    settings.public_url = f"http://127.0.0.1:{port}"
    app = build_app(settings, role="all")
    server = ServiceThread(app, port).start()
    emulator = ServiceThread(
        paypal_app(7, config=EmulatorConfig(n_transactions=50, days=5, n_products=37, latency_seconds=0.0)),
        free_port(),
    ).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(20000)
            journey(page, server.url, dict(app.state.ctx.credentials), emulator.url)
            browser.close()
    finally:
        emulator.stop()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
