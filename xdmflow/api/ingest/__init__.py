"""Routers of this service group are mounted here."""
