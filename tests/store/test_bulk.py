"""``store.bulk.insert_rows`` stores what an ORM insert stores, on SQLite and PostgreSQL (COPY)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from xdmflow.services.document_stores import RUNS
from xdmflow.store.bulk import insert_rows
from xdmflow.store.db import Database
from xdmflow.store.documents import Scope
from xdmflow.store.tables import Document, RunQueue

SCOPE = Scope("ORG@AdobeOrg", "prod")
BODY: dict[str, Any] = {
    "text": 'tab\t nl\n cr\r back\\ quote" NUL-free ü € 𝄞',
    "nested": {"list": [1, 2.5, None, True, False, "\\N"], "empty": {}},
    "big": 2**62,
    "null": None,
}


def test_rows_round_trip_like_orm_inserts(db: Database) -> None:
    rows = [RUNS.row(SCOPE, f"r{i}", {**BODY, "i": i}, parent_id="flow", state="scheduled") for i in range(5)]
    rows[1]["secret"] = "\\N"  # the text COPY uses for NULL, as a value
    with db.session() as s:
        insert_rows(s, Document, rows)
        # a default column left out (RunQueue.attempts, not_before) gets its default
        insert_rows(
            s,
            RunQueue,
            [{"run_id": "r0", "flow_id": "flow", "status": "queued", "created_at": 7, "heartbeat_at": None}],
        )
        RUNS.insert(s, SCOPE, "orm", {**BODY, "i": 99}, parent_id="flow", state="scheduled")
    with db.session() as s:
        docs = {d.id: d for d in s.scalars(select(Document))}
        q = s.scalars(select(RunQueue)).one()
    assert docs["r3"].body == {**BODY, "i": 3} and docs["orm"].body == {**BODY, "i": 99}
    assert docs["r1"].secret == "\\N" and docs["r0"].secret is None and docs["r0"].name is None
    assert (docs["r2"].kind, docs["r2"].parent_id, docs["r2"].state, docs["r2"].version) == (
        "run",
        "flow",
        "scheduled",
        1,
    )
    assert len({d.pk for d in docs.values()}) == 6  # the primary keys come from the table's sequence
    assert (q.attempts, q.not_before, q.heartbeat_at, q.claimed_by) == (0, 0, None, None)


def test_a_unique_violation_is_an_integrity_error_and_the_savepoint_recovers(db: Database) -> None:
    row = RUNS.row(SCOPE, "r", BODY, dedupe_key="k")
    with db.session() as s:
        insert_rows(s, Document, [row])
        with pytest.raises(IntegrityError):
            with s.begin_nested():
                insert_rows(s, Document, [RUNS.row(SCOPE, "r2", BODY, dedupe_key="k")])
        insert_rows(s, Document, [RUNS.row(SCOPE, "r3", BODY, dedupe_key="k3")])
    with db.session() as s:
        assert sorted(s.scalars(select(Document.id))) == ["r", "r3"]
