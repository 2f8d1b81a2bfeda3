"""Compilation to CompiledSchema and the shared fixtures."""

from __future__ import annotations

import pickle

import pytest

from xdmflow.errors import ValidationFailedError
from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.builtins import PROFILE
from xdmflow.schema.compile import compile_schema, normalize_path
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.schema.fixtures import (
    PAYMENTS_SCHEMA_ID,
    commerce_event_body,
    commerce_event_schema,
    payments_profile_body,
    payments_profile_schema,
)
from xdmflow.schema.naming import BEHAVIOR_RECORD, BEHAVIOR_TIME_SERIES
from xdmflow.schema.resolve import resolve, resolve_body


def test_payments_xed_full_view() -> None:
    full = resolve(PAYMENTS_SCHEMA_ID, {PAYMENTS_SCHEMA_ID: payments_profile_body()})
    props = full["properties"]
    assert list(props) == sorted(props)
    person = props["person"]["properties"]
    assert {"firstName", "lastName", "middleName", "courtesyTitle", "suffix", "fullName"} == set(
        person["name"]["properties"]
    )
    assert set(person) == {
        "name",
        "birthDate",
        "birthDayAndMonth",
        "birthYear",
        "gender",
        "maritalStatus",
        "nationality",
        "type",
        "taxId",
    }
    assert props["personalEmail"]["properties"]["address"]["format"] == "email"
    for key in ("homeAddress", "shippingAddress", "billingAddress", "mailingAddress"):
        assert props[key]["meta:referencedFrom"] == "https://ns.adobe.com/xdm/common/address"
    for key in ("homePhone", "mobilePhone", "faxPhone", "shippingAddressPhone", "billingAddressPhone"):
        assert len(props[key]["properties"]) == 7
    assert full["meta:class"] == PROFILE
    assert "required" not in full


def test_payments_compiled() -> None:
    s = payments_profile_schema()
    assert s.id == PAYMENTS_SCHEMA_ID and s.class_id == PROFILE and s.behaviors == (BEHAVIOR_RECORD,)
    assert s.tenant_namespace == "_acme"
    for path in (
        "person.name.firstName",
        "person.name.lastName",
        "personalEmail.address",
        "homeAddress.city",
        "homeAddress._schema.latitude",
        "mobilePhone.number",
        "_repo.createDate",
        "personID",
    ):
        assert s.field(path) is not None, path
    assert s.field("person.birthYear").xdm_type == "short"  # type: ignore[union-attr]
    gender = s.field("person.gender")
    assert gender is not None and gender.enum == ("male", "female", "not_specified", "non_specific")
    status = s.field("personalEmail.status")
    assert status is not None and status.enum is None and "active" in (status.meta_enum or ())
    assert s.field("person.taxId").deprecated  # type: ignore[union-attr]
    assert s.field("person.birthDate").xdm_type == "date"  # type: ignore[union-attr]
    assert s.field("_repo.createDate").xdm_type == "date-time"  # type: ignore[union-attr]
    assert s.field("personalEmail.address").format == "email"  # type: ignore[union-attr]
    assert not any(f.required for f in s.walk())
    # 6 class fields + _repo (5) + person (8 + 6) + email (6) + 4 addresses x 33 + 5 phones x 7
    assert len(s.leaf_paths()) == 6 + 5 + 14 + 6 + 4 * 33 + 5 * 7


def test_commerce_compiled() -> None:
    s = commerce_event_schema()
    assert s.behaviors == (BEHAVIOR_TIME_SERIES,)
    assert s.field("_id").required and s.field("timestamp").required  # type: ignore[union-attr]
    assert s.field("timestamp").xdm_type == "date-time"  # type: ignore[union-attr]
    sku = s.field("productListItems.SKU")
    assert sku is not None and sku.required and sku.path == "productListItems.SKU"
    assert s.field("productListItems.selectedOptions.value").required  # type: ignore[union-attr]
    assert s.field("commerce.checkouts.value").required  # type: ignore[union-attr]
    assert not s.field("commerce.checkouts").required  # type: ignore[union-attr]
    assert s.field("productListItems.quantity").xdm_type == "int"  # type: ignore[union-attr]
    idmap = s.field("identityMap")
    assert idmap is not None and idmap.xdm_type == "map" and idmap.values is not None
    assert idmap.values.xdm_type == "array" and idmap.values.items is not None
    assert {c.name for c in idmap.values.items.children} == {"id", "authenticatedState", "primary"}
    arrow = to_arrow_schema(s)
    assert str(arrow.field("identityMap").type).startswith("map<string, list<element: struct<")
    assert "returnQuanitityAuthorized" in [f.name for f in s.walk()]


def test_identities_primary_required_and_roundtrip() -> None:
    s = payments_profile_schema(
        identities=(("/personalEmail/address", "Email", True), ("mobilePhone.number", "Phone", False))
    )
    email = s.field("personalEmail.address")
    assert email is not None and email.required and email.min_length == 1 and email.identity is not None
    assert s.field("personalEmail").required  # type: ignore[union-attr]
    phone = s.field("mobilePhone.number")
    assert phone is not None and phone.identity is not None and not phone.required
    assert s.primary_identity is email
    assert CompiledSchema.from_json(s.to_json()) == s
    assert pickle.loads(pickle.dumps(s)) == s


def test_identity_errors() -> None:
    full = resolve_body(payments_profile_body())
    with pytest.raises(ValidationFailedError, match="not a field"):
        compile_schema(full, identities=[("/nope", "Email", True)])
    with pytest.raises(ValidationFailedError, match="must be a string"):
        compile_schema(full, identities=[("person.birthYear", "x", False)])
    with pytest.raises(ValidationFailedError, match="at most one primary"):
        compile_schema(full, identities=[("personID", "a", True), ("personalEmail.address", "b", True)])


def test_identity_inside_map_items_via_array() -> None:
    s = compile_schema(
        resolve_body(commerce_event_body()), identities=[("productListItems.SKU", "SKU", True)]
    )
    assert s.field("productListItems.SKU").identity is not None  # type: ignore[union-attr]
    assert s.field("productListItems").required  # type: ignore[union-attr]


def test_normalize_path() -> None:
    assert normalize_path("/personalEmail/address") == "personalEmail.address"
    assert normalize_path("/xdm:eventType") == "eventType"
    assert normalize_path("/repo:createDate") == "_repo.createDate"
    assert normalize_path("a.b") == "a.b"
