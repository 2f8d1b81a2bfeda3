"""``/docs`` loads nothing from the internet (no CDN): Swagger UI comes from a local package."""

from __future__ import annotations

import re

from tests.conftest import Api


def test_docs_reference_no_remote_asset(api: Api) -> None:
    r = api.client.get("/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()
    assets = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]""", r.text)
    assets += re.findall(r"""url:\s*['"]([^'"]+)['"]""", r.text)
    assert assets
    for url in assets:
        assert not url.startswith(("http://", "https://", "//")), url
    assert "cdn" not in r.text.lower() and not re.search(r"https?://", r.text)
    for url in assets:
        if url.startswith("/docs/assets/"):
            got = api.client.get(url)
            assert got.status_code == 200 and got.content, url
    assert api.client.get("/docs/oauth2-redirect").status_code == 200
