"""The Stripe source connector (connection spec ``cc2c31d6-7b8c-4581-b49f-5c8698aa3ab3``).

Tables: charges, refunds, customers, payment_intents, invoices, invoice_lines, subscriptions,
balance_transactions, disputes, payouts, products, prices (columns in ``tables.py``; how they
are read in ``streams.py``).)
"""

from xdmflow.connectors.stripe.connector import StripeConnector

__all__ = ["StripeConnector"]
