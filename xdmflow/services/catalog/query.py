"""The Catalog list grammar (platform-api.md §3.3), as pure functions over JSON documents.

``limit`` (1..100, default 20), ``start`` (zero-based offset), ``orderBy`` (``asc:name``,
``desc:created``, comma lists, no prefix = ascending), ``properties`` (top-level projection),
simple filters ``?{prop}=a,b`` (any of) / ``?{prop}=!a,b`` (none of), typed filters given by
the caller (``createdAfter``…), and ``property=`` conditions on top-level properties:
bare name = exists, ``!name`` = absent, ``~`` regex, ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``
(``*`` is a wildcard in ``==``/``!=`` values, ``**`` a literal ``*``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from xdmflow import regexes
from xdmflow.errors import BadRequestError

__all__ = ["CatalogQuery", "parse_catalog_query", "project", "Predicate"]

Predicate = Callable[[dict[str, Any]], bool]
#: Typed filters of an object type: parameter name -> (value -> predicate).
TypedFilters = Mapping[str, Callable[[str], Predicate]]

_PAGING = ("limit", "start", "orderBy", "properties", "property")
_OPS = ("==", "!=", "<=", ">=", "<", ">", "~")
_NAME = re.compile(r"^[A-Za-z_@$][\w@$\-]*$")
_VERSION = re.compile(r"^\d+(\.\d+)*$")


@dataclass
class CatalogQuery:
    """A parsed Catalog list request."""

    predicates: list[Predicate] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    properties: list[str] | None = None
    limit: int = 20
    start: int = 0

    def apply(self, docs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Filter, sort and page ``docs`` (projection is separate: :func:`project`)."""
        out = [d for d in docs if all(p(d) for p in self.predicates)]
        for prop, desc in reversed(self.order):
            present = [d for d in out if d.get(prop) is not None]
            absent = [d for d in out if d.get(prop) is None]
            present.sort(key=lambda d, k=prop: _sort_key(d[k]), reverse=desc)  # type: ignore[misc]
            out = present + absent
        return out[self.start : self.start + self.limit]


def project(doc: dict[str, Any], properties: list[str] | None) -> dict[str, Any]:
    """Keep only ``properties`` (top-level) of ``doc``; ``None`` keeps everything."""
    if properties is None:
        return doc
    return {k: doc[k] for k in properties if k in doc}


def _sort_key(v: Any) -> tuple[int, Any]:
    if isinstance(v, bool):
        return (0, int(v))
    if isinstance(v, int | float):
        return (0, float(v))
    if isinstance(v, str) and _VERSION.match(v):
        return (1, tuple(int(x) for x in v.split(".")))
    return (2, str(v).lower())


def _int_param(name: str, raw: str, low: int, high: int | None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"Invalid '{name}' {raw!r}: expected an integer") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadRequestError(f"Invalid '{name}' {raw!r}: must be {bound}")
    return value


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _wildcard(pattern: str) -> re.Pattern[str]:
    parts = pattern.split("**")
    body = r"\*".join(".*".join(re.escape(chunk) for chunk in part.split("*")) for part in parts)
    return re.compile(f"^{body}$", re.IGNORECASE)


def _compare(v: Any, w: str, op: str) -> bool:
    left: Any
    right: Any
    if isinstance(v, int | float) and not isinstance(v, bool):
        try:
            left, right = float(v), float(w)
        except ValueError:
            return False
    elif isinstance(v, str) and _VERSION.match(v) and _VERSION.match(w):
        left, right = tuple(int(x) for x in v.split(".")), tuple(int(x) for x in w.split("."))
    else:
        left, right = _text(v), w
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _equals(v: Any, w: str) -> bool:
    if isinstance(v, list):
        return any(_equals(x, w) for x in v)
    if "*" in w:
        return bool(_wildcard(w).match(_text(v)))
    return _text(v) == w or (isinstance(v, str) and v.lower() == w.lower() and w.lower() in ("true", "false"))


def parse_property(expr: str) -> Predicate:
    """One ``property=`` condition (``name``, ``!name``, ``version>1.0.3``, ``name~^a``)."""
    expr = expr.strip()
    if not expr:
        raise BadRequestError("Empty 'property' filter")
    pos, op = len(expr), ""
    for cand in _OPS:
        i = expr.find(cand)
        if i > 0 and (i < pos or (i == pos and len(cand) > len(op))):
            pos, op = i, cand
    if not op:
        negate = expr.startswith("!")
        name = expr[1:] if negate else expr
        if not _NAME.match(name):
            raise BadRequestError(f"Invalid 'property' filter {expr!r}: {name!r} is not a property name")
        return (lambda d: d.get(name) is None) if negate else (lambda d: d.get(name) is not None)
    name, value = expr[:pos].strip(), expr[pos + len(op) :]
    if not _NAME.match(name):
        raise BadRequestError(f"Invalid 'property' filter {expr!r}: {name!r} is not a property name")
    if value == "":
        raise BadRequestError(f"Invalid 'property' filter {expr!r}: the value is empty")
    if op == "~":
        try:
            rx = regexes.compile(value)  # RE2: linear time
        except regexes.RegexError as exc:
            raise BadRequestError(
                f"Invalid regular expression in 'property' filter {expr!r}: {exc}"
            ) from None
        return lambda d: d.get(name) is not None and bool(rx.search(_text(d[name])))
    if op == "==":
        return lambda d: d.get(name) is not None and _equals(d[name], value)
    if op == "!=":
        return lambda d: d.get(name) is None or not _equals(d[name], value)
    return lambda d: d.get(name) is not None and _compare(d[name], value, op)


def _simple(name: str, raw: str) -> Predicate:
    negate = raw.startswith("!")
    values = list((raw[1:] if negate else raw).split(","))
    if not values or any(v == "" for v in values):
        raise BadRequestError(f"Invalid filter {name}={raw!r}: empty value")

    def match(d: dict[str, Any]) -> bool:
        hit = d.get(name) is not None and any(_equals(d[name], v) for v in values)
        return not hit if negate else hit

    return match


def _order(raw: str) -> list[tuple[str, bool]]:
    out = []
    for item in raw.split(","):
        item = item.strip()
        desc = False
        if ":" in item:
            prefix, item = item.split(":", 1)
            if prefix.lower() not in ("asc", "desc"):
                raise BadRequestError(f"Invalid orderBy prefix {prefix!r}: use asc: or desc:")
            desc = prefix.lower() == "desc"
        if not _NAME.match(item):
            raise BadRequestError(f"Invalid orderBy property {item!r}")
        out.append((item, desc))
    return out


def parse_catalog_query(
    params: Sequence[tuple[str, str]],
    *,
    filterable: set[str],
    typed: TypedFilters | None = None,
    extra_allowed: Sequence[str] = (),
) -> CatalogQuery:
    """Parse a Catalog list request; unknown parameters are a 400 naming them."""
    q = CatalogQuery()
    typed = typed or {}
    unknown = []
    for key, raw in params:
        if key == "limit":
            q.limit = _int_param("limit", raw, 1, 100)
        elif key == "start":
            q.start = _int_param("start", raw, 0, None)
        elif key == "orderBy":
            q.order = _order(raw)
        elif key == "properties":
            props = [p.strip() for p in raw.split(",") if p.strip()]
            if not props:
                raise BadRequestError("'properties' must list at least one property name")
            q.properties = props
        elif key == "property":
            q.predicates.append(parse_property(raw))
        elif key in typed:
            q.predicates.append(typed[key](raw))
        elif key in filterable:
            q.predicates.append(_simple(key, raw))
        elif key not in extra_allowed:
            unknown.append(key)
    if unknown:
        hint = ", ".join(sorted({*_PAGING, *typed, *filterable}))
        raise BadRequestError(
            f"Unknown query parameter(s): {', '.join(sorted(set(unknown)))}. Supported: {hint}"
        )
    return q


def time_filter(prop: str, after: bool) -> Callable[[str], Predicate]:
    """A typed filter ``prop`` strictly after/before a ms timestamp (``createdAfter``…)."""

    def build(raw: str) -> Predicate:
        try:
            bound = int(raw)
        except ValueError:
            raise BadRequestError(f"Invalid timestamp {raw!r}: expected epoch milliseconds") from None

        def match(d: dict[str, Any]) -> bool:
            v = d.get(prop)
            if not isinstance(v, int | float):
                return False
            return v > bound if after else v < bound

        return match

    return build
