"""The payments tutorial as a sequence of real HTTP requests, with a progress display.

Used by ``xdmflow demo``; each step is a method that performs the platform's request and
keeps what later steps need (ids), so a failure names the step and the server's answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

from xdmflow.settings import Settings

__all__ = ["Tutorial", "StepFailed"]

console = Console()


class StepFailed(Exception):
    pass


class Tutorial:
    def __init__(self, http: httpx.Client, settings: Settings) -> None:
        self.http = http
        self.settings = settings
        creds_path = Path(settings.home_path) / "credentials.json"
        self.credentials: dict[str, Any] = json.loads(creds_path.read_text())
        self.headers: dict[str, str] = {}
        self.ids: dict[str, Any] = {}

    # -- plumbing ----------------------------------------------------------------------
    def call(self, method: str, path: str, *, expect: tuple[int, ...] = (200, 201), **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        if "json" in kw:
            headers.setdefault("Content-Type", "application/json")
        r = self.http.request(method, path, headers=headers, **kw)
        if r.status_code not in expect:
            raise StepFailed(f"{method} {path} answered {r.status_code}: {r.text[:2000]}")
        return r.json() if r.content else None

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("Get an access token", self.get_token),
            ("Check the service", self.check_service),
            ("List sandboxes", self.list_sandboxes),
        ]

    def run(self) -> bool:
        steps = self.steps()
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            console=console,
        ) as progress:
            task = progress.add_task("payments tutorial", total=len(steps))
            for label, step in steps:
                progress.update(task, description=label)
                try:
                    step()
                except StepFailed as exc:
                    progress.stop()
                    console.print(f"[red]Step failed: {label}[/]\n{exc}")
                    return False
                progress.console.print(f"[green]✓[/] {label}")
                progress.advance(task)
        return True

    # -- steps -------------------------------------------------------------------------
    def get_token(self) -> None:
        r = self.http.post(
            "/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": self.credentials["client_id"],
                "client_secret": self.credentials["client_secret"],
                "scope": "openid,AdobeID,read_organizations",
            },
        )
        if r.status_code != 200:
            raise StepFailed(f"token request answered {r.status_code}: {r.text}")
        self.headers = {
            "Authorization": f"Bearer {r.json()['access_token']}",
            "x-api-key": self.credentials["client_id"],
            "x-gw-ims-org-id": self.credentials["org_id"],
            "x-sandbox-name": "prod",
        }

    def check_service(self) -> None:
        self.call("GET", "/health")
        self.call("GET", "/ready")

    def list_sandboxes(self) -> None:
        out = self.call("GET", "/data/foundation/sandbox-management/sandboxes")
        names = [sb["name"] for sb in out["sandboxes"]]
        if "prod" not in names:
            raise StepFailed(f"the prod sandbox is missing: {names}")
