"""Local emulators of the external systems xdmflow reads from (PayPal, ...).

Each emulator is an ASGI app built by ``create_app(seed, ...)`` with deterministic data for a
seed, plus an unauthenticated ``/_emulator/...`` admin API for tests (move the clock, add or
change records, inject failures). They are test and demo tools, never part of a production
deployment.
"""
