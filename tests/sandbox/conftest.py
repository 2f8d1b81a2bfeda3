"""Fixtures of the sandbox tests: the PayPal emulator of the Flow Service tests."""

from tests.flowservice.conftest import paypal  # noqa: F401 - re-exported fixture
