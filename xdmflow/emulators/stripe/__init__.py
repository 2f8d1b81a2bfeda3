"""A stateful Stripe API emulator (lists, retrieves, events, errors, rate limits, admin API).

``create_app(seed, now=..., config=...)`` builds the ASGI app; ``run(host, port, seed)`` serves
it with uvicorn (the ``xdmflow emulate stripe`` command). Keys: ``DEFAULT_SECRET_KEY`` (full
access) and ``DEFAULT_RESTRICTED_KEY`` (cannot read payouts nor balance transactions), plus
OAuth access tokens issued by ``POST /_emulator/oauth/tokens`` that expire on its clock. See
``admin`` for the admin API and ``data`` for the business operations.
"""

from xdmflow.emulators.stripe.app import (
    DEFAULT_RESTRICTED_KEY,
    DEFAULT_SECRET_KEY,
    EmulatorConfig,
    EmulatorState,
    create_app,
    run,
)
from xdmflow.emulators.stripe.data import DataConfig

__all__ = [
    "create_app",
    "run",
    "EmulatorConfig",
    "EmulatorState",
    "DataConfig",
    "DEFAULT_SECRET_KEY",
    "DEFAULT_RESTRICTED_KEY",
]
