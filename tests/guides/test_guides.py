"""Every ```bash block of every guide in docs/guides/ runs, in order, against a live service.

A guide's blocks run in one bash process (``set -euo pipefail``, so a failing command fails the
guide) in a fresh working folder, with the service's URL in ``XDMFLOW_URL`` and its home in
``XDMFLOW_HOME``: the same variables the README defines. A block preceded by the line
``<!-- guide:skip -->`` is shown to readers but not executed (starting a server, say); blocks
in other languages are not executed. Each guide must have at least one executed block.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from xdmflow.cli.demo import ServiceThread, free_port
from xdmflow.runtime import build_app

ROOT = Path(__file__).resolve().parents[2]
GUIDES = sorted((ROOT / "docs" / "guides").glob("*.md"))
SKIP = "<!-- guide:skip -->"
FENCE = re.compile(r"^```(\w*)\s*$")


def bash_blocks(text: str) -> list[str]:
    """The executable ```bash blocks of a guide, in order."""
    blocks: list[str] = []
    lines = text.splitlines()
    i = 0
    previous = ""
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m and m.group(1):
            lang = m.group(1)
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            if lang == "bash" and previous.strip() != SKIP:
                blocks.append("\n".join(lines[i + 1 : j]))
            i = j + 1
            previous = ""
            continue
        if lines[i].strip():
            previous = lines[i]
        i += 1
    return blocks


def test_markers_are_parsed() -> None:
    text = "a\n```bash\necho 1\n```\n<!-- guide:skip -->\n```bash\nxdmflow serve\n```\n```python\nx\n```\n"
    assert bash_blocks(text) == ["echo 1"]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    home = tmp_path / "home"
    db = f"sqlite:///{home / 'xdmflow.db'}"
    # the reading-data guide queries through the Query Service's PostgreSQL port
    settings = make_settings(home, db, scheduler_interval_seconds=0.2, workers=1, pg_port=free_port())
    port = free_port()
    settings.public_url = f"http://127.0.0.1:{port}"
    server = ServiceThread(build_app(settings, role="all"), port).start()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "XDMFLOW_URL": server.url,
        "XDMFLOW_HOME": str(home),
        "XDMFLOW_DATABASE_URL": db,
        "XDMFLOW_SECRET_KEY": "test-secret-key",
        "XDMFLOW_LOCAL_ROOTS": str(tmp_path),
        "XDMFLOW_ALLOWED_HOSTS": "127.0.0.0/8,localhost",
        "TERM": "dumb",
        "COLUMNS": "160",
    }
    env.pop("XDMFLOW_TOKEN", None)
    try:
        yield server.url, env
    finally:
        server.stop()


@pytest.mark.parametrize("guide", GUIDES, ids=[g.stem for g in GUIDES])
def test_guide_runs(guide: Path, service: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    blocks = bash_blocks(guide.read_text(encoding="utf-8"))
    assert blocks, f"{guide.name} has no executable bash block"
    work = tmp_path / "work"
    work.mkdir()
    script = "set -euo pipefail\n" + "\n".join(f"# --- block {i + 1}\n{b}" for i, b in enumerate(blocks))
    r = subprocess.run(
        ["bash", "-c", script], cwd=work, env=service[1], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, f"{guide.name} failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
