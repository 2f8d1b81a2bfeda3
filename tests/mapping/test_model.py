from __future__ import annotations

import pytest

from xdmflow.errors import ValidationFailedError
from xdmflow.mapping.model import (
    Mapping,
    normalize_mappings,
    render_request_mapping,
    render_stored_mapping,
    render_stored_mappings,
)

REFERENCE = {
    "outputSchema": {"schemaRef": {"id": "https://ns.adobe.com/t/schemas/89abc", "contentType": "x"}},
    "mappings": [
        {
            "sourceType": "ATTRIBUTE",
            "source": "id",
            "destination": "_id",
            "name": "id",
            "description": "Identifier field",
        },
        {
            "sourceType": "EXPRESSION",
            "source": 'concat(firstName, " ", lastName)',
            "destination": "person.name.fullName",
        },
        {"sourceType": "STATIC", "source": "web", "destination": "channel"},
    ],
}
TUTORIAL = {
    "version": 0,
    "xdmSchema": "https://ns.adobe.com/t/schemas/14d8",
    "xdmVersion": "1.0",
    "id": None,
    "mappings": [
        {
            "destinationXdmPath": "_id",
            "sourceAttribute": "Product_Id",
            "identity": False,
            "identityGroup": None,
            "namespaceCode": None,
            "version": 0,
        },
        {
            "destinationXdmPath": "personalEmail.address",
            "sourceAttribute": "email",
            "identity": True,
            "identityGroup": "g1",
            "namespaceCode": "Email",
            "version": 0,
            "primaryIdentity": True,
        },
    ],
}


def test_reference_dialect() -> None:
    ms = normalize_mappings(REFERENCE)
    assert [m.source_type for m in ms] == ["ATTRIBUTE", "EXPRESSION", "STATIC"]
    assert ms[0] == Mapping("ATTRIBUTE", "id", "_id", name="id", description="Identifier field")
    assert ms[1].destination == "person.name.fullName"


def test_tutorial_dialect_with_identity() -> None:
    ms = normalize_mappings(TUTORIAL)
    assert ms[0].source_type == "ATTRIBUTE" and ms[0].dialect == "tutorial"
    assert ms[1].identity and ms[1].namespace_code == "Email" and ms[1].primary
    assert ms[1].identity_group == "g1"


def test_stored_source_type_values_accepted_and_kept() -> None:
    ms = normalize_mappings([{"sourceType": "text/x.schema-path", "source": "id", "destination": "_id"}])
    assert ms[0].source_type == "ATTRIBUTE"
    assert render_stored_mapping(ms[0])["sourceType"] == "text/x.schema-path"


def test_tutorial_source_attribute_holding_an_expression() -> None:
    ms = normalize_mappings([{"destinationXdmPath": "a", "sourceAttribute": "lower(email)"}])
    assert ms[0].source_type == "EXPRESSION"
    ms = normalize_mappings([{"destinationXdmPath": "a", "sourceAttribute": "First Name"}])
    assert ms[0].source_type == "ATTRIBUTE"


def test_render_stored_form_has_both_key_sets() -> None:
    m = normalize_mappings(TUTORIAL)[1]
    out = render_stored_mapping(
        m, id="af80", version=1, createdDate=1, modifiedDate=2, createdBy="u", modifiedBy="u"
    )
    assert out["sourceType"] == "text/x.schema-path"
    assert out["source"] == out["sourceAttribute"] == "email"
    assert out["destination"] == out["destinationXdmPath"] == "personalEmail.address"
    assert out["identity"] is True and out["primaryIdentity"] is True
    assert out["namespaceCode"] == "Email" and out["matchScore"] == 0.0 and out["functionVersion"] == 1
    assert out["id"] == "af80" and out["version"] == 1 and out["createdBy"] == "u"
    expr = normalize_mappings(REFERENCE)[1]
    assert render_stored_mapping(expr)["sourceType"] == "text/x.aep-xl"
    assert len(render_stored_mappings(normalize_mappings(REFERENCE), version=0)) == 3


def test_render_request_roundtrip() -> None:
    for body in (REFERENCE, TUTORIAL):
        ms = normalize_mappings(body)
        again = normalize_mappings([render_request_mapping(m) for m in ms])
        assert [(m.source_type, m.source, m.destination, m.identity, m.namespace_code) for m in again] == [
            (m.source_type, m.source, m.destination, m.identity, m.namespace_code) for m in ms
        ]


def test_malformed_entries_all_reported() -> None:
    with pytest.raises(ValidationFailedError) as ei:
        normalize_mappings(
            {
                "mappings": [
                    {"source": "a"},
                    {"sourceType": "WEIRD", "source": "a", "destination": "b"},
                    "x",
                    {"sourceType": "ATTRIBUTE", "source": "ok", "destination": "ok"},
                ]
            }
        )
    errors = ei.value.details["errors"]
    assert [e["index"] for e in errors] == [0, 1, 2]
    assert "destination" in errors[0]["message"] and "WEIRD" in errors[1]["message"]


def test_missing_mappings_array() -> None:
    with pytest.raises(ValidationFailedError):
        normalize_mappings({"outputSchema": {}})
