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

__all__ = ["run_demo", "ServiceThread", "free_port", "port_in_use", "fresh_home", "DEMO_MARKER"]

#: Written into a home the demo created; ``--fresh`` only wipes such a home.
DEMO_MARKER = ".xdmflow-demo"

console = Console()


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``host:port`` cannot be bound (another process listens on it)."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


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


def fresh_home(settings: Settings) -> str | None:
    """Empty the home for ``--fresh``; an error message when it is not the demo's own home."""
    import shutil

    home = settings.home_path
    if not home.exists() or not any(home.iterdir()):
        return None
    if not (home / DEMO_MARKER).exists():
        return (
            f"--fresh only empties a home the demo created; {home} holds other data "
            "(set XDMFLOW_HOME to another folder)"
        )
    for child in home.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    return None


def run_demo(
    settings: Settings,
    *,
    port: int = 8080,
    keep_running: bool = False,
    seed: int = 0,
    fresh: bool = False,
    transactions: int | None = None,
) -> int:
    """Run the demo; returns the process exit code.

    Again in the same home it replaces the resources its earlier run created (found by their
    names); ``fresh`` empties the home first (only a home the demo created). A busy ``port`` is
    one line naming it and ``--port``. ``transactions`` sizes the emulator's data (default 20,000).
    """
    from xdmflow.emulators.paypal import create_app as paypal_app
    from xdmflow.emulators.paypal.config import EmulatorConfig

    if port and port_in_use(port):
        console.print(
            f"[red]Port {port} is already in use[/]; choose another with --port "
            "(e.g. xdmflow demo --port 8090)."
        )
        return 2
    if fresh:
        problem = fresh_home(settings)
        if problem:
            console.print(f"[red]{problem}[/]")
            return 2
    home = settings.home_path
    first_use = not home.exists() or not any(home.iterdir())
    home.mkdir(parents=True, exist_ok=True)
    if first_use:
        (home / DEMO_MARKER).write_text("created by xdmflow demo\n")
    port = port or free_port()
    settings.public_url = f"http://127.0.0.1:{port}"
    config = EmulatorConfig(latency_seconds=0.0)
    if transactions:
        config = EmulatorConfig(latency_seconds=0.0, n_transactions=transactions)
    emulator = ServiceThread(paypal_app(seed, config=config), free_port()).start()
    console.print(f"PayPal emulator on {emulator.url}")
    # the emulator is on loopback, which connectors may reach only when the operator allows it
    # (XDMFLOW_ALLOWED_HOSTS): the demo opens exactly the emulator's host and port
    settings.allowed_hosts = [*settings.allowed_hosts, f"127.0.0.1:{emulator.port}"]
    console.print(f"Starting xdmflow on http://127.0.0.1:{port} (home {settings.home_path})")
    try:
        service = ServiceThread(build_app(settings), port).start()
    except RuntimeError:
        emulator.stop()
        console.print(f"[red]The service could not listen on port {port}[/]; choose another with --port.")
        return 2
    try:
        with httpx.Client(base_url=service.url, timeout=120) as http:
            from xdmflow.cli.tutorial import Tutorial

            tutorial = Tutorial(http, settings, emulator_url=emulator.url)
            ok = tutorial.run()
            _print_console(service.url, tutorial.credentials, keep_running)
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


def _print_console(url: str, creds: dict[str, Any], running: bool) -> None:
    """Where the web console is and how to sign in to it."""
    console.print(f"Web console: {url}/  (see docs/console.md)")
    console.print(
        f"  sign in with client id {creds['client_id']} and the client secret of "
        "`xdmflow credentials` (or paste a token from `xdmflow token`)"
    )
    if not running:
        console.print("  run `xdmflow demo --keep-running` (or `xdmflow serve`) to keep it up")


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
