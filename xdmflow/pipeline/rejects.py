"""The one bad-row policy of every run — flows and Batch Ingestion alike.

A rejected row is a diagnostics record (:func:`xdmflow.lake.diagnostics.row_error`): the row's
data (or the raw text of a record that could not be parsed), its errors, the file it came from and
its record number there when the source is a file (numbered from 1, as Batch Ingestion numbers
them; other sources number the records of a partition's read from 1). The errors of one row are
``{"code", "message", "path"}`` with the platform's row-level codes (``1401`` corrupt or not
convertible, ``1555`` a required field missing); the run counts the row under the run-level code
(``INGEST-1401-400``, ``INGEST-1555-400``, ``MAPPER-3700-400`` for a mapping that failed on it).

:class:`Rejects` collects them: the counts per code, a sample for the run's report, the record
numbers per code (Batch Ingestion lists them in the batch), and every record for the diagnostics
store, written in parts as they accumulate (memory stays bounded on a bad source).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from xdmflow.connectors.base import ParseReject
from xdmflow.lake.diagnostics import ErrorStore, RowErrorKind, row_error
from xdmflow.schema.validation import ValidationResult

__all__ = [
    "CORRUPT_CODE",
    "MAPPER_CODE",
    "REQUIRED_CODE",
    "REQUIRED_REASON",
    "SAMPLE_ERRORS",
    "Rejects",
    "row_code",
    "row_data",
    "validation_reasons",
]

#: The run-level code of a row that cannot be read, parsed or converted.
CORRUPT_CODE = "INGEST-1401-400"
#: The run-level code of a row missing a required field.
REQUIRED_CODE = "INGEST-1555-400"
#: The run-level code of a row a mapping rule failed on.
MAPPER_CODE = "MAPPER-3700-400"
#: The validation reason of a missing required field (see :mod:`xdmflow.schema.validation`).
REQUIRED_REASON = "required field is missing"
#: How many rejected rows a run keeps in its own report (all of them go to diagnostics).
SAMPLE_ERRORS = 100
#: Diagnostics file numbers of partition ``i`` start at ``i * _PARTS_PER_PARTITION``.
_PARTS_PER_PARTITION = 100_000
_FLUSH_ROWS = 50_000


def validation_reasons(result: ValidationResult, rows: np.ndarray) -> dict[int, list[dict[str, Any]]]:
    """The row errors of a validation, keyed by source row: ``rows[i]`` is the source row of the
    validated table's row ``i`` (validation runs on the rows that mapped or converted)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for e in result.errors:
        shown = f" (value {e.value!r})" if e.value is not None else ""
        out.setdefault(int(rows[e.row]), []).append(
            {
                "code": "1555" if e.reason == REQUIRED_REASON else "1401",
                "message": f"{e.path}: {e.reason}{shown}",
                "path": e.path,
            }
        )
    return out


def row_code(errors: list[dict[str, Any]]) -> str:
    """The run-level code a row with these errors counts under."""
    if any(x.get("code") == MAPPER_CODE for x in errors):
        return MAPPER_CODE
    return REQUIRED_CODE if any(x.get("code") == "1555" for x in errors) else CORRUPT_CODE


def row_data(batch: pa.RecordBatch | pa.Table, row: int) -> dict[str, Any]:
    """One source row as JSON-able values (for its diagnostics record): scalars, and objects and
    lists as such (nested values the JSON writer cannot show natively become their text)."""
    out = {}
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        v = col[row].as_py()
        out[name] = v if isinstance(v, str | int | float | bool | dict | list) or v is None else str(v)
    return out


class Rejects:
    """The rejected rows of one partition (or of one Batch Ingestion batch)."""

    def __init__(
        self,
        diagnostics: ErrorStore | None,
        batch_id: str,
        partition: int = 0,
        *,
        keep_numbers: bool = False,
    ) -> None:
        self.diagnostics = diagnostics
        self.batch_id = batch_id
        self.sample: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []
        self.pending_parsing: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        #: record numbers per run-level code (only with ``keep_numbers``)
        self.numbers: dict[str, list[int]] = {}
        self.keep_numbers = keep_numbers
        self.rows = 0
        #: the next diagnostics file number of each kind (numbered per kind, from 0 per partition)
        self._next_part = {
            "conversion": partition * _PARTS_PER_PARTITION,
            "parsing": partition * _PARTS_PER_PARTITION,
        }

    def _count(self, code: str, row: int) -> None:
        self.rows += 1
        self.counts[code] = self.counts.get(code, 0) + 1
        if self.keep_numbers:
            self.numbers.setdefault(code, []).append(row)

    def _keep(self, record: dict[str, Any], pending: list[dict[str, Any]]) -> None:
        if len(self.sample) < SAMPLE_ERRORS:
            self.sample.append(record)
        if self.diagnostics is not None:
            pending.append(record)
            if len(pending) >= _FLUSH_ROWS:
                self.flush()

    def add(
        self,
        row: int,
        errors: list[dict[str, Any]],
        data: dict[str, Any] | None,
        filename: str | None = None,
    ) -> None:
        """A row that was read but did not map, convert or validate."""
        self._count(row_code(errors), row)
        self._keep(row_error(row, errors, data=data, filename=filename), self.pending)

    def add_unparsed(self, reject: ParseReject) -> None:
        """A source record that could not be parsed."""
        self._count(CORRUPT_CODE, reject.row)
        record = row_error(
            reject.row,
            [{"code": "1401", "message": reject.message}],
            corrupt_record=reject.text,
            filename=reject.filename,
        )
        self._keep(record, self.pending_parsing)

    def flush(self) -> None:
        """Write the records collected so far to the diagnostics store (when there is one)."""
        if self.diagnostics is None:
            return
        kinds: tuple[tuple[RowErrorKind, list[dict[str, Any]]], ...] = (
            ("conversion", self.pending),
            ("parsing", self.pending_parsing),
        )
        for kind, pending in kinds:
            if pending:
                written = self.diagnostics.write_row_errors(
                    self.batch_id, kind, pending, first_part=self._next_part[kind]
                )
                self._next_part[kind] += len(written)
        self.pending, self.pending_parsing = [], []
