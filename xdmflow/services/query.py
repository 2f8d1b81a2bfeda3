"""The Flow Service list grammar.

``property`` filters, ``orderby``, ``limit``, ``continuationToken``, ``count``.

platform-api.md §1.2–1.3. Pure functions over JSON-like documents; the store pre-filters on
indexed columns and this module finishes the job.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from xdmflow.errors import BadRequestError, InvalidValueError

__all__ = [
    "PropertyFilter",
    "parse_property",
    "ListQuery",
    "parse_list_query",
    "get_path_values",
    "encode_token",
    "decode_token",
]

_OPS = ("==", "!=", ">=", "<=", ">", "<")
_PATH = re.compile(r"^[A-Za-z_@$][\w@$:\-]*(\[\])?(\.[A-Za-z_@$][\w@$:\-]*(\[\])?)*$")
_MISSING = object()


def _bad(code: str, msg: str) -> BadRequestError:
    return BadRequestError(msg, code=code)


@dataclass(frozen=True)
class PropertyFilter:
    """One ``property=`` condition."""

    path: str
    op: str  # == != > < >= <= exists
    values: tuple[str, ...] = ()

    @property
    def simple_equality(self) -> bool:
        return self.op == "==" and "[]" not in self.path

    def matches(self, doc: Any) -> bool:
        found = get_path_values(doc, self.path)
        if self.op == "exists":
            return bool(found)
        if self.op == "==":
            return any(_eq(v, w) for v in found for w in self.values)
        if self.op == "!=":
            return not any(_eq(v, w) for v in found for w in self.values)
        target = self.values[0]
        return any(_cmp(v, target, self.op) for v in found)


def _split_values(raw: str) -> list[str]:
    out: list[str] = []
    buf: list[str] = []
    quoted = False
    for ch in raw:
        if ch == '"':
            quoted = not quoted
            continue
        if ch == "," and not quoted:
            out.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    if quoted:
        raise _bad("1452", f"Invalid filter value {raw!r}: unbalanced double quote")
    out.append("".join(buf))
    return out


def parse_property(expr: str) -> PropertyFilter:
    """Parse one ``property`` value (``name=="CRMToAEP"``, ``createdAt>1593134665781``…)."""
    expr = expr.strip()
    if not expr:
        raise _bad("1453", "Empty property filter")
    if "~" in expr.split('"', 1)[0]:
        raise _bad("1440", f"The operator '~' is not implemented in property filter {expr!r}")
    pos, op = len(expr), ""
    for candidate in _OPS:
        i = expr.find(candidate)
        if i != -1 and (i < pos or (i == pos and len(candidate) > len(op))):
            pos, op = i, candidate
    if not op:
        if "=" in expr or "!" in expr:
            raise _bad(
                "1450",
                f"Invalid operator in property filter {expr!r}; supported operators: ==, !=, >, <, >=, <=",
            )
        if not _PATH.match(expr):
            raise _bad("1449", f"Invalid filter field {expr!r}")
        return PropertyFilter(expr, "exists")
    path, raw = expr[:pos].strip(), expr[pos + len(op) :]
    if not path or not _PATH.match(path):
        raise _bad("1449", f"Invalid filter field {path!r} in property filter {expr!r}")
    if raw.startswith(("=", ">", "<", "!")):
        raise _bad("1450", f"Invalid operator in property filter {expr!r}")
    if raw.strip() == "":
        raise _bad("1453", f"Filter value is empty in property filter {expr!r}")
    values = _split_values(raw)
    if any(v == "" for v in values):
        raise _bad("1452", f"Invalid filter value in property filter {expr!r}: empty item in the list")
    if len(values) > 1 and op not in ("==", "!="):
        raise _bad("1443", f"Operator {op} does not accept multiple values in property filter {expr!r}")
    return PropertyFilter(path, op, tuple(values))


def get_path_values(doc: Any, path: str) -> list[Any]:
    """Every value at a dotted path, descending into arrays.

    ``a[].b`` enters an array explicitly; arrays are also entered implicitly.
    """
    current: list[Any] = [doc]
    for part in path.split("."):
        into_array = part.endswith("[]")
        key = part[:-2] if into_array else part
        nxt: list[Any] = []
        for node in current:
            for item in node if isinstance(node, list) else [node]:
                if isinstance(item, dict) and key in item:
                    nxt.append(item[key])
        current = nxt
    flat: list[Any] = []
    for v in current:
        if isinstance(v, list):
            flat.extend(v)
        else:
            flat.append(v)
    return [v for v in flat if v is not None]


def _as_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(str(v))
    except ValueError:
        return None


def _eq(v: Any, w: str) -> bool:
    if _as_text(v) == w:
        return True
    if isinstance(v, str):
        return v.lower() == w.lower() and w.lower() in ("true", "false")
    a, b = _num(v), _num(w)
    return a is not None and b is not None and a == b


def _cmp(v: Any, w: str, op: str) -> bool:
    a, b = _num(v), _num(w)
    left: Any
    right: Any
    if a is not None and b is not None:
        left, right = a, b
    else:
        left, right = _as_text(v), w
    if op == ">":
        return bool(left > right)
    if op == "<":
        return bool(left < right)
    if op == ">=":
        return bool(left >= right)
    return bool(left <= right)


# -- tokens ------------------------------------------------------------------------------


def encode_token(state: dict[str, Any]) -> str:
    """An opaque continuation token (URL-safe, no ``=`` padding)."""
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        pad = "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(token + pad))
        if not isinstance(data, dict):
            raise InvalidValueError("invalid value")
        return data
    except ValueError:
        raise _bad(
            "1452", "Invalid continuationToken; use the href of _links.next from the previous page"
        ) from None


# -- list queries ------------------------------------------------------------------------


@dataclass
class ListQuery:
    filters: list[PropertyFilter] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (path, descending)
    limit: int | None = None
    offset: int = 0
    count_only: bool = False

    def equality(self, path: str) -> list[str] | None:
        """Values of an ``==`` filter on ``path`` (for index pre-filtering), ``None`` when absent."""
        for f in self.filters:
            if f.path == path and f.op == "==":
                return list(f.values)
        return None

    def apply(self, docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        out = [d for d in docs if all(f.matches(d) for f in self.filters)]
        for path, desc in reversed(self.order):
            out.sort(key=_sort_key(path), reverse=desc)
        return out

    def page(
        self, docs: Sequence[dict[str, Any]], base_href: str, params: Sequence[tuple[str, str]], default: int
    ) -> dict[str, Any]:
        """The list envelope ``{"items", "_links"}`` for one page (``{"count"}`` with ``count=true``)."""
        if self.count_only:
            return {"count": len(docs)}
        limit = self.limit or default
        chunk = list(docs[self.offset : self.offset + limit])
        links: dict[str, Any] = {}
        if self.offset + limit < len(docs):
            keep = [(k, v) for k, v in params if k != "continuationToken"]
            keep.append(("continuationToken", encode_token({"o": self.offset + limit})))
            links["next"] = {"href": f"{base_href}?{urlencode(keep)}"}
        return {"items": chunk, "_links": links}


def _sort_key(path: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    def key(doc: dict[str, Any]) -> tuple[int, Any]:
        vals = get_path_values(doc, path)
        if not vals:
            return (0, "")
        v = vals[0]
        n = _num(v) if not isinstance(v, str) else None
        return (1, n) if n is not None else (2, _as_text(v).lower())

    return key


_ORDER_ITEM = re.compile(r"^([+-]?)([A-Za-z_][\w.]*)$")


def parse_list_query(
    params: Sequence[tuple[str, str]], *, allow_paging: bool = True, max_limit: int = 1000
) -> ListQuery:
    """Parse the Flow Service list parameters (unknown parameters are the caller's concern)."""
    q = ListQuery()
    limit_given = False
    for key, value in params:
        if key == "property":
            q.filters.append(parse_property(value))
        elif key == "orderby" and allow_paging:
            for item in value.split(","):
                m = _ORDER_ITEM.match(item.strip().replace(" ", "+"))
                if not m:
                    raise _bad("1432", f"Invalid orderby {value!r}: use field, +field or -field")
                q.order.append((m.group(2), m.group(1) == "-"))
        elif key == "limit" and allow_paging:
            try:
                q.limit = int(value)
            except ValueError:
                raise _bad("1452", f"Invalid limit {value!r}: must be a positive integer") from None
            if q.limit < 1 or q.limit > max_limit:
                raise _bad("1452", f"Invalid limit {value!r}: must be between 1 and {max_limit}")
            limit_given = True
        elif key == "count" and allow_paging:
            if value.lower() not in ("true", "false"):
                raise _bad("1452", f"Invalid count {value!r}: true or false")
            q.count_only = value.lower() == "true"
        elif key == "continuationToken" and allow_paging:
            q.offset = int(decode_token(value).get("o", 0))
    if q.count_only and limit_given:
        raise _bad("1401", "The query parameters 'limit' and 'count' cannot be used together")
    return q
