"""Evaluate a condition tree against one record in memory (the Python predicate compiler).

This covers the comparison core used by form visibility and list filters: and / or / not,
=, !=, <, <=, >, >=, between, in, not_in, is_empty, is_not_empty, contains, starts_with,
ends_with. The SQL compiler (``lendbase.conditions.sql``) accepts the same nodes; relative dates,
arithmetic and aggregates over related records extend both in the rules issue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lendbase.errors import CompileError


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


def evaluate(node: Mapping[str, Any], record: Mapping[str, Any],
             coerce: Callable[[str, Any], Any] | None = None) -> bool:
    """True when ``record`` satisfies ``node``.

    ``coerce(field_key, value)`` turns a literal from the tree into the field's Python type
    (for example a date string into a ``date``) so comparisons are like for like.
    """
    if not isinstance(node, Mapping) or not node:
        raise UnsupportedNode(f"a condition must be a non-empty object, got {node!r}")
    if "and" in node:
        return all(evaluate(n, record, coerce) for n in node["and"])
    if "or" in node:
        return any(evaluate(n, record, coerce) for n in node["or"])
    if "not" in node:
        return not evaluate(node["not"], record, coerce)
    if "field" in node:
        op = node.get("op", "=")
        if op not in OPERATORS:
            raise UnsupportedNode(
                f"operator {op!r} is not supported; use one of: {', '.join(OPERATORS)}")
        key = node["field"]
        value = node.get("value")
        if coerce is not None and value is not None:
            if isinstance(value, list):
                value = [coerce(key, v) for v in value]
            else:
                value = coerce(key, value)
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
