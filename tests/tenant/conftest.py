"""Fixtures of the tenant-isolation tests: the PayPal emulator of the flow tests."""

from tests.flows.conftest import paypal  # noqa: F401 - re-exported fixture
