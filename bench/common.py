"""What every system of the end-to-end benchmark shares: the target shape, the mapping, the
DuckDB SQL doing the same work, the result record and the child-process protocol.

The target is an ad-hoc XDM schema (its fields live under the dataset namespace
``_{guid}``): 12 fields, 3 of them computed (``lower``, ``concat``, ``date``), 4 typed casts
(number, int, long, boolean) and one timestamp parse. A row is rejected when a cast or the
date parse fails on a non-empty value (the generator makes about 0.1 % such rows), exactly as
DuckDB's ``TRY_CAST … IS NOT NULL OR source IS NULL`` filter below rejects them.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ADHOC_FIELDS",
    "mappings",
    "duckdb_sql",
    "Measurement",
    "peak_rss_mb",
    "emit",
    "PG_URL",
    "PG_TABLE",
    "Timer",
]

#: PostgreSQL the benchmark loads its source table into (the local service, trust auth).
PG_URL = os.environ.get("XDMFLOW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG_TABLE = "xdmflow_bench.transactions"

ADHOC_FIELDS: dict[str, Any] = {
    "id": {"type": "string"},
    "timestamp": {"type": "string", "format": "date-time"},
    "order": {
        "type": "object",
        "properties": {"priceTotal": {"type": "number"}, "currencyCode": {"type": "string"}},
    },
    "person": {
        "type": "object",
        "properties": {
            "firstName": {"type": "string"},
            "lastName": {"type": "string"},
            "fullName": {"type": "string"},
        },
    },
    "email": {"type": "string"},
    "status": {"type": "string"},
    "statusCode": {"type": "integer", "meta:xdmType": "int", "minimum": -2147483648, "maximum": 2147483647},
    "itemCount": {"type": "integer", "meta:xdmType": "long"},
    "isRefund": {"type": "boolean"},
}


def mappings(ns: str) -> list[dict[str, str]]:
    """The 12-field mapping (3 expressions) into the dataset namespace ``ns`` (``_{guid}``)."""
    rules = [
        ("ATTRIBUTE", "transaction_id", "id"),
        ("EXPRESSION", 'date(updatedAt, "yyyy-MM-dd HH:mm:ss")', "timestamp"),
        ("ATTRIBUTE", "amount", "order.priceTotal"),
        ("ATTRIBUTE", "currency", "order.currencyCode"),
        ("ATTRIBUTE", "first_name", "person.firstName"),
        ("ATTRIBUTE", "last_name", "person.lastName"),
        ("EXPRESSION", 'concat(first_name, " ", last_name)', "person.fullName"),
        ("EXPRESSION", "lower(payer_email)", "email"),
        ("ATTRIBUTE", "status", "status"),
        ("ATTRIBUTE", "status_code", "statusCode"),
        ("ATTRIBUTE", "item_count", "itemCount"),
        ("ATTRIBUTE", "is_refund", "isRefund"),
    ]
    return [{"sourceType": k, "source": s, "destination": f"{ns}.{d}"} for k, s, d in rules]


def duckdb_sql(source: str, ns: str) -> str:
    """The same mapping, casts and rejects in DuckDB SQL over the relation ``source``.

    Output: one struct column named ``ns`` shaped like the XDM target (fields in the order
    the target schema compiles them: alphabetical).
    """
    return f"""
WITH c AS (
  SELECT *,
         TRY_CAST(amount AS DOUBLE) AS _price,
         TRY_CAST(status_code AS INTEGER) AS _code,
         TRY_CAST(item_count AS BIGINT) AS _cnt,
         TRY_CAST(is_refund AS BOOLEAN) AS _refund,
         TRY_STRPTIME(updatedAt, '%Y-%m-%d %H:%M:%S') AS _ts
  FROM {source}
)
SELECT struct_pack(
         email := lower(payer_email),
         id := transaction_id,
         isRefund := _refund,
         itemCount := _cnt,
         "order" := struct_pack(currencyCode := currency, priceTotal := _price),
         person := struct_pack(firstName := first_name, fullName := concat(first_name, ' ', last_name),
                               lastName := last_name),
         status := status,
         statusCode := _code,
         "timestamp" := timezone('UTC', _ts)
       ) AS "{ns}"
FROM c
WHERE (_price IS NOT NULL OR amount IS NULL) AND (_code IS NOT NULL OR status_code IS NULL)
  AND (_cnt IS NOT NULL OR item_count IS NULL) AND (_refund IS NOT NULL OR is_refund IS NULL)
  AND (_ts IS NOT NULL OR updatedAt IS NULL)
"""


@dataclass
class Measurement:
    """One benchmarked case: its timed runs and what they moved."""

    system: str  # e.g. "xdmflow", "DuckDB", "dlt (Arrow)"
    case: str  # e.g. "file csv 1M", "incremental sql"
    rows: int  # rows read per run (the denominator of rows/s)
    seconds: list[float] = field(default_factory=list)  # the reported timing, one per run
    wall_seconds: list[float] = field(default_factory=list)  # wall time as a client sees it
    rows_out: int = 0
    rejected: int = 0
    peak_rss_mb: float = 0.0
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (each system runs in its own child).

    Linux's ``VmHWM`` (the high-water mark of this program's own memory): ``ru_maxrss`` would
    not do, as Linux carries it over ``exec`` — a child would report the parent's peak at fork.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def emit(out: str | Path | None, results: list[Measurement]) -> None:
    """Write a child's measurements as JSON (to ``out``, else stdout) for the parent to collect."""
    rss = peak_rss_mb()
    for m in results:
        m.peak_rss_mb = m.peak_rss_mb or rss
    text = json.dumps([asdict(m) for m in results], indent=1)
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")


def repeat(n: int, fn: Callable[[int], Any]) -> list[Any]:
    return [fn(i) for i in range(n)]
