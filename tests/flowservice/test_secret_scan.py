"""No secret of a base connection ever shows: not in an API response, a log line, the console or the
metadata database.

One realistic session through the HTTP API creates base connections for PayPal (the emulator),
PostgreSQL, MariaDB (a real user with a password), Amazon S3 (a moto server) and SFTP (an in-test
server, password and private key), tests them, explores them, PATCHes secrets, fails checks with
wrong secrets and unreachable hosts, sends bodies that fail validation, lists and deletes them.
Every response (status line, headers, body), every log record of any logger at any level and
everything written to stdout/stderr is kept and scanned for every secret in its plain, base64,
URL- and JSON-encoded forms (and inside any base64 token, e.g. a Basic header); then every table
of the metadata database and every file under the service home are scanned too. A self-check
plants secrets in each of those channels first, so the scanner is known to find them.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import re
import secrets
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pymysql
import pytest
from fastapi.testclient import TestClient

from tests.conftest import PG_ADMIN, Api, make_settings
from xdmflow.api.app import create_app
from xdmflow.cli.demo import ServiceThread, free_port
from xdmflow.runtime import build_context

pytestmark = [pytest.mark.postgres, pytest.mark.mysql]

FS = "/data/foundation/flowservice"
PAYPAL = "221c7626-58f6-4eec-8ee2-042b0226f03b"
POSTGRES = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
MARIADB = "3000eb99-cd47-43f3-827c-43caf170f015"
S3 = "ecadc60c-7455-4d87-84dc-2a0e293d997b"
SFTP = "b7bf2577-4520-42c9-bae9-cad01560f7bc"


def _secret(label: str) -> str:
    return f"{label}-{secrets.token_hex(12)}"


# -- the scanner -------------------------------------------------------------------------------------

_B64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


def _forms(value: str) -> set[str]:
    """The forms a leaked ``value`` could take in text."""
    raw = value.encode()
    forms = {
        value,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value),
        json.dumps(value)[1:-1],
    }
    if "\n" in value:  # a PEM key: any of its long base64 lines
        forms |= {line.strip() for line in value.splitlines() if len(line.strip()) >= 24}
    return {f for f in forms if len(f) >= 8}


def _decoded(text: str) -> Iterator[str]:
    """Text hidden in base64 tokens of ``text`` (e.g. ``Authorization: Basic ...``)."""
    for token in _B64_TOKEN.findall(text):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                yield decode(token + "=" * (-len(token) % 4)).decode("utf-8", "ignore")
            except (binascii.Error, ValueError):
                continue


@dataclass
class Scanner:
    """Finds any form of any registered secret in texts."""

    secrets: dict[str, str] = field(default_factory=dict)

    def add(self, label: str, value: str) -> str:
        self.secrets[label] = value
        return value

    def find(self, text: str) -> set[str]:
        found = set()
        candidates = [text, *_decoded(text)]
        for label, value in self.secrets.items():
            forms = _forms(value)
            if any(form in c for c in candidates for form in forms):
                found.add(label)
        return found


@dataclass
class Capture:
    """Everything the session showed: responses, log records (and stdout/stderr, read at the end)."""

    responses: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)

    def on_response(self, response: httpx.Response) -> None:
        response.read()
        # the request line is left out: only what the service sends back counts
        head = f"HTTP {response.status_code} {response.reason_phrase}"
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
        self.responses.append(f"{head}\n{headers}\n\n{response.text}")


class _Records(logging.Handler):
    def __init__(self, capture: Capture) -> None:
        super().__init__(logging.DEBUG)
        self.capture = capture
        self.formatter_ = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        parts = [f"{record.name} {record.levelname}", str(vars(record))]
        try:
            parts.append(record.getMessage())
        except Exception as exc:  # a record that cannot be formatted is still scanned raw
            parts.append(f"unformattable: {exc!r}")
        if record.exc_info:
            parts.append(self.formatter_.formatException(record.exc_info))
        if record.stack_info:
            parts.append(record.stack_info)
        self.capture.logs.append("\n".join(parts))


@pytest.fixture
def capture() -> Iterator[Capture]:
    """Every log record of the test, at DEBUG, from every logger (non-propagating ones included)."""
    cap = Capture()
    handler = _Records(cap)
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    isolated = []
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and not logger.propagate:
            logger.addHandler(handler)
            isolated.append(logger)
    try:
        yield cap
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        for logger in isolated:
            logger.removeHandler(handler)


# -- the outside world --------------------------------------------------------------------------------


@dataclass
class World:
    scanner: Scanner
    paypal_url: str
    pg_table: str
    maria_user: str
    maria_table: str
    s3_url: str
    s3_key: str
    bucket: str
    sftp_port: int
    sftp_key_pem: str


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Live sources holding secrets: the PayPal emulator, PostgreSQL, MariaDB, moto S3, SFTP."""
    import boto3
    import paramiko
    from moto.server import ThreadedMotoServer

    from tests.connectors.sftpserver import SftpServer
    from xdmflow.emulators.paypal import EmulatorConfig
    from xdmflow.emulators.paypal import create_app as paypal_app

    scan = Scanner()
    suffix = uuid.uuid4().hex[:10]
    stack: list[Any] = []
    try:
        # PayPal: a REST app whose secret is ours
        paypal = paypal_app(
            7, config=EmulatorConfig(n_transactions=300, days=10, burst_fraction=0.0, n_products=3)
        )
        emulator = ServiceThread(paypal, free_port()).start()
        stack.append(emulator.stop)
        state = paypal.state.emulator
        scopes = list(state.config.clients["xdmflow-emulator-client"].scopes)
        app = {"client_secret": scan.add("paypal", _secret("pp")), "scopes": scopes}
        state.config = state.config.updated({"clients": {**state.config.clients, "scan-client": app}})
        # PostgreSQL: a table to explore (loopback is trusted: the password is carried, not verified)
        scan.add("pg", _secret("pg"))
        pg_table = f"scan_{suffix}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE public.{pg_table} (id int primary key, note text)")
            conn.execute(f"INSERT INTO public.{pg_table} VALUES (1, 'one'), (2, 'two')")
        stack.append(lambda: _pg_drop(pg_table))
        # MariaDB: a user with a password and a table it may read
        maria_user, maria_table = f"scan{suffix}", f"scan_{suffix}"
        maria_secret = scan.add("mariadb", _secret("my"))
        with pymysql.connect(host="127.0.0.1", port=3306, user="root", database="test", autocommit=True) as c:
            cur = c.cursor()
            for host in ("%", "localhost", "127.0.0.1"):
                at = host.replace("%", "%%")  # pymysql formats the query with the password
                cur.execute(f"CREATE USER '{maria_user}'@'{at}' IDENTIFIED BY %s", (maria_secret,))
                cur.execute(f"GRANT SELECT ON test.* TO '{maria_user}'@'{host}'")
            cur.execute(f"CREATE TABLE test.{maria_table} (id int primary key, note varchar(20))")
            cur.execute(f"INSERT INTO test.{maria_table} VALUES (1, 'one'), (2, 'two')")
        stack.append(lambda: _maria_drop(maria_user, maria_table))
        # S3: a moto server with an IAM user
        port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        stack.append(moto.stop)
        s3_url = f"http://127.0.0.1:{port}"
        admin = {"endpoint_url": s3_url, "region_name": "us-east-1"}
        admin |= {"aws_access_key_id": "admin", "aws_secret_access_key": "admin"}
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="scan")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="scan", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="scan")["AccessKey"]
        scan.add("s3", key["SecretAccessKey"])
        bucket = f"scan-{suffix}"
        s3 = boto3.client("s3", **admin)
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="in/people.csv", Body=b"id,name\n1,Ann\n2,Bob\n")
        # SFTP: password and key logins
        root = tmp_path / "sftp"
        (root / "in").mkdir(parents=True)
        (root / "in" / "people.csv").write_text("id,name\n1,Ann\n2,Bob\n")
        client_key = paramiko.ECDSAKey.generate(bits=256)
        pem = io.StringIO()
        client_key.write_private_key(pem, password=scan.add("sftp-passphrase", _secret("phrase")))
        scan.add("sftp-key", pem.getvalue())
        sftp = SftpServer(root, users={"scan": scan.add("sftp", _secret("sftp"))}, keys={"scan": client_key})
        sftp.start()
        stack.append(sftp.stop)
        # the secrets of the failing checks (wrong or unreachable)
        for label in ("paypal-bad", "pg-bad", "mariadb-bad", "s3-bad", "sftp-bad", "patched", "invalid"):
            scan.add(label, _secret(label))
        yield World(
            scanner=scan,
            paypal_url=emulator.url,
            pg_table=pg_table,
            maria_user=maria_user,
            maria_table=maria_table,
            s3_url=s3_url,
            s3_key=key["AccessKeyId"],
            bucket=bucket,
            sftp_port=sftp.port,
            sftp_key_pem=pem.getvalue(),
        )
    finally:
        for undo in reversed(stack):
            undo()


def _pg_drop(table: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS public.{table}")


def _maria_drop(user: str, table: str) -> None:
    with pymysql.connect(host="127.0.0.1", port=3306, user="root", database="test", autocommit=True) as c:
        cur = c.cursor()
        cur.execute(f"DROP TABLE IF EXISTS test.{table}")
        for host in ("%", "localhost", "127.0.0.1"):
            cur.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")


# -- the session --------------------------------------------------------------------------------------


AUTH_SPECS = {
    PAYPAL: "Client-Id-Secret Based Authentication",
    POSTGRES: "Connection String Based Authentication",
    MARIADB: "Connection String Based Authentication",
    S3: "Basic Authentication for S3",
    SFTP: "Basic Authentication for sftp",
}
SFTP_KEY_AUTH = "SSH PublicKey Authentication for sftp"


def _body(name: str, spec_id: str, params: dict[str, Any], spec_name: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "auth": {"specName": spec_name or AUTH_SPECS[spec_id], "params": params},
        "connectionSpec": {"id": spec_id, "version": "1.0"},
    }


def _create(api: Api, name: str, spec_id: str, params: dict[str, Any], spec_name: str | None = None) -> str:
    r = api.post(f"{FS}/connections", json=_body(name, spec_id, params, spec_name))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _test(api: Api, cid: str, *, ok: bool) -> Any:
    r = api.get(f"{FS}/connections/{cid}/test")
    if ok:
        assert r.status_code == 200 and r.json() == {"result": True}, r.text
    else:
        assert r.status_code >= 400 and r.json()["title"], r.text
    return r


def _patch(api: Api, cid: str, path: str, value: Any) -> None:
    etag = api.get(f"{FS}/connections/{cid}").json()["items"][0]["etag"]
    ops = [{"op": "replace", "path": path, "value": value}]
    r = api.patch(f"{FS}/connections/{cid}", json=ops, headers={"If-Match": etag})
    assert r.status_code == 200, r.text


def _explore(api: Api, cid: str, object_type: str, obj: str | None = None, **extra: str) -> Any:
    params = {"objectType": object_type, **({"object": obj} if obj else {}), **extra}
    r = api.get(f"{FS}/connections/{cid}/explore", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def run_session(api: Api, w: World) -> None:
    """What a user does with base connections, good and bad."""
    s = w.scanner.secrets

    def pg(password: str, port: int = 5432, db: str = "test") -> dict[str, str]:
        return {"connectionString": f"postgresql://postgres:{password}@127.0.0.1:{port}/{db}"}

    def maria(password: str) -> dict[str, str]:
        return {"connectionString": f"mysql://{w.maria_user}:{password}@127.0.0.1:3306/test"}

    sftp = {"host": "127.0.0.1", "port": w.sftp_port, "userName": "scan"}
    s3 = {"s3AccessKey": w.s3_key, "serviceUrl": w.s3_url}
    paypal = {"host": w.paypal_url, "clientId": "scan-client"}
    sftp_key = {**sftp, "privateKeyContent": s["sftp-key"], "passPhrase": s["sftp-passphrase"]}
    good = {
        "paypal": _create(api, "paypal", PAYPAL, {**paypal, "clientSecret": s["paypal"]}),
        "pg": _create(api, "pg", POSTGRES, pg(s["pg"])),
        "maria": _create(api, "maria", MARIADB, maria(s["mariadb"])),
        "s3": _create(api, "s3", S3, {**s3, "s3SecretKey": s["s3"]}),
        "sftp": _create(api, "sftp", SFTP, {**sftp, "password": s["sftp"]}),
        "sftp-key": _create(api, "sftp-key", SFTP, sftp_key, SFTP_KEY_AUTH),
    }
    for cid in good.values():
        _test(api, cid, ok=True)
    # explore every connection down to a preview
    for cid, table in (
        (good["paypal"], "PayPal.Transactions"),
        (good["pg"], f"public.{w.pg_table}"),
        (good["maria"], f"test.{w.maria_table}"),
    ):
        assert table in [i["path"] for i in _explore(api, cid, "root")]
        assert _explore(api, cid, "table", table, preview="true")["data"]
    for cid, folder in ((good["s3"], f"/{w.bucket}/in"), (good["sftp"], "/in"), (good["sftp-key"], "/in")):
        _explore(api, cid, "root")
        assert [i["name"] for i in _explore(api, cid, "folder", folder)] == ["people.csv"]
        assert len(_explore(api, cid, "file", f"{folder}/people.csv", preview="true")["data"]) == 2
    # wrong secrets and unreachable hosts: each check fails with an error body
    bad = {
        "paypal": _create(api, "paypal-bad", PAYPAL, {**paypal, "clientSecret": s["paypal-bad"]}),
        "pg": _create(api, "pg-down", POSTGRES, pg(s["pg-bad"], port=free_port())),
        "pg-db": _create(api, "pg-nodb", POSTGRES, pg(s["pg-bad"], db="no_such_db_x")),
        "maria": _create(api, "maria-bad", MARIADB, maria(s["mariadb-bad"])),
        "s3": _create(
            api,
            "s3-down",
            S3,
            {**s3, "serviceUrl": f"http://127.0.0.1:{free_port()}", "s3SecretKey": s["s3-bad"]},
        ),
        "sftp": _create(api, "sftp-bad", SFTP, {**sftp, "password": s["sftp-bad"]}),
        "sftp-down": _create(
            api, "sftp-down", SFTP, {**sftp, "port": free_port(), "password": s["sftp-bad"]}
        ),
    }
    for name, cid in bad.items():
        _test(api, cid, ok=False)
        r = api.get(f"{FS}/connections/{cid}/explore?objectType=root")
        # PayPal's table list is static (no call); every other root listing reaches the source
        assert r.status_code == 200 if name == "paypal" else r.status_code >= 400, r.text
    # PATCH: a wrong secret fails, the right one works again; a new SFTP password is stored encrypted
    _patch(api, good["paypal"], "/auth/params", {**paypal, "clientSecret": s["patched"]})
    _test(api, good["paypal"], ok=False)
    _patch(api, good["paypal"], "/auth/params/clientSecret", s["paypal"])
    _test(api, good["paypal"], ok=True)
    _patch(api, good["sftp"], "/auth/params/password", s["patched"])
    _test(api, good["sftp"], ok=False)
    _patch(api, good["sftp"], "/name", "sftp renamed")
    # bodies that fail validation must not echo the secret they carry
    for params in (
        {**paypal, "clientSecret": {"value": s["invalid"]}},
        {**paypal, "clientSecret": [s["invalid"]]},
        {"host": w.paypal_url, "clientSecret": s["invalid"]},
    ):
        r = api.post(f"{FS}/connections", json=_body("x", PAYPAL, params))
        assert r.status_code == 400, r.text
    r = api.post(
        f"{FS}/connections", json=_body("x", POSTGRES, {"connectionString": s["invalid"], "extra": 1})
    )
    assert r.status_code in (201, 400), r.text
    # list, filter, page, read each, delete one
    listed = api.get(f"{FS}/connections", params={"limit": 100})
    assert listed.status_code == 200 and len(listed.json()["items"]) >= len(good) + len(bad)
    api.get(f"{FS}/connections", params={"property": f"connectionSpec.id=={SFTP}"})
    api.get(f"{FS}/connections", params={"limit": 2})
    for cid in (*good.values(), *bad.values()):
        assert api.get(f"{FS}/connections/{cid}").status_code == 200
    assert api.delete(f"{FS}/connections/{bad['sftp-down']}").status_code == 204


# -- the test -----------------------------------------------------------------------------------------


def _db_texts(api: Api) -> Iterator[str]:
    import sqlalchemy as sa

    engine = api.ctx.db.engine
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):  # noqa: S608 - reflected names
                yield f"{table}: " + " | ".join(
                    bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v) for v in row
                )


def _file_texts(home: Path) -> Iterator[str]:
    for path in sorted(home.rglob("*")) if home.is_dir() else [home]:
        if path.is_file():
            yield f"{path}: " + path.read_bytes().decode("latin-1")


def _leaks(scanner: Scanner, channel: str, texts: list[str]) -> list[str]:
    out = []
    for text in texts:
        for label in sorted(scanner.find(text)):
            at = min((text.find(f) for f in _forms(scanner.secrets[label]) if f in text), default=0)
            out.append(f"{channel}: secret {label!r} in ...{text[max(0, at - 200) : at + 80]!r}...")
    return out


def test_scanner_finds_planted_secrets() -> None:
    """The scanner would catch a leak in each form the session could produce."""
    scan = Scanner()
    plain = scan.add("plain", _secret("plain"))
    pem_key = io.StringIO()
    import paramiko

    paramiko.ECDSAKey.generate(bits=256).write_private_key(pem_key)
    scan.add("pem", pem_key.getvalue())
    basic = base64.b64encode(f"client:{plain}".encode()).decode()
    assert scan.find(f"Authorization: Basic {basic}") == {"plain"}
    assert scan.find(json.dumps({"detail": f"url postgresql://u:{plain}@h/db failed"})) == {"plain"}
    assert scan.find(f"?password={urllib.parse.quote(plain + '/+')}") == {"plain"}
    assert scan.find(base64.b64encode(plain.encode()).decode()) == {"plain"}
    assert scan.find(json.dumps({"key": pem_key.getvalue()})) == {"pem"}
    assert scan.find(pem_key.getvalue().splitlines()[2]) == {"pem"}
    assert scan.find("nothing to see " + plain[:-1]) == set()


def test_no_secret_in_responses_logs_console_or_database(
    tmp_path: Path, world: World, capture: Capture, capfd: pytest.CaptureFixture[str]
) -> None:
    scan = world.scanner
    settings = make_settings(tmp_path / "home")
    with TestClient(create_app(settings, context=build_context)) as client:
        client.event_hooks = {"request": [], "response": [capture.on_response]}
        api = Api(client)
        scan.add("platform-client-secret", str(api.creds["client_secret"]))
        # self-check: the same channels, with planted secrets, are seen by the scanner
        planted = Scanner({"planted": _secret("planted")})
        logging.getLogger("xdmflow.selfcheck").debug("url %s", f"sftp://u:{planted.secrets['planted']}@h")
        print("planted " + base64.b64encode(planted.secrets["planted"].encode()).decode())  # noqa: T201
        assert _leaks(planted, "log", capture.logs), "the log capture misses records"
        out = capfd.readouterr()
        assert _leaks(planted, "console", [out.out, out.err]), "the console capture misses output"
        assert api.get(f"{FS}/connections/{planted.secrets['planted']}").status_code == 404  # echoes the id
        assert _leaks(planted, "response", capture.responses), "the response capture misses responses"

        run_session(api, world)

        assert len(capture.responses) > 60 and len(capture.logs) > 100
        out = capfd.readouterr()
        leaks = _leaks(scan, "response", capture.responses)
        leaks += _leaks(scan, "log", capture.logs)
        leaks += _leaks(scan, "console", [out.out, out.err])
        db = list(_db_texts(api))
        assert any(t.startswith("documents:") for t in db)
        leaks += _leaks(scan, "metadata database", db)
    # the bootstrap client's own credentials live in {home}/credentials.json (mode 0600), by design;
    # no other file of the home holds any secret
    home = Path(settings.home_path)
    creds = home / "credentials.json"
    assert creds.stat().st_mode & 0o077 == 0
    others = [t for t in _file_texts(home) if not t.startswith(f"{creds}: ")]
    assert any(t.startswith(f"{home / 'xdmflow.db'}: ") for t in others)
    leaks += _leaks(scan, "service home", others)
    connection_secrets = Scanner({k: v for k, v in scan.secrets.items() if not k.startswith("platform")})
    leaks += _leaks(connection_secrets, "credentials.json", list(_file_texts(creds)))
    assert not leaks, "\n".join(leaks)
