"""Roles of ``xdmflow serve``: which background loops each one runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.conftest import make_settings
from xdmflow.cli.main import app
from xdmflow.runtime import ROLES, build_app


@pytest.mark.parametrize("role", ROLES)
def test_each_role_runs_its_loops(role: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", scheduler_interval_seconds=0.2)
    with TestClient(build_app(settings, role=role)) as client:
        loops = client.app.state.background  # type: ignore[attr-defined]
        assert (loops.scheduler is not None) == (role in ("scheduler", "all"))
        assert (loops.worker is not None) == (role in ("worker", "all"))
        assert client.get("/ready").status_code == 200
    assert loops.scheduler is None and loops.worker is None  # stopped with the app


def test_unknown_role_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        build_app(make_settings(tmp_path / "home"), role="bogus")
    out = CliRunner().invoke(app, ["serve", "--role", "bogus"])
    assert out.exit_code == 2
