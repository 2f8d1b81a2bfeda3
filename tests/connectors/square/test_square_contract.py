"""The Square connector through the shared connector contract suite, against the emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.connectors.square.squarehelp import SquareEmulator
from xdmflow.connectors.http.retry import RetryPolicy
from xdmflow.connectors.square import SquareConnector
from xdmflow.emulators.square import SquareConfig
from xdmflow.testing.connector_suite import ConnectorContract, ContractCase

DOWN_RETRY = RetryPolicy(initial_delay=0.01, multiplier=2.0, max_delay=0.05, max_attempts=4, total_budget=5)
SMALL = SquareConfig(n_payments=5, n_customers=3, n_catalog=2, refund_fraction=0.0)


def _row(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": p["id"],
        "amount_amount": p["amount_money"]["amount"],
        "status": p["status"],
        "location_id": p["location_id"],
    }


class TestSquarePaymentsContract(ConnectorContract):
    @pytest.fixture
    def contract_case(self, make_square: Callable[..., SquareEmulator]) -> ContractCase:
        emu = make_square(seed=41, config=SMALL)
        locations = [loc["id"] for loc in emu.state.dump("locations")]

        def add_rows(rows: list[dict[str, Any]]) -> None:
            for r in rows:
                emu.admin(
                    "payments", {"id": r["id"], "amount": r["amount_amount"], "location_id": r["location_id"]}
                )

        return ContractCase(
            connector=SquareConnector(retry=DOWN_RETRY, timeout=10.0),
            good_auth=emu.auth(),
            bad_auth=emu.auth(accessToken="EAAA-not-the-emulator-token"),
            down_auth={"host": "http://127.0.0.1:9", "accessToken": "EAAA-down-token-000"},
            stop_source=emu.stop,
            object="Square.Payments",
            source_params={"tableName": "Square.Payments"},
            delta_column="updated_at",
            rows=[_row(p) for p in emu.state.dump("payments")],
            key="id",
            add_rows=add_rows,
            new_rows=[
                {
                    "id": "CONTRACTPAYMENT0000001",
                    "amount_amount": 1234,
                    "status": "COMPLETED",
                    "location_id": locations[1],
                },
                {
                    "id": "CONTRACTPAYMENT0000002",
                    "amount_amount": 99,
                    "status": "COMPLETED",
                    "location_id": locations[2],
                },
            ],
        )
