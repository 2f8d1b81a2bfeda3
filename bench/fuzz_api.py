"""Fuzz the API with Schemathesis: the platform's own specs and our /openapi.json; count 5xx.

Starts xdmflow (uvicorn on a free port, a temporary home, the embedded defaults) in this process,
wrapped in a counter of responses by status, gets a token for the default client, then runs
``schemathesis run`` (examples, coverage, fuzzing and stateful phases) once per spec with the
platform's headers. Every response of 500 or more is listed with its request; the summary gives
requests and 5xx per spec. Exit status 1 when any 5xx was seen.

    python -m bench.fuzz_api                       # five platform specs + our own, 25 examples/op
    python -m bench.fuzz_api --max-examples 5 --specs data-prep --no-own
    python -m bench.fuzz_api --specs-dir /path/to/openapi --json out.json

Run it under ``nice`` on a shared machine: it keeps one core busy for several minutes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
import yaml

from xdmflow.api.app import create_app
from xdmflow.runtime import build_context
from xdmflow.settings import Settings

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SPECS = ("flow-service", "schema-registry", "catalog", "batch-ingestion", "data-prep")
PHASES = "examples,coverage,fuzzing,stateful"


def _default_specs_dir() -> Path:
    for candidate in (
        REPO.parent / "shared/reference/openapi",
        REPO.parent.parent / "shared/reference/openapi",
    ):
        if candidate.is_dir():
            return candidate
    return Path("/work/shared/reference/openapi")


class StatusCounter:
    """ASGI wrapper counting responses per spec label and keeping every 5xx request line."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.label = "-"
        self.counts: dict[str, Counter[int]] = {}
        self.errors: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        label = self.label

        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                with self.lock:
                    self.counts.setdefault(label, Counter())[status] += 1
                    if status >= 500:
                        qs = scope.get("query_string", b"").decode("latin-1")
                        self.errors.append(
                            {
                                "spec": label,
                                "status": status,
                                "method": scope["method"],
                                "path": scope["path"] + (f"?{qs}" if qs else ""),
                            }
                        )
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except Exception:
            with self.lock:
                self.counts.setdefault(label, Counter())[599] += 1
                self.errors.append(
                    {"spec": label, "status": 599, "method": scope["method"], "path": scope["path"]}
                )
            raise


def _start_server(app: Any) -> tuple[uvicorn.Server, threading.Thread, int]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, int(port)


def _base_path(spec: Path) -> str:
    doc = yaml.safe_load(spec.read_text())
    if doc.get("swagger"):
        return str(doc.get("basePath") or "")
    servers = doc.get("servers") or [{}]
    url = str(servers[0].get("url") or "")
    if url.startswith("//"):
        url = "http:" + url
    return urlsplit(url).path.rstrip("/") if "://" in url else url.rstrip("/")


def _schemathesis(
    location: str, base_url: str | None, headers: dict[str, str], args: argparse.Namespace
) -> int:
    exe = shutil.which("schemathesis") or "schemathesis"
    cmd = [exe, "run", location, "--phases", args.phases, "--checks", "not_a_server_error"]
    cmd += [
        "--max-examples",
        str(args.max_examples),
        "--workers",
        str(args.workers),
        "--seed",
        str(args.seed),
    ]
    cmd += ["--suppress-health-check", "all", "--request-timeout", "60", "--no-shrink", "--warnings", "off"]
    cmd += ["--continue-on-failure"]
    if args.max_time:
        cmd += ["--max-time", str(args.max_time)]
    if base_url:
        cmd += ["--url", base_url]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if args.verbose:
        print(out.stdout[-4000:], out.stderr[-2000:], sep="\n")
    return out.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specs-dir", type=Path, default=_default_specs_dir())
    parser.add_argument("--specs", nargs="*", default=list(DEFAULT_SPECS), help="spec file stems")
    parser.add_argument("--no-own", action="store_true", help="skip our own /openapi.json")
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--max-time", type=int, default=0, help="seconds per spec (0: no limit)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--phases", default=PHASES)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING)
    home = Path(tempfile.mkdtemp(prefix="xdmflow-fuzz-"))
    inbox = home / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home / "home", local_roots=[inbox], allowed_hosts=["127.0.0.0/8"])
    counter = StatusCounter(create_app(settings, context=build_context))
    server, thread, port = _start_server(counter)
    origin = f"http://127.0.0.1:{port}"
    try:
        ctx = counter.app.state.ctx
        creds = ctx.credentials
        token = httpx.post(
            f"{origin}/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
        ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "x-api-key": creds["client_id"],
            "x-gw-ims-org-id": creds["org_id"],
            "x-sandbox-name": "prod",
        }
        runs: list[tuple[str, str, str | None]] = []
        for stem in args.specs:
            path = args.specs_dir / f"{stem}.yaml"
            if not path.is_file():
                raise SystemExit(f"no spec {path}")
            runs.append((stem, str(path), origin + _base_path(path)))
        if not args.no_own:
            runs.append(("xdmflow /openapi.json", f"{origin}/openapi.json", origin))
        started = time.monotonic()
        for label, location, base in runs:
            counter.label = label
            t0 = time.monotonic()
            code = _schemathesis(location, base, headers, args)
            n = sum(counter.counts.get(label, Counter()).values())
            print(
                f"{label:24} {n:7d} requests  {time.monotonic() - t0:6.0f} s  schemathesis exit {code}",
                flush=True,
            )
        elapsed = time.monotonic() - started
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        shutil.rmtree(home, ignore_errors=True)

    total = sum(sum(c.values()) for c in counter.counts.values())
    five = sum(n for c in counter.counts.values() for s, n in c.items() if s >= 500)
    print(f"\n{'spec':24} {'requests':>9} {'2xx':>7} {'4xx':>7} {'5xx':>5}")
    summary: dict[str, Any] = {"specs": {}, "total": total, "5xx": five, "seconds": round(elapsed)}
    for label, c in counter.counts.items():
        row = {
            "requests": sum(c.values()),
            "2xx": sum(n for s, n in c.items() if 200 <= s < 300),
            "4xx": sum(n for s, n in c.items() if 400 <= s < 500),
            "5xx": sum(n for s, n in c.items() if s >= 500),
            "statuses": dict(sorted(c.items())),
        }
        summary["specs"][label] = row
        print(f"{label:24} {row['requests']:9d} {row['2xx']:7d} {row['4xx']:7d} {row['5xx']:5d}")
    print(f"{'total':24} {total:9d} {'':7} {'':7} {five:5d}   ({elapsed:.0f} s)")
    seen: set[tuple[str, str]] = set()
    for e in counter.errors:
        key = (e["method"], e["path"].split("?")[0])
        if key not in seen:
            seen.add(key)
            print(f"  {e['status']} {e['method']} {e['path']}  [{e['spec']}]")
    summary["errors"] = counter.errors
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 1 if five else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
