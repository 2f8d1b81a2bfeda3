"""``tick`` fires due flows in chunks (one transaction per chunk): still exactly once per fire time,
across chunk boundaries, with disabled flows and concurrent schedulers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from tests.scheduler.schedhelp import schedule_row
from tests.scheduler.test_scheduler import tick_concurrently
from xdmflow.firetimes import Schedule
from xdmflow.scheduler import loop
from xdmflow.scheduler.loop import tick
from xdmflow.services.document_stores import FLOWS, RUNS
from xdmflow.store.db import Database
from xdmflow.store.documents import Scope
from xdmflow.store.migrate import upgrade
from xdmflow.store.tables import Document

SCOPE = Scope("ORG@AdobeOrg", "prod")
T0 = 1_700_000_000


@pytest.fixture
def db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setattr(loop, "_CHUNK", 3)  # 10 flows = 4 chunks
    d = Database(db_url)
    upgrade(d.engine)
    yield d
    d.dispose()


def add_flow(db: Database, flow_id: str, *, enabled: bool = True, doc_scope: Scope = SCOPE) -> None:
    sched = Schedule(T0, "hour", 1)
    with db.session() as s:
        FLOWS.insert(
            s,
            doc_scope,
            flow_id,
            {"id": flow_id, "state": "enabled" if enabled else "disabled", "flowSpec": {"id": "x"}},
            state="enabled" if enabled else "disabled",
        )
        s.add(schedule_row(SCOPE, flow_id, sched))


def fires(db: Database, flow_id: str) -> list[int]:
    with db.session() as s:
        docs = s.scalars(select(Document).where(Document.kind == "run", Document.parent_id == flow_id)).all()
        return sorted(int(str(d.dedupe_key).split("@")[1]) for d in docs)


def test_chunks_fire_every_due_flow_once(db: Database) -> None:
    for i in range(10):
        add_flow(db, f"c{i:02d}")
    add_flow(db, "paused", enabled=False)  # schedule row enabled, flow document disabled
    add_flow(db, "elsewhere", doc_scope=Scope("OTHER@AdobeOrg", "prod"))  # document of another scope
    made = tick(db, T0 + 2 * 3600)
    assert len(made) == 10 * 3
    for i in range(10):
        assert fires(db, f"c{i:02d}") == [T0, T0 + 3600, T0 + 2 * 3600]
    assert fires(db, "paused") == [] and fires(db, "elsewhere") == []
    assert tick(db, T0 + 2 * 3600) == []  # nothing due any more: the schedules advanced


def test_concurrent_chunked_ticks_create_each_run_once(db: Database) -> None:
    for i in range(10):
        add_flow(db, f"m{i}")
    tick_concurrently(db, 6 * 3600)
    for i in range(10):
        assert fires(db, f"m{i}") == [T0 + 3600 * k for k in range(7)]
    with db.session() as s:
        assert RUNS.count(s, SCOPE) == 10 * 7
