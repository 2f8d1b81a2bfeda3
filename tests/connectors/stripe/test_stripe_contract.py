"""The Stripe connector through the shared connector contract suite, against the emulator.

Two tables on an emulator without seeded history (frozen clock): ``customers`` (new customers
arrive through the Events API) and ``charges`` (a new charge and a refund of a known one - the
changed charge is a new row - in three currencies, one zero-decimal and one three-decimal).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.connectors.connhelp import free_port
from tests.connectors.stripe.stripehelp import T0, Emulator, small_config
from xdmflow.connectors.http.retry import RetryPolicy
from xdmflow.connectors.stripe import StripeConnector
from xdmflow.emulators.stripe import DataConfig
from xdmflow.testing.connector_suite import ConnectorContract, ContractCase

DOWN_RETRY = RetryPolicy(initial_delay=0.01, multiplier=2.0, max_delay=0.05, max_attempts=4, total_budget=5)
EMPTY = small_config(data=DataConfig(n_customers=0, n_charges=0, n_products=0, days=40))
DAY = 86_400


def _down_auth() -> dict[str, str]:
    return {"host": f"http://127.0.0.1:{free_port()}", "accessToken": "sk_test_down00000001"}


class TestStripeCustomersContract(ConnectorContract):
    @pytest.fixture
    def contract_case(self, make_emulator: Any) -> ContractCase:
        emu: Emulator = make_emulator(seed=41, config=EMPTY)
        known = []
        for n, days in enumerate((3, 2, 1), start=1):
            c = emu.admin(
                "customers",
                {"email": f"known{n}@example.com", "name": f"Known {n}", "created": T0 - days * DAY},
            )
            known.append({"id": c["id"], "email": c["email"], "name": c["name"], "is_deleted": False})

        def add_rows(rows: list[dict[str, Any]]) -> None:
            emu.admin("clock", {"advance": 120})
            for row in rows:
                emu.admin("customers", {"email": row["email"], "name": row["name"]})

        return ContractCase(
            connector=StripeConnector(retry=DOWN_RETRY, timeout=10.0),
            good_auth=emu.auth(),
            bad_auth=emu.auth("sk_test_notTheEmulatorKey01"),
            down_auth=_down_auth(),
            stop_source=emu.stop,
            object="customers",
            source_params={"tableName": "customers"},
            delta_column="updated",
            rows=known,
            key="id",
            add_rows=add_rows,
            new_rows=[
                {"email": "fresh1@example.com", "name": "Fresh 1", "is_deleted": False},
                {"email": "fresh2@example.com", "name": "Fresh 2", "is_deleted": False},
            ],
        )


class TestStripeChargesContract(ConnectorContract):
    @pytest.fixture
    def contract_case(self, make_emulator: Any) -> ContractCase:
        emu: Emulator = make_emulator(seed=42, config=EMPTY)
        known = []
        for days, amount, currency, value in (
            (3, 1234, "usd", "12.34"),
            (2, 1500, "jpy", "1500"),
            (1, 1500, "kwd", "1.500"),
        ):
            ch = emu.admin(
                "charges",
                {"customer": None, "amount": amount, "currency": currency, "created": T0 - days * DAY},
            )
            known.append(
                {
                    "id": ch["id"],
                    "amount": amount,
                    "currency": currency,
                    "amount_value": value,
                    "amount_refunded": 0,
                    "status": "succeeded",
                }
            )

        def add_rows(rows: list[dict[str, Any]]) -> None:
            emu.admin("clock", {"advance": 120})
            emu.admin("refunds", {"charge": known[1]["id"], "amount": 500})
            fresh = emu.admin("charges", {"customer": None, "amount": 999, "currency": "eur"})
            rows[1]["id"] = fresh["id"]  # the contract compares these very rows afterwards

        return ContractCase(
            connector=StripeConnector(retry=DOWN_RETRY, timeout=10.0),
            good_auth=emu.auth(),
            bad_auth=emu.auth("sk_test_notTheEmulatorKey02"),
            down_auth=_down_auth(),
            stop_source=emu.stop,
            object="charges",
            source_params={"tableName": "charges"},
            delta_column="updated",
            rows=known,
            key="id",
            add_rows=add_rows,
            new_rows=[
                {**known[1], "amount_refunded": 500},
                {
                    "id": None,
                    "amount": 999,
                    "currency": "eur",
                    "amount_value": "9.99",
                    "amount_refunded": 0,
                    "status": "succeeded",
                },
            ],
        )
