"""The formula syntax: readable text such as ``balance / credit_limit`` or
``IF(rating = "A", 1, 0)`` parsed (by a Lark LALR grammar, never ``eval``) into one
JSON-serialisable expression tree that both condition compilers evaluate.

Expression tree (every node is a small JSON object):

* ``{"num": "0.5"}``: a number, kept as text so it stays an exact decimal
* ``{"str": "A"}``: a text literal
* ``{"bool": true}`` / ``{"null": true}``: TRUE / FALSE and NULL
* ``{"ref": "credit_limit"}``: a field of the record, by key
* ``{"op": "*", "args": [a, b]}``: ``+ - * /`` and the comparisons ``= != < <= > >=``;
  ``{"op": "neg", "args": [a]}`` is unary minus
* ``{"fn": "IF", "args": [...]}``: a function call, name in upper case

``format_formula`` turns a tree back into text (``parse_formula(format_formula(t)) == t``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from lendbase.conditions.errors import FormulaError, UnsupportedNode

#: Formulas longer than this are refused (the form schema allows 2000 characters).
MAX_FORMULA_CHARS = 2000
#: Deepest expression tree accepted (parentheses, nested calls, chains of operators).
MAX_FORMULA_DEPTH = 40
#: Most nodes in one expression tree.
MAX_FORMULA_NODES = 400

ARITHMETIC = ("+", "-", "*", "/")
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
KEYWORDS = {"TRUE": {"bool": True}, "FALSE": {"bool": False}, "NULL": {"null": True}}

_GRAMMAR = r"""
?start: comparison
?comparison: sum
           | sum COMP_OP sum        -> compare
?sum: product
    | sum PLUS product              -> add
    | sum MINUS product             -> sub
?product: unary
        | product STAR unary        -> mul
        | product SLASH unary       -> div
?unary: atom
      | MINUS unary                 -> neg
      | PLUS unary                  -> pos
?atom: NUMBER                       -> number
     | STRING                       -> string
     | NAME LPAR [arguments] RPAR   -> call
     | NAME                         -> name
     | LPAR comparison RPAR         -> group
arguments: comparison (COMMA comparison)*

COMP_OP: "<=" | ">=" | "<>" | "!=" | "==" | "=" | "<" | ">"
PLUS: "+"
MINUS: "-"
STAR: "*"
SLASH: "/"
LPAR: "("
RPAR: ")"
COMMA: ","
NAME: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/
NUMBER: /[0-9]+(\.[0-9]+)?|\.[0-9]+/
STRING: /"(?:[^"]|"")*"/ | /'(?:[^']|'')*'/
%ignore /[ \t\r\n]+/
"""

#: How the parser's terminal names read in an error message.
_TERMINALS = {
    "NUMBER": "a number", "STRING": "a text in quotes", "NAME": "a field key or function name",
    "LPAR": "\"(\"", "RPAR": "\")\"", "COMMA": "\",\"", "PLUS": "\"+\"", "MINUS": "\"-\"",
    "STAR": "\"*\"", "SLASH": "\"/\"", "COMP_OP": "a comparison (= != < <= > >=)",
    "$END": "the end of the formula",
}
_OP_NAMES = {"<>": "!=", "==": "="}


@v_args(inline=True)
class _ToTree(Transformer):
    """Called by the LALR parser on each reduction, so no recursion over the parse tree."""

    def number(self, token: Token) -> dict[str, Any]:
        text = str(token)
        return {"num": "0" + text if text.startswith(".") else text}

    def string(self, token: Token) -> dict[str, Any]:
        text = str(token)
        quote = text[0]
        return {"str": text[1:-1].replace(quote * 2, quote)}

    def name(self, token: Token) -> dict[str, Any]:
        keyword = KEYWORDS.get(str(token).upper())
        return dict(keyword) if keyword is not None else {"ref": str(token)}

    def call(self, name: Token, _lpar: Token, args: list[Any] | None,
             _rpar: Token) -> dict[str, Any]:
        return {"fn": str(name).upper(), "args": args or []}

    def arguments(self, *items: Any) -> list[Any]:
        return [item for item in items if not isinstance(item, Token)]

    def compare(self, left: Any, op: Token, right: Any) -> dict[str, Any]:
        return {"op": _OP_NAMES.get(str(op), str(op)), "args": [left, right]}

    def add(self, left: Any, _op: Token, right: Any) -> dict[str, Any]:
        return {"op": "+", "args": [left, right]}

    def sub(self, left: Any, _op: Token, right: Any) -> dict[str, Any]:
        return {"op": "-", "args": [left, right]}

    def mul(self, left: Any, _op: Token, right: Any) -> dict[str, Any]:
        return {"op": "*", "args": [left, right]}

    def div(self, left: Any, _op: Token, right: Any) -> dict[str, Any]:
        return {"op": "/", "args": [left, right]}

    def neg(self, _op: Token, arg: Any) -> dict[str, Any]:
        return {"op": "neg", "args": [arg]}

    def pos(self, _op: Token, arg: Any) -> Any:
        return arg

    def group(self, _lpar: Token, inner: Any, _rpar: Token) -> Any:
        return inner


@functools.cache
def _parser() -> Lark:
    """The LALR parser, built on first use (building its tables takes a tenth of a second)."""
    return Lark(_GRAMMAR, parser="lalr", transformer=_ToTree(), maybe_placeholders=True)


def _expected(names: Any) -> list[str]:
    readable = {_TERMINALS.get(n, n) for n in names if not n.startswith("__")}
    return sorted(readable)


def _syntax_error(text: str, exc: UnexpectedInput) -> FormulaError:
    column = getattr(exc, "column", 0) or 0
    if isinstance(exc, UnexpectedCharacters):
        found = f"the character {text[exc.pos_in_stream or 0]!r}"
        expected = _expected(exc.allowed or ())
    elif isinstance(exc, UnexpectedEOF):
        found = "the end of the formula"
        expected = _expected(exc.expected)
        column = len(text) + 1
    else:
        assert isinstance(exc, UnexpectedToken)
        token = exc.token
        found = ("the end of the formula" if token.type == "$END" else f"{str(token)!r}")
        expected = _expected(exc.accepts or exc.expected)
        if token.type == "$END":
            column = len(text) + 1
        elif token.type == "COMP_OP":
            found += " (comparisons cannot be chained: write AND(a < b, b < c))"
    shown = text if len(text) <= 60 else text[:57] + "..."
    wanted = ", ".join(expected) if expected else "something else"
    return FormulaError(
        f"formula {shown!r} does not parse at column {column}: expected {wanted}; "
        f"found {found}", column, expected)


def parse_formula(text: Any) -> dict[str, Any]:
    """The expression tree of ``text``; raises ``FormulaError`` with the column and what was
    expected when it does not parse."""
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("a formula must be non-empty text, e.g. \"0.5 * credit_limit\"")
    if len(text) > MAX_FORMULA_CHARS:
        raise FormulaError(f"the formula is longer than {MAX_FORMULA_CHARS} characters; "
                           "shorten it")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    check_expression(tree)
    return tree  # type: ignore[return-value]  # the transformer builds dicts, not Trees


def check_expression(tree: Any) -> None:
    """Refuse expression trees deeper than ``MAX_FORMULA_DEPTH`` or larger than
    ``MAX_FORMULA_NODES``, without recursion (a tree from a request may be 5000 deep)."""
    stack: list[tuple[Any, int]] = [(tree, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if depth > MAX_FORMULA_DEPTH:
            raise UnsupportedNode(f"the formula is nested more than {MAX_FORMULA_DEPTH} levels "
                                  "deep; simplify it")
        if nodes > MAX_FORMULA_NODES:
            raise UnsupportedNode(f"the formula has more than {MAX_FORMULA_NODES} parts; "
                                  "simplify it")
        if isinstance(node, Mapping) and isinstance(node.get("args"), list):
            stack.extend((arg, depth + 1) for arg in node["args"])


_PRECEDENCE = {"=": 1, "!=": 1, "<": 1, "<=": 1, ">": 1, ">=": 1, "+": 2, "-": 2, "*": 3,
               "/": 3, "neg": 4}


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def format_formula(tree: Mapping[str, Any]) -> str:
    """Text for an expression tree, with only the parentheses precedence needs."""
    return _format(tree, 0)


def _format(node: Any, parent: int, right_side: bool = False) -> str:
    if not isinstance(node, Mapping):
        return repr(node)
    if "num" in node:
        return str(node["num"])
    if "str" in node:
        return _quote(str(node["str"]))
    if "bool" in node:
        return "TRUE" if node["bool"] else "FALSE"
    if "null" in node:
        return "NULL"
    if "ref" in node:
        return str(node["ref"])
    args = node.get("args") or []
    if "fn" in node:
        return f"{node['fn']}({', '.join(_format(a, 0) for a in args)})"
    op = str(node.get("op"))
    level = _PRECEDENCE.get(op, 0)
    if op == "neg":
        text = "-" + _format(args[0], level)
    elif len(args) == 2:
        # left-associative: a right operand of the same level needs parentheses, and so does
        # any operand of a comparison that is itself a comparison
        text = (f"{_format(args[0], level + (1 if level == 1 else 0))} {op} "
                f"{_format(args[1], level, right_side=True)}")
    else:
        return repr(dict(node))
    if level < parent or (level == parent and right_side):
        return f"({text})"
    return text
