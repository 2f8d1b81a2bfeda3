"""Builders shared by the lake tests (schemas by hand, sample rows)."""

from __future__ import annotations

import datetime

import pyarrow as pa

from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema, XdmField


def f(name: str, path: str, xdm_type: str, **kw: object) -> XdmField:
    return XdmField(name=name, path=path, xdm_type=xdm_type, **kw)  # type: ignore[arg-type]


def person_schema(
    extra_person: tuple[XdmField, ...] = (), extra_root: tuple[XdmField, ...] = ()
) -> CompiledSchema:
    """A schema with every XDM type: nested object, array of objects, map, timestamps."""
    person = f(
        "person",
        "person",
        "object",
        # compiled schemas keep fields in ASCII order: evolution inserts new ones in the middle
        children=tuple(
            sorted(
                (
                    f("age", "person.age", "short"),
                    f("birthDate", "person.birthDate", "date"),
                    f(
                        "name",
                        "person.name",
                        "object",
                        children=(
                            f("firstName", "person.name.firstName", "string"),
                            f("lastName", "person.name.lastName", "string"),
                        ),
                    ),
                    *extra_person,
                ),
                key=lambda c: c.name,
            )
        ),
    )
    items = f(
        "productListItems",
        "productListItems",
        "array",
        items=f(
            "items",
            "productListItems",
            "object",
            children=(
                f("SKU", "productListItems.SKU", "string"),
                f("quantity", "productListItems.quantity", "int"),
                f("priceTotal", "productListItems.priceTotal", "number"),
                f(
                    "tags",
                    "productListItems.tags",
                    "array",
                    items=f("items", "productListItems.tags", "string"),
                ),
            ),
        ),
    )
    return CompiledSchema(
        id="https://ns.adobe.com/tenant/schemas/abc",
        version="1.0",
        title="Test",
        class_id="https://ns.adobe.com/xdm/context/profile",
        fields=(
            f("_id", "_id", "string"),
            f("attrs", "attrs", "map", values=f("values", "attrs", "string")),
            f("flag", "flag", "boolean"),
            f("level", "level", "byte"),
            f("loyaltyPoints", "loyaltyPoints", "long"),
            person,
            items,
            f("timestamp", "timestamp", "date-time"),
            *extra_root,
        ),
    )


NS = "org_0123456789ab__prod"


def sample_rows(n: int, start: int = 0) -> list[dict[str, object]]:
    """Rows of :func:`person_schema` exercising nulls, nested structs, lists and maps."""
    rows: list[dict[str, object]] = []
    for i in range(start, start + n):
        rows.append(
            {
                "_id": f"id-{i}",
                "attrs": None if i % 5 == 0 else [("k", f"v{i}"), ("z", None)],
                "flag": i % 2 == 0,
                "level": (i % 250) - 125,
                "loyaltyPoints": 9007199254740991 - i,
                "person": None
                if i % 7 == 3
                else {
                    "age": i % 120,
                    "birthDate": datetime.date(1970, 1, 1) + datetime.timedelta(days=i),
                    "name": {"firstName": f"F{i}", "lastName": None if i % 3 else f"L{i}"},
                },
                "productListItems": None
                if i % 4 == 1
                else [
                    {"SKU": f"sku-{i}", "quantity": i, "priceTotal": i * 1.5, "tags": ["a", None, "c"]},
                    {"SKU": None, "quantity": None, "priceTotal": None, "tags": []},
                ],
                "timestamp": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
                + datetime.timedelta(microseconds=i),
            }
        )
    return rows


def sample_table(n: int, start: int = 0) -> pa.Table:
    return pa.Table.from_pylist(sample_rows(n, start), schema=to_arrow_schema(person_schema()))
