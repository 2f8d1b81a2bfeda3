"""Fixtures for the lake tests: a real catalog on both metadata stores (the project's ``db_url``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from xdmflow.lake.lake import Lake


@pytest.fixture
def warehouse(tmp_path: Path) -> str:
    return str(tmp_path / "lake")


@pytest.fixture
def lake(db_url: str, warehouse: str) -> Iterator[Lake]:
    lk = Lake(db_url, warehouse, catalog_name=f"test_{uuid.uuid4().hex[:8]}")
    yield lk
    lk.close()
