"""Evaluate a condition tree against one record in memory (the Python predicate compiler).

This covers the comparison core used by form visibility and list filters: and / or / not,
=, !=, <, <=, >, >=, between, in, not_in, is_empty, is_not_empty, contains, starts_with,
ends_with. The SQL compiler (``lendbase.conditions.sql``) accepts the same nodes; relative dates,
arithmetic and aggregates over related records extend both in the rules issue.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from lendbase.errors import CompileError

#: Limits on condition trees taken from requests (deeper or wider trees are refused).
MAX_DEPTH = 20
MAX_LEAVES = 200
#: Plain values a condition may compare with (``date`` covers ``datetime``).
SCALARS = (str, int, float, Decimal, date)
_ORDERING = frozenset({"<", "<=", ">", ">="})
TEXT_OPS = frozenset({"contains", "starts_with", "ends_with"})
_NO_VALUE = frozenset({"is_empty", "is_not_empty"})
#: As ``lendbase.forms.values.text_problem``: C0 controls but tab / LF / CR, and lone surrogates.
_UNSAFE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class UnsupportedNode(CompileError):
    code = "unsupported_condition"


def _empty(v: Any) -> bool:
    return v is None or v == "" or v == [] or v == {}


def _cmp(fn: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def run(left: Any, right: Any) -> bool:
        if left is None or right is None:
            return False  # SQL semantics: a comparison with NULL is not true
        try:
            return fn(left, right)
        except TypeError:
            return False
    return run


def _text(fn: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def run(left: Any, right: Any) -> bool:
        if left is None or right is None:
            return False
        return fn(str(left).lower(), str(right).lower())
    return run


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": _cmp(lambda a, b: a == b),
    "!=": _cmp(lambda a, b: a != b),
    "<": _cmp(lambda a, b: a < b),
    "<=": _cmp(lambda a, b: a <= b),
    ">": _cmp(lambda a, b: a > b),
    ">=": _cmp(lambda a, b: a >= b),
    "between": _cmp(lambda a, b: b[0] <= a <= b[1]),
    "in": _cmp(lambda a, b: a in b),
    "not_in": _cmp(lambda a, b: a not in b),
    "contains": _text(lambda a, b: b in a),
    "starts_with": _text(lambda a, b: a.startswith(b)),
    "ends_with": _text(lambda a, b: a.endswith(b)),
    "is_empty": lambda a, _b: _empty(a),
    "is_not_empty": lambda a, _b: not _empty(a),
}


def _is_scalar(v: Any) -> bool:
    return isinstance(v, SCALARS)


def check_value(key: str, op: str, value: Any) -> None:
    """Refuse a leaf whose value has the wrong shape for ``op`` (raises ``UnsupportedNode``)."""
    where = f"condition on {key!r} with {op!r}"
    if op in _NO_VALUE:
        if value is not None:
            raise UnsupportedNode(f"{where} takes no value; remove \"value\"")
    elif op in {"=", "!="}:
        if value is not None and not _is_scalar(value):
            raise UnsupportedNode(f"{where} needs a single value (text, number or yes/no), "
                                  "not a list or object")
    elif op in _ORDERING:
        if isinstance(value, bool) or not _is_scalar(value):
            raise UnsupportedNode(f"{where} needs a single number, date or text value")
    elif op in {"in", "not_in"}:
        if (not isinstance(value, list) or not value
                or not all(_is_scalar(v) for v in value)):
            raise UnsupportedNode(f"{where} needs a non-empty list of values, e.g. [\"a\", \"b\"]")
    elif op == "between":
        if (not isinstance(value, list) or len(value) != 2
                or not all(_is_scalar(v) and not isinstance(v, bool) for v in value)):
            raise UnsupportedNode(f"{where} needs a list of two values [low, high]")
    elif op in TEXT_OPS:
        if not isinstance(value, str):
            raise UnsupportedNode(f"{where} needs a text value")
        # Text ops keep their literal (no coercion), so plain-text rules are checked here.
        if _UNSAFE_TEXT.search(value):
            raise UnsupportedNode(f"{where}: the text contains control characters or an "
                                  "invalid (lone surrogate) character; remove them")


def check_coerced(key: str, op: str, value: Any) -> None:
    """After coercion: ordering and ``between`` cannot compare yes/no values."""
    values = value if isinstance(value, list) else [value]
    if op in _ORDERING | {"between"} and any(isinstance(v, bool) for v in values):
        raise UnsupportedNode(f"condition on {key!r} with {op!r} cannot order yes/no values; "
                              "use = or !=")


def check_tree(node: Any, max_depth: int = MAX_DEPTH, max_leaves: int = MAX_LEAVES) -> None:
    """Refuse trees nested deeper than ``max_depth`` or with more than ``max_leaves`` leaves,
    without recursion (a 5000-deep tree must not overflow the stack)."""
    stack: list[tuple[Any, int]] = [(node, 1)]
    leaves = 0
    while stack:
        current, depth = stack.pop()
        if depth > max_depth:
            raise UnsupportedNode(f"the condition is nested more than {max_depth} levels deep; "
                                  "simplify it")
        if not isinstance(current, Mapping) or not current:
            raise UnsupportedNode("a condition must be a non-empty object")
        if "and" in current or "or" in current:
            parts = current["and"] if "and" in current else current["or"]
            if not isinstance(parts, list):
                raise UnsupportedNode("\"and\" / \"or\" take a list of conditions")
            stack.extend((p, depth + 1) for p in parts)
        elif "not" in current:
            stack.append((current["not"], depth + 1))
        elif "field" in current:
            leaves += 1
            if leaves > max_leaves:
                raise UnsupportedNode(f"the condition has more than {max_leaves} comparisons; "
                                      "narrow it down")
            if not isinstance(current["field"], str):
                raise UnsupportedNode("\"field\" must be a field key (text)")


def evaluate(node: Mapping[str, Any], record: Mapping[str, Any],
             coerce: Callable[[str, Any], Any] | None = None) -> bool:
    """True when ``record`` satisfies ``node``.

    ``coerce(field_key, value)`` turns a literal from the tree into the field's Python type
    (for example a date string into a ``date``) so comparisons are like for like.
    """
    if not isinstance(node, Mapping) or not node:
        raise UnsupportedNode(f"a condition must be a non-empty object, got {node!r}")
    if "and" in node or "or" in node:
        parts = node["and"] if "and" in node else node["or"]
        if not isinstance(parts, list):
            raise UnsupportedNode("\"and\" / \"or\" take a list of conditions")
        results = (evaluate(n, record, coerce) for n in parts)
        return all(results) if "and" in node else any(results)
    if "not" in node:
        return not evaluate(node["not"], record, coerce)
    if "field" in node:
        op = node.get("op", "=")
        if op not in OPERATORS:
            raise UnsupportedNode(
                f"operator {op!r} is not supported; use one of: {', '.join(OPERATORS)}")
        key = node["field"]
        value = node.get("value")
        check_value(key, op, value)
        # Text matching compares the literal as text, so it is not converted to the field's type.
        if coerce is not None and value is not None and op not in TEXT_OPS:
            if isinstance(value, list):
                value = [coerce(key, v) for v in value]
            else:
                value = coerce(key, value)
            check_coerced(key, op, value)
        left = record.get(key)
        if isinstance(left, list) and op in {"=", "in"}:  # multiselect holds any of
            wanted = value if isinstance(value, list) else [value]
            return any(v in left for v in wanted)
        return OPERATORS[op](left, value)
    raise UnsupportedNode(f"unknown condition node with keys {sorted(node)}; "
                          "use and / or / not / field")


def referenced_fields(node: Mapping[str, Any]) -> set[str]:
    """Field keys a condition reads (to check them against the form)."""
    if "and" in node or "or" in node:
        return set().union(*(referenced_fields(n) for n in node.get("and", node.get("or", []))))
    if "not" in node:
        return referenced_fields(node["not"])
    return {node["field"]} if "field" in node else set()
