"""Entry points, connection specs, the Data Lake target, SFTP without paramiko, cheap imports."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from importlib.metadata import entry_points

import jsonschema
import pytest

from xdmflow.connectors.base import Connector, ReadRequest, ReadResult
from xdmflow.connectors.datalake import DataLakeConnector
from xdmflow.connectors.files import SftpConnector
from xdmflow.errors import BadRequestError, ConfigError

EXPECTED = {
    "datalake": ("c604ff05-7f1a-43c0-8e18-33bf874cb11c", "Data Lake", set()),
    "localfiles": ("59bfba2a-ae6b-42ff-87cb-fb44f5e66700", "Local Files", set()),
    "s3": ("ecadc60c-7455-4d87-84dc-2a0e293d997b", "Amazon S3", {"s3SecretKey"}),
    "sftp": ("b7bf2577-4520-42c9-bae9-cad01560f7bc", "SFTP", {"password", "privateKeyContent", "passPhrase"}),
    "postgresql": ("74a1c565-4e59-48d7-9d67-7c03b8a13137", "PostgreSQL", {"connectionString"}),
    "mysql": ("26d738e0-8963-47ea-aadf-c60de735468a", "MySQL", {"connectionString"}),
    "mariadb": ("3000eb99-cd47-43f3-827c-43caf170f015", "MariaDB", {"connectionString"}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_entry_point_serves_the_platform_spec(name: str) -> None:
    (ep,) = [e for e in entry_points(group="xdmflow.connectors") if e.name == name]
    connector = ep.load()()
    assert isinstance(connector, Connector)
    spec_id, spec_name, secrets = EXPECTED[name]
    spec = connector.spec
    assert (spec.id, spec.name, set(spec.secret_params)) == (spec_id, spec_name, secrets)
    body = spec.body
    assert body["id"] == spec_id and body["providerId"] == "0ed90a81-07f4-4586-8190-b40eccef1c5a"
    assert body["version"] == "1.0" and body["permissionsInfo"]["view"]
    for auth in body["authSpec"]:
        jsonschema.Draft7Validator.check_schema(auth["spec"])
    for key in ("sourceSpec", "targetSpec"):
        if key in body:
            jsonschema.Draft7Validator.check_schema(body[key]["spec"])


def test_datalake_is_a_full_target_spec_and_refuses_source_verbs() -> None:
    c = DataLakeConnector()
    assert (c.spec.is_source, c.spec.is_target) == (False, True)
    params = jsonschema.Draft7Validator(c.spec.body["targetSpec"]["spec"])
    assert params.is_valid({"dataSetId": "5e8918669cbbee18ad9771f3"})
    assert not params.is_valid({}) and not params.is_valid({"dataSetId": ""})
    for call in (
        lambda: c.check({}),
        lambda: c.explore({}, "root", None),
        lambda: c.describe({}, "x"),
        lambda: list(c.read({}, ReadRequest(object="x"), ReadResult())),
    ):
        with pytest.raises(BadRequestError, match="is a target"):
            call()


@pytest.mark.skipif(importlib.util.find_spec("paramiko") is not None, reason="paramiko is installed")
def test_sftp_without_paramiko_says_what_to_install() -> None:
    c = SftpConnector()
    auth = {"host": "127.0.0.1", "userName": "u", "password": "p"}
    for call in (
        lambda: c.check(auth),
        lambda: list(c.read(auth, ReadRequest(object="/x.csv"), ReadResult())),
    ):
        with pytest.raises(ConfigError, match="pip install paramiko"):
            call()


def test_connector_packages_load_no_driver() -> None:
    """Database drivers and SSH are loaded only by a connection that needs them (they are optional:
    a sandbox without SFTP or MySQL never pays for them); the Arrow readers are imported up front."""
    code = (
        "import sys; import xdmflow.connectors.files, xdmflow.connectors.sql, xdmflow.connectors.datalake; "
        "heavy = [m for m in ('paramiko', 'psycopg', 'pymysql') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
