"""Helpers of the Stripe tests (imported by the test modules)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import Api
from tests.flowservice.conftest import CRM, FS, adhoc_schema, dataset, ok, target_connection, wait_runs
from xdmflow.connectors import registry
from xdmflow.connectors.http.retry import RetryPolicy
from xdmflow.connectors.stripe import StripeConnector
from xdmflow.connectors.stripe.spec import SPEC_ID
from xdmflow.emulators.stripe import DEFAULT_SECRET_KEY, DataConfig, EmulatorConfig, EmulatorState
from xdmflow.lake.lake import namespace_for

FAST_RETRY = RetryPolicy(
    initial_delay=0.01, multiplier=2.0, max_delay=0.05, max_attempts=30, total_budget=20.0
)
#: a fixed start clock: same seed + same clock -> the same history
T0 = 1_800_000_000


@dataclass
class Emulator:
    """A running emulator: its base URL, in-process state and an admin helper."""

    url: str
    state: EmulatorState
    stop: Callable[[], None] | None = None

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        if body is None:
            response = httpx.get(f"{self.url}/_emulator/{path}")
        else:
            response = httpx.post(f"{self.url}/_emulator/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def objects(self, resource: str) -> list[dict[str, Any]]:
        """Every live object of a resource, as the emulator holds it now."""
        return list(self.admin(f"objects/{resource}")["data"])

    def auth(self, key: str = DEFAULT_SECRET_KEY) -> dict[str, str]:
        return {"host": self.url, "accessToken": key}


def small_config(**changes: object) -> EmulatorConfig:
    """A small frozen-clock history without rate limiting (tests turn knobs on where needed)."""
    base: dict[str, Any] = {
        "data": DataConfig(n_customers=12, n_charges=260, days=45),
        "rate_limit_rps": None,
        "ticking": False,
    }
    base.update(changes)
    return EmulatorConfig(**base)


@contextmanager
def connector_registered(connector: StripeConnector | None = None) -> Iterator[None]:
    """The Stripe connector in the registry in-process (the installed entry points may predate it)."""
    found = registry._load()
    added = SPEC_ID not in found
    if added:
        found[SPEC_ID] = connector or StripeConnector(retry=FAST_RETRY, timeout=10.0)
    try:
        yield
    finally:
        if added:
            found.pop(SPEC_ID, None)


def stripe_connection(api: Api, host: str, name: str, token: str = DEFAULT_SECRET_KEY) -> str:
    """A Stripe base connection ("OAuth2 Refresh Code" with an access token) to ``host``."""
    return str(
        ok(
            api.post(
                f"{FS}/connections",
                json={
                    "name": name,
                    "auth": {
                        "specName": "OAuth2 Refresh Code",
                        "params": {"accessToken": token, "host": host},
                    },
                    "connectionSpec": {"id": SPEC_ID, "version": "1.0"},
                },
            )
        )["id"]
    )


def stripe_flow(
    api: Api,
    base: str,
    table: str,
    fields: dict[str, dict[str, Any]],
    name: str,
    *,
    mode: str | None = None,
    delta: str | None = "updated",
) -> tuple[str, str, str]:
    """A once-scheduled flow of ``table`` into a new ad-hoc dataset of ``fields``:
    ``(flow id, dataset id, the dataset's namespace)``."""
    schema = adhoc_schema(api, fields, title=f"stripe {name}")
    ds = dataset(api, schema["$id"], name=name)
    src = ok(
        api.post(
            f"{FS}/sourceConnections",
            json={
                "name": f"{table} {name}",
                "baseConnectionId": base,
                "data": {"format": "tabular"},
                "params": {"tableName": table},
                "connectionSpec": {"id": SPEC_ID, "version": "1.0"},
            },
        )
    )["id"]
    body: dict[str, Any] = {
        "name": f"stripe {table} {name}",
        "flowSpec": {"id": CRM, "version": "1.0"},
        "sourceConnectionIds": [src],
        "targetConnectionIds": [target_connection(api, ds)],
        "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": delta}}}] if delta else [],
        "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
    }
    if mode is not None:
        body["options"] = {"writeMode": mode}
    flow = ok(api.post(f"{FS}/flows", json=body))
    return str(flow["id"]), ds, str(schema["meta:datasetNamespace"])


def run_again(api: Api, flow_id: str, count: int) -> dict[str, Any]:
    """Start the flow on demand and wait for its ``count``-th run to succeed."""
    ok(api.post(f"{FS}/runs", json={"flowId": flow_id, "params": {"startTime": str(int(time.time()))}}))
    run: dict[str, Any] = wait_runs(api, flow_id, count=count)[-1]
    assert run["state"] == "success", run["metrics"]
    return run


def dataset_rows(api: Api, ds: str, guid: str) -> list[dict[str, Any]]:
    """The dataset's rows, each its ad-hoc namespace object."""
    ns = namespace_for(api.creds["org_id"], "prod")
    return [r[guid] for r in api.ctx.lake.scan(ns, ds).to_pylist()]
