"""The operator CLI over HTTP: flows enable/disable/run/delete, runs retry/watch/show, exit codes, --url."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_ingest import cli, home, ingest, write_sales  # noqa: F401  (fixture)
from tests.flowservice.conftest import LiveService, live_service  # noqa: F401  (fixture)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_flow_and_run_commands(home: Path, tmp_path: Path) -> None:  # noqa: F811
    src = tmp_path / "orders.csv"
    write_sales(src, 0, 10, bad=False)
    first = ingest(str(src), "--infer")
    flow, run = first["flowId"], first["runId"]

    cli("flows", "disable", flow)
    cli("flows", "disable", flow, code=4)  # already disabled: refused
    assert json.loads(cli("flows", "list", "--json"))[0]["state"] == "disabled"
    cli("flows", "enable", flow)

    retried = json.loads(cli("runs", "retry", run, "--json"))
    assert retried["state"] == "success" and retried["id"] != run
    watched = json.loads(cli("runs", "watch", retried["id"], "--json"))
    assert watched["id"] == retried["id"]
    ran = json.loads(cli("flows", "run", flow, "--json"))
    assert ran["state"] == "success" and ran["rowsIn"] == 0  # nothing new
    assert json.loads(cli("runs", "list", "--status", "success", "--json"))
    assert json.loads(cli("runs", "list", "--status", "failed", "--json")) == []
    assert json.loads(cli("runs", "show", run))["id"] == run
    assert "0 rejected row(s)" in cli("runs", "errors", run)

    cli("runs", "show", "00000000-0000-0000-0000-000000000000", code=3)
    cli("flows", "show", "00000000-0000-0000-0000-000000000000", code=3)
    cli("ingest", str(tmp_path / "missing.csv"), "--yes", code=2)
    cli("ingest", "ftp://host/x.csv", "--yes", code=2)
    cli("ingest", str(src), "--schedule", "minute:5", "--yes", code=2)

    cli("flows", "delete", flow, "--yes")
    assert json.loads(cli("flows", "list", "--json")) == []
    # the dataset stays, listed with its rows
    [ds] = json.loads(cli("datasets", "list", "--json"))
    assert ds["id"] == first["datasetId"] and ds["rows"] == 10


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_against_a_running_service_with_url(
    live_service: LiveService,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service_home = live_service.app.state.ctx.settings.home_path
    monkeypatch.setenv("XDMFLOW_HOME", str(service_home))
    assert json.loads(cli("flows", "list", "--url", live_service.url, "--json")) == []
    token = live_service.token()
    out = cli(
        "connections",
        "list",
        "--url",
        live_service.url,
        "--token",
        token,
        "--org",
        live_service.credentials["org_id"],
        "--api-key",
        live_service.credentials["client_id"],
        "--json",
    )
    assert json.loads(out) == []
    cli("flows", "list", "--url", live_service.url, "--token", "not-a-token", code=4)
    cli("flows", "list", "--url", "http://127.0.0.1:9", code=5)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_ingest_onto_a_chosen_schema(home: Path, tmp_path: Path) -> None:  # noqa: F811
    from xdmflow.cli.client import SR, connect

    src = tmp_path / "people.csv"
    src.write_text("id,firstName,lastName\n" + "".join(f"{i},A{i},B{i}\n" for i in range(12)))
    with connect() as api:
        schema = api.post(
            f"{SR}/tenant/schemas",
            {
                "title": "people",
                "type": "object",
                "allOf": [
                    {"$ref": "https://ns.adobe.com/xdm/context/profile"},
                    {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
                ],
            },
        )
    got = ingest(str(src), "--schema", schema["$id"])
    assert (got["state"], got["rowsOut"]) == ("success", 12), got
    rows = json.loads("[" + ",".join(cli("datasets", "head", got["datasetId"], "--json").splitlines()) + "]")
    assert {r["person"]["name"]["lastName"] for r in rows} == {f"B{i}" for i in range(12)}
    cli("ingest", str(src), "--schema", schema["$id"], "--infer", "--yes", code=2)
