"""A small Schemathesis run over our own /openapi.json, in process: no operation answers a 5xx.

The full run (the platform's five specs and ours, every phase, >10,000 requests) is
``python -m bench.fuzz_api``; its result is in docs/reliability.md."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import make_settings, platform_headers, platform_token
from xdmflow.api.app import create_app
from xdmflow.runtime import build_context


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str]]]:
    home: Path = tmp_path_factory.mktemp("fuzz") / "home"
    app = create_app(make_settings(home), context=build_context)
    with TestClient(app) as client:  # runs the lifespan: the context stays on app.state
        creds = app.state.ctx.credentials
        token = platform_token(client.post, creds["client_id"], creds["client_secret"])
        yield app, platform_headers(token, creds["client_id"], creds["org_id"])


@pytest.fixture(scope="module")
def own_spec(served: tuple[Any, dict[str, str]]) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", served[0])


schema = schemathesis.pytest.from_fixture("own_spec")

#: Operations the fuzzer sent a generated body to (it can only when the spec declares them).
WITH_BODY: set[str] = set()


@schema.parametrize()
@settings(
    max_examples=1,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_own_spec_has_no_server_errors(case: Any, served: tuple[Any, dict[str, str]]) -> None:
    headers = {**served[1], **(case.headers or {})}
    if case.operation.body:
        WITH_BODY.add(f"{case.method} {case.path}")
    case.call_and_validate(headers=headers, checks=[not_a_server_error])


def test_the_fuzzer_sent_bodies() -> None:
    """The run above reached the services with typed bodies, not only with empty requests."""
    assert len(WITH_BODY) >= 20, sorted(WITH_BODY)
