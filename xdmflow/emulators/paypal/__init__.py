"""A PayPal REST API emulator (OAuth2, Transaction Search, balances, catalog, plans).

``create_app(seed, now=..., config=...)`` builds the ASGI app; ``run(host, port, seed)`` serves
it with uvicorn (the ``xdmflow emulate paypal`` command). Default credentials:
``DEFAULT_CLIENT_ID`` / ``DEFAULT_CLIENT_SECRET``; the app ``no-reporting-client`` /
``no-reporting-secret`` lacks the Transaction Search scope. See ``admin`` for the admin API.
"""

from xdmflow.emulators.paypal.app import create_app, run
from xdmflow.emulators.paypal.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    ClientApp,
    EmulatorConfig,
)

__all__ = ["create_app", "run", "EmulatorConfig", "ClientApp", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET"]
