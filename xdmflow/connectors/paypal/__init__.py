"""The PayPal source connector (connection spec ``221c7626-58f6-4eec-8ee2-042b0226f03b``).

Tables: ``PayPal.Billing_Plans``, ``PayPal.Billing_Plans_Payment_Definition``,
``PayPal.Billing_Plans_Payment_Definition_Charge_Models``, ``PayPal.Catalog_Products``,
``PayPal.Transactions`` and ``PayPal.Balances`` (columns in ``tables.py``). Importing this
package is cheap: the HTTP client is loaded on first use.
"""

from xdmflow.connectors.paypal.connector import PayPalConnector

__all__ = ["PayPalConnector"]
