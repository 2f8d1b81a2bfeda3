"""The console over plain HTTP (no browser): its routes stay out of the API's URL space and schema,
secrets are never sent back, the cookie's flags, and a pasted token signs in."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import Api, platform_token
from tests.query.qhelp import csv_dataset

PAYPAL = "221c7626-58f6-4eec-8ee2-042b0226f03b"


def _sign_in(client: TestClient, creds: dict[str, str]) -> None:
    r = client.post(
        "/signin",
        data={"client_id": creds["client_id"], "client_secret": creds["client_secret"]},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def _csrf(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_console_routes_are_not_api_routes(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for p in ("/", "/signin", "/flows", "/flows/new", "/runs/{run_id}", "/datasets"):
        assert p not in paths
    from xdmflow.console.routes import router

    assert all(not r.path.startswith("/data/") for r in router.routes)  # type: ignore[attr-defined]


def test_secret_never_shown_back_and_cookie_flags(api: Api) -> None:
    client = api.client
    _sign_in(client, api.creds)
    form = client.get(f"/sources/{PAYPAL}/connect").text
    r = client.post(
        f"/sources/{PAYPAL}/connect",
        data={
            "csrf": _csrf(form),
            "name": "",
            "p_host": "http://127.0.0.1:9",
            "p_clientId": "id",
            "p_clientSecret": "s3cr3t-value-never-echoed",
        },
    )
    assert r.status_code == 400
    assert "Give the connection a name." in r.text
    assert "s3cr3t-value-never-echoed" not in r.text
    r = client.post(
        "/signin",
        data={"client_id": api.creds["client_id"], "client_secret": api.creds["client_secret"]},
        headers={"x-forwarded-proto": "https"},
        follow_redirects=False,
    )
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie


def test_pasted_token_and_bad_credentials(api: Api) -> None:
    client = api.client
    r = client.post("/signin", data={"client_id": api.creds["client_id"], "client_secret": "wrong"})
    assert r.status_code == 401 and "invalid_client" in r.text
    token = platform_token(client.post, api.creds["client_id"], api.creds["client_secret"])
    r = client.post("/signin", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/")
    assert page.status_code == 200 and api.creds["org_id"] in page.text


def test_org_and_sandbox_switcher(api: Api) -> None:
    client = api.client
    other = api.as_other("SWITCHORG000000000000000@AdobeOrg")
    _sign_in(client, api.creds)
    _sign_in(client, other.creds)  # a second org joins the session and becomes current
    home = client.get("/").text
    assert "SWITCHORG000000000000000@AdobeOrg</small>" in home.replace(" / prod", "")
    r = client.post(
        "/switch",
        data={"csrf": _csrf(home), "org": api.creds["org_id"], "sandbox": "prod", "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert f"{api.creds['org_id']} / prod" in client.get("/").text
    r = client.post("/switch", data={"csrf": _csrf(home), "sandbox": "nosuch", "next": "/"})
    assert r.status_code == 404 and "Sandbox name nosuch not found" in r.text
    r = client.post("/switch", data={"org": api.creds["org_id"]})  # no CSRF token
    assert r.status_code == 403


LOCAL = "59bfba2a-ae6b-42ff-87cb-fb44f5e66700"


def test_wizard_standard_class_dataset_on_a_file(api: Api, tmp_path: object) -> None:
    """A file source → a new Profile dataset with field groups → mapping → review → create; a mapping
    to a field the schema lacks is reported on its row, not as an error page."""
    import re
    from pathlib import Path

    folder = Path(str(tmp_path)) / "files"
    folder.mkdir()
    (folder / "people.csv").write_text("id,email\n1,a@example.com\n2,b@example.com\n")
    client = api.client
    _sign_in(client, api.creds)
    csrf = _csrf(client.get(f"/sources/{LOCAL}/connect").text)
    r = client.post(
        f"/sources/{LOCAL}/connect",
        data={"csrf": csrf, "name": "files", "p_rootPath": str(folder)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    conn = r.headers["location"].split("/connections/")[1].split("?")[0]
    q = {"connection": conn, "object": "people.csv", "type": "file"}
    target = client.get("/flows/new", params=q)
    assert target.status_code == 200 and "Or a new dataset" in target.text
    r = client.post(
        "/flows/new/dataset",
        data={
            **q,
            "csrf": csrf,
            "ds_name": "People",
            "kind": "standard",
            "class": "https://ns.adobe.com/xdm/context/profile",
            "fieldgroup": "https://ns.adobe.com/xdm/context/profile-personal-details",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    dataset = re.search(r"dataset=([0-9a-f]+)", r.headers["location"]).group(1)  # type: ignore[union-attr]
    mapping = client.get("/flows/new", params={**q, "dataset": dataset})
    assert "personalEmail.address" in mapping.text
    base = {
        **q,
        "dataset": dataset,
        "csrf": csrf,
        "name": "people",
        "frequency": "once",
        "interval": "1",
        "start": "2026-01-01T00:00",
        "partial": "",
    }
    bad = client.post(
        "/flows/new",
        data={**base, "action": "review", "src": ["id", "email"], "dst": ["_id", "no.such.field"]},
    )
    assert bad.status_code == 400
    assert 'id="row-err-1"' in bad.text and 'id="row-err-0"' not in bad.text
    good = {**base, "src": ["id", "email"], "dst": ["_id", "personalEmail.address"]}
    review = client.post("/flows/new", data={**good, "action": "review"})
    assert review.status_code == 200 and "Create dataflow" in review.text
    r = client.post("/flows/new", data={**good, "action": "create"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    flow_id = r.headers["location"].split("/flows/")[1].split("?")[0]
    flow = api.get(f"/data/foundation/flowservice/flows/{flow_id}").json()["items"][0]
    assert flow["name"] == "people" and flow["flowSpec"]["id"]
    assert [t["name"] for t in flow["transformations"]] == ["Mapping"]


def test_api_docs_need_no_cdn(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "//unpkg" not in page.text
    for asset in re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', page.text):
        assert api.client.get(asset).status_code == 200, asset
    assert "/docs/assets/swagger-ui-bundle.js" in page.text


def test_dataset_page_sql_box(api: Api) -> None:
    """The dataset page runs SQL through the Query Service's engine: rows of this sandbox only,
    the guard's refusals shown on the page, CTAS refused, CSRF required."""
    ds, ns = csv_dataset(api, name="Console Orders")
    client = api.client
    _sign_in(client, api.creds)
    page = client.get(f"/datasets/{ds}").text
    assert f"SELECT * FROM &#34;{ds}&#34; LIMIT 10" in page or f'SELECT * FROM "{ds}" LIMIT 10' in page
    csrf = _csrf(page)
    sql = f"SELECT {ns}.name AS who, {ns}.qty AS qty FROM console_orders ORDER BY qty"
    r = client.post(f"/datasets/{ds}/sql", data={"csrf": csrf, "sql": sql})
    assert r.status_code == 200, r.text
    assert '<th scope="col">who</th>' in r.text and "<td>ann</td>" in r.text and "<td>bob</td>" in r.text
    assert "2 row(s)" in r.text
    refused = client.post(
        f"/datasets/{ds}/sql", data={"csrf": csrf, "sql": "SELECT * FROM read_csv('/etc/passwd')"}
    )
    assert refused.status_code == 200 and 'id="sql-error"' in refused.text
    assert "root:x:0:0" not in refused.text  # the guard refused it: no host file was read
    ctas = client.post(f"/datasets/{ds}/sql", data={"csrf": csrf, "sql": "CREATE TABLE x AS SELECT 1 AS a"})
    assert 'id="sql-error"' in ctas.text and "read-only" in ctas.text
    no_csrf = client.post(f"/datasets/{ds}/sql", data={"sql": sql})
    assert no_csrf.status_code == 403


def test_source_catalog_offers_every_payment_source(api: Api) -> None:
    """The catalog page lists the payment sources, Stripe and Square among them, each with a
    connect form naming its credentials (secrets as password fields)."""
    client = api.client
    _sign_in(client, api.creds)
    page = client.get("/sources").text
    for spec_id, name in (
        (PAYPAL, "PayPal"),
        ("cc2c31d6-7b8c-4581-b49f-5c8698aa3ab3", "Stripe"),
        ("2acf109f-9b66-4d5e-bc18-ebb2adcff8d5", "Square"),
    ):
        assert name in page and f"/sources/{spec_id}/connect" in page, name
        form = client.get(f"/sources/{spec_id}/connect")
        assert form.status_code == 200, (name, form.text[:500])
        assert 'type="password"' in form.text, name
