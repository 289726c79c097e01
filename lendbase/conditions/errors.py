"""Errors of the condition language: every refusal names the node and says how to fix it."""

from __future__ import annotations

from collections.abc import Sequence

from lendbase.errors import CompileError


class UnsupportedNode(CompileError):
    """A condition or formula node that cannot be compiled (bad shape, unknown field or
    operator, wrong types); the message names the node and the fix."""

    code = "unsupported_condition"


class FormulaError(UnsupportedNode):
    """A formula that does not parse. ``column`` is 1-based; ``expected`` lists what would
    have been accepted at that point."""

    code = "formula_syntax"

    def __init__(self, message: str, column: int = 0, expected: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.column = column
        self.expected = tuple(expected)


class BadLiteral(UnsupportedNode):
    """A literal that does not convert to the type of what it is compared with."""

    code = "bad_literal"

    def __init__(self, message: str, key: str, type_: str, text: str) -> None:
        super().__init__(message)
        self.key = key
        self.type = type_
        self.text = text
