"""Deterministic generator of PayPal-like transaction rows (benchmarks and ad-hoc tests).

``generate(n_rows, seed)`` returns an Arrow table of strings, as a CSV/JSON source would
deliver them: ids, emails, unicode names, amounts as decimal strings, currencies, status
codes, ``updatedAt`` as ``yyyy-MM-dd HH:mm:ss``, free text, and about 0.1 % bad rows (an
unparsable amount, date or count). ``write_csv`` / ``write_jsonl`` / ``write_parquet`` save it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = ["generate", "write_csv", "write_jsonl", "write_parquet", "BAD_ROW_RATE"]

BAD_ROW_RATE = 0.001
FIRST = [
    "José",
    "Zoë",
    "Ana",
    "John",
    "Émilie",
    "李",
    "Søren",
    "Ngozi",
    "Ólafur",
    "María",
    "Chloé",
    "Jürgen",
    "Priya",
    "O'Neil",
    "Åsa",
    "Tomás",
]
LAST = [
    "García",
    "Müller",
    "Smith",
    "Nguyễn",
    "O'Brien",
    "Kowalski",
    "Østergaard",
    "Dubois",
    "王",
    "Rossi",
    "Jones",
    "Papadopoulos",
    "Ivanov",
    "Silva",
]
DOMAINS = ["Example.com", "mail.test", "PayPal-Demo.org", "EXAMPLE.NET"]
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CAD", "AUD"]
STATUSES = ["COMPLETED", "PENDING", "DENIED", "REFUNDED", "PARTIALLY_REFUNDED"]
STATUS_CODES = ["200", "201", "202", "402", "409"]
NOTES = [
    "Merci beaucoup ☕",
    "Thanks!",
    "für den Einkauf",
    "ありがとう",
    "",
    "Order #{n} 🚚",
    "Refund — see ticket",
]


def _pick(rng: np.random.Generator, choices: list[str], n: int) -> pa.Array:
    return pc.take(pa.array(choices), pa.array(rng.integers(0, len(choices), n)))


def generate(n_rows: int, seed: int = 42, *, start: int = 0, since: str = "2023-01-01T00:00:00") -> pa.Table:
    """``n_rows`` transactions; the same arguments always give the same table.

    ``start`` offsets the transaction ids (``TX000000000000`` + start …): new rows for an
    incremental run; ``since`` is the earliest ``updatedAt`` (the span is two years).
    """
    rng = np.random.default_rng(seed)
    n = n_rows
    idx = np.arange(start, start + n)
    ids = pc.binary_join_element_wise("TX", pa.array(np.char.zfill(idx.astype(str), 12)), "")
    first = _pick(rng, FIRST, n)
    last = _pick(rng, LAST, n)
    email_user = pc.utf8_lower(pc.binary_join_element_wise(first, pa.array(idx.astype(str)), "."))
    email = pc.binary_join_element_wise(
        pc.replace_substring(email_user, "'", ""), _pick(rng, DOMAINS, n), "@"
    )
    cents = rng.integers(1, 5_000_000, n)
    amount = pa.array(
        np.char.add(np.char.add((cents // 100).astype(str), "."), np.char.zfill((cents % 100).astype(str), 2))
    )
    base = np.datetime64(since)
    stamps = base + rng.integers(0, 2 * 365 * 86400, n).astype("timedelta64[s]")
    updated = pc.strftime(pa.array(stamps, pa.timestamp("s")), "%Y-%m-%d %H:%M:%S")
    items = pa.array(rng.integers(1, 20, n).astype(str))
    refund = _pick(rng, ["true", "false", "TRUE", "False"], n)
    note = pc.replace_substring(_pick(rng, NOTES, n), "{n}", "42")
    bad = rng.random(n) < BAD_ROW_RATE
    kind = rng.integers(0, 3, n)
    amount = pc.if_else(pa.array(bad & (kind == 0)), pa.scalar("12,34 EUR"), amount)
    updated = pc.if_else(pa.array(bad & (kind == 1)), pa.scalar("2024-13-45 99:00:00"), updated)
    items = pc.if_else(pa.array(bad & (kind == 2)), pa.scalar("three"), items)
    return pa.table(
        {
            "transaction_id": ids,
            "payer_email": email,
            "first_name": first,
            "last_name": last,
            "amount": amount,
            "currency": _pick(rng, CURRENCIES, n),
            "status": _pick(rng, STATUSES, n),
            "status_code": _pick(rng, STATUS_CODES, n),
            "updatedAt": updated,
            "item_count": items,
            "is_refund": refund,
            "note": note,
        }
    )


def write_csv(path: str | Path, n_rows: int, seed: int = 42) -> Path:
    """Write :func:`generate`'s table as CSV with a header row."""
    p = Path(path)
    pacsv.write_csv(generate(n_rows, seed), p)
    return p


def write_jsonl(path: str | Path, n_rows: int, seed: int = 42) -> Path:
    """Write the table as JSON Lines (one object per line)."""
    import json

    p = Path(path)
    t = generate(n_rows, seed)
    with p.open("w", encoding="utf-8") as fh:
        for batch in t.to_batches(max_chunksize=65536):
            for row in batch.to_pylist():
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return p


def write_parquet(path: str | Path, n_rows: int, seed: int = 42) -> Path:
    """Write the table as Parquet."""
    p = Path(path)
    pq.write_table(generate(n_rows, seed), p)
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("path")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--format", choices=["csv", "jsonl", "parquet"], default="parquet")
    a = ap.parse_args()
    writer = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet}[a.format]
    print(writer(a.path, a.rows, a.seed))


if __name__ == "__main__":
    main()
