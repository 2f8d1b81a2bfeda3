"""``xdmflow demo``: start the service and walk through what it can do, over real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from rich.table import Table

from xdmflow.errors import InternalError
from xdmflow.runtime import build_app
from xdmflow.settings import Settings

__all__ = ["run_demo", "ServiceThread", "free_port"]

console = Console()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceThread:
    """Run an ASGI app with uvicorn in a background thread on loopback."""

    def __init__(self, app: Any, port: int) -> None:
        self.port = port
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServiceThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.started:
                return self
            if not self.thread.is_alive():
                raise InternalError(f"the server on port {self.port} failed to start")
            time.sleep(0.05)
        raise InternalError(f"the server on port {self.port} did not start within {timeout} s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def run_demo(settings: Settings, *, port: int = 8080, keep_running: bool = False, seed: int = 0) -> int:
    """Run the demo; returns the process exit code."""
    from xdmflow.emulators.paypal import create_app as paypal_app
    from xdmflow.emulators.paypal.config import EmulatorConfig

    port = port or free_port()
    settings.public_url = f"http://127.0.0.1:{port}"
    console.print(f"Starting xdmflow on http://127.0.0.1:{port} (home {settings.home_path})")
    service = ServiceThread(build_app(settings), port).start()
    emulator = ServiceThread(
        paypal_app(seed, config=EmulatorConfig(latency_seconds=0.0)), free_port()
    ).start()
    console.print(f"PayPal emulator on {emulator.url}")
    try:
        with httpx.Client(base_url=service.url, timeout=120) as http:
            from xdmflow.cli.tutorial import Tutorial

            tutorial = Tutorial(http, settings, emulator_url=emulator.url)
            ok = tutorial.run()
            if keep_running:
                _print_how_to_call(service.url, tutorial.credentials)
                console.print("Service running; press Ctrl+C to stop.")
                while True:
                    time.sleep(3600)
            return 0 if ok else 1
    except KeyboardInterrupt:
        return 0
    finally:
        emulator.stop()
        service.stop()


def _print_how_to_call(url: str, creds: dict[str, Any]) -> None:
    table = Table(title="Call the API")
    table.add_column("step")
    table.add_column("command")
    table.add_row(
        "token",
        f"curl -s -X POST {url}/ims/token/v3 -d grant_type=client_credentials "
        f"-d client_id={creds['client_id']} "
        "-d client_secret=$(xdmflow credentials --json | jq -r .client_secret)",
    )
    table.add_row(
        "call",
        f'curl -s {url}/data/foundation/flowservice/flows -H "Authorization: Bearer $TOKEN" '
        f"-H 'x-api-key: {creds['client_id']}' -H 'x-gw-ims-org-id: {creds['org_id']}' "
        "-H 'x-sandbox-name: prod'",
    )
    console.print(table)
