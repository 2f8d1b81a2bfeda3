"""What a read's rows became, and the one partial-ingestion rule every ingestion path applies.

Batch Ingestion (``services/ingest``) and flow runs (:mod:`xdmflow.pipeline.run`) decide whether a
batch lands with :func:`threshold_status`; nothing else decides it.
"""

from __future__ import annotations

__all__ = ["threshold_status"]


def threshold_status(input_count: int, failed_count: int, partial_percent: float | None) -> str:
    """``"success"`` or ``"failed"``: without partial ingestion any failed row fails the batch;
    with it the batch fails only when ``failed / input * 100`` exceeds ``partial_percent``."""
    if failed_count <= 0:
        return "success"
    if partial_percent is None or input_count <= 0:
        return "failed"
    return "failed" if failed_count * 100.0 / input_count > float(partial_percent) else "success"
