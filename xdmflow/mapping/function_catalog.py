"""What ``/languages/el/functions``, ``/languages/el/operators`` and ``/languages/el/validate`` serve."""

from __future__ import annotations

from typing import Any

from xdmflow.mapping.functions import REGISTRY
from xdmflow.mapping.parser import ExpressionSyntaxError, parse_expression
from xdmflow.mapping.typecheck import check_expression

__all__ = ["functions_catalog", "operators_catalog", "validate_expression"]

_JAVA_TYPES = {
    "string": "java.lang.String",
    "number": "java.lang.Number",
    "boolean": "java.lang.Boolean",
    "datetime": "java.time.ZonedDateTime",
    "array": "java.util.List",
    "map": "java.util.Map",
    "object": "java.lang.Object",
    "any": "java.lang.Object",
}

_OPERATORS: list[dict[str, Any]] = [
    {
        "operatorSymbol": "+",
        "methodName": "add",
        "numberOfOperands": 2,
        "description": "Arithmetic addition; concatenation when either operand is a string",
        "example": "1 + 2",
    },
    {
        "operatorSymbol": "-",
        "methodName": "subtract",
        "numberOfOperands": 2,
        "description": "Arithmetic subtraction",
        "example": "3 - 1",
    },
    {
        "operatorSymbol": "*",
        "methodName": "multiply",
        "numberOfOperands": 2,
        "description": "Arithmetic multiplication",
        "example": "2 * 3",
    },
    {
        "operatorSymbol": "/",
        "methodName": "divide",
        "numberOfOperands": 2,
        "description": "Simple arithmetic division (also 'div')",
        "example": "1 / 2",
    },
    {
        "operatorSymbol": "%",
        "methodName": "mod",
        "numberOfOperands": 2,
        "description": "Remainder of a division (also 'mod')",
        "example": "7 % 3",
    },
    {
        "operatorSymbol": "~",
        "methodName": "complement",
        "numberOfOperands": 1,
        "description": "Bitwise complement, e.g. ~33 = -34",
        "example": "~44",
    },
    {
        "operatorSymbol": "-",
        "methodName": "negate",
        "numberOfOperands": 1,
        "description": "The unary - operator, e.g. -12",
        "example": "-12",
    },
    {
        "operatorSymbol": "!",
        "methodName": "not",
        "numberOfOperands": 1,
        "description": "Logical not; the word not is equivalent",
        "example": "!cond1",
    },
    {
        "operatorSymbol": "&&",
        "methodName": "and",
        "numberOfOperands": 2,
        "description": "Logical and; the word and is equivalent",
        "example": "cond1 && cond2",
    },
    {
        "operatorSymbol": "||",
        "methodName": "or",
        "numberOfOperands": 2,
        "description": "Logical or; the word or is equivalent",
        "example": "cond1 || cond2",
    },
    {
        "operatorSymbol": "==",
        "methodName": "equals",
        "numberOfOperands": 2,
        "description": "Equality (also 'eq')",
        "example": "a == b",
    },
    {
        "operatorSymbol": "!=",
        "methodName": "notEquals",
        "numberOfOperands": 2,
        "description": "Inequality (also 'ne')",
        "example": "a != b",
    },
    {
        "operatorSymbol": "<",
        "methodName": "lessThan",
        "numberOfOperands": 2,
        "description": "Less than (also 'lt')",
        "example": "a < b",
    },
    {
        "operatorSymbol": "<=",
        "methodName": "lessThanOrEqual",
        "numberOfOperands": 2,
        "description": "Less than or equal (also 'le')",
        "example": "a <= b",
    },
    {
        "operatorSymbol": ">",
        "methodName": "greaterThan",
        "numberOfOperands": 2,
        "description": "Greater than (also 'gt')",
        "example": "a > b",
    },
    {
        "operatorSymbol": ">=",
        "methodName": "greaterThanOrEqual",
        "numberOfOperands": 2,
        "description": "Greater than or equal (also 'ge')",
        "example": "a >= b",
    },
    {
        "operatorSymbol": "?:",
        "methodName": "ternary",
        "numberOfOperands": 3,
        "description": "Conditional: cond ? a : b",
        "example": 'age > 18 ? "adult" : "minor"',
    },
]


def functions_catalog() -> list[dict[str, Any]]:
    """Every function in the shape of ``GET /languages/el/functions`` (aliases listed separately)."""
    out: list[dict[str, Any]] = []
    for key in sorted(REGISTRY):
        spec = REGISTRY[key]
        name = spec.name if key == spec.name.lower() else key
        out.append(
            {
                "category": spec.category,
                "function": name,
                "description": spec.description,
                "syntax": spec.syntax.replace(spec.name + "(", name + "(", 1),
                "returns": spec.description,
                "returnType": _JAVA_TYPES.get(spec.returns, "java.lang.Object"),
                "example": spec.example,
                "result": spec.result,
                "params": [
                    {
                        "name": p.name,
                        "description": p.description or p.name.replace("_", " "),
                        "type": p.type,
                        "dataType": _JAVA_TYPES.get(p.type, "java.lang.Object"),
                        "position": i + 1,
                        "required": i < spec.min_args,
                    }
                    for i, p in enumerate(spec.params)
                ],
                "since": 1,
            }
        )
    return out


def operators_catalog() -> list[dict[str, Any]]:
    """Every operator in the shape of ``GET /languages/el/operators``."""
    return [dict(o) for o in _OPERATORS]


def validate_expression(text: str, source_fields: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Problems with an expression (empty list = valid): ``{message, position}`` each.

    ``source_fields`` (path -> type) also checks field references when known.
    """
    try:
        node = parse_expression(text)
    except ExpressionSyntaxError as e:
        return [{"message": e.reason, "position": e.pos}]
    _t, issues, _fields = check_expression(node, source_fields)
    return [{"message": i.message, "position": i.pos} for i in issues]
