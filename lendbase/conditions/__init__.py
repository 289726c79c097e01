"""The condition language (DESIGN.md, docs/conditions.md): one JSON tree for visibility, flow
gateways, rules, segments, report filters and row permissions, with formulas in a readable
text syntax. It compiles to a SQLAlchemy expression for sets of rows (``compile_sql``) and to a
Python predicate for one record (``compile_predicate``); both bind the tree the same way
(``bind``), so they give the same answer.
"""

from lendbase.conditions.context import (
    ConditionContext,
    ConditionSchema,
    FieldInfo,
    FormScope,
    Relation,
)
from lendbase.conditions.errors import BadLiteral, FormulaError, UnsupportedNode
from lendbase.conditions.expr_py import RelatedRows
from lendbase.conditions.formula import format_formula, parse_formula
from lendbase.conditions.predicate import (
    Predicate,
    compile_predicate,
    evaluate,
    evaluate_formula,
)
from lendbase.conditions.resolvers import SqlRelatedRows, rows_resolver
from lendbase.conditions.sql import SqlConditionCompiler, compile_formula_sql, compile_sql

__all__ = [
    "BadLiteral",
    "ConditionContext",
    "ConditionSchema",
    "FieldInfo",
    "FormScope",
    "FormulaError",
    "Predicate",
    "RelatedRows",
    "Relation",
    "SqlConditionCompiler",
    "SqlRelatedRows",
    "UnsupportedNode",
    "compile_formula_sql",
    "compile_predicate",
    "compile_sql",
    "evaluate",
    "evaluate_formula",
    "format_formula",
    "parse_formula",
    "rows_resolver",
]
