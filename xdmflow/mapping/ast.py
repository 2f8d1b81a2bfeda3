"""AST of the Data Prep expression language (platform-api.md §4.3).

Nodes are frozen dataclasses (picklable, hashable); ``pos`` is the 0-based character offset
of the node in the expression text, used in error messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Node",
    "Literal",
    "FieldRef",
    "Index",
    "Unary",
    "Binary",
    "Call",
    "MethodCall",
    "Ternary",
    "ArrayLit",
    "field_refs",
]


@dataclass(frozen=True)
class Node:
    """Base class of every expression node."""

    pos: int


@dataclass(frozen=True)
class Literal(Node):
    """A string, number, boolean or null literal."""

    value: Any


@dataclass(frozen=True)
class FieldRef(Node):
    """A reference to a source attribute; ``path`` holds the dotted segments (``("a", "b")``)."""

    path: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Index(Node):
    """``target[index]`` on an array (0-based) or a map (string key)."""

    target: Node
    index: Node


@dataclass(frozen=True)
class Unary(Node):
    """``!x`` / ``not x``, ``-x``, ``~x``."""

    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    """A binary operator; ``op`` is canonical (``&&`` for ``and``, ``==`` for ``eq``...)."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call(Node):
    """A function call ``name(args...)``; ``name`` is lower-cased only when matching the registry."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class MethodCall(Node):
    """``target.method(args...)`` - ``equals``, ``equalsIgnoreCase``, ``get``."""

    target: Node
    method: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class ArrayLit(Node):
    """An array literal ``[a, b, ...]``."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Ternary(Node):
    """``cond ? a : b``."""

    cond: Node
    then: Node
    otherwise: Node


def field_refs(node: Node) -> list[FieldRef]:
    """Every field reference below ``node``, in source order."""
    out: list[FieldRef] = []

    def visit(n: Node) -> None:
        if isinstance(n, FieldRef):
            out.append(n)
        elif isinstance(n, Index):
            visit(n.target)
            visit(n.index)
        elif isinstance(n, Unary):
            visit(n.operand)
        elif isinstance(n, Binary):
            visit(n.left)
            visit(n.right)
        elif isinstance(n, Call):
            for a in n.args:
                visit(a)
        elif isinstance(n, MethodCall):
            visit(n.target)
            for a in n.args:
                visit(a)
        elif isinstance(n, ArrayLit):
            for a in n.items:
                visit(a)
        elif isinstance(n, Ternary):
            visit(n.cond)
            visit(n.then)
            visit(n.otherwise)

    visit(node)
    return out
