"""Service processes for the scale-out tests: the commands of docs/deploy.md, run as subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import PlatformCalls, platform_headers, platform_token
from xdmflow.cli.demo import free_port

__all__ = ["Deployment", "HttpApi", "xdmflow_command"]


def xdmflow_command() -> list[str]:
    """The ``xdmflow`` console script when installed, else the same CLI through ``python -m``."""
    exe = shutil.which("xdmflow")
    return [exe] if exe else [sys.executable, "-m", "xdmflow.cli.main"]


class HttpApi(PlatformCalls):
    """An HTTP client with the platform's headers (same interface as ``tests.conftest.Api``)."""

    def __init__(self, base_url: str, creds: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        token = platform_token(self.http.post, creds["client_id"], creds["client_secret"])
        self.headers = platform_headers(token, creds["client_id"], creds["org_id"])

    def _send(self, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        return self.http.request(method, path, headers=headers, **kw)

    def close(self) -> None:
        self.http.close()


class Deployment:
    """Processes sharing one metadata store, lake and secret key; each with its own home."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        base = {k: v for k, v in os.environ.items() if not k.startswith("XDMFLOW_")}
        self.env = {**base, **env}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        #: every ``xdmflow`` command line run (without the executable)
        self.commands: list[list[str]] = []

    def _env(self, name: str) -> dict[str, str]:
        # several service processes on one machine: none opens the Query Service's PostgreSQL port
        return {"XDMFLOW_PG_PORT": "0", **self.env, "XDMFLOW_HOME": str(self.root / f"home-{name}")}

    def cli(self, *args: str, name: str = "admin") -> str:
        """Run ``xdmflow <args>`` and return its stdout (fails on a non-zero exit)."""
        self.commands.append(list(args))
        out = subprocess.run(
            [*xdmflow_command(), *args], env=self._env(name), capture_output=True, timeout=120
        )
        assert out.returncode == 0, out.stderr.decode()
        return out.stdout.decode()

    def serve(self, name: str, role: str) -> None:
        """Start ``xdmflow serve --role <role>`` on a free port (no waiting)."""
        port = free_port()
        args = ["serve", "--role", role, "--host", "127.0.0.1", "--port", str(port)]
        self.commands.append(args)
        with (self.root / f"{name}.log").open("wb") as log:  # the process writes to its own copy
            self.procs[name] = subprocess.Popen(
                [*xdmflow_command(), *args],
                env=self._env(name),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.ports[name] = port

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until every process answers ``/ready`` (the load balancer's probe)."""
        deadline = time.monotonic() + timeout
        pending = set(self.procs)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                if self.procs[name].poll() is not None:
                    raise AssertionError(f"{name} exited:\n{self.log(name)}")
                try:
                    r = httpx.get(f"{self.url(name)}/ready", timeout=1)
                    if r.status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        assert not pending, {n: self.log(n) for n in pending}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def client(self, name: str, creds: dict[str, str]) -> HttpApi:
        return HttpApi(self.url(name), creds)

    def create_client(self, org: str) -> dict[str, str]:
        """``xdmflow clients create --org <org>``: the credentials every API process accepts."""
        creds: dict[str, str] = json.loads(self.cli("clients", "create", "--org", org, "--name", "tests"))
        return creds


def command_family(args: list[str]) -> tuple[str, ...]:
    """What a command line does, without its values: ``serve --role api …`` → ``("serve", "api")``,
    ``clients create --org X`` → ``("clients", "create")``."""
    if args[0] == "serve":
        return ("serve", args[args.index("--role") + 1] if "--role" in args else "all")
    words = []
    for a in args[:2]:
        if a.startswith("-"):
            break
        words.append(a)
    return tuple(words)


def documented_commands(doc: Path) -> list[list[str]]:
    """The ``xdmflow …`` command lines of the shell blocks of a Markdown document."""
    out, in_block = [], False
    for line in doc.read_text().splitlines():
        if line.startswith("```"):
            in_block = line.strip() == "```sh"
            continue
        if in_block and line.startswith("xdmflow "):
            out.append(line.split("#", 1)[0].split()[1:])
    return out
