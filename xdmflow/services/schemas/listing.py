"""The Schema Registry's list grammar (platform-api.md §2.3).

``orderby=title|-title|title,description`` (default ``title``), ``limit`` (a hint, capped at
300; ``0`` = the cap), ``start`` (the primary sort value to continue after: strictly greater
for ascending, strictly less for descending), repeated ``property`` filters joined by AND:
``name==v``, ``!=``, ``<``, ``>``, ``<=``, ``>=``, ``~`` (regular expression, searched) or a
bare ``name`` (the key exists). Differs from the Flow Service grammar in
:mod:`xdmflow.services.query`: ``~`` is allowed, values are single, ``start`` not tokens.
Lenient where the docs are strict: ``limit``/``start`` are accepted without ``orderby``
(the default order, by title, applies).
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from xdmflow import regexes
from xdmflow.errors import BadRequestError
from xdmflow.services.query import get_path_values

__all__ = ["PropFilter", "parse_filter", "page_list", "LIST_PARAMS", "MAX_LIMIT"]

LIST_PARAMS = ("orderby", "limit", "start", "property")
MAX_LIMIT = 300
_CMP: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}
_OPS = ("==", "!=", "<=", ">=", "~", "<", ">")
_KEY = re.compile(r"^[A-Za-z_@$][\w@$:\-]*(\.[A-Za-z_@$][\w@$:\-]*)*$")

Json = dict[str, Any]


@dataclass(frozen=True)
class PropFilter:
    """One ``property`` condition; ``op`` is ``exists`` for a bare name."""

    key: str
    op: str
    value: str = ""

    def matches(self, body: Json) -> bool:
        found = get_path_values(body, self.key)
        if self.op == "exists":
            return bool(found)
        if self.op == "==":
            return any(_text(v) == self.value for v in found)
        if self.op == "!=":
            return not any(_text(v) == self.value for v in found)
        if self.op == "~":
            pattern = regexes.compile(self.value)  # RE2: linear time
            return any(pattern.search(_text(v)) for v in found)
        return any(_compare(v, self.value, self.op) for v in found)


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _compare(v: Any, w: str, op: str) -> bool:
    a, b = _num(v), _num(w)
    if a is not None and b is not None:
        return bool(_CMP[op](a, b))
    return bool(_CMP[op](_text(v), w))


def parse_filter(expr: str) -> PropFilter:
    """Parse one ``property`` value (``meta:intendedToExtend==https://...``, ``title~^Loy``)."""
    expr = expr.strip()
    pos, op = len(expr), ""
    for cand in _OPS:
        i = expr.find(cand)
        if i != -1 and (i < pos or (i == pos and len(cand) > len(op))):
            pos, op = i, cand
    key = expr[:pos].strip()
    if not key or not _KEY.match(key):
        raise BadRequestError(
            f"Invalid property filter {expr!r}: expected name, name==value, name!=value, "
            "name<value, name>value, name<=value, name>=value or name~regex"
        )
    if not op:
        return PropFilter(key, "exists")
    value = expr[pos + len(op) :].strip()
    if op == "~":
        try:
            regexes.compile(value)
        except regexes.RegexError as exc:
            raise BadRequestError(f"Invalid regular expression in property filter {expr!r}: {exc}") from None
    return PropFilter(key, op, value)


def _sort_value(body: Json, key: str) -> tuple[int, Any]:
    vals = get_path_values(body, key)
    if not vals:
        return (0, "")
    v = vals[0]
    n = _num(v)
    if n is not None and not isinstance(v, str):
        return (1, n)
    return (2, _text(v).casefold())


def _by_key(body: Json, key: str) -> tuple[int, Any]:
    return _sort_value(body, key)


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return MAX_LIMIT
    try:
        n = int(raw)
    except ValueError:
        raise BadRequestError(f"'limit' must be an integer between 0 and 500, got {raw!r}") from None
    if n < 0:
        raise BadRequestError(f"'limit' must be an integer between 0 and 500, got {raw!r}")
    return MAX_LIMIT if n == 0 else min(n, MAX_LIMIT)


def page_list(
    bodies: Sequence[Json],
    params: Sequence[tuple[str, str]],
    base_href: str,
    view: Callable[[Json], Any],
    *,
    extra_links: Json | None = None,
    default_order: str = "title",
) -> Json:
    """Filter, order and page ``bodies``; ``view`` renders each result."""
    single = {k: v for k, v in params if k != "property"}
    orderby = single.get("orderby") or default_order
    keys = [k.strip() for k in orderby.split(",") if k.strip()]
    for k in keys:
        if not _KEY.match(k.lstrip("+-")):
            raise BadRequestError(f"Invalid orderby field {k!r}; e.g. orderby=title or orderby=-title")
    filters = [parse_filter(v) for k, v in params if k == "property"]
    items = [b for b in bodies if all(f.matches(b) for f in filters)]
    for k in reversed(keys):
        name = k.lstrip("+-")
        items.sort(key=functools.partial(_by_key, key=name), reverse=k.startswith("-"))
    primary = keys[0].lstrip("+-") if keys else default_order
    desc = bool(keys) and keys[0].startswith("-")
    start = single.get("start")
    if start is not None:
        mark = _sort_value({"v": start}, "v")
        if _num(start) is not None:
            mark = (1, float(start))
        items = [
            b for b in items if (_sort_value(b, primary) < mark if desc else _sort_value(b, primary) > mark)
        ]
    limit = _limit(single.get("limit"))
    page = items[:limit]
    nxt: Any = None
    next_link: Any = None
    if len(items) > limit and page:
        vals = get_path_values(page[-1], primary)
        nxt = vals[0] if vals else None
        if nxt is not None:
            query = [(k, v) for k, v in params if k != "start"] + [("start", _text(nxt))]
            next_link = {"href": f"{base_href}?{urlencode(query)}"}
    links: Json = {"next": next_link}
    links.update(extra_links or {})
    return {
        "results": [view(b) for b in page],
        "_page": {"orderby": orderby, "next": nxt, "count": len(page)},
        "_links": links,
    }
