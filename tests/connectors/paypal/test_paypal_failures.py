"""Tokens, bad credentials, 4xx, 429/5xx storms, timeouts, a source that is down, secret hygiene."""

from __future__ import annotations

import logging
import pickle
import socket
import time
from typing import Any

import pytest

from tests.connectors.paypal.paypalhelp import FAST_RETRY, Emulator, expected_keys, keys, read_all
from xdmflow.connectors.base import ReadRequest, ReadResult
from xdmflow.connectors.http.retry import RetryPolicy
from xdmflow.connectors.paypal import PayPalConnector
from xdmflow.emulators.paypal import EmulatorConfig
from xdmflow.errors import SourceAuthError, SourceError, SourceFatalError, SourceRetriableError

TX = "PayPal.Transactions"
SMALL = {
    "n_transactions": 2_000,
    "days": 40,
    "burst_fraction": 0.0,
    "n_products": 5,
    "latency_seconds": 3600.0,
}
SECRET = "s3cr3t-Value-That-Must-Not-Leak"
START = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 45 * 86_400))  # covers `days=40`


def emulator(make_emulator: Any, **config: Any) -> Emulator:
    return make_emulator(seed=21, config=EmulatorConfig(**{**SMALL, **config}))


def epoch(value: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def test_check_and_bad_credentials(make_emulator: Any, connector: PayPalConnector) -> None:
    emu = emulator(make_emulator)
    connector.check(emu.auth())
    with pytest.raises(SourceAuthError) as info:
        connector.check(emu.auth(secret=SECRET))
    message = str(info.value)
    assert "invalid_client" in message and "xdmflow-emulator-client" in message and SECRET not in message
    with pytest.raises(SourceAuthError, match="clientId and clientSecret are required"):
        connector.check({"host": emu.url, "clientId": "x"})


def test_token_cached_and_renewed_before_expiry(make_emulator: Any) -> None:
    emu = emulator(make_emulator, token_lifetime_seconds=1.0)
    connector = PayPalConnector(retry=FAST_RETRY, refresh_margin=0.0)
    result = ReadResult()
    batches = []
    for batch in connector.read(
        emu.auth(),
        ReadRequest(TX, {"tableName": TX, "windowDays": 2, "startDate": START}),
        result,
    ):
        batches.append(batch)
        time.sleep(0.15)
    stats = emu.state.stats
    assert stats["tokens_issued"] >= 2, "tokens were renewed during the read"
    assert stats["tokens_issued"] < stats["requests"] / 3, "tokens are cached, not minted per request"
    assert sum(b.num_rows for b in batches) == len(
        expected_keys(emu.state, 0, epoch(result.extensions["lastRefreshedDatetime"]))
    )


def test_token_revoked_mid_read_is_renewed_once(make_emulator: Any, connector: PayPalConnector) -> None:
    emu = emulator(make_emulator)
    result = ReadResult()
    got: list[tuple[str, str]] = []
    reader = connector.read(
        emu.auth(),
        ReadRequest(TX, {"tableName": TX, "windowDays": 3, "startDate": START}),
        result,
    )
    import pyarrow as pa

    for n, batch in enumerate(reader):
        got += keys(pa.Table.from_batches([batch]))
        if n in (1, 4):
            emu.admin("tokens/expire", {})
    assert emu.state.stats["invalid_token"] == 2 and emu.state.stats["tokens_issued"] == 3
    assert len(got) == len(set(got))
    assert set(got) == expected_keys(emu.state, 0, epoch(result.extensions["lastRefreshedDatetime"]))


def test_missing_permission_is_an_auth_error(make_emulator: Any, connector: PayPalConnector) -> None:
    emu = emulator(make_emulator)
    auth = emu.auth("no-reporting-client", "no-reporting-secret")
    connector.check(auth)  # the credentials are fine
    with pytest.raises(SourceAuthError) as info:
        list(connector.read(auth, ReadRequest(TX, {"tableName": TX}), ReadResult()))
    assert "NOT_AUTHORIZED" in str(info.value) and "debug_id" in str(info.value)
    assert info.value.details["debug_id"]


def test_4xx_surfaces_with_paypal_message(make_emulator: Any, connector: PayPalConnector) -> None:
    emu = emulator(make_emulator, max_window_days=5)
    with pytest.raises(SourceFatalError) as info:
        list(connector.read(emu.auth(), ReadRequest(TX, {"tableName": TX, "windowDays": 7}), ReadResult()))
    assert "INVALID_REQUEST" in str(info.value) and "Date range is greater than 31 days" in str(info.value)
    assert not isinstance(info.value, SourceRetriableError)
    with pytest.raises(SourceFatalError, match="windowDays"):
        list(connector.read(emu.auth(), ReadRequest(TX, {"tableName": TX, "windowDays": 40}), ReadResult()))
    with pytest.raises(SourceFatalError, match="delta column"):
        list(
            connector.read(
                emu.auth(), ReadRequest(TX, {"tableName": TX}, delta_column="Payer_Email"), ReadResult()
            )
        )


def test_storm_of_429_and_5xx_loses_nothing(make_emulator: Any, connector: PayPalConnector) -> None:
    emu = emulator(make_emulator, error_rate_429=0.3, error_rate_5xx=0.15)
    table, result = read_all(connector, emu.auth(), TX, params={"windowDays": 3, "startDate": START})
    got = keys(table)
    assert len(got) == len(set(got))
    assert set(got) == expected_keys(emu.state, 0, epoch(result.extensions["lastRefreshedDatetime"]))
    stats = emu.state.stats
    assert stats["injected_429"] >= 5 and stats["injected_5xx"] >= 2
    products, _ = read_all(connector, emu.auth(), "PayPal.Catalog_Products")
    assert products.num_rows == 5


def test_retry_after_is_honoured_then_gives_up(make_emulator: Any) -> None:
    emu = emulator(make_emulator, error_rate_429=1.0, retry_after_seconds=0.4)
    policy = RetryPolicy(initial_delay=0.01, max_delay=0.02, max_attempts=3, total_budget=30)
    started = time.monotonic()
    with pytest.raises(SourceRetriableError) as info:
        PayPalConnector(retry=policy).check(emu.auth())
    elapsed = time.monotonic() - started
    assert elapsed >= 0.8, "two waits of Retry-After 0.4 s"
    assert "429" in str(info.value) and "RATE_LIMIT_REACHED" in str(info.value) and info.value.retriable
    budget = RetryPolicy(initial_delay=0.2, max_delay=0.2, jitter=0, max_attempts=100, total_budget=0.5)
    started = time.monotonic()
    with pytest.raises(SourceRetriableError):
        PayPalConnector(retry=budget).check(emu.auth())
    assert time.monotonic() - started < 2.0, "the time budget bounds the retries"


def test_source_down_and_timeouts(make_emulator: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    policy = RetryPolicy(initial_delay=0.01, max_delay=0.02, max_attempts=3, total_budget=5)
    auth = {"host": f"http://127.0.0.1:{port}", "clientId": "a", "clientSecret": SECRET}
    with pytest.raises(SourceRetriableError, match="could not connect") as info:
        PayPalConnector(retry=policy).check(auth)
    assert SECRET not in str(info.value)
    emu = emulator(make_emulator, slow_rate=1.0, slow_seconds=1.0)
    with pytest.raises(SourceRetriableError, match="timed out"):
        PayPalConnector(retry=policy, timeout=0.2).check(emu.auth())


def test_secret_never_leaks(make_emulator: Any, caplog: pytest.LogCaptureFixture) -> None:
    emu = emulator(make_emulator, error_rate_429=0.2)
    emu.state.config = emu.state.config.updated(
        {"clients": {"leaky": {"client_secret": SECRET, "scopes": ["openid"]}}}
    )
    connector = PayPalConnector(retry=FAST_RETRY)
    caplog.set_level(logging.DEBUG)
    auth = emu.auth("leaky", SECRET)
    connector.check(auth)
    errors: list[SourceError] = []
    for bad in (auth, emu.auth("leaky", SECRET + "x"), {**auth, "host": "http://127.0.0.1:1"}):
        try:
            list(connector.read(bad, ReadRequest(TX, {"tableName": TX}), ReadResult()))
        except SourceError as exc:
            errors.append(exc)
    assert len(errors) == 3
    client = connector.client(auth)
    texts = [caplog.text, repr(connector), repr(client), str(vars(connector))]
    for err in errors:
        texts += [str(err), repr(err), str(err.details), str(pickle.loads(pickle.dumps(err)))]
    client.close()
    for text in texts:
        assert SECRET not in text
