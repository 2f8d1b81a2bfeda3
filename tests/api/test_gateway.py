"""The gateway's header checks answer exactly the platform's errors (platform-api.md §0.3)."""

from __future__ import annotations

import time
from pathlib import Path

import jwt

from tests.conftest import Api

SANDBOXES = "/data/foundation/sandbox-management/sandboxes"


def test_missing_authorization_is_403010(api: Api) -> None:
    h = {k: v for k, v in api.headers.items() if k != "Authorization"}
    r = api.client.get(SANDBOXES, headers=h)
    assert r.status_code == 403
    assert r.json() == {"error_code": "403010", "message": "Oauth token is missing."}


def test_invalid_token_is_401013(api: Api) -> None:
    r = api.get(SANDBOXES, headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    assert r.json() == {"error_code": "401013", "message": "Oauth token is not valid"}


def test_expired_token_is_401013(api: Api) -> None:
    now = int(time.time())
    claims = {
        "client_id": api.creds["client_id"],
        "org": api.creds["org_id"],
        "iat": now - 100,
        "exp": now - 10,
    }
    expired = jwt.encode(claims, api.ctx.keys.signing_key, algorithm="HS256")
    r = api.get(SANDBOXES, headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    assert r.json()["error_code"] == "401013"


def test_token_signed_with_another_key_is_rejected(api: Api) -> None:
    now = int(time.time())
    claims = {"client_id": api.creds["client_id"], "org": api.creds["org_id"], "iat": now, "exp": now + 100}
    forged = jwt.encode(claims, b"x" * 32, algorithm="HS256")
    r = api.get(SANDBOXES, headers={"Authorization": f"Bearer {forged}"})
    assert r.json()["error_code"] == "401013"


def test_token_expires_after_its_ttl(tmp_path: Path) -> None:
    import jwt
    from fastapi.testclient import TestClient

    from tests.conftest import make_settings
    from xdmflow.api.app import create_app
    from xdmflow.runtime import build_context

    with TestClient(
        create_app(make_settings(tmp_path / "h", token_ttl_seconds=3), context=build_context)
    ) as client:
        a = Api(client)
        assert a.get(SANDBOXES).status_code == 200
        exp = jwt.decode(a.token, options={"verify_signature": False})["exp"]
        assert exp - time.time() <= 3
        time.sleep(max(0.0, exp - time.time()) + 1.1)
        r = a.get(SANDBOXES)
        assert r.status_code == 401 and r.json()["error_code"] == "401013"


def test_missing_api_key_is_403000(api: Api) -> None:
    h = {k: v for k, v in api.headers.items() if k != "x-api-key"}
    r = api.client.get(SANDBOXES, headers=h)
    assert r.status_code == 403
    assert r.json() == {"error_code": "403000", "message": "Api Key is required"}


def test_unknown_api_key_is_403003(api: Api) -> None:
    r = api.get(SANDBOXES, headers={"x-api-key": "nobody"})
    assert r.status_code == 403
    assert r.json() == {"error_code": "403003", "message": "Api Key is invalid"}


def test_missing_org_is_400003(api: Api) -> None:
    h = {k: v for k, v in api.headers.items() if k != "x-gw-ims-org-id"}
    r = api.client.get(SANDBOXES, headers=h)
    assert r.status_code == 400
    assert r.json() == {"error_code": "400003", "message": "Missing header"}


def test_token_of_another_org_is_403025(api: Api) -> None:
    r = api.get(SANDBOXES, headers={"x-gw-ims-org-id": "0000000000000000DEADBEEF@AdobeOrg"})
    assert r.status_code == 403
    assert r.json() == {"error_code": "403025", "message": "Profile is not valid"}


def test_api_key_of_another_org_is_invalid(api: Api) -> None:
    other = api.as_other("OTHERORG000000000000000@AdobeOrg")
    r = api.get(SANDBOXES, headers={"x-api-key": other.creds["client_id"]})
    assert r.json()["error_code"] == "403003"


def test_unknown_sandbox_is_flow_2100_404(api: Api) -> None:
    r = api.get(SANDBOXES, headers={"x-sandbox-name": "nosuch"})
    assert r.status_code == 404
    body = r.json()
    assert body["type"].endswith("FLOW-2100-404")
    assert "nosuch" in body["report"]["detailed-message"]
    assert body["report"]["request-id"] == r.headers["x-request-id"]


def test_missing_sandbox_header_means_prod(api: Api) -> None:
    h = {k: v for k, v in api.headers.items() if k != "x-sandbox-name"}
    assert api.client.get(SANDBOXES, headers=h).status_code == 200


def test_post_without_content_type(api: Api) -> None:
    r = api.post(SANDBOXES, content=b'{"name": "dev"}')
    assert r.status_code == 400
    assert r.json() == {
        "type": "/placeholder/type/uri",
        "status": 400,
        "title": "BadRequestError",
        "detail": "A valid content-type must be specified",
    }


def test_malformed_json_is_400_naming_the_problem(api: Api) -> None:
    r = api.post(SANDBOXES, content=b'{"name": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "Malformed JSON" in r.json()["detail"]


def test_body_over_10mb_is_413(api: Api) -> None:
    big = b'{"name": "' + b"x" * (10 * 1024 * 1024 + 10) + b'"}'
    r = api.post(SANDBOXES, content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_unknown_query_parameter_is_400(api: Api) -> None:
    r = api.get(SANDBOXES + "?colour=blue")
    assert r.status_code == 400
    assert "colour" in r.json()["detail"]


def test_unknown_path_is_404_without_stack_trace(api: Api) -> None:
    r = api.get("/data/foundation/catalog/nothing-here")
    assert r.status_code == 404
    assert "Traceback" not in r.text


def test_health_and_ready_need_no_auth(api: Api) -> None:
    assert api.client.get("/health").json()["status"] == "ok"
    ready = api.client.get("/ready").json()
    assert ready["status"] == "ready"
    assert ready["migrations"]["current"] == ready["migrations"]["head"]
    assert api.client.get("/openapi.json").status_code == 200


def test_token_endpoint_rejects_wrong_secret(api: Api) -> None:
    r = api.client.post(
        "/ims/token/v3",
        data={
            "grant_type": "client_credentials",
            "client_id": api.creds["client_id"],
            "client_secret": "wrong",
        },
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_token_response_shape(api: Api) -> None:
    r = api.client.post(
        "/ims/token/v3",
        data={
            "grant_type": "client_credentials",
            "client_id": api.creds["client_id"],
            "client_secret": api.creds["client_secret"],
            "scope": "openid,AdobeID",
        },
    )
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0 and body["access_token"]
