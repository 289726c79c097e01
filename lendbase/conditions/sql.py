"""Compile a condition tree into a SQLAlchemy expression over a table (the set compiler).

Accepts the same nodes as ``lendbase.conditions.predicate``; identifiers come only from the form's
fields and values are always bound parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Table, Text, and_, cast, false, func, not_, or_, true

from lendbase.conditions.predicate import (
    MAX_DEPTH,
    MAX_LEAVES,
    OPERATORS,
    TEXT_OPS,
    UnsupportedNode,
    check_coerced,
    check_tree,
    check_value,
)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlConditionCompiler:
    """Visitor from condition nodes to SQL; one ``visit_<node>`` per node type."""

    def __init__(self, table: Table, columns: Mapping[str, str] | None = None,
                 coerce: Callable[[str, Any], Any] | None = None,
                 multi_valued: set[str] | None = None, max_depth: int = MAX_DEPTH,
                 max_leaves: int = MAX_LEAVES) -> None:
        self.table = table
        self.columns = columns  # field key -> column name; None = every column by its name
        self.coerce = coerce
        self.multi_valued = multi_valued or set()
        self.max_depth = max_depth
        self.max_leaves = max_leaves

    def compile(self, node: Mapping[str, Any]) -> ColumnElement[bool]:
        """The SQL of a whole tree; its depth and width are checked first."""
        check_tree(node, self.max_depth, self.max_leaves)
        return self._compile(node)

    def _compile(self, node: Mapping[str, Any]) -> ColumnElement[bool]:
        if not isinstance(node, Mapping) or not node:
            raise UnsupportedNode(f"a condition must be a non-empty object, got {node!r}")
        for kind in ("and", "or", "not", "field"):
            if kind in node:
                return getattr(self, f"visit_{kind}")(node)
        raise UnsupportedNode(f"unknown condition node with keys {sorted(node)}; "
                              "use and / or / not / field")

    def visit_and(self, node: Mapping[str, Any]) -> ColumnElement[bool]:
        parts = [self._compile(n) for n in node["and"]]
        return and_(*parts) if parts else true()

    def visit_or(self, node: Mapping[str, Any]) -> ColumnElement[bool]:
        parts = [self._compile(n) for n in node["or"]]
        return or_(*parts) if parts else false()

    def visit_not(self, node: Mapping[str, Any]) -> ColumnElement[bool]:
        inner = self._compile(node["not"])
        # SQL NOT over NULL is NULL; the Python predicate treats a failed comparison as false,
        # so NOT of it is true. coalesce makes both agree.
        return not_(func.coalesce(inner, false()))

    def _column(self, key: str) -> Any:
        name = key if self.columns is None else self.columns.get(key)
        if name is None or name not in self.table.c:
            raise UnsupportedNode(f"condition refers to unknown field {key!r}")
        return self.table.c[name]

    def visit_field(self, node: Mapping[str, Any]) -> ColumnElement[bool]:
        op = node.get("op", "=")
        if op not in OPERATORS:
            raise UnsupportedNode(
                f"operator {op!r} is not supported; use one of: {', '.join(OPERATORS)}")
        key = node["field"]
        col = self._column(key)
        value = node.get("value")
        check_value(key, op, value)
        # Text matching compares the literal as text, so it is not converted (as in predicate).
        if self.coerce is not None and value is not None and op not in TEXT_OPS:
            value = ([self.coerce(key, v) for v in value] if isinstance(value, list)
                     else self.coerce(key, value))
            check_coerced(key, op, value)
        if op == "is_empty":
            return or_(col.is_(None), col == "") if _is_text(col) else col.is_(None)
        if op == "is_not_empty":
            return and_(col.is_not(None), col != "") if _is_text(col) else col.is_not(None)
        if key in self.multi_valued and op in {"=", "in"}:
            wanted = value if isinstance(value, list) else [value]
            # JSON array stored as text on SQLite, jsonb on PostgreSQL: match the quoted item.
            text = cast(col, Text())
            return or_(*[text.like(f'%"{_escape_like(str(v))}"%', escape="\\")
                         for v in wanted])
        if value is None:
            return false()
        if op in {"contains", "starts_with", "ends_with"}:
            pattern = _escape_like(str(value))
            pattern = {"contains": f"%{pattern}%", "starts_with": f"{pattern}%",
                       "ends_with": f"%{pattern}"}[op]
            # Non-text columns (numbers, dates) are matched on their text form, as in Python.
            target = col if _is_text(col) else cast(col, Text())
            return target.ilike(pattern, escape="\\")
        if op == "between":
            return col.between(value[0], value[1])
        if op == "in":
            return col.in_(list(value))
        if op == "not_in":
            return col.not_in(list(value))
        return {"=": col.__eq__, "!=": col.__ne__, "<": col.__lt__, "<=": col.__le__,
                ">": col.__gt__, ">=": col.__ge__}[op](value)


def _is_text(col: Any) -> bool:
    try:
        return col.type.python_type is str
    except NotImplementedError:
        return False


def compile_condition(node: Mapping[str, Any], table: Table, **kwargs: Any) -> ColumnElement[bool]:
    return SqlConditionCompiler(table, **kwargs).compile(node)
