from __future__ import annotations

import pickle

import pyarrow as pa
import pytest

from tests.mapping.maphelp import experience_event_schema, profile_schema
from xdmflow.errors import ValidationFailedError
from xdmflow.mapping import compile_mapping, normalize_mappings
from xdmflow.mapping.model import Mapping


def attr(src: str, dst: str, **kw: object) -> Mapping:
    return Mapping("ATTRIBUTE", src, dst, **kw)  # type: ignore[arg-type]


def expr(src: str, dst: str) -> Mapping:
    return Mapping("EXPRESSION", src, dst)


def test_payments_tutorial_unknown_product_paths_named() -> None:
    body = {
        "mappings": [
            {"destinationXdmPath": "_id", "sourceAttribute": "Product_Id", "identity": False, "version": 0},
            {"destinationXdmPath": "product.name", "sourceAttribute": "Product_Name", "identity": False},
            {
                "destinationXdmPath": "product.description",
                "sourceAttribute": "Description",
                "identity": False,
            },
            {"destinationXdmPath": "product.type", "sourceAttribute": "Type", "identity": False},
        ]
    }
    with pytest.raises(ValidationFailedError) as ei:
        compile_mapping(normalize_mappings(body), profile_schema())
    err = ei.value
    errors = err.details["errors"]
    assert sorted(e["destination"] for e in errors) == ["product.description", "product.name", "product.type"]
    for e in errors:
        assert e["destination"] in e["exception"] and "does not exist" in e["exception"]
        assert set(e) >= {"destination", "source", "exception", "columnName", "sourceType"}
    for path in ("product.name", "product.description", "product.type"):
        assert path in err.message
    assert err.status == 400


def test_every_kind_of_problem_in_one_error() -> None:
    source = pa.schema(
        [("id", pa.string()), ("n", pa.int64()), ("tags", pa.list_(pa.string())), ("ts", pa.string())]
    )
    ms = [
        attr("id", "_id"),
        attr("id", "_id"),  # duplicate destination
        attr("missing", "eventType"),  # unknown source attribute
        attr("tags", "person.name.firstName"),  # array -> string
        expr("lower(", "commerce.order.purchaseID"),  # does not parse
        expr("nope(id)", "commerce.order.currencyCode"),  # unknown function
        expr("upper(id, id)", "person.name.fullName"),  # arity
        expr("lower(tags)", "_tenant.attrs"),  # wrong argument type (and string -> map)
        attr("n", "_tenant.active"),
        attr("ts", "timestamp"),
    ]
    with pytest.raises(ValidationFailedError) as ei:
        compile_mapping(ms, experience_event_schema(), source)
    msgs = [(e["destination"], e["message"]) for e in ei.value.details["errors"]]
    dests = {d for d, _ in msgs}
    assert dests == {
        "_id",
        "eventType",
        "person.name.firstName",
        "commerce.order.purchaseID",
        "commerce.order.currencyCode",
        "person.name.fullName",
        "_tenant.attrs",
    }
    text = " ".join(m for _, m in msgs)
    assert "more than once" in text
    assert "source attribute 'missing' does not exist" in text
    assert "cannot be converted to string" in text
    assert "does not parse" in text and "position 6" in text
    assert "unknown function 'nope'" in text
    assert "takes 1 argument" in text
    assert "must be string, got array" in text


def test_source_schema_unknown_skips_source_checks() -> None:
    plan = compile_mapping([attr("whatever", "_id"), attr("ts", "timestamp")], experience_event_schema())
    assert len(plan.mappings) == 2 and plan.warnings == ()


def test_required_unmapped_fields_are_warnings() -> None:
    plan = compile_mapping([attr("id", "eventType")], experience_event_schema())
    assert {w["destination"] for w in plan.warnings} == {"_id", "timestamp"}
    assert all(w["level"] == "warning" for w in plan.warnings)


def test_destinations_inside_arrays_and_maps() -> None:
    plan = compile_mapping(
        [
            attr("sku", "productListItems.SKU"),
            attr("q", "productListItems[1].quantity"),
            attr("t", "tags[2]"),
        ],
        experience_event_schema(),
    )
    assert [cm.dest_path for cm in plan.mappings] == [
        ("productListItems", "[0]", "SKU"),
        ("productListItems", "[1]", "quantity"),
        ("tags", "[2]"),
    ]
    assert plan.mappings[2].arrow_type == pa.string()
    with pytest.raises(ValidationFailedError) as ei:
        compile_mapping(
            [
                attr("a", "productListItems[0].SKU"),
                attr("b", "productListItems.SKU"),
                attr("c", "_tenant.attrs.key"),
                attr("d", "person[0].name"),
                attr("e", "tags[0][1]"),
            ],
            experience_event_schema(),
        )
    text = " ".join(e["message"] for e in ei.value.details["errors"])
    assert "mapped more than once" in text and "inside the map '_tenant.attrs'" not in text
    assert "inside the map 'attrs'" in text and "'person' is not an array" in text
    assert "nested array indexes" in text


def test_identity_without_namespace_is_an_error() -> None:
    with pytest.raises(ValidationFailedError, match="namespaceCode"):
        compile_mapping([attr("e", "person.name.firstName", identity=True)], experience_event_schema())


def test_identity_on_target_without_identity_map_warns() -> None:
    plan = compile_mapping(
        [attr("e", "personalEmail.address", identity=True, namespace_code="Email")], profile_schema()
    )
    assert plan.identities == () and any("identityMap" in w["message"] for w in plan.warnings)


def test_plan_pickles() -> None:
    plan = compile_mapping(
        [
            attr("id", "_id"),
            expr('date(t, "yyyy-MM-dd")', "timestamp"),
            attr("e", "person.name.firstName", identity=True, namespace_code="Email"),
        ],
        experience_event_schema(),
        allow_null_on_error=True,
    )
    again = pickle.loads(pickle.dumps(plan))
    assert again == plan and again.allow_null_on_error and len(again.identities) == 1


def test_static_mapping_type_checked_against_destination() -> None:
    plan = compile_mapping([Mapping("STATIC", "42", "_tenant.count")], experience_event_schema())
    assert plan.mappings[0].kind == "static"
