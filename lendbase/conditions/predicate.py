"""Evaluate a condition tree against one record in memory (the Python predicate compiler).

``compile_predicate(node, context)`` binds the tree once (``lendbase.conditions.bind``) and
returns a ``Predicate`` to call per record; ``evaluate(node, record, coerce)`` is the one-shot
form that form visibility uses without metadata. The SQL compiler
(``lendbase.conditions.sql``) binds the same tree, so both accept and refuse the same nodes
and give the same answer (``tests/test_conditions_property.py`` holds them to it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lendbase.conditions import bind
from lendbase.conditions.bind import SCALARS, TEXT_OPS, ConditionBinder, check_value
from lendbase.conditions.bind_expr import ExpressionBinder
from lendbase.conditions.context import MAX_DEPTH, MAX_LEAVES, ConditionContext, FormScope
from lendbase.conditions.errors import UnsupportedNode
from lendbase.conditions.expr_py import PythonEvaluator, RelatedRows
from lendbase.conditions.ir import Node

#: Operator names of the condition language.
OPERATORS = bind.OPERATORS


class Predicate:
    """A bound condition, callable on records: ``predicate(record, related=None) -> bool``.

    ``related`` resolves related records (see ``lendbase.conditions.expr_py``); it is needed
    only when the condition has exists / count / sum / min / max nodes. Relative dates were
    fixed from the context's clock when the predicate was compiled.
    """

    def __init__(self, node: Node, context: ConditionContext) -> None:
        self.node = node
        self.context = context

    def __call__(self, record: Mapping[str, Any], related: RelatedRows | None = None) -> bool:
        return PythonEvaluator(self.context.tz, related).holds(self.node, record)


def compile_predicate(node: Mapping[str, Any], context: ConditionContext) -> Predicate:
    """The Python predicate of a condition; raises ``UnsupportedNode`` for a bad tree."""
    return Predicate(ConditionBinder(context).bind(node), context)


def evaluate(node: Mapping[str, Any], record: Mapping[str, Any],
             coerce: Callable[[str, Any], Any] | None = None, *,
             context: ConditionContext | None = None,
             related: RelatedRows | None = None) -> bool:
    """True when ``record`` satisfies ``node``.

    Without ``context`` any key of the record can be tested (no metadata), and
    ``coerce(field_key, value)`` turns a literal from the tree into the field's Python type
    (for example a date string into a ``date``) so comparisons are like for like.
    """
    ctx = context or ConditionContext(FormScope.for_record(coerce))
    return compile_predicate(node, ctx)(record, related)


def evaluate_formula(formula: str | Mapping[str, Any], record: Mapping[str, Any],
                     context: ConditionContext, related: RelatedRows | None = None) -> Any:
    """The value of a formula (text, or an expression tree) for one record; NULL is None."""
    binder = ExpressionBinder(context)
    bound = binder.bind_text(formula) if isinstance(formula, str) else binder.bind_tree(formula)
    return PythonEvaluator(context.tz, related).value(bound, record)


def check_tree(node: Any, max_depth: int = MAX_DEPTH, max_leaves: int = MAX_LEAVES) -> None:
    """Refuse trees nested deeper than ``max_depth`` or with more than ``max_leaves`` leaves."""
    bind.check_tree(node, max_depth, max_leaves)


def referenced_fields(node: Mapping[str, Any]) -> set[str]:
    """Field keys a condition's own leaves read (to check them against the form)."""
    if "and" in node or "or" in node:
        return set().union(*(referenced_fields(n) for n in node.get("and", node.get("or", []))))
    if "not" in node:
        return referenced_fields(node["not"])
    found = {node["field"]} if isinstance(node.get("field"), str) else set()
    value = node.get("value")
    if isinstance(value, Mapping) and isinstance(value.get("field"), str):
        found.add(value["field"])
    return found


__all__ = ["MAX_DEPTH", "MAX_LEAVES", "OPERATORS", "SCALARS", "TEXT_OPS", "Predicate",
           "UnsupportedNode", "check_tree", "check_value", "compile_predicate", "evaluate",
           "evaluate_formula", "referenced_fields"]
