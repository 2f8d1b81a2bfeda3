"""``xdmflow demo`` twice in one home, ``--fresh``, a busy port; ``xdmflow emulate paypal`` options."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import make_settings
from xdmflow.cli.demo import DEMO_MARKER, free_port, fresh_home, run_demo
from xdmflow.cli.main import app
from xdmflow.store.db import Database
from xdmflow.store.tables import Document


def _titles(home: Path) -> list[str]:
    db = Database(f"sqlite:///{home / 'xdmflow.db'}")
    try:
        with db.session() as s:
            return sorted(
                str(d.body.get("title") or d.body.get("name"))
                for d in s.query(Document).all()
                if d.kind in ("schemas", "classes", "flows", "dataSets")
            )
    finally:
        db.dispose()


def test_demo_runs_twice_in_one_home_and_fresh_starts_over(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_demo(make_settings(home), port=0, transactions=300) == 0
    first = _titles(home)
    assert (home / DEMO_MARKER).exists()
    assert run_demo(make_settings(home), port=0, transactions=300) == 0
    assert _titles(home) == first  # replaced, not duplicated
    # --fresh empties the demo's home before it starts (the full run is the one above)
    assert fresh_home(make_settings(home)) is None
    assert list(home.iterdir()) == []


def test_fresh_refuses_a_home_the_demo_did_not_create(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "precious.txt").write_text("x")
    assert run_demo(make_settings(home), port=0, fresh=True) == 2
    assert (home / "precious.txt").exists()


def test_busy_port_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDMFLOW_HOME", str(tmp_path / "home"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        r = CliRunner().invoke(app, ["demo", "--port", str(port)])
        assert r.exit_code == 2
        assert "Traceback" not in r.output and f"Port {port} is already in use" in r.output
        assert "--port" in r.output
        r = CliRunner().invoke(app, ["emulate", "paypal", "--port", str(port)])
        assert r.exit_code == 2 and f"Port {port} is already in use" in r.output


def test_emulator_prints_and_accepts_the_given_client(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xdmflow.cli.main",
            "emulate",
            "paypal",
            "--port",
            str(port),
            "--client-id",
            "my-id",
            "--client-secret",
            "my-secret",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                r = httpx.post(
                    f"{url}/v1/oauth2/token",
                    data={"grant_type": "client_credentials"},
                    auth=("my-id", "my-secret"),
                )
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["access_token"]
        bad = httpx.post(
            f"{url}/v1/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=("xdmflow-emulator-client", "xdmflow-emulator-secret"),
        )
        assert bad.status_code == 401
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert "my-id" in out and "my-secret" in out
