"""Benchmark: xdmflow's mapping engine vs DuckDB SQL on the same Arrow data, same run.

Maps N PayPal-like rows (``bench.gen``) with a 12-field mapping (9 attributes with type
casts, 3 expressions: ``lower``, ``concat``, ``date``) into an ExperienceEvent-shaped target
built by hand, validates the output types, then does the same with DuckDB
(``TRY_CAST`` / ``struct_pack``; rows where a cast fails are filtered out, like our rejects).
Prints rows/s, peak RSS and the ratio.

    python -m bench.mapping_bench --rows 200000
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from typing import Any

import duckdb
import pyarrow as pa

from bench.gen import generate
from xdmflow.mapping import apply, compile_mapping, normalize_mappings
from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema, XdmField

MAPPINGS = {
    "mappings": [
        {"sourceType": "ATTRIBUTE", "source": "transaction_id", "destination": "_id"},
        {
            "sourceType": "EXPRESSION",
            "source": 'date(updatedAt, "yyyy-MM-dd HH:mm:ss")',
            "destination": "timestamp",
        },
        {"sourceType": "ATTRIBUTE", "source": "amount", "destination": "commerce.order.priceTotal"},
        {"sourceType": "ATTRIBUTE", "source": "currency", "destination": "commerce.order.currencyCode"},
        {"sourceType": "ATTRIBUTE", "source": "first_name", "destination": "person.name.firstName"},
        {"sourceType": "ATTRIBUTE", "source": "last_name", "destination": "person.name.lastName"},
        {
            "sourceType": "EXPRESSION",
            "source": 'concat(first_name, " ", last_name)',
            "destination": "person.name.fullName",
        },
        {"sourceType": "EXPRESSION", "source": "lower(payer_email)", "destination": "_tenant.email"},
        {"sourceType": "ATTRIBUTE", "source": "status", "destination": "_tenant.status"},
        {"sourceType": "ATTRIBUTE", "source": "status_code", "destination": "_tenant.statusCode"},
        {"sourceType": "ATTRIBUTE", "source": "item_count", "destination": "_tenant.itemCount"},
        {"sourceType": "ATTRIBUTE", "source": "is_refund", "destination": "_tenant.isRefund"},
    ]
}

DUCKDB_SQL = """
WITH c AS (
  SELECT transaction_id, first_name, last_name, currency, status, payer_email,
         amount, status_code, item_count, is_refund, updatedAt,
         TRY_CAST(amount AS DOUBLE) AS price,
         TRY_CAST(status_code AS INTEGER) AS code,
         TRY_CAST(item_count AS BIGINT) AS cnt,
         TRY_CAST(is_refund AS BOOLEAN) AS refund,
         TRY_STRPTIME(updatedAt, '%Y-%m-%d %H:%M:%S') AS ts
  FROM src
)
SELECT transaction_id AS _id,
       struct_pack("order" := struct_pack(currencyCode := currency, priceTotal := price,
                                          purchaseID := NULL::VARCHAR)) AS commerce,
       struct_pack(name := struct_pack(firstName := first_name, lastName := last_name,
                                       fullName := concat(first_name, ' ', last_name))) AS person,
       timezone('UTC', ts) AS "timestamp",
       struct_pack(email := lower(payer_email), status := status, statusCode := code, itemCount := cnt,
                   isRefund := refund) AS _tenant
FROM c
WHERE (price IS NOT NULL OR amount IS NULL) AND (code IS NOT NULL OR status_code IS NULL)
  AND (cnt IS NOT NULL OR item_count IS NULL) AND (refund IS NOT NULL OR is_refund IS NULL)
  AND (ts IS NOT NULL OR updatedAt IS NULL)
"""


def _leaf(path: str, t: str, **kw: Any) -> XdmField:
    return XdmField(path.rsplit(".", 1)[-1], path, t, **kw)  # type: ignore[arg-type]


def _obj(path: str, *children: XdmField) -> XdmField:
    return XdmField(path.rsplit(".", 1)[-1], path, "object", children=children)


def target_schema() -> CompiledSchema:
    """An ExperienceEvent-shaped target with a tenant object, built by hand."""
    return CompiledSchema(
        id="https://ns.adobe.com/bench/schemas/paypal-events",
        version="1.0",
        title="PayPal transaction events",
        class_id="https://ns.adobe.com/xdm/context/experienceevent",
        fields=(
            _leaf("_id", "string", required=True),
            _obj(
                "commerce",
                _obj(
                    "commerce.order",
                    _leaf("commerce.order.currencyCode", "string"),
                    _leaf("commerce.order.priceTotal", "number"),
                    _leaf("commerce.order.purchaseID", "string"),
                ),
            ),
            _obj(
                "person",
                _obj(
                    "person.name",
                    _leaf("person.name.firstName", "string"),
                    _leaf("person.name.lastName", "string"),
                    _leaf("person.name.fullName", "string"),
                ),
            ),
            _leaf("timestamp", "date-time", required=True),
            _obj(
                "_tenant",
                _leaf("_tenant.email", "string"),
                _leaf("_tenant.status", "string"),
                _leaf("_tenant.statusCode", "int"),
                _leaf("_tenant.itemCount", "long"),
                _leaf("_tenant.isRefund", "boolean"),
            ),
        ),
        tenant_namespace="_tenant",
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=3, help="runs per engine; the best time is reported")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    a = ap.parse_args()

    data = generate(a.rows, a.seed)
    target = target_schema()
    plan = compile_mapping(normalize_mappings(MAPPINGS), target, data.schema)
    rss0 = peak_rss_mb()

    ours_s, mapped = timed(lambda: apply(plan, data), a.repeat)
    rss_ours = peak_rss_mb()
    serial_s, _ = timed(lambda: apply(plan, data, threads=1), a.repeat)
    good = mapped.good
    assert good.schema == to_arrow_schema(target), "output schema differs from to_arrow_schema(target)"
    assert good.num_rows + len(mapped.rejected_rows) == a.rows

    con = duckdb.connect()
    con.execute(f"SET threads TO {a.threads}")
    con.register("src", data)
    duck_s, duck = timed(lambda: con.sql(DUCKDB_SQL).to_arrow_table(), a.repeat)
    rss_duck = peak_rss_mb()

    # same rows kept, same values
    assert duck.num_rows == good.num_rows, (duck.num_rows, good.num_rows)
    ours_ids = good.column("_id").to_pylist()[:1000]
    duck_ids = duck.column("_id").to_pylist()[:1000]
    assert ours_ids == duck_ids
    sample_o = good.slice(0, 200).to_pylist()
    sample_d = duck.slice(0, 200).to_pylist()
    for o, d in zip(sample_o, sample_d, strict=True):
        assert o["timestamp"] == d["timestamp"], (o["timestamp"], d["timestamp"])
        assert o["person"]["name"] == d["person"]["name"]
        assert o["_tenant"] == d["_tenant"]
        assert o["commerce"]["order"]["priceTotal"] == d["commerce"]["order"]["priceTotal"]

    ours_rps, duck_rps = a.rows / ours_s, a.rows / duck_s
    print(
        f"rows: {a.rows:,}  rejected rows: {len(mapped.rejected_rows):,}  pyarrow {pa.__version__}  "
        f"duckdb {duckdb.__version__}"
    )
    print(
        f"xdmflow.mapping : {ours_s:8.3f} s  {ours_rps:14,.0f} rows/s  peak RSS {rss_ours:8.1f} MB "
        f"(before: {rss0:.1f} MB)"
    )
    print(f"xdmflow (1 thr) : {serial_s:8.3f} s  {a.rows / serial_s:14,.0f} rows/s")
    print(
        f"duckdb SQL      : {duck_s:8.3f} s  {duck_rps:14,.0f} rows/s  peak RSS {rss_duck:8.1f} MB "
        f"(process peak so far)"
    )
    print(
        f"ratio (ours / duckdb rows/s): {ours_rps / duck_rps:.2f}x   "
        f"(1 thread: {(a.rows / serial_s) / duck_rps:.2f}x)"
    )


if __name__ == "__main__":
    main()
