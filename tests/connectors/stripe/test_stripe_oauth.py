"""OAuth access tokens that expire on the emulator's clock: Stripe's 401 ``api_key_expired``
body, the connector's error naming the problem and the fix, a 4xx on the platform's connection
test and a failed run carrying that message."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Api
from tests.connectors.stripe.stripehelp import (
    Emulator,
    connector_registered,
    stripe_connection,
    stripe_flow,
)
from tests.flowservice.conftest import (  # noqa: F401 - service is a fixture
    CRM,
    FS,
    adhoc_schema,
    dataset,
    ok,
    service,
    target_connection,
    wait_runs,
)
from xdmflow.connectors.base import ReadRequest
from xdmflow.connectors.stripe import StripeConnector
from xdmflow.errors import SourceAuthError
from xdmflow.testing.connector_suite import read_all

HOUR = 3600


def _token(emu: Emulator, expires_in: int | None = None) -> str:
    body = {} if expires_in is None else {"expires_in": expires_in}
    issued = emu.admin("oauth/tokens", body)
    assert issued["token_type"] == "bearer" and issued["expires_in"] == (expires_in or HOUR)
    return str(issued["access_token"])


def test_token_expires_with_stripes_body(emulator: Emulator) -> None:
    token = _token(emulator)
    h = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{emulator.url}/v1/charges?limit=1", headers=h).status_code == 200
    emulator.admin("clock", {"advance": HOUR - 1})
    assert httpx.get(f"{emulator.url}/v1/charges?limit=1", headers=h).status_code == 200
    emulator.admin("clock", {"advance": 1})
    r = httpx.get(f"{emulator.url}/v1/charges?limit=1", headers=h)
    assert r.status_code == 401 and r.headers["request-id"].startswith("req_")
    error = r.json()["error"]
    assert {k: error[k] for k in ("type", "code", "doc_url")} == {
        "type": "invalid_request_error",
        "code": "api_key_expired",
        "doc_url": "https://stripe.com/docs/error-codes/api-key-expired",
    }
    assert error["message"] == f"Expired API Key provided: sk_test_{'*' * (len(token) - 12)}{token[-4:]}"
    assert token not in r.text
    # a token that was never issued is invalid, not expired
    r = httpx.get(f"{emulator.url}/v1/charges", headers={"Authorization": "Bearer sk_test_oaNope00000"})
    assert r.status_code == 401 and "code" not in r.json()["error"]


def test_connector_names_the_expired_token(connector: StripeConnector, emulator: Emulator) -> None:
    auth = {"host": emulator.url, "accessToken": _token(emulator, 600)}
    connector.check(auth)
    got, _ = read_all(connector, auth, ReadRequest(object="customers"))
    assert got.num_rows == len(emulator.objects("customers"))
    emulator.admin("clock", {"advance": 601})
    for call in (
        lambda: connector.check(auth),
        lambda: read_all(connector, auth, ReadRequest(object="customers")),
    ):
        with pytest.raises(SourceAuthError) as info:
            call()
        message = info.value.message
        assert "access token has expired" in message and "Refresh the OAuth token" in message
        assert "reconnect" in message and auth["accessToken"] not in message
        assert info.value.details["code"] == "api_key_expired" and info.value.details["status"] == 401
    # an unknown key keeps the generic message
    with pytest.raises(SourceAuthError, match="rejected the credentials") as info:
        connector.check({"host": emulator.url, "accessToken": "sk_test_unknown0000000000"})
    assert "expired" not in info.value.message


@pytest.fixture
def registered() -> Iterator[None]:
    with connector_registered():
        yield


def _connection(api: Api, emu: Emulator, token: str) -> str:
    return stripe_connection(api, emu.url, "stripe oauth", token)


def _flow(api: Api, base: str) -> str:
    fields = {"id": {"type": "string"}, "email": {"type": "string"}}
    return stripe_flow(api, base, "customers", fields, "stripe_oauth", delta=None)[0]


def test_connection_test_and_run_fail_clearly(
    service: Api,  # noqa: F811
    emulator: Emulator,
    registered: None,
) -> None:
    api = service
    token = _token(emulator)
    base = _connection(api, emulator, token)
    assert ok(api.get(f"{FS}/connections/{base}/test")) == {"result": True}
    emulator.admin("clock", {"advance": HOUR + 1})
    r = api.get(f"{FS}/connections/{base}/test")
    assert 400 <= r.status_code < 500, r.text
    assert "access token has expired" in r.text and "Refresh the OAuth token" in r.text
    assert token not in r.text
    [run] = wait_runs(api, _flow(api, base))
    assert run["state"] == "failed"
    summary = str(run["metrics"]["statusSummary"])
    assert "access token has expired" in summary and token not in summary, summary
