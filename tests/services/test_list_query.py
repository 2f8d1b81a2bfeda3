"""The Flow Service list grammar (platform-api.md §1.2–1.3)."""

from __future__ import annotations

import pytest

from xdmflow.errors import BadRequestError
from xdmflow.services.query import decode_token, encode_token, parse_list_query, parse_property

DOCS = [
    {
        "id": "a",
        "name": "CRMToAEP",
        "state": "enabled",
        "createdAt": 100,
        "sourceConnectionIds": ["s1", "s2"],
        "params": {"columns": [{"name": "firstName"}, {"name": "x"}]},
        "metrics": {"statusSummary": {"status": "success"}},
        "flag": True,
    },
    {
        "id": "b",
        "name": "Other",
        "state": "disabled",
        "createdAt": 200,
        "sourceConnectionIds": ["s3"],
        "params": {"columns": [{"name": "lastName"}]},
        "metrics": {"statusSummary": {"status": "failed"}},
    },
    {"id": "c", "name": "Third", "state": "enabled", "createdAt": 300, "sourceConnectionIds": []},
]


def ids(q: str | list[str]) -> list[str]:
    params = [("property", x) for x in ([q] if isinstance(q, str) else q)]
    return [d["id"] for d in parse_list_query(params).apply(DOCS)]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('name=="CRMToAEP"', ["a"]),
        ("name==CRMToAEP", ["a"]),
        ("id==a,c", ["a", "c"]),
        ("id!=a", ["b", "c"]),
        ("id!=a,b", ["c"]),
        ("createdAt>100", ["b", "c"]),
        ("createdAt>=200", ["b", "c"]),
        ("createdAt<200", ["a"]),
        ("createdAt<=200", ["a", "b"]),
        ("sourceConnectionIds[]==s3", ["b"]),
        ("sourceConnectionIds==s1", ["a"]),
        ("params.columns[].name==firstName", ["a"]),
        ("metrics.statusSummary.status==failed", ["b"]),
        ("flag==true", ["a"]),
        ('name=="a,b"', []),
        ("missing.path==x", []),
    ],
)
def test_filters(expr: str, expected: list[str]) -> None:
    assert ids(expr) == expected


def test_multiple_property_params_are_anded() -> None:
    assert ids(["state==enabled", "createdAt>100"]) == ["c"]


@pytest.mark.parametrize(
    ("expr", "code"),
    [
        ("name~CRM", "1440"),
        ("createdAt<=1,2", "1443"),
        ("createdAt>1,2", "1443"),
        ("name=CRM", "1450"),
        ("name===CRM", "1450"),
        ("createdAt==", "1453"),
        ("", "1453"),
        ("id==a,", "1452"),
        ('name=="open', "1452"),
        ("bad path==x", "1449"),
    ],
)
def test_filter_errors(expr: str, code: str) -> None:
    with pytest.raises(BadRequestError) as err:
        parse_property(expr)
    assert err.value.code == code


def test_orderby_and_errors() -> None:
    q = parse_list_query([("orderby", "-createdAt")])
    assert [d["id"] for d in q.apply(DOCS)] == ["c", "b", "a"]
    q = parse_list_query([("orderby", "+name")])
    assert [d["id"] for d in q.apply(DOCS)] == ["a", "b", "c"]
    with pytest.raises(BadRequestError) as err:
        parse_list_query([("orderby", "--name")])
    assert err.value.code == "1432"


def test_limit_and_count_together_is_1401() -> None:
    with pytest.raises(BadRequestError) as err:
        parse_list_query([("limit", "2"), ("count", "true")])
    assert err.value.code == "1401"


def test_paging_over_several_pages() -> None:
    docs = [{"id": str(i), "createdAt": i} for i in range(7)]
    seen: list[str] = []
    params: list[tuple[str, str]] = [("limit", "3")]
    pages = 0
    while True:
        q = parse_list_query(params)
        page = q.page(q.apply(docs), "/flows", params, default=20)
        seen += [d["id"] for d in page["items"]]
        pages += 1
        nxt = page["_links"].get("next")
        if not nxt:
            break
        token = nxt["href"].split("continuationToken=")[1]
        assert "=" not in token
        params = [("limit", "3"), ("continuationToken", token)]
    assert seen == [str(i) for i in range(7)] and pages == 3


def test_count_only() -> None:
    q = parse_list_query([("count", "true"), ("property", "state==enabled")])
    assert q.page(q.apply(DOCS), "/flows", [], default=20) == {"count": 2}


def test_token_roundtrip_and_garbage() -> None:
    assert decode_token(encode_token({"o": 5})) == {"o": 5}
    with pytest.raises(BadRequestError):
        decode_token("!!!not-base64")
