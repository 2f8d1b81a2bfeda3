"""Local folders: only under XDMFLOW_LOCAL_ROOTS, never xdmflow's own files (issue 13, defect 1)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api, make_settings
from tests.flowservice.conftest import (
    CLOUD,
    FS,
    LOCAL,
    adhoc_schema,
    dataset,
    files_source,
    target_connection,
    wait_runs,
)
from xdmflow.api.app import create_app
from xdmflow.connectors.policy import AccessPolicy
from xdmflow.errors import PolicyRefusedError
from xdmflow.runtime import build_app, build_context

OTHER_ORG = "0THERORG0000000000000000@AdobeOrg"


def local_connection(api: Api, root: str | Path) -> Any:
    return api.post(
        f"{FS}/connections",
        json={
            "name": "h",
            "auth": {"specName": "Local Folder", "params": {"rootPath": str(root)}},
            "connectionSpec": {"id": LOCAL},
        },
    )


def assert_refused(r: Any, setting: str = "XDMFLOW_LOCAL_ROOTS") -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["type"].startswith("https://ns.adobe.com/aep/errors/FLOW-"), body
    assert setting in body["errorMessage"], body


@pytest.fixture
def app_api(tmp_path: Path, db_url: str) -> Iterator[Api]:
    with TestClient(create_app(make_settings(tmp_path / "home", db_url), context=build_context)) as client:
        yield Api(client)


def test_second_org_cannot_read_the_home(app_api: Api, tmp_path: Path) -> None:
    """The issue's exploit: a second org's Local Folder connection at the home is refused, and
    even through a root that contains the home, credentials.json and secret.key stay out of reach."""
    home = app_api.ctx.settings.home_path
    assert (home / "credentials.json").exists()
    other = app_api.as_other(OTHER_ORG)
    assert_refused(local_connection(other, home))
    assert_refused(local_connection(other, "/etc"))
    assert_refused(local_connection(other, home / "lake"))
    assert_refused(local_connection(other, str(tmp_path / "home" / ".." / "home")))

    # the folder holding the home is an operator root in the tests: the home is excluded from it
    conn = local_connection(other, tmp_path)
    assert conn.status_code == 201, conn.text
    conn_id = conn.json()["id"]
    listing = other.get(f"{FS}/connections/{conn_id}/explore?objectType=root")
    assert listing.status_code == 200, listing.text
    assert "home" not in [item["name"] for item in listing.json()]
    for obj in ("/home/credentials.json", "/home/secret.key", "/home/../home/credentials.json"):
        r = other.get(
            f"{FS}/connections/{conn_id}/explore",
            params={"objectType": "file", "object": obj, "preview": "true", "columnDelimiter": "\t"},
        )
        assert r.status_code == 400, r.text
        assert app_api.creds["client_secret"] not in r.text
    r = other.get(f"{FS}/connections/{conn_id}/explore", params={"objectType": "folder", "object": "/home"})
    assert r.status_code == 400, r.text


def test_symlinks_out_of_the_tree_are_not_followed(app_api: Api, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "ok.csv").write_text("a,b\n1,2\n")
    (data / "passwd").symlink_to("/etc/passwd")
    (data / "etc").symlink_to("/etc")
    (data / "creds.csv").symlink_to(app_api.ctx.settings.home_path / "credentials.json")
    (data / "inside.csv").symlink_to(data / "ok.csv")
    conn_id = local_connection(app_api, data).json()["id"]
    listing = app_api.get(f"{FS}/connections/{conn_id}/explore?objectType=root")
    assert listing.status_code == 200, listing.text
    assert sorted(i["name"] for i in listing.json()) == ["inside.csv", "ok.csv"]
    for obj in ("/passwd", "/etc/passwd", "/creds.csv"):
        r = app_api.get(
            f"{FS}/connections/{conn_id}/explore",
            params={"objectType": "file", "object": obj, "preview": "true"},
        )
        assert r.status_code == 400, (obj, r.text)
        assert "root:" not in r.text
    r = app_api.get(
        f"{FS}/connections/{conn_id}/explore",
        params={"objectType": "file", "object": "/inside.csv", "preview": "true"},
    )
    assert r.status_code == 200, r.text
    # a symlinked root that leads out of the operator's roots is refused at create
    (tmp_path / "to-etc").symlink_to("/etc")
    assert_refused(local_connection(app_api, tmp_path / "to-etc"))


def test_default_root_is_the_inbox(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = make_settings(home, local_roots=None)
    assert settings.resolved_local_roots == [home.resolve() / "inbox"]
    (home / "inbox" / "drop").mkdir(parents=True)
    (home / "inbox" / "drop" / "a.csv").write_text("x\n1\n")
    with TestClient(create_app(settings, context=build_context)) as client:
        api = Api(client)
        assert_refused(local_connection(api, tmp_path))
        assert_refused(local_connection(api, home))
        conn = local_connection(api, home / "inbox")
        assert conn.status_code == 201, conn.text
        r = api.get(
            f"{FS}/connections/{conn.json()['id']}/explore",
            params={"objectType": "file", "object": "/drop/a.csv", "preview": "true"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["data"] == [{"x": "1"}] or r.json()["data"] == [{"x": 1}]


def test_patch_to_an_escaping_root_is_refused(app_api: Api, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    conn = local_connection(app_api, tmp_path / "a").json()
    r = app_api.patch(
        f"{FS}/connections/{conn['id']}",
        json=[{"op": "replace", "path": "/auth/params/rootPath", "value": "/etc"}],
        headers={"If-Match": conn["etag"]},
    )
    assert_refused(r)


def test_existing_connection_outside_new_roots_fails_test_explore_and_run(
    tmp_path: Path, db_url: str
) -> None:
    """The operator narrows XDMFLOW_LOCAL_ROOTS: connections made before fail with its name."""
    old = tmp_path / "old"
    old.mkdir()
    (old / "in.csv").write_text("id,name\n1,a\n")
    home = tmp_path / "home"
    with TestClient(create_app(make_settings(home, db_url), context=build_context)) as client:
        api = Api(client)
        schema = adhoc_schema(api, {"id": {"type": "string"}, "name": {"type": "string"}})
        ds = dataset(api, schema["$id"])
        source = files_source(api, old, "in.csv")
        conn_id = api.get(f"{FS}/sourceConnections/{source}").json()["items"][0]["baseConnectionId"]
        flow = api.post(
            f"{FS}/flows",
            json={
                "name": "narrowed",
                "flowSpec": {"id": CLOUD, "version": "1.0"},
                "sourceConnectionIds": [source],
                "targetConnectionIds": [target_connection(api, ds)],
                "scheduleParams": {"startTime": str(int(time.time()) + 3600), "frequency": "once"},
            },
        ).json()
    (tmp_path / "new").mkdir()
    narrowed = make_settings(
        home, db_url, local_roots=[tmp_path / "new"], scheduler_interval_seconds=0.2, workers=1
    )
    with TestClient(build_app(narrowed, role="all")) as client:
        api = Api(client)
        assert_refused(api.get(f"{FS}/connections/{conn_id}/test"))
        assert_refused(api.get(f"{FS}/connections/{conn_id}/explore?objectType=root"))
        r = api.post(f"{FS}/runs", json={"flowId": flow["id"]})
        assert r.status_code in (200, 201, 202), r.text
        [run] = wait_runs(api, flow["id"])
        assert run["state"] == "failed"
        assert "XDMFLOW_LOCAL_ROOTS" in str(run), run


def test_policy_paths_unit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "inbox").mkdir(parents=True)
    lake = tmp_path / "lake"
    lake.mkdir()
    policy = AccessPolicy.build(
        local_roots=[tmp_path, home / "inbox"], allowed_hosts=[], home=home, private_paths=[lake]
    )
    assert policy.path_allowed(str(tmp_path / "x.csv"))
    assert policy.path_allowed(os.path.realpath(home / "inbox" / "a.csv"))
    assert not policy.path_allowed(os.path.realpath(home / "credentials.json"))
    assert not policy.path_allowed(os.path.realpath(home))
    assert not policy.path_allowed(os.path.realpath(lake / "t"))
    assert not policy.path_allowed("/etc/passwd")
    assert not policy.path_allowed(str(tmp_path) + "-sibling/x")  # a prefix is not a parent
    with pytest.raises(PolicyRefusedError, match="XDMFLOW_LOCAL_ROOTS"):
        policy.check_folder(str(home))
    # the filesystem root as an operator root still keeps the home out
    everything = AccessPolicy.build(local_roots=["/"], allowed_hosts=[], home=home)
    assert everything.path_allowed(str(tmp_path / "x.csv"))
    assert not everything.path_allowed(os.path.realpath(home / "credentials.json"))
    # a root equal to the home opens nothing of it
    only_home = AccessPolicy.build(local_roots=[home], allowed_hosts=[], home=home)
    assert not only_home.path_allowed(os.path.realpath(home / "secret.key"))
