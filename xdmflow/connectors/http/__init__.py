"""A small toolkit shared by REST source connectors: retry/backoff policy with a time budget.

Import the pieces from ``xdmflow.connectors.http.retry``; this package imports nothing heavy.
"""
