"""Static checks of an expression: known functions, arity, argument types, known fields.

Types: ``string``, ``number``, ``boolean``, ``datetime``, ``array``, ``map``, ``object``,
``null`` and ``any`` (unknown until run time). Implicit conversions the runtime performs
(number -> string, ISO string -> date-time...) are accepted; impossible ones are errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from xdmflow import regexes
from xdmflow.errors import InvalidValueError
from xdmflow.mapping.ast import (
    ArrayLit,
    Binary,
    Call,
    FieldRef,
    Index,
    Literal,
    MethodCall,
    Node,
    Ternary,
    Unary,
)
from xdmflow.mapping.functions import lookup
from xdmflow.mapping.functions.dates import DATE_PARTS
from xdmflow.mapping.functions.hashing_urls import CHARSETS
from xdmflow.mapping.javadate import tokenize_pattern

__all__ = ["TypeIssue", "check_expression", "ACCEPTS"]

#: For each declared parameter type, the argument types it accepts.
ACCEPTS: dict[str, frozenset[str]] = {
    "any": frozenset({"string", "number", "boolean", "datetime", "array", "map", "object", "null", "any"}),
    "string": frozenset({"string", "number", "boolean", "datetime", "null", "any"}),
    "number": frozenset({"number", "string", "boolean", "datetime", "null", "any"}),
    "boolean": frozenset({"boolean", "string", "number", "null", "any"}),
    "datetime": frozenset({"datetime", "string", "number", "null", "any"}),
    "array": frozenset({"array", "null", "any"}),
    "map": frozenset({"map", "object", "null", "any"}),
    "object": frozenset({"map", "object", "null", "any"}),
}
_SAME_TYPE_RETURNS = {
    "coalesce",
    "iif",
    "decode",
    "min",
    "max",
    "first",
    "last",
    "upsert_array_append",
    "upsert_array_replace",
}


def _check_pattern(v: str) -> None:
    tokenize_pattern(v)


def _check_zone(v: str) -> None:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise InvalidValueError(f"unknown time zone {v!r}") from e


def _check_part(v: str) -> None:
    if v.lower() not in DATE_PARTS and v != "SSS":
        raise InvalidValueError(f"unknown date component {v!r}")


def _check_regex(v: str) -> None:
    try:
        regexes.compile(v)
    except regexes.RegexError as e:
        raise InvalidValueError(f"invalid regular expression {v!r}: {e}") from e


def _check_charset(v: str) -> None:
    if v.lower() not in CHARSETS:
        raise InvalidValueError(f"unsupported charset {v!r} (UTF-8, UTF-16, ISO-8859-1, US-ASCII)")


#: Literal arguments checked at compile time: function -> {argument index: validator}.
_LITERAL_CHECKS: dict[str, dict[int, Callable[[str], None]]] = {
    "format": {1: _check_pattern},
    "dformat": {1: _check_pattern},
    "date": {1: _check_pattern},
    "date_part": {0: _check_part},
    "set_date_part": {0: _check_part},
    "zone_date_to_zone": {1: _check_zone},
    "make_date_time": {7: _check_zone},
    "extract_regex": {1: _check_regex},
    "matches_regex": {1: _check_regex},
    "explode": {1: _check_regex},
    **{h: {1: _check_charset} for h in ("sha1", "sha256", "sha512", "md5", "crc32")},
}


@dataclass(frozen=True)
class TypeIssue:
    """One problem found in an expression (``pos`` = character offset)."""

    message: str
    pos: int


@dataclass
class _Checker:
    field_types: dict[str, str] | None
    issues: list[TypeIssue] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)

    def err(self, node: Node, msg: str) -> None:
        self.issues.append(TypeIssue(msg, node.pos))

    def check(self, node: Node) -> str:
        if isinstance(node, Literal):
            v = node.value
            if v is None:
                return "null"
            if isinstance(v, bool):
                return "boolean"
            if isinstance(v, int | float):
                return "number"
            return "string"
        if isinstance(node, FieldRef):
            name = node.dotted
            self.fields.append(name)
            if self.field_types is None:
                return "any"
            if name in self.field_types:
                return self.field_types[name]
            self.err(node, f"source field {name!r} does not exist in the source schema")
            return "any"
        if isinstance(node, Unary):
            t = self.check(node.operand)
            if node.op == "!":
                self._want(node.operand, t, "boolean", "operand of '!'")
                return "boolean"
            self._want(node.operand, t, "number", f"operand of '{node.op}'")
            return "number"
        if isinstance(node, Binary):
            lt, rt = self.check(node.left), self.check(node.right)
            if node.op in ("&&", "||"):
                self._want(node.left, lt, "boolean", f"left operand of '{node.op}'")
                self._want(node.right, rt, "boolean", f"right operand of '{node.op}'")
                return "boolean"
            if node.op in ("==", "!=", "<", ">", "<=", ">="):
                for side, t in ((node.left, lt), (node.right, rt)):
                    if node.op not in ("==", "!=") and t in ("array", "map", "object"):
                        self.err(side, f"cannot compare a value of type {t} with '{node.op}'")
                return "boolean"
            if node.op == "+" and "string" in (lt, rt):
                return "string"
            if node.op == "+" and lt == "datetime":
                return "datetime"
            self._want(node.left, lt, "number", f"left operand of '{node.op}'")
            self._want(node.right, rt, "number", f"right operand of '{node.op}'")
            if node.op == "+" and "any" in (lt, rt):
                return "any"
            return "number"
        if isinstance(node, ArrayLit):
            for item in node.items:
                self.check(item)
            return "array"
        if isinstance(node, Ternary):
            self._want(node.cond, self.check(node.cond), "boolean", "condition of '?:'")
            a, b = self.check(node.then), self.check(node.otherwise)
            return a if a == b else "any"
        if isinstance(node, Index):
            t = self.check(node.target)
            self.check(node.index)
            if t not in ("array", "map", "object", "any", "null"):
                self.err(node, f"cannot index a value of type {t}")
            return "any"
        if isinstance(node, MethodCall):
            t = self.check(node.target)
            arg_types = [self.check(a) for a in node.args]
            if node.method in ("equals", "equalsIgnoreCase"):
                if len(node.args) != 1:
                    self.err(node, f"{node.method}() takes 1 argument, got {len(node.args)}")
                self._want(node.target, t, "string", f"target of .{node.method}()")
                return "boolean"
            if node.method == "get":
                if len(node.args) != 1:
                    self.err(node, f"get() takes 1 argument, got {len(node.args)}")
                if t not in ("map", "object", "any", "null"):
                    self.err(node, f"get() needs a map or an object, got {t}")
                return "any"
            spec = lookup(node.method)
            if spec is None:
                self.err(node, f"unknown method {node.method!r}")
                return "any"
            return self._call(node, spec.name, [node.target, *node.args], [t, *arg_types])
        if isinstance(node, Call):
            arg_types = [self.check(a) for a in node.args]
            return self._call(node, node.name, list(node.args), arg_types)
        self.err(node, f"unsupported expression {type(node).__name__}")
        return "any"

    def _call(self, node: Node, name: str, args: list[Node], types: list[str]) -> str:
        spec = lookup(name)
        if spec is None:
            self.err(node, f"unknown function {name!r}")
            return "any"
        n = len(args)
        if n < spec.min_args or (spec.max_args is not None and n > spec.max_args):
            if spec.max_args is None:
                expected = f"at least {spec.min_args}"
            elif spec.min_args == spec.max_args:
                expected = str(spec.min_args)
            else:
                expected = f"{spec.min_args} to {spec.max_args}"
            self.err(node, f"function {spec.name}() takes {expected} argument(s), got {n}")
            return spec.returns
        for i, (a, t) in enumerate(zip(args, types, strict=True)):
            self._want(a, t, spec.param_type(i), f"argument {i + 1} of {spec.name}()")
        for i, check in _LITERAL_CHECKS.get(spec.name, {}).items():
            if i < n and isinstance(args[i], Literal) and isinstance(args[i].value, str):  # type: ignore[attr-defined]
                try:
                    check(args[i].value)  # type: ignore[attr-defined]
                except ValueError as e:
                    self.err(args[i], f"argument {i + 1} of {spec.name}(): {e}")
        if spec.name in ("to_object", "to_map") and n % 2 == 0:
            for i in range(0, n, 2):
                if spec.name == "to_object" and not isinstance(args[i], Literal):
                    self.err(args[i], f"argument {i + 1} of to_object() must be a string literal key")
        if spec.name in ("to_object", "to_map", "object_to_map", "arrays_to_object") and n % 2 == 1 and n > 1:
            self.err(node, f"{spec.name}() needs key/value pairs, got {n} arguments")
        if spec.name in _SAME_TYPE_RETURNS:
            cands = {t for t in types[1 if spec.name in ("iif", "decode") else 0 :] if t != "null"}
            return cands.pop() if len(cands) == 1 else "any"
        return spec.returns

    def _want(self, node: Node, actual: str, expected: str, what: str) -> None:
        if actual not in ACCEPTS.get(expected, ACCEPTS["any"]):
            self.err(node, f"{what} must be {expected}, got {actual}")


def check_expression(
    node: Node, field_types: dict[str, str] | None = None
) -> tuple[str, list[TypeIssue], list[str]]:
    """Type-check ``node``: ``(result type, issues, referenced field paths)``.

    ``field_types`` maps known source paths to types; ``None`` = source schema unknown.
    """
    c = _Checker(field_types)
    t = c.check(node)
    return t, c.issues, c.fields
