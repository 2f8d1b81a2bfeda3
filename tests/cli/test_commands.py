from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xdmflow.cli.main import app
from xdmflow.services import identity
from xdmflow.services.secrets import keyring_for
from xdmflow.settings import Settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("XDMFLOW_HOME", str(h))
    monkeypatch.delenv("XDMFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("XDMFLOW_SECRET_KEY", raising=False)
    return h


def test_credentials_json_and_file_mode(home: Path) -> None:
    r = CliRunner().invoke(app, ["credentials", "--json"])
    assert r.exit_code == 0, r.output
    creds = json.loads(r.stdout)
    assert set(creds) == {"client_id", "client_secret", "org_id", "sandbox", "token_url"}
    assert creds["token_url"].endswith("/ims/token/v3")
    path = home / "credentials.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(home / "secret.key").st_mode) == 0o600
    # stable across invocations
    again = json.loads(CliRunner().invoke(app, ["credentials", "--json"]).stdout)
    assert again == creds


def test_token_is_valid_for_the_default_client(home: Path) -> None:
    creds = json.loads(CliRunner().invoke(app, ["credentials", "--json"]).stdout)
    r = CliRunner().invoke(app, ["token"])
    assert r.exit_code == 0, r.output
    claims = identity.verify_token(r.stdout.strip(), keyring_for(Settings(home=home)))
    assert claims["client_id"] == creds["client_id"] and claims["org"] == creds["org_id"]


def test_clients_create(home: Path) -> None:
    r = CliRunner().invoke(app, ["clients", "create", "--org", "ACME000000000000000000@AdobeOrg"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["org_id"] == "ACME000000000000000000@AdobeOrg" and out["client_secret"]
    bad = CliRunner().invoke(app, ["clients", "create", "--org", "no-at-sign"])
    assert bad.exit_code == 2


def test_db_upgrade_and_version(home: Path) -> None:
    assert CliRunner().invoke(app, ["db", "upgrade"]).exit_code == 0
    r = CliRunner().invoke(app, ["version"])
    assert r.stdout.strip() == "0.1.0"


def test_client_secret_is_stored_hashed(home: Path) -> None:
    creds = json.loads(CliRunner().invoke(app, ["credentials", "--json"]).stdout)
    raw = (home / "xdmflow.db").read_bytes()
    assert creds["client_secret"].encode() not in raw
