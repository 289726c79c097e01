"""Compile a condition tree into a SQLAlchemy expression (the set compiler).

``compile_sql(node, context)`` binds the tree against the context's scope
(``lendbase.conditions.bind``) and compiles it with ``expr_sql.SqlCompiler``: one expression
for the WHERE clause of a single statement. ``SqlConditionCompiler`` keeps the older
table-based call (a bare table, a column map, a literal coercer) working.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Table

from lendbase.conditions.bind import ConditionBinder
from lendbase.conditions.bind_expr import ExpressionBinder
from lendbase.conditions.context import MAX_DEPTH, MAX_LEAVES, ConditionContext, FormScope
from lendbase.conditions.errors import UnsupportedNode
from lendbase.conditions.expr_sql import SqlCompiler


def compile_sql(node: Mapping[str, Any], context: ConditionContext) -> ColumnElement[bool]:
    """The SQL of a condition over ``context.scope.table``; raises ``UnsupportedNode`` (or
    its ``BadLiteral`` / ``FormulaError``) naming the node and the fix."""
    table = context.scope.table
    if table is None:
        raise UnsupportedNode(f"scope {context.scope.key!r} has no table; build the context "
                              "from the compiled schema to compile SQL")
    bound = ConditionBinder(context).bind(node)
    return SqlCompiler(context, table).compile(bound)  # type: ignore[no-any-return]


def compile_formula_sql(formula: str | Mapping[str, Any], context: ConditionContext) -> Any:
    """The SQL value of a formula (text, or an expression tree) over the scope's table, e.g.
    a computed column of a report."""
    table = context.scope.table
    if table is None:
        raise UnsupportedNode(f"scope {context.scope.key!r} has no table")
    binder = ExpressionBinder(context)
    bound = binder.bind_text(formula) if isinstance(formula, str) else binder.bind_tree(formula)
    return SqlCompiler(context, table).compile(bound)


class SqlConditionCompiler:
    """A condition over one bare table (no related forms).

    ``columns`` maps field keys to column names (None: every column by its name), ``coerce``
    converts literals, ``multi_valued`` names multiselect (JSON array) columns. Pass
    ``context`` instead to compile with full metadata (relative dates, related records).
    """

    def __init__(self, table: Table, columns: Mapping[str, str] | None = None,
                 coerce: Callable[[str, Any], Any] | None = None,
                 multi_valued: set[str] | None = None, max_depth: int = MAX_DEPTH,
                 max_leaves: int = MAX_LEAVES, *, context: ConditionContext | None = None
                 ) -> None:
        self.context = context or ConditionContext(
            FormScope.for_table(table, columns, coerce, multi_valued or set()),
            max_depth=max_depth, max_leaves=max_leaves)
        self.table = table

    def compile(self, node: Mapping[str, Any]) -> ColumnElement[bool]:
        """The SQL of a whole tree; its depth and width are checked first."""
        bound = ConditionBinder(self.context).bind(node)
        return SqlCompiler(self.context, self.table).compile(bound)  # type: ignore[no-any-return]


def compile_condition(node: Mapping[str, Any], table: Table, **kwargs: Any) -> ColumnElement[bool]:
    return SqlConditionCompiler(table, **kwargs).compile(node)


__all__ = ["SqlConditionCompiler", "compile_condition", "compile_formula_sql", "compile_sql"]
