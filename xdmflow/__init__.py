"""xdmflow: self-hosted data ingestion that speaks the Adobe Experience Platform ingestion API."""

__version__ = "0.1.0"
