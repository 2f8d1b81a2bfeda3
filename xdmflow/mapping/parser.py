"""Hand-written lexer + Pratt parser for the Data Prep expression language.

Grammar (lowest to highest precedence)::

    expr     := ternary
    ternary  := or ( "?" expr ":" expr )?
    or       := and ( ("||" | "or") and )*
    and      := eq ( ("&&" | "and") eq )*
    eq       := rel ( ("==" | "!=" | "eq" | "ne") rel )*
    rel      := add ( ("<" | ">" | "<=" | ">=" | "lt" | "gt" | "le" | "ge") add )*
    add      := mul ( ("+" | "-") mul )*
    mul      := unary ( ("*" | "/" | "%" | "div" | "mod") unary )*
    unary    := ("!" | "not" | "-" | "~") unary | postfix
    postfix  := primary ( "." name | "." name "(" args ")" | "[" expr "]" )*
    primary  := number | string | true | false | null | name "(" args ")" | name | "${...}" | "(" expr ")"
              | "[" (expr ("," expr)*)? "]"

Field names are letters, digits, ``$`` and ``_``; anything else is written ``${First Name}``
(``\\.`` escapes a dot inside the braces, which keeps it part of the name). Reserved words
must be wrapped. Never uses ``eval``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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

__all__ = ["ExpressionSyntaxError", "Token", "tokenize", "parse_expression", "RESERVED_WORDS"]

RESERVED_WORDS = frozenset(
    "new mod or break var lt for false while eq gt div not null continue else and ne true le if ge "
    "return _errors".split()
)
_WORD_OPS = {
    "and": "&&",
    "or": "||",
    "not": "!",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
    "div": "/",
    "mod": "%",
}
_SYMBOLS = ("==", "!=", "<=", ">=", "&&", "||", "+", "-", "*", "/", "%", "<", ">", "!", "~", "?", ":")
_PUNCT = "(),.[]"
_BINARY_PRECEDENCE = {
    "||": 1,
    "&&": 2,
    "==": 3,
    "!=": 3,
    "<": 4,
    ">": 4,
    "<=": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "\\": "\\", '"': '"', "'": "'", "/": "/"}


class ExpressionSyntaxError(InvalidValueError):
    """A lexing/parsing error; ``pos`` is the 0-based offset in the expression."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(f"{message} at position {pos}")
        self.reason = message
        self.pos = pos

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, self.pos))


@dataclass(frozen=True)
class Token:
    """One lexical token: ``kind`` in NUM, STR, NAME, FIELD, OP, PUNCT, EOF."""

    kind: str
    value: str | float | int
    pos: int


def _is_digit(c: str) -> bool:
    """An ASCII digit: ``str.isdigit`` also accepts ``²`` and other digits ``int()`` refuses."""
    return "0" <= c <= "9"


def _is_name_char(c: str) -> bool:
    return c.isalnum() or c in "_$"


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens (raises :class:`ExpressionSyntaxError`)."""
    toks: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        start = i
        if c == "$" and i + 1 < n and text[i + 1] == "{":
            i += 2
            buf: list[str] = []
            while i < n and text[i] != "}":
                if text[i] == "\\" and i + 1 < n:
                    buf.append("\\" + text[i + 1])
                    i += 2
                    continue
                buf.append(text[i])
                i += 1
            if i >= n:
                raise ExpressionSyntaxError("unterminated ${...} field reference", start)
            i += 1
            raw = "".join(buf)
            if not raw.strip():
                raise ExpressionSyntaxError("empty ${} field reference", start)
            toks.append(Token("FIELD", raw, start))
        elif _is_digit(c) or (c == "." and i + 1 < n and _is_digit(text[i + 1])):
            while i < n and _is_digit(text[i]):
                i += 1
            is_float = False
            if i < n and text[i] == "." and i + 1 < n and _is_digit(text[i + 1]):
                is_float = True
                i += 1
                while i < n and _is_digit(text[i]):
                    i += 1
            if i < n and text[i] in "eE":
                j = i + 1
                if j < n and text[j] in "+-":
                    j += 1
                if j < n and _is_digit(text[j]):
                    is_float = True
                    i = j
                    while i < n and _is_digit(text[i]):
                        i += 1
            if i < n and text[i] in "lLdDfF":  # Java literal suffixes
                is_float = is_float or text[i] in "dDfF"
                i += 1
                lit = text[start : i - 1]
            else:
                lit = text[start:i]
            if i < n and _is_name_char(text[i]):
                raise ExpressionSyntaxError(f"invalid number literal {text[start : i + 1]!r}", start)
            try:
                value: int | float = float(lit) if is_float else int(lit)
            except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
                raise ExpressionSyntaxError(f"number literal {lit[:20]!r}... is too long", start) from None
            toks.append(Token("NUM", value, start))
        elif c in "\"'":
            quote = c
            i += 1
            out: list[str] = []
            while True:
                if i >= n:
                    raise ExpressionSyntaxError("unterminated string literal", start)
                ch = text[i]
                if ch == quote:
                    i += 1
                    break
                if ch == "\\":
                    if i + 1 >= n:
                        raise ExpressionSyntaxError("unterminated string literal", start)
                    esc = text[i + 1]
                    if (
                        esc == "u"
                        and i + 5 < n + 0
                        and all(h in "0123456789abcdefABCDEF" for h in text[i + 2 : i + 6])
                    ):
                        out.append(chr(int(text[i + 2 : i + 6], 16)))
                        i += 6
                        continue
                    out.append(_ESCAPES.get(esc, "\\" + esc))
                    i += 2
                    continue
                out.append(ch)
                i += 1
            toks.append(Token("STR", "".join(out), start))
        elif _is_name_char(c):
            while i < n and _is_name_char(text[i]):
                i += 1
            toks.append(Token("NAME", text[start:i], start))
        elif c in _PUNCT:
            toks.append(Token("PUNCT", c, start))
            i += 1
        else:
            for sym in _SYMBOLS:
                if text.startswith(sym, i):
                    toks.append(Token("OP", sym, start))
                    i += len(sym)
                    break
            else:
                if c == "=" or c == "&" or c == "|":
                    raise ExpressionSyntaxError(f"unexpected {c!r} (did you mean {c * 2!r}?)", start)
                raise ExpressionSyntaxError(f"unexpected character {c!r}", start)
    toks.append(Token("EOF", "", n))
    return toks


def _split_field(raw: str) -> tuple[str, ...]:
    """``a.b`` inside ``${}`` is a path; ``\\.`` keeps the dot in the name."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            cur.append(raw[i + 1])
            i += 2
            continue
        if ch == ".":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return tuple(parts)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def advance(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def at(self, kind: str, value: str | None = None) -> bool:
        t = self.tok
        return t.kind == kind and (value is None or t.value == value)

    def expect(self, kind: str, value: str) -> Token:
        if not self.at(kind, value):
            raise ExpressionSyntaxError(
                f"expected {value!r} but found {self._describe(self.tok)}", self.tok.pos
            )
        return self.advance()

    @staticmethod
    def _describe(t: Token) -> str:
        return "end of expression" if t.kind == "EOF" else repr(t.value)

    def binary_op(self) -> str | None:
        t = self.tok
        if t.kind == "OP" and t.value in _BINARY_PRECEDENCE:
            return str(t.value)
        if t.kind == "NAME" and t.value in _WORD_OPS and _WORD_OPS[str(t.value)] in _BINARY_PRECEDENCE:
            return _WORD_OPS[str(t.value)]
        return None

    def parse(self) -> Node:
        if self.at("EOF"):
            raise ExpressionSyntaxError("empty expression", 0)
        node = self.expression()
        if not self.at("EOF"):
            raise ExpressionSyntaxError(f"unexpected {self._describe(self.tok)}", self.tok.pos)
        return node

    def expression(self) -> Node:
        cond = self.binary(1)
        if self.at("OP", "?"):
            q = self.advance()
            then = self.expression()
            self.expect("OP", ":")
            otherwise = self.expression()
            return Ternary(q.pos, cond, then, otherwise)
        return cond

    def binary(self, min_prec: int) -> Node:
        left = self.unary()
        while True:
            op = self.binary_op()
            if op is None or _BINARY_PRECEDENCE[op] < min_prec:
                return left
            t = self.advance()
            right = self.binary(_BINARY_PRECEDENCE[op] + 1)
            left = Binary(t.pos, op, left, right)

    def unary(self) -> Node:
        t = self.tok
        if (t.kind == "OP" and t.value in ("!", "-", "~", "+")) or (t.kind == "NAME" and t.value == "not"):
            self.advance()
            operand = self.unary()
            op = "!" if t.value == "not" else str(t.value)
            if op == "+":
                return operand
            if op == "-" and isinstance(operand, Literal) and isinstance(operand.value, int | float):
                if not isinstance(operand.value, bool):
                    return Literal(t.pos, -operand.value)
            return Unary(t.pos, op, operand)
        return self.postfix(self.primary())

    def args(self) -> tuple[Node, ...]:
        self.expect("PUNCT", "(")
        out: list[Node] = []
        if self.at("PUNCT", ")"):
            self.advance()
            return ()
        while True:
            out.append(self.expression())
            if self.at("PUNCT", ","):
                self.advance()
                if self.at("PUNCT", ")"):
                    raise ExpressionSyntaxError("missing argument after ','", self.tok.pos)
                continue
            if self.at("PUNCT", ")"):
                self.advance()
                return tuple(out)
            raise ExpressionSyntaxError(
                f"expected ',' or ')' in argument list but found {self._describe(self.tok)}", self.tok.pos
            )

    def postfix(self, node: Node) -> Node:
        while True:
            if self.at("PUNCT", "."):
                dot = self.advance()
                t = self.tok
                if t.kind == "FIELD":
                    self.advance()
                    name_parts = _split_field(str(t.value))
                elif t.kind == "NAME":
                    self.advance()
                    name_parts = (str(t.value),)
                else:
                    raise ExpressionSyntaxError(
                        f"expected a name after '.' but found {self._describe(t)}", t.pos
                    )
                if t.kind == "NAME" and self.at("PUNCT", "("):
                    node = MethodCall(dot.pos, node, str(t.value), self.args())
                elif isinstance(node, FieldRef):
                    node = FieldRef(node.pos, node.path + name_parts)
                else:
                    for part in name_parts:
                        node = Index(dot.pos, node, Literal(t.pos, part))
            elif self.at("PUNCT", "["):
                b = self.advance()
                idx = self.expression()
                self.expect("PUNCT", "]")
                node = Index(b.pos, node, idx)
            else:
                return node

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "NUM":
            self.advance()
            return Literal(t.pos, t.value)
        if t.kind == "STR":
            self.advance()
            return Literal(t.pos, t.value)
        if t.kind == "FIELD":
            self.advance()
            return FieldRef(t.pos, _split_field(str(t.value)))
        if t.kind == "PUNCT" and t.value == "[":
            self.advance()
            items: list[Node] = []
            while not self.at("PUNCT", "]"):
                items.append(self.expression())
                if self.at("PUNCT", ","):
                    self.advance()
                elif not self.at("PUNCT", "]"):
                    raise ExpressionSyntaxError(
                        f"expected ',' or ']' in array but found {self._describe(self.tok)}", self.tok.pos
                    )
            self.advance()
            return ArrayLit(t.pos, tuple(items))
        if t.kind == "PUNCT" and t.value == "(":
            self.advance()
            node = self.expression()
            self.expect("PUNCT", ")")
            return node
        if t.kind == "NAME":
            name = str(t.value)
            self.advance()
            if self.at("PUNCT", "("):
                return Call(t.pos, name, self.args())
            if name == "true":
                return Literal(t.pos, True)
            if name == "false":
                return Literal(t.pos, False)
            if name == "null":
                return Literal(t.pos, None)
            if name in RESERVED_WORDS:
                raise ExpressionSyntaxError(
                    f"reserved word {name!r} cannot be used as a field name; write ${{{name}}}", t.pos
                )
            return FieldRef(t.pos, (name,))
        raise ExpressionSyntaxError(f"unexpected {self._describe(t)}", t.pos)


def parse_expression(text: str) -> Node:
    """Parse an expression into an AST (raises :class:`ExpressionSyntaxError` with a position)."""
    return _Parser(text).parse()
