"""Schema evolution rules for lake tables: additive changes only."""

from __future__ import annotations

from xdmflow.schema.compiled import CompiledSchema, XdmField

__all__ = ["incompatible_changes"]


def incompatible_changes(old: CompiledSchema, new: CompiledSchema) -> list[str]:
    """Every non-additive difference from ``old`` to ``new`` (empty list = compatible).

    Allowed: new fields anywhere (root or nested, in objects, array items or map values),
    title/description/constraint changes. Not allowed: removing a field, changing a field's
    type (even widening ``int`` to ``long``: the stored Arrow shape would change).
    """
    problems: list[str] = []
    _compare_children(old.fields, new.fields, "", problems)
    return problems


def _compare_children(
    old: tuple[XdmField, ...], new: tuple[XdmField, ...], prefix: str, problems: list[str]
) -> None:
    by_name = {f.name: f for f in new}
    for f in old:
        path = f"{prefix}{f.name}"
        match = by_name.get(f.name)
        if match is None:
            problems.append(f"field '{path}' was removed")
            continue
        _compare(f, match, path, problems)


def _compare(old: XdmField, new: XdmField, path: str, problems: list[str]) -> None:
    if old.xdm_type != new.xdm_type:
        problems.append(f"field '{path}' changed type from {old.xdm_type} to {new.xdm_type}")
        return
    if old.xdm_type == "object":
        _compare_children(old.children, new.children, f"{path}.", problems)
    elif old.xdm_type == "array" and old.items is not None and new.items is not None:
        _compare(old.items, new.items, f"{path}[]", problems)
    elif old.xdm_type == "map" and old.values is not None and new.values is not None:
        _compare(old.values, new.values, f"{path}{{}}", problems)
