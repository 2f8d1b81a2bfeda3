"""Lake tables: create, evolve, drop (SQLite and PostgreSQL catalogs)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from tests.lake.lakehelp import NS, f, person_schema, sample_table
from xdmflow.errors import ConflictError, NotFoundError, ValidationFailedError
from xdmflow.lake.lake import Lake, namespace_for
from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema


def test_namespace_for_is_stable_and_safe() -> None:
    ns = namespace_for("ABC123@AdobeOrg", "Prod-EU")
    assert ns == namespace_for("ABC123@AdobeOrg", "Prod-EU")
    assert ns.startswith("org_") and ns.endswith("__prod_eu")
    assert namespace_for("other@AdobeOrg", "prod-eu") != ns


def test_create_exists_drop(lake: Lake) -> None:
    assert not lake.table_exists(NS, "ds1")
    lake.create_table(NS, "ds1", person_schema())
    assert lake.table_exists(NS, "ds1")
    with pytest.raises(ConflictError):
        lake.create_table(NS, "ds1", person_schema())
    assert lake.compiled_schema(NS, "ds1") == person_schema()
    with lake.begin_batch(NS, "ds1", "b1") as w:
        w.write(sample_table(10))
        w.commit()
    location = lake.table_location(NS, "ds1")
    assert os.path.isdir(location)
    lake.drop_table(NS, "ds1")
    assert not lake.table_exists(NS, "ds1")
    assert not os.path.exists(location)  # data and metadata files are gone too
    with pytest.raises(NotFoundError):
        lake.scan(NS, "ds1")
    # the id can be reused
    lake.create_table(NS, "ds1", person_schema())
    assert lake.scan(NS, "ds1").num_rows == 0


def test_evolve_adds_nested_fields_and_old_rows_read_null(lake: Lake) -> None:
    lake.create_table(NS, "ds1", person_schema())
    with lake.begin_batch(NS, "ds1", "old") as w:
        w.write(sample_table(5))
        w.commit()
    assert lake.evolve(NS, "ds1", person_schema()) is False  # no change
    evolved = person_schema(
        extra_person=(f("gender", "person.gender", "string"),),
        extra_root=(f("extra", "extra", "object", children=(f("score", "extra.score", "number"),)),),
    )
    assert lake.evolve(NS, "ds1", evolved) is True
    table = lake.load(NS, "ds1")
    assert table.schema().find_field("person.gender").field_id > 20
    assert table.schema().find_field("extra.score")
    # old ids did not move
    assert table.schema().find_field("person.age").field_id == 11
    rows = [dict(r) for r in sample_table(2, start=100).to_pylist()]
    for r in rows:
        r["person"] = {**(r["person"] or {}), "gender": "f"}
        r["extra"] = {"score": 2.5}
    with lake.begin_batch(NS, "ds1", "new") as w:
        w.write(pa.Table.from_pylist(rows, schema=to_arrow_schema(evolved)))
        w.commit()
    out = lake.scan(NS, "ds1")
    assert out.schema == to_arrow_schema(evolved)
    assert [c.name for c in out.schema.field("person").type] == ["age", "birthDate", "gender", "name"]
    by_id = {r["_id"]: r for r in out.to_pylist()}
    assert by_id["id-0"]["extra"] is None and by_id["id-0"]["person"]["gender"] is None
    assert by_id["id-101"]["person"] == {"age": None, "birthDate": None, "name": None, "gender": "f"}
    assert by_id["id-100"]["extra"] == {"score": 2.5} and by_id["id-100"]["person"]["gender"] == "f"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("remove", "removed"),
        ("retype", "changed type"),
        ("nested_retype", "person.age"),
    ],
)
def test_evolve_rejects_incompatible_changes(lake: Lake, change: str, message: str) -> None:
    base = person_schema()
    lake.create_table(NS, "ds1", base)
    if change == "remove":
        new = CompiledSchema(base.id, "1.1", base.title, base.class_id, base.fields[1:])
    elif change == "retype":
        new = CompiledSchema(
            base.id, "1.1", base.title, base.class_id, (f("_id", "_id", "long"), *base.fields[1:])
        )
    else:
        person = base.fields[5]
        children = (f("age", "person.age", "int"), *person.children[1:])
        fields = list(base.fields)
        fields[5] = f("person", "person", "object", children=children)
        new = CompiledSchema(base.id, "1.1", base.title, base.class_id, tuple(fields))
    with pytest.raises(ValidationFailedError, match=message) as exc:
        lake.evolve(NS, "ds1", new)
    assert exc.value.details["errors"]
    assert lake.compiled_schema(NS, "ds1") == base  # unchanged
    assert len(lake.load(NS, "ds1").metadata.schemas) == 1


def test_invalid_names_are_rejected(lake: Lake) -> None:
    from xdmflow.errors import BadRequestError

    with pytest.raises(BadRequestError):
        lake.create_table("../x", "ds", person_schema())
    lake.create_table(NS, "ds1", person_schema())
    with pytest.raises(BadRequestError):
        lake.begin_batch(NS, "ds1", "../../etc")


def test_from_settings_uses_the_metadata_database_and_lake_url(tmp_path: Path) -> None:
    from xdmflow.settings import Settings

    settings = Settings(home=tmp_path / "home")
    lake = Lake.from_settings(settings)
    try:
        lake.create_table(NS, "ds9", person_schema())
        assert lake.table_location(NS, "ds9").startswith(settings.resolved_lake_url)
        assert (tmp_path / "home" / "xdmflow.db").is_file()
    finally:
        lake.close()


def test_commit_of_missing_or_foreign_files_is_rejected(lake: Lake, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    lake.create_table(NS, "ds1", person_schema())
    with pytest.raises(ValidationFailedError):
        lake.commit_files(NS, "ds1", "b", [str(tmp_path / "nope.parquet")])
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"unrelated": [1, 2]}), other)
    with pytest.raises(ValidationFailedError):
        lake.commit_files(NS, "ds1", "b", [str(other)])
    assert lake.snapshots(NS, "ds1") == []


def test_batch_started_before_an_evolution_still_commits(lake: Lake) -> None:
    lake.create_table(NS, "ds1", person_schema())
    evolved = person_schema(extra_root=(f("zNew", "zNew", "string"),))
    with lake.begin_batch(NS, "ds1", "b1") as w:
        w.write(sample_table(3))
        lake.evolve(NS, "ds1", evolved)  # another request evolves the dataset meanwhile
        w.commit()
    out = lake.scan(NS, "ds1")
    assert out.num_rows == 3 and out.column("zNew").null_count == 3
