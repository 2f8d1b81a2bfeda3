"""Schema inference: a sample of source rows (an Arrow table) → XDM fields.

Pure functions, no I/O. Each column of the sample becomes an :class:`InferredField` with its XDM
type (``string``, ``number``, ``integer`` as ``long``, ``boolean``, ``date``, ``date-time``,
``object`` with nested properties for struct columns, ``array``). Columns the source delivers as
strings (CSV cells, JSON strings) are checked against the typed shapes with vectorised regular
expressions: a type wins when at least ``1 - tolerance`` of the non-empty sample values have its
shape; the other values are counted (``mismatches``) because those rows will be rejected at
ingestion, which is what a user wants from a column of numbers with a few typos. Dates and
date-times carry the detected Java pattern (``source_format``) so a mapping can parse them.

:func:`adhoc_properties` turns the fields into the ``properties`` of an ad-hoc class's
``_adhoc`` object; :func:`field_name` makes a column name a valid XDM field name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from xdmflow.errors import InvalidValueError

__all__ = [
    "InferredField",
    "infer_fields",
    "adhoc_properties",
    "field_name",
    "leaf_fields",
    "DATE_PATTERNS",
    "DATE_TIME_PATTERNS",
]

#: XDM ``long`` (the platform's bounds: JavaScript's safe integers).
LONG = {"type": "integer", "minimum": -9007199254740991, "maximum": 9007199254740991, "meta:xdmType": "long"}

_D = r"(0[1-9]|[12]\d|3[01])"
_M = r"(0[1-9]|1[0-2])"
_Y = r"\d{4}"
_T = r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?"
_FRAC = r"(\.\d{1,9})?"
_ZONE = r"(Z|[+-]\d{2}:?\d{2})?"

#: (Java pattern, regex) in order of preference; the ISO shapes need no pattern (``None``).
DATE_PATTERNS: list[tuple[str | None, str]] = [
    (None, rf"^{_Y}-{_M}-{_D}$"),
    ("yyyy/MM/dd", rf"^{_Y}/{_M}/{_D}$"),
    ("dd/MM/yyyy", rf"^{_D}/{_M}/{_Y}$"),
    ("MM/dd/yyyy", rf"^{_M}/{_D}/{_Y}$"),
    ("dd.MM.yyyy", rf"^{_D}\.{_M}\.{_Y}$"),
]
DATE_TIME_PATTERNS: list[tuple[str | None, str]] = [
    (None, rf"^{_Y}-{_M}-{_D}[T ]{_T}{_FRAC}{_ZONE}$"),
    ("dd/MM/yyyy HH:mm:ss", rf"^{_D}/{_M}/{_Y} ([01]\d|2[0-3]):[0-5]\d:[0-5]\d$"),
    ("MM/dd/yyyy HH:mm:ss", rf"^{_M}/{_D}/{_Y} ([01]\d|2[0-3]):[0-5]\d:[0-5]\d$"),
    ("dd/MM/yyyy HH:mm", rf"^{_D}/{_M}/{_Y} ([01]\d|2[0-3]):[0-5]\d$"),
    ("MM/dd/yyyy HH:mm", rf"^{_M}/{_D}/{_Y} ([01]\d|2[0-3]):[0-5]\d$"),
]
_INTEGER = r"^[+-]?\d{1,15}$"
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_BOOLEAN = r"(?i)^(true|false)$"
#: ``007``: an identifier or code, not a number (keeps its zeros as a string)
_LEADING_ZERO = r"^[+-]?0\d"

_NAME_OK = re.compile(r"[^A-Za-z0-9_]")


@dataclass
class InferredField:
    """One inferred column (or nested property) of the source."""

    source: str
    """The column (or nested property) name in the source."""
    name: str
    """The XDM field name (``field_name(source)``)."""
    xdm: dict[str, Any]
    """The XDM property definition (``type``, ``format``, bounds, ``title``)."""
    source_format: str | None = None
    """The Java date pattern the source values have, when not ISO-8601."""
    mismatches: int = 0
    """Non-empty sample values that do not have the inferred type's shape (rows to be rejected)."""
    sampled: int = 0
    """Non-empty sample values looked at."""
    children: list[InferredField] = field(default_factory=list)

    @property
    def type_label(self) -> str:
        """``integer``, ``date-time (dd/MM/yyyy HH:mm)``, ``object``... for people."""
        xdm_type = self.xdm.get("meta:xdmType") or self.xdm.get("format") or self.xdm.get("type", "string")
        label = str(xdm_type)
        if label == "array":
            label = f"array of {(self.xdm.get('items') or {}).get('type', 'string')}"
        return f"{label} ({self.source_format})" if self.source_format else label

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "name": self.name,
            "type": self.type_label,
            "xdm": self.xdm,
            "sampled": self.sampled,
            "mismatches": self.mismatches,
        }
        if self.source_format:
            out["sourceFormat"] = self.source_format
        if self.children:
            out["fields"] = [c.to_api() for c in self.children]
        return out


def field_name(column: str) -> str:
    """A valid XDM field name for a source column: letters, digits and ``_``, not starting with
    a digit or ``_`` (``order id`` → ``order_id``, ``2nd`` → ``f_2nd``)."""
    name = _NAME_OK.sub("_", column.strip()) or "field"
    if name[0].isdigit() or name[0] == "_":
        name = "f" + (name if name[0] == "_" else "_" + name)
    return name


def _share(values: pa.Array, regex: str) -> int:
    return int(pc.sum(pc.match_substring_regex(values, regex)).as_py() or 0)


def _string_field(source: str, values: pa.Array, tolerance: float) -> InferredField:
    name = field_name(source)
    title = {"title": source}
    s = pc.utf8_trim_whitespace(values.cast(pa.string()))
    s = s.filter(pc.and_(pc.is_valid(s), pc.not_equal(s, "")))
    n = len(s)
    if n == 0:
        return InferredField(source, name, {"type": "string", **title})
    need = n - int(n * tolerance)

    def pick(candidates: list[tuple[str | None, str]]) -> tuple[str | None, int] | None:
        best: tuple[str | None, int] | None = None
        for pattern, rx in candidates:
            hits = _share(s, rx)
            if hits >= need and (best is None or hits > best[1]):
                best = (pattern, hits)
        return best

    if _share(s, _BOOLEAN) >= need:
        hits = _share(s, _BOOLEAN)
        return InferredField(source, name, {"type": "boolean", **title}, None, n - hits, n)
    codes = _share(s, _LEADING_ZERO) > 0
    hits = _share(s, _INTEGER)
    if hits >= need and not codes:
        return InferredField(source, name, {**LONG, **title}, None, n - hits, n)
    hits = _share(s, _NUMBER)
    if hits >= need and not codes:
        return InferredField(source, name, {"type": "number", **title}, None, n - hits, n)
    got = pick(DATE_TIME_PATTERNS)
    if got is not None:
        xdm = {"type": "string", "format": "date-time", **title}
        return InferredField(source, name, xdm, got[0], n - got[1], n)
    got = pick(DATE_PATTERNS)
    if got is not None:
        xdm = {"type": "string", "format": "date", **title}
        return InferredField(source, name, xdm, got[0], n - got[1], n)
    return InferredField(source, name, {"type": "string", **title}, None, 0, n)


def _field(source: str, values: pa.Array, tolerance: float) -> InferredField:
    t = values.type
    name = field_name(source)
    title = {"title": source}
    n = len(values) - values.null_count
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _string_field(source, values, tolerance)
    if pa.types.is_boolean(t):
        return InferredField(source, name, {"type": "boolean", **title}, sampled=n)
    if pa.types.is_integer(t):
        return InferredField(source, name, {**LONG, **title}, sampled=n)
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return InferredField(source, name, {"type": "number", **title}, sampled=n)
    if pa.types.is_date(t):
        return InferredField(source, name, {"type": "string", "format": "date", **title}, sampled=n)
    if pa.types.is_timestamp(t):
        return InferredField(source, name, {"type": "string", "format": "date-time", **title}, sampled=n)
    if pa.types.is_struct(t):
        flat = values.flatten() if isinstance(values, pa.StructArray) else []
        children = [_field(t.field(i).name, flat[i], tolerance) for i in range(t.num_fields)]
        xdm = {"type": "object", **title, "properties": {c.name: c.xdm for c in children}}
        return InferredField(source, name, xdm, sampled=n, children=children)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        items = _field("item", pc.list_flatten(values), tolerance) if n else None
        item_xdm = {k: v for k, v in (items.xdm if items else {"type": "string"}).items() if k != "title"}
        return InferredField(source, name, {"type": "array", **title, "items": item_xdm}, sampled=n)
    if pa.types.is_null(t):
        return InferredField(source, name, {"type": "string", **title})
    return InferredField(source, name, {"type": "string", **title}, sampled=n)


def infer_fields(sample: pa.Table, *, tolerance: float = 0.1) -> list[InferredField]:
    """The XDM fields of ``sample``'s columns, in column order.

    ``tolerance`` is the share of non-empty values allowed not to fit a typed shape (they are
    counted in ``mismatches``); ``0`` means every value must fit.
    """
    if not 0 <= tolerance < 1:
        raise InvalidValueError("tolerance must be in [0, 1)")
    out: list[InferredField] = []
    seen: set[str] = set()
    for i, name in enumerate(sample.column_names):
        f = _field(name, sample.column(i).combine_chunks(), tolerance)
        base, k = f.name, 2
        while f.name in seen:
            f.name, k = f"{base}_{k}", k + 1
        seen.add(f.name)
        out.append(f)
    return out


def adhoc_properties(fields: list[InferredField]) -> dict[str, Any]:
    """The ``properties`` of an ad-hoc class's ``_adhoc`` object."""
    return {f.name: f.xdm for f in fields}


def leaf_fields(
    fields: list[InferredField], prefix: str = "", src_prefix: str = ""
) -> list[tuple[str, str, InferredField]]:
    """``(source path, XDM path, field)`` of every leaf (nested objects flattened with dots)."""
    out: list[tuple[str, str, InferredField]] = []
    for f in fields:
        src = f"{src_prefix}{f.source}"
        dst = f"{prefix}{f.name}"
        if f.children:
            out.extend(leaf_fields(f.children, f"{dst}.", f"{src}."))
        else:
            out.append((src, dst, f))
    return out
