from __future__ import annotations

import pytest

from xdmflow.mapping.ast import Binary, Call, FieldRef, Index, Literal, MethodCall, Ternary, Unary, field_refs
from xdmflow.mapping.parser import ExpressionSyntaxError, parse_expression, tokenize


def test_precedence_arithmetic_then_comparison_then_logic() -> None:
    node = parse_expression("a + b * 2 > 3 && !c || d")
    assert isinstance(node, Binary) and node.op == "||"
    left = node.left
    assert isinstance(left, Binary) and left.op == "&&"
    cmp_ = left.left
    assert isinstance(cmp_, Binary) and cmp_.op == ">"
    add = cmp_.left
    assert isinstance(add, Binary) and add.op == "+"
    assert isinstance(add.right, Binary) and add.right.op == "*"
    assert isinstance(left.right, Unary) and left.right.op == "!"


def test_left_associative_subtraction() -> None:
    node = parse_expression("10 - 4 - 3")
    assert isinstance(node, Binary) and isinstance(node.left, Binary)
    assert node.left.left == Literal(0, 10)


def test_word_operators() -> None:
    node = parse_expression("a eq 1 and not b or c ne 2")
    assert isinstance(node, Binary) and node.op == "||"
    assert isinstance(node.left, Binary) and node.left.op == "&&"
    assert isinstance(node.left.left, Binary) and node.left.left.op == "=="
    assert isinstance(node.right, Binary) and node.right.op == "!="


def test_literals_and_escapes() -> None:
    assert parse_expression('"a\\"b\\n"') == Literal(0, 'a"b\n')
    assert parse_expression("'single'") == Literal(0, "single")
    assert parse_expression("12") == Literal(0, 12)
    assert parse_expression("1.5e2") == Literal(0, 150.0)
    assert parse_expression("-3") == Literal(0, -3)
    assert parse_expression("true") == Literal(0, True)
    assert parse_expression("null") == Literal(0, None)
    assert parse_expression('"\\u00e9t\\u00e9"') == Literal(0, "été")


def test_field_references_dotted_and_wrapped() -> None:
    assert parse_expression("person.name.firstName") == FieldRef(0, ("person", "name", "firstName"))
    assert parse_expression("${First Name}") == FieldRef(0, ("First Name",))
    assert parse_expression("${First\\.Name}") == FieldRef(0, ("First.Name",))
    assert parse_expression("${a.b}") == FieldRef(0, ("a", "b"))
    assert parse_expression("${new}") == FieldRef(0, ("new",))
    assert parse_expression("$price_1") == FieldRef(0, ("$price_1",))


def test_unicode_identifier() -> None:
    assert parse_expression("prénom") == FieldRef(0, ("prénom",))


def test_calls_methods_index_ternary() -> None:
    node = parse_expression('concat(a, " ", upper(b))')
    assert isinstance(node, Call) and node.name == "concat" and len(node.args) == 3
    m = parse_expression('name.first.equalsIgnoreCase("x")')
    assert isinstance(m, MethodCall) and m.method == "equalsIgnoreCase"
    assert m.target == FieldRef(0, ("name", "first"))
    idx = parse_expression("items[0].sku")
    assert isinstance(idx, Index) and isinstance(idx.target, Index)
    t = parse_expression('a > 1 ? "x" : "y"')
    assert isinstance(t, Ternary)
    get = parse_expression('str_to_object(s).get("k")')
    assert isinstance(get, MethodCall) and get.method == "get"


def test_field_refs_collects_in_order() -> None:
    node = parse_expression("iif(a > 1, concat(b, c.d), ${e f})")
    assert [r.dotted for r in field_refs(node)] == ["a", "b", "c.d", "e f"]


@pytest.mark.parametrize(
    ("text", "pos", "fragment"),
    [
        ("concat(a, ", 10, "end of expression"),
        ('"abc', 0, "unterminated string"),
        ("a +", 3, "unexpected end"),
        ("a = b", 2, "'=='"),
        ("lower(a))", 8, "unexpected ')'"),
        ("${unterminated", 0, "unterminated ${"),
        ("if + 1", 0, "reserved word 'if'"),
        ("f(a,)", 4, "missing argument"),
        ("a # b", 2, "unexpected character"),
        ("", 0, "empty expression"),
        ("12abc", 0, "invalid number"),
    ],
)
def test_errors_have_positions(text: str, pos: int, fragment: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as ei:
        parse_expression(text)
    assert ei.value.pos == pos
    assert fragment in str(ei.value)
    assert f"position {pos}" in str(ei.value)


def test_tokenize_kinds() -> None:
    kinds = [t.kind for t in tokenize('f(${x y}, 1.5, "s") >= 2')]
    assert kinds == ["NAME", "PUNCT", "FIELD", "PUNCT", "NUM", "PUNCT", "STR", "PUNCT", "OP", "NUM", "EOF"]


def test_never_evaluates_python() -> None:
    node = parse_expression('__import__("os")')
    assert isinstance(node, Call) and node.name == "__import__"


def test_array_literals() -> None:
    from xdmflow.mapping.ast import ArrayLit

    node = parse_expression('join(" ", ["Hello", name])')
    assert isinstance(node, Call) and isinstance(node.args[1], ArrayLit)
    assert parse_expression("[]") == ArrayLit(0, ())
    with pytest.raises(ExpressionSyntaxError, match="in array"):
        parse_expression("[1 2]")
