from __future__ import annotations

from typing import Any

import pytest

from xdmflow.services.jsonpatch import PatchError, apply_patch

DOC: dict[str, Any] = {
    "name": "n",
    "scheduleParams": {"frequency": "minute"},
    "transformations": [{"name": "Copy"}],
    "labels": [],
}


def test_ops_in_either_case() -> None:
    out = apply_patch(
        DOC,
        [
            {"op": "REPLACE", "path": "/scheduleParams/frequency", "value": "day"},
            {"op": "add", "path": "/labels/-", "value": "core/C12"},
            {"op": "Add", "path": "/description", "value": "d"},
            {"op": "remove", "path": "/transformations/0"},
            {"op": "copy", "from": "/name", "path": "/copied"},
            {"op": "move", "from": "/copied", "path": "/moved"},
            {"op": "test", "path": "/moved", "value": "n"},
        ],
    )
    assert out == {
        "name": "n",
        "scheduleParams": {"frequency": "day"},
        "transformations": [],
        "labels": ["core/C12"],
        "description": "d",
        "moved": "n",
    }
    assert DOC["scheduleParams"]["frequency"] == "minute"  # original untouched


@pytest.mark.parametrize(
    ("ops", "code"),
    [
        ([], "1405"),
        ({"op": "add"}, "1405"),
        ([{"op": "frobnicate", "path": "/x"}], "1434"),
        ([{"op": "replace", "path": "/nope/deeper", "value": 1}], "1455"),
        ([{"op": "remove", "path": "/nope"}], "1455"),
        ([{"op": "replace", "path": "no-slash", "value": 1}], "1455"),
        ([{"op": "add", "path": "/x"}], "1405"),
        ([{"op": "test", "path": "/name", "value": "other"}], "1455"),
    ],
)
def test_bad_patches(ops: object, code: str) -> None:
    with pytest.raises(PatchError) as err:
        apply_patch(DOC, ops)
    assert err.value.code == code


def test_allowed_ops() -> None:
    with pytest.raises(PatchError) as err:
        apply_patch(
            DOC, [{"op": "move", "from": "/name", "path": "/n2"}], allowed={"add", "replace", "remove"}
        )
    assert err.value.code == "1434"
