"""Java ``DateTimeFormatter`` patterns, tokenised and applied to Arrow arrays.

A pattern is tokenised (``yyyy``, ``MM``, ``'T'``, ``''``...) and each token becomes:

* for **formatting** (timestamp -> string) a vectorised piece (``pc.strftime`` with one
  directive, or a zero-padded component), joined element-wise;
* for **parsing** (string -> timestamp) a regex group; ``pc.extract_regex`` pulls the groups
  out of every row at once and the components are reassembled into an ISO-8601 string that
  Arrow casts, applying the parsed offset (``XXX``, ``Z``) or zone (``VV``, ``z``).

:func:`java_to_strftime` gives the equivalent ``strftime`` format for scalar use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from xdmflow.errors import InvalidTypeError, InvalidValueError
from xdmflow.mapping.casts import TS_TYPE, _bisect

__all__ = [
    "PatternToken",
    "DatePatternError",
    "tokenize_pattern",
    "java_to_strftime",
    "format_timestamps",
    "parse_timestamps",
]

_LETTERS = set("GuyDMLdQqYwWEecFaBhKkHmsSAnNVvzOXxZ")
_SUPPORTED = set("uyMLdDHhkKmsSaEeXxZzVO")
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]


class DatePatternError(InvalidValueError):
    """The pattern is malformed or uses a letter this implementation does not support."""


@dataclass(frozen=True)
class PatternToken:
    """A pattern letter run (``letter`` + ``count``) or a literal (``letter == ''``)."""

    letter: str
    count: int = 0
    literal: str = ""


@lru_cache(maxsize=256)
def tokenize_pattern(pattern: str) -> tuple[PatternToken, ...]:
    """Tokenise a Java ``DateTimeFormatter`` pattern (quotes: ``'T'``; ``''`` is a quote)."""
    out: list[PatternToken] = []
    i, n = 0, len(pattern)
    lit: list[str] = []

    def flush() -> None:
        if lit:
            out.append(PatternToken("", 0, "".join(lit)))
            lit.clear()

    while i < n:
        c = pattern[i]
        if c == "'":
            if i + 1 < n and pattern[i + 1] == "'":
                lit.append("'")
                i += 2
                continue
            j = i + 1
            while True:
                if j >= n:
                    raise DatePatternError(f"unterminated quote in date pattern {pattern!r}")
                if pattern[j] == "'":
                    if j + 1 < n and pattern[j + 1] == "'":
                        lit.append("'")
                        j += 2
                        continue
                    break
                lit.append(pattern[j])
                j += 1
            i = j + 1
        elif c.isascii() and c.isalpha():
            if c not in _LETTERS:
                raise DatePatternError(f"unknown pattern letter {c!r} in {pattern!r}")
            if c not in _SUPPORTED:
                raise DatePatternError(f"pattern letter {c!r} is not supported (in {pattern!r})")
            j = i
            while j < n and pattern[j] == c:
                j += 1
            flush()
            out.append(PatternToken("M" if c == "L" else c, j - i))
            i = j
        elif c in "[]{}#":
            raise DatePatternError(f"reserved character {c!r} in date pattern {pattern!r}")
        else:
            lit.append(c)
            i += 1
    flush()
    return tuple(out)


def java_to_strftime(pattern: str) -> str:
    """The ``strftime`` format equivalent to a Java pattern (fractions become ``%f``)."""
    parts: list[str] = []
    for t in tokenize_pattern(pattern):
        if not t.letter:
            parts.append(t.literal.replace("%", "%%"))
            continue
        c, k = t.letter, t.count
        if c in "uy":
            parts.append("%y" if k == 2 else "%Y")
        elif c == "M":
            parts.append({1: "%m", 2: "%m", 3: "%b"}.get(k, "%B"))
        elif c == "d":
            parts.append("%d")
        elif c == "D":
            parts.append("%j")
        elif c in "Hk":
            parts.append("%H")
        elif c in "hK":
            parts.append("%I")
        elif c == "m":
            parts.append("%M")
        elif c == "s":
            parts.append("%S")
        elif c == "S":
            parts.append("%f")
        elif c == "a":
            parts.append("%p")
        elif c in "Ee":
            parts.append("%A" if k >= 4 else "%a")
        elif c in "XxZO":
            parts.append("%z")
        elif c in "zV":
            parts.append("%Z")
    return "".join(parts)


# -- formatting ----------------------------------------------------------------------------


def _pad(arr: pa.Array, width: int) -> pa.Array:
    s = arr.cast(pa.string())
    return pc.utf8_lpad(s, width=width, padding="0") if width > 1 else s


def _offset_pieces(ts: pa.Array, style: str, count: int) -> pa.Array:
    """Zone offset text for ``X``/``x``/``Z`` tokens."""
    z = pc.strftime(ts, "%z")  # +0200
    sign_hh = pc.utf8_slice_codeunits(z, 0, 3)
    mm = pc.utf8_slice_codeunits(z, 3, 5)
    if style == "Z":
        text = z if count <= 3 else pc.binary_join_element_wise("GMT", sign_hh, ":", mm, "")
        return text
    if count == 1:
        text = pc.if_else(pc.equal(mm, "00"), sign_hh, pc.binary_join_element_wise(sign_hh, mm, ""))
    elif count in (2, 4):
        text = z
    else:
        text = pc.binary_join_element_wise(sign_hh, ":", mm, "")
    if style == "X":
        return pc.if_else(pc.equal(z, "+0000"), pa.scalar("Z"), text)
    return text


def format_timestamps(ts: pa.Array, pattern: str) -> pa.Array:
    """Format a timestamp array with a Java pattern (vectorised; nulls stay null)."""
    if not pa.types.is_timestamp(ts.type):
        raise InvalidTypeError(f"format_timestamps needs timestamps, got {ts.type}")
    if ts.type.tz is None:
        ts = ts.cast(pa.timestamp(ts.type.unit, tz="UTC"))
    pieces: list[pa.Array | str] = []
    for t in tokenize_pattern(pattern):
        c, k = t.letter, t.count
        if not c:
            pieces.append(t.literal)
        elif c in "uy":
            if k == 2:
                pieces.append(pc.strftime(ts, "%y"))
            else:
                pieces.append(_pad(pc.year(ts), max(k, 1) if k != 1 else 1))
        elif c == "M":
            if k >= 3:
                pieces.append(pc.strftime(ts, "%b" if k == 3 else "%B"))
            else:
                pieces.append(_pad(pc.month(ts), k))
        elif c == "d":
            pieces.append(_pad(pc.day(ts), k))
        elif c == "D":
            pieces.append(_pad(pc.day_of_year(ts), k))
        elif c == "H":
            pieces.append(_pad(pc.hour(ts), k))
        elif c == "k":
            h = pc.hour(ts)
            pieces.append(_pad(pc.if_else(pc.equal(h, 0), 24, h), k))
        elif c in "hK":
            h = pc.hour(ts)
            h12 = pc.subtract(h, pc.multiply(pc.divide(h, 12), 12))
            if c == "h":
                h12 = pc.if_else(pc.equal(h12, 0), 12, h12)
            pieces.append(_pad(h12, k))
        elif c == "m":
            pieces.append(_pad(pc.minute(ts), k))
        elif c == "s":
            pieces.append(_pad(pc.second(ts), k))
        elif c == "S":
            us = pc.add(pc.multiply(pc.millisecond(ts), 1000), pc.microsecond(ts))
            six = _pad(us, 6)
            if k <= 6:
                pieces.append(pc.utf8_slice_codeunits(six, 0, k))
            else:
                pieces.append(pc.utf8_rpad(six, width=k, padding="0"))
        elif c == "a":
            pieces.append(pc.strftime(ts, "%p"))
        elif c in "Ee":
            pieces.append(pc.strftime(ts, "%A" if k >= 4 else "%a"))
        elif c in "XxZ":
            pieces.append(_offset_pieces(ts, c, k))
        elif c == "O":
            pieces.append(pc.binary_join_element_wise("GMT", pc.strftime(ts, "%z"), ""))
        elif c == "V":
            pieces.append(str(ts.type.tz))
        elif c == "z":
            pieces.append(pc.strftime(ts, "%Z"))
    if not pieces:
        return pc.if_else(ts.is_valid(), pa.scalar(""), pa.scalar(None, pa.string()))
    arrays = [p if not isinstance(p, str) else pa.scalar(p) for p in pieces]
    if len(arrays) == 1:
        only = arrays[0]
        if isinstance(only, pa.Scalar):
            return pc.if_else(ts.is_valid(), only, pa.scalar(None, pa.string()))
        return only
    out = pc.binary_join_element_wise(*arrays, "")
    return pc.if_else(ts.is_valid(), out, pa.scalar(None, pa.string())) if ts.null_count else out


# -- parsing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ParsePlan:
    regex: str
    groups: tuple[str, ...]


@lru_cache(maxsize=256)
def _parse_plan(pattern: str) -> _ParsePlan:
    parts: list[str] = ["^"]
    groups: list[str] = []

    def group(name: str, rx: str) -> None:
        if name in groups:
            parts.append(f"(?:{rx})")  # repeated field: match, do not capture twice
        else:
            groups.append(name)
            parts.append(f"(?P<{name}>{rx})")

    for t in tokenize_pattern(pattern):
        c, k = t.letter, t.count
        if not c:
            parts.append(re.escape(t.literal))
        elif c in "uy":
            group(
                "yy" if k == 2 else "year", r"\d{2}" if k == 2 else r"[+-]?\d{4,9}" if k >= 4 else r"\d{1,9}"
            )
        elif c == "M":
            if k >= 3:
                group("monname", r"[A-Za-z]{3}" if k == 3 else r"[A-Za-z]+")
            else:
                group("month", r"0?[1-9]|1[0-2]" if k == 1 else r"0[1-9]|1[0-2]")
        elif c in "d":
            group("day", r"0?[1-9]|[12]\d|3[01]" if k == 1 else r"0[1-9]|[12]\d|3[01]")
        elif c == "D":
            group("doy", r"\d{1,3}")
        elif c in "Hk":
            group("hour", r"[01]?\d|2[0-4]" if k == 1 else r"[01]\d|2[0-4]")
        elif c in "hK":
            group("hour12", r"\d{1,2}" if k == 1 else r"\d{2}")
        elif c == "m":
            group("minute", r"[0-5]?\d" if k == 1 else r"[0-5]\d")
        elif c == "s":
            group("second", r"[0-5]?\d|60" if k == 1 else r"[0-5]\d|60")
        elif c == "S":
            group("fraction", rf"\d{{{k}}}")
        elif c == "a":
            group("ampm", r"[AaPp][Mm]")
        elif c in "Ee":
            parts.append(r"[A-Za-z]{3}" if k <= 3 else r"[A-Za-z]+")
        elif c in "XxZO":
            group("offset", r"Z|z|GMT|UTC|(?:GMT|UTC)?[+-]\d{2}(?::?\d{2})?")
        elif c in "zV":
            group("zone", r"[A-Za-z][A-Za-z0-9/_+-]*")
    parts.append("$")
    return _ParsePlan("".join(parts), tuple(groups))


def _field(parts: pa.StructArray, plan: _ParsePlan, name: str) -> pa.Array | None:
    if name not in plan.groups:
        return None
    return pc.struct_field(parts, name)


def _int(arr: pa.Array) -> pa.Array:
    return pc.cast(arr, pa.int32())


def parse_timestamps(strings: pa.Array, pattern: str, default_tz: str = "UTC") -> pa.Array:
    """Parse strings with a Java pattern into ``timestamp[us, UTC]``; non-matching rows -> null.

    Missing components default to the epoch's (month/day 1, time 00:00); without an offset or
    zone in the pattern the wall time is read in ``default_tz``.
    """
    plan = _parse_plan(pattern)
    s = strings.cast(pa.string()) if not pa.types.is_string(strings.type) else strings
    if _iso_like(pattern):
        ok = pc.match_substring_regex(s, plan.regex)
        naive = _cast_naive(pc.if_else(ok, s, pa.scalar(None, pa.string())))
        if default_tz == "UTC":
            return naive.cast(TS_TYPE)
        return pc.assume_timezone(
            naive, timezone=default_tz, ambiguous="earliest", nonexistent="earliest"
        ).cast(TS_TYPE)
    if not plan.groups:
        return pa.nulls(len(s), TS_TYPE)
    ok = pc.match_substring_regex(s, plan.regex)
    s = pc.if_else(ok, s, pa.scalar(None, pa.string()))
    parts = pc.extract_regex(s, plan.regex)
    year = _field(parts, plan, "year")
    if year is None:
        yy = _field(parts, plan, "yy")
        year = pc.add(_int(yy), 2000) if yy is not None else pa.scalar(1970, pa.int32())
    else:
        year = _int(year)
    month = _field(parts, plan, "month")
    month_i: pa.Array | pa.Scalar
    if month is not None:
        month_i = _int(month)
    elif (mon := _field(parts, plan, "monname")) is not None:
        low = pc.utf8_lower(mon)
        full = pc.index_in(low, pa.array(_MONTHS))
        short = pc.index_in(low, pa.array([m[:3] for m in _MONTHS]))
        month_i = pc.add(pc.coalesce(full, short), 1)
    else:
        month_i = pa.scalar(1, pa.int32())
    day = _field(parts, plan, "day")
    day_i = _int(day) if day is not None else pa.scalar(1, pa.int32())
    hour = _field(parts, plan, "hour")
    hour_i: pa.Array | pa.Scalar
    if hour is not None:
        hour_i = _int(hour)
    elif (h12 := _field(parts, plan, "hour12")) is not None:
        h = _int(h12)
        h = pc.if_else(pc.equal(h, 12), 0, h)
        ampm = _field(parts, plan, "ampm")
        if ampm is not None:
            h = pc.if_else(pc.equal(pc.utf8_lower(ampm), "pm"), pc.add(h, 12), h)
        hour_i = h
    else:
        hour_i = pa.scalar(0, pa.int32())
    minute = _field(parts, plan, "minute")
    second = _field(parts, plan, "second")
    frac = _field(parts, plan, "fraction")

    def p2(v: pa.Array | pa.Scalar, width: int = 2) -> pa.Array | pa.Scalar:
        if isinstance(v, pa.Scalar):
            return pa.scalar(str(v.as_py()).zfill(width))
        return pc.utf8_lpad(v.cast(pa.string()), width=width, padding="0")

    year_s = p2(year, 4)
    pieces: list[pa.Array | pa.Scalar] = [
        year_s,
        pa.scalar("-"),
        p2(month_i),
        pa.scalar("-"),
        p2(day_i),
        pa.scalar("T"),
        p2(hour_i),
        pa.scalar(":"),
        p2(minute) if minute is not None else pa.scalar("00"),
        pa.scalar(":"),
        p2(second) if second is not None else pa.scalar("00"),
    ]
    if frac is not None:
        pieces += [pa.scalar("."), pc.utf8_slice_codeunits(pc.utf8_rpad(frac, width=6, padding="0"), 0, 6)]
    if (doy := _field(parts, plan, "doy")) is not None and month is None and day is None:
        base = pc.binary_join_element_wise(*pieces, "")
        naive = _cast_naive(base)
        naive = pc.add(
            naive.cast(pa.int64()), pc.multiply(pc.subtract(_int(doy).cast(pa.int64()), 1), 86_400_000_000)
        )
        naive = naive.cast(pa.timestamp("us"))
        return _apply_zone(naive, parts, plan, default_tz, ok)
    iso = pc.binary_join_element_wise(*pieces, "")
    return _apply_zone(_cast_naive(iso), parts, plan, default_tz, ok)


@lru_cache(maxsize=256)
def _iso_like(pattern: str) -> bool:
    """Patterns whose matches Arrow's own ISO-8601 parser reads directly (fast path)."""
    shape = "".join(t.literal if not t.letter else t.letter * t.count for t in tokenize_pattern(pattern))
    return bool(re.fullmatch(r"yyyy-MM-dd([T ]HH:mm(:ss(\.S{1,9})?)?)?", shape.replace("uuuu", "yyyy")))


def _cast_naive(iso: pa.Array) -> pa.Array:

    t = pa.timestamp("us")
    return _bisect(iso, lambda a: a.cast(t), t)


def _normalise_offset(off: pa.Array) -> pa.Array:
    o = pc.replace_substring_regex(off, r"^(GMT|UTC)$|^[Zz]$", "+00:00")
    o = pc.replace_substring_regex(o, r"^(?:GMT|UTC)", "")
    o = pc.replace_substring_regex(o, r"^([+-]\d{2})$", r"\1:00")
    return pc.replace_substring_regex(o, r"^([+-]\d{2})(\d{2})$", r"\1:\2")


def _apply_zone(
    naive: pa.Array, parts: pa.StructArray, plan: _ParsePlan, default_tz: str, ok: pa.Array
) -> pa.Array:
    off = _field(parts, plan, "offset")
    zone = _field(parts, plan, "zone")
    if off is not None:
        iso = pc.binary_join_element_wise(pc.strftime(naive, "%Y-%m-%dT%H:%M:%S"), _normalise_offset(off), "")

        return _bisect(iso, lambda a: a.cast(TS_TYPE), TS_TYPE)
    if zone is not None:
        out = pa.nulls(len(naive), TS_TYPE)
        for z in pc.unique(zone).to_pylist():
            if z is None:
                continue
            mask = pc.equal(zone, z)
            tzname = "UTC" if z in ("Z", "GMT", "UTC", "UT") else z
            try:
                local = pc.assume_timezone(
                    naive, timezone=tzname, ambiguous="earliest", nonexistent="earliest"
                )
            except (pa.ArrowInvalid, ValueError):
                continue
            out = pc.if_else(mask, local.cast(TS_TYPE), out)
        return out
    if default_tz == "UTC":
        return naive.cast(TS_TYPE)
    return pc.assume_timezone(naive, timezone=default_tz, ambiguous="earliest", nonexistent="earliest").cast(
        TS_TYPE
    )
