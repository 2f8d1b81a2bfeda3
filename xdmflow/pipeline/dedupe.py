"""De-duplication of rows a source reads again (look-back windows for late data).

Sources such as PayPal's transaction search cannot filter on the updated date, so an
incremental read re-reads a look-back window before the watermark. Rows already ingested
(same key and same delta value) must not land twice; changed rows (the delta moved) must.

The state is the set of 63-bit hashes of ``key columns + delta`` of the rows read within the
horizon before the watermark. Hashing is vectorised (DuckDB over the Arrow batch). No key
columns (``()``) means the whole row is the key (SQL sources, whose inclusive bound
``delta >= watermark`` re-reads the rows at the watermark); a horizon of 0 keeps only the rows at
the newest delta read, whatever the delta's type.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["DedupeState"]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class DedupeState:
    key_columns: tuple[str, ...]
    delta_column: str
    horizon_seconds: float
    seen: frozenset[int] = frozenset()
    #: Restored from a previous read's state: the rows at the watermark are known, so a source
    #: may re-read them (inclusive bound) and the ones already ingested are dropped.
    restored: bool = False
    _hashes: list[pa.Array] = field(default_factory=list, repr=False)
    _deltas: list[pa.Array] = field(default_factory=list, repr=False)

    def _columns(self, batch: pa.RecordBatch) -> tuple[str, ...]:
        keys = self.key_columns or tuple(c for c in batch.schema.names if c != self.delta_column)
        return (*keys, self.delta_column)

    def _hash(self, batch: pa.RecordBatch) -> pa.Array:
        cols = ", ".join(f"CAST({_quote(c)} AS VARCHAR)" for c in self._columns(batch))
        con = duckdb.connect()
        try:
            con.register("b", pa.Table.from_batches([batch]))
            out = con.sql(f"SELECT CAST(hash({cols}) >> 1 AS BIGINT) AS h FROM b").to_arrow_table()  # noqa: S608
        finally:
            con.close()
        return out.column("h").combine_chunks()

    def filter(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, int]:
        """``batch`` without the rows already ingested; remembers what it saw for the next run."""
        missing = [c for c in self._columns(batch) if c not in batch.schema.names]
        if missing or batch.num_rows == 0:
            return batch, 0
        hashes = self._hash(batch)
        self._hashes.append(hashes)
        self._deltas.append(batch.column(self.delta_column))
        if not self.seen:
            return batch, 0
        dup = pc.is_in(hashes, value_set=pa.array(sorted(self.seen), pa.int64()))
        keep = pc.invert(dup)
        kept = batch.filter(keep)
        return kept, batch.num_rows - kept.num_rows

    def observed(self) -> tuple[list[pa.Array], list[pa.Array]]:
        """The hashes and delta values of the rows this state saw (what a partition reports)."""
        return list(self._hashes), list(self._deltas)

    def absorb(self, hashes: list[pa.Array], deltas: list[pa.Array]) -> None:
        """Add what another copy of this state observed (a partition's report) to this one."""
        self._hashes.extend(hashes)
        self._deltas.extend(deltas)

    def next_state(self, watermark: Any) -> dict[str, Any]:
        """The JSON state for the next run: hashes of rows within the horizon before ``watermark``."""
        if not self._hashes:
            kept: list[int] = sorted(self.seen)
        else:
            hashes = pa.chunked_array(self._hashes).combine_chunks()
            deltas = pa.chunked_array(self._deltas).combine_chunks()
            limit = _horizon_limit(watermark, self.horizon_seconds)
            if self.horizon_seconds <= 0 and len(deltas):
                newest = pc.max(deltas)
                hashes = hashes.filter(pc.fill_null(pc.equal(deltas, newest), False))
            elif limit is not None and pa.types.is_timestamp(deltas.type):
                recent = pc.greater_equal(deltas, pa.scalar(limit, deltas.type))
                hashes = hashes.filter(pc.fill_null(recent, False))
            kept = sorted(set(hashes.to_pylist()))
        return {
            "keys": list(self.key_columns),
            "delta": self.delta_column,
            "horizonSeconds": self.horizon_seconds,
            "hashes": kept,
        }

    @classmethod
    def from_state(
        cls,
        state: dict[str, Any] | None,
        key_columns: tuple[str, ...],
        delta_column: str,
        horizon_seconds: float,
    ) -> DedupeState:
        seen: frozenset[int] = frozenset()
        restored = False
        if state and list(state.get("keys", [])) == list(key_columns) and state.get("delta") == delta_column:
            seen = frozenset(int(h) for h in state.get("hashes", []))
            restored = True
        return cls(key_columns, delta_column, horizon_seconds, seen, restored)


def _horizon_limit(watermark: Any, horizon: float) -> dt.datetime | None:
    if not isinstance(watermark, str):
        return None
    try:
        ts = dt.datetime.fromisoformat(watermark.replace("Z", "+00:00"))
    except ValueError:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return ts - dt.timedelta(seconds=horizon)
