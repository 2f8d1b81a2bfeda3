"""The console in a real browser: the whole PayPal journey, sign-out, expiry, org isolation, CSRF."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.console.conftest import Console, sign_in
from xdmflow.console.session import COOKIE, decode_session, encode_session
from xdmflow.services import identity

pytestmark = pytest.mark.skipif(
    __import__("shutil").which("/usr/bin/chromium") is None, reason="needs Debian's chromium"
)

PAYPAL = "221c7626-58f6-4eec-8ee2-042b0226f03b"


def test_paypal_journey(console: Console, page: Any) -> None:
    creds = console.credentials
    page.goto(console.url + "/flows")
    assert "/signin" in page.url  # not signed in: the sign-in page, not an error
    sign_in(page, console.url, creds["client_id"], creds["client_secret"])

    # connect PayPal from the catalog (grouped by category); the secret is a password field
    page.get_by_role("link", name="Sources").click()
    page.get_by_role("heading", name="Payments").wait_for()
    page.get_by_role("link", name="Connect PayPal").click()
    assert page.locator("#p_clientSecret").get_attribute("type") == "password"
    page.get_by_label("Connection name").fill("My PayPal")
    page.locator("#p_host").fill(console.paypal_url)
    page.locator("#p_clientId").fill(console.paypal_client[0])
    page.locator("#p_clientSecret").fill(console.paypal_client[1])
    page.get_by_role("button", name="Create connection").click()
    page.wait_for_url(re.compile(r"/connections/[0-9a-f-]+\?created=1"))
    assert console.paypal_client[1] not in page.content()  # never shown back
    page.get_by_role("button", name="Test connection").click()
    page.get_by_text("Connection test succeeded.").wait_for()

    # explore: tree, columns, preview grid
    page.get_by_role("link", name="Explore").click()
    page.get_by_role("link", name="PayPal.Catalog_Products").click()
    page.wait_for_url(re.compile("object=PayPal.Catalog_Products"))
    assert page.get_by_role("cell", name="Product_Name", exact=True).first.is_visible()
    assert page.locator("table.grid tbody tr").count() == 37

    # wizard: new ad-hoc dataset from the columns, mapping with a live preview showing rejects
    page.get_by_role("link", name=re.compile("New dataflow from this table")).click()
    page.get_by_role("button", name="Create dataset").click()  # no name: error on the field
    page.locator("#ds_name[aria-invalid=true]").wait_for()
    assert page.get_by_text("Give the new dataset a name.").is_visible()
    page.get_by_label("Dataset name").fill("PayPal products")
    page.get_by_role("button", name="Create dataset").click()
    page.wait_for_url(re.compile(r"dataset="))
    expect_summary = page.locator("#preview-summary")
    expect_summary.filter(has_text="0 rejected").wait_for()
    row = page.locator(".mapping-row").filter(has=page.locator("input[value=Create_Time]"))
    row.locator("input[name=src]").fill('iif(Category == "CLOTHING", "not a date", Create_Time)')
    expect_summary.filter(has_text="6 rejected").wait_for()
    assert "37 rows previewed" in expect_summary.inner_text()
    assert page.locator("#preview tr.rejected-row").count() == 6
    page.get_by_label("Interval", exact=True).fill("zero")
    page.get_by_role("button", name="Review").click()
    page.locator("#interval[aria-invalid=true]").wait_for()  # the error is on the field
    page.get_by_label("Interval", exact=True).fill("1")
    page.get_by_label("Dataflow name").fill("Products from PayPal")
    page.get_by_label("Partial ingestion: % of rows allowed to fail").fill("50")
    page.get_by_role("button", name="Review").click()
    page.get_by_role("heading", name="Review").wait_for()
    page.get_by_role("button", name="Create dataflow").click()
    page.wait_for_url(re.compile(r"/flows/[0-9a-f-]+\?message="))

    # the 'once' flow runs by itself; run it again now and watch the run succeed
    page.get_by_role("button", name="Run now Products from PayPal").click()
    page.wait_for_url(re.compile(r"/runs/"))
    page.locator("#run-state").filter(has_text="success").wait_for(timeout=60000)
    assert page.locator("#m-input").inner_text() == "37"
    assert page.locator("#m-output").inner_text() == "31"
    assert page.locator("#m-failed").inner_text() == "6"
    assert page.get_by_role("heading", name="Rejected rows (6)").is_visible()
    assert page.locator("table.rejected tbody tr").count() == 6
    assert "cannot convert value to date-time" in page.locator("table.rejected").inner_text()
    with page.expect_download() as dl:
        page.get_by_role("link", name="Download diagnostics").click()
    assert len(Path(dl.value.path()).read_text().splitlines()) == 6

    # the flow page has its charts; the dataset its rows
    page.get_by_role("link", name="its dataflow").click()
    page.locator("svg.chart").first.wait_for()
    assert page.locator("svg.chart").count() == 2
    page.get_by_role("link", name="Datasets").click()
    listed = page.get_by_role("row").filter(has_text="PayPal products")
    assert int(listed.get_by_role("cell").nth(1).inner_text()) >= 31  # rows, summed over batches
    page.get_by_role("link", name="PayPal products").click()
    page.locator("#ds-rows").wait_for()
    assert int(page.locator("#ds-rows").inner_text()) >= 31
    assert page.locator("table.grid tbody tr").count() == 20
    assert page.get_by_role("heading", name="SQL").is_visible()

    # sign out: back to sign-in, pages need a session again
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile("/signin"))
    page.goto(console.url + "/datasets")
    assert "/signin" in page.url


def test_second_org_sees_nothing(console: Console, page: Any) -> None:
    ctx = console.app.state.ctx
    with ctx.db.session() as s:
        other = identity.create_client(s, "OTHERORG0000000000000000@AdobeOrg", name="other")
    sign_in(page, console.url, other.client_id, other.client_secret)
    for path, empty in (
        ("/connections", "No connections yet."),
        ("/flows", "No dataflows yet."),
        ("/datasets", "No datasets yet."),
    ):
        page.goto(console.url + path)
        assert page.get_by_text(empty).is_visible(), path
    # another org's resource by URL: the platform's not-found message with a request id
    with ctx.db.session() as s:
        from xdmflow.services.document_stores import FLOWS
        from xdmflow.store.documents import Scope

        flows = FLOWS.query(s, Scope(console.credentials["org_id"], "prod"))
    if flows:
        page.goto(console.url + f"/flows/{flows[0].id}")
        assert page.get_by_role("alert").filter(has_text="not found").is_visible()
        assert "request id" in page.get_by_role("alert").inner_text()


def test_expired_session_goes_back_to_sign_in(console: Console, page: Any) -> None:
    ctx = console.app.state.ctx
    creds = console.credentials
    sign_in(page, console.url, creds["client_id"], creds["client_secret"])
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    sess = decode_session(cookie["value"], ctx.keys)
    assert sess is not None
    now = int(time.time())
    claims = {
        "sub": creds["client_id"],
        "client_id": creds["client_id"],
        "org": creds["org_id"],
        "iat": now - 100,
        "exp": now - 10,
        "type": "access_token",
    }
    sess.identities[0].token = jwt.encode(claims, ctx.keys.signing_key, algorithm="HS256")
    sess.identities[0].expires = now + 3600  # the cookie still claims a valid session
    page.context.add_cookies([{**cookie, "value": encode_session(sess, ctx.keys)}])
    page.goto(console.url + "/flows")
    assert "/signin" in page.url and "expired=1" in page.url
    assert page.get_by_text("Your session expired; sign in again.").is_visible()


def test_csrf_refused(console: Console, page: Any) -> None:
    creds = console.credentials
    sign_in(page, console.url, creds["client_id"], creds["client_secret"])
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
    jar = {COOKIE: cookie["value"]}
    body = {"name": "x", "p_host": "h", "p_clientId": "a", "p_clientSecret": "b"}
    with httpx.Client(base_url=console.url, cookies=jar) as http:
        for sent in ({}, {"csrf": "forged"}):
            r = http.post(f"/sources/{PAYPAL}/connect", data={**body, **sent})
            assert r.status_code == 403, r.text
            assert "CSRF" in r.text
        r = http.post("/flows/new/preview", json={"dataset": "x"})
        assert r.status_code == 403
    page.goto(console.url + "/connections")
    assert page.get_by_text("No connections yet.").is_visible() or page.locator("table").count() >= 0
