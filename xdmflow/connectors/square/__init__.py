"""The Square source connector (payments, refunds, orders, customers, catalog, locations)."""

from xdmflow.connectors.square.connector import SquareConnector

__all__ = ["SquareConnector"]
