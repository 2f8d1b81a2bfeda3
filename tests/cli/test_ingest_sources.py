"""How ``xdmflow ingest`` reads SOURCE (pure: no service)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from xdmflow.cli.ingest import IngestFailed, parse_schedule, parse_source


def test_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(tmp_path / "home")  # local roots: tmp_path
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("x\n1\n")
    local = parse_source(str(tmp_path / "in" / "a.csv"), settings)
    assert (local.auth, local.object, local.name, local.notes) == (
        {"rootPath": str(tmp_path)},
        "in/a.csv",
        "a",
        [],
    )
    assert parse_source(str(tmp_path / "in"), settings).object == "in/*"

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    s3 = parse_source("s3://bucket/exports/?endpoint=http://127.0.0.1:9000", settings)
    assert s3.object == "/bucket/exports/*" and s3.auth["serviceUrl"] == "http://127.0.0.1:9000"
    assert s3.auth["bucketName"] == "bucket" and s3.auth["s3SecretKey"] == "s"

    sftp = parse_source("sftp://me:p%40ss@files.example.com:2222/drop/day.csv", settings)
    assert sftp.auth == {"host": "files.example.com", "port": 2222, "userName": "me", "password": "p@ss"}
    assert (sftp.object, sftp.name) == ("/drop/day.csv", "day")

    pg = parse_source("postgresql://u:pw@db:5432/shop?table=public.orders&sslmode=require", settings)
    assert pg.auth == {"connectionString": "postgresql://u:pw@db:5432/shop?sslmode=require"}
    assert (pg.object, pg.name, pg.kind) == ("public.orders", "orders", "sql")
    my = parse_source("mysql://root@127.0.0.1:3306/shop?table=orders", settings, "my orders")
    assert (my.object, my.name) == ("orders", "my orders")
    pp = parse_source("paypal+http://id:secret@127.0.0.1:8089?table=PayPal.Transactions", settings)
    assert pp.auth == {"host": "http://127.0.0.1:8089", "clientId": "id", "clientSecret": "secret"}
    st = parse_source("stripe://sk_test_1@api.stripe.com?table=Stripe.Charges", settings)
    assert (st.auth, st.object, st.name) == (
        {"host": "https://api.stripe.com", "apiKey": "sk_test_1"},
        "Stripe.Charges",
        "charges",
    )
    sq = parse_source("square+http://EAAA1@127.0.0.1:8091?table=Square.Payments", settings)
    assert sq.auth == {"host": "http://127.0.0.1:8091", "accessToken": "EAAA1"} and sq.name == "payments"


def test_outside_the_roots_is_copied_once(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", local_roots=[tmp_path / "inbox"])
    src = tmp_path / "elsewhere" / "sales.csv"
    src.parent.mkdir()
    src.write_text("x\n1\n")
    got = parse_source(str(src), settings)
    assert got.object == "ingest/sales/sales.csv" and "copied 1 file(s)" in got.notes[0]
    assert (tmp_path / "inbox" / "ingest" / "sales" / "sales.csv").read_text() == "x\n1\n"
    assert "copied 0 file(s)" in parse_source(str(src), settings).notes[0]  # unchanged: not copied again


@pytest.mark.parametrize(
    "source",
    [
        "ftp://x/y.csv",
        "postgresql://db/shop",
        "s3://",
        "sftp:///x",
        "/no/such/file.csv",
        "paypal://h",
        "stripe://api.stripe.com?table=Stripe.Charges",
        "square://tok@h",
    ],
)
def test_bad_sources_are_usage_errors(tmp_path: Path, source: str) -> None:
    with pytest.raises(IngestFailed) as exc:
        parse_source(source, make_settings(tmp_path / "home"))
    assert exc.value.exit_code == 2


def test_schedules() -> None:
    assert parse_schedule(None) == {"frequency": "once"}
    assert parse_schedule("hour:1") == {"frequency": "hour", "interval": 1}
    for bad in ("minute:5", "hourly", "day:0", "year:1"):
        with pytest.raises(IngestFailed):
            parse_schedule(bad)
