"""Bind a JSON condition tree to the bound nodes of ``ir`` (checked once for both compilers).

Binding resolves every field against the context's scope, converts literals to their field's
type, checks each operator's value shape and the kinds it compares, fixes relative-date windows
with the injected clock and resolves related forms to their link columns. Any problem raises
``UnsupportedNode`` (``BadLiteral`` for a literal that does not convert) naming the node and
the fix, before any SQL exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from lendbase.conditions import ir
from lendbase.conditions.bind_expr import (
    KIND_NAMES,
    ExpressionBinder,
    is_path,
    mismatch,
    number_literal,
    text_literal,
    unify,
)
from lendbase.conditions.context import (
    ANY,
    BOOL,
    DATE,
    DATETIME,
    INT,
    MULTI,
    NULL,
    NUM,
    NUMERIC,
    TEXT,
    ConditionContext,
    FieldInfo,
)
from lendbase.conditions.dates import UNITS, relative_window, unit_name
from lendbase.conditions.errors import BadLiteral, UnsupportedNode
from lendbase.forms.values import LiteralValueError, text_problem

#: Plain values a condition may compare with (``date`` covers ``datetime``).
SCALARS = (str, int, float, Decimal, date)
COMPARE_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
ORDERING = frozenset({"<", "<=", ">", ">="})
TEXT_OPS = frozenset({"contains", "starts_with", "ends_with"})
NO_VALUE = frozenset({"is_empty", "is_not_empty", "is_true", "is_false"})
MULTI_OPS = {"any_of": "any", "all_of": "all", "none_of": "none"}
RELATIVE_OPS = frozenset({"in_last", "in_next", "more_than_ago", "in_period"})
OPERATORS = (*sorted(COMPARE_OPS), "between", "in", "not_in", "is_empty", "is_not_empty",
             "contains", "starts_with", "ends_with", "is_true", "is_false", "any_of", "all_of",
             "none_of", "in_last", "in_next", "more_than_ago", "in_period")
AGGREGATES = ("count", "sum", "min", "max")
#: Tests that are never unknown, and their complements (a missing referenced record holds
#: the test when it does not hold the complement).
_NEVER_UNKNOWN = {"is_empty": "is_not_empty", "none_of": "any_of"}
LEFT_KEYS = ("field", "formula", "expr", *AGGREGATES)
#: Options a leaf may carry, and the operators they apply to.
OPTIONS = {"case_sensitive": TEXT_OPS, "include_current": {"in_last", "in_next",
                                                           "more_than_ago"},
           "offset": {"in_period"}, "to_date": {"in_period"}}
MAX_RELATIVE_AMOUNT = 100_000
#: How a literal's expected type reads in a message, by form field type.
TYPE_NAMES = {"integer": "a whole number", "decimal": "a number", "money": "an amount",
              "percent": "a percentage", "date": "a date (YYYY-MM-DD)",
              "datetime": "a date and time (YYYY-MM-DDTHH:MM)", "boolean": "true or false",
              "reference": "a record id", "user": "a user id", "file": "a file id"}
_RELATED_KEYS = {"form", "link", "where", "field", "formula"}


def _is_scalar(v: Any) -> bool:
    return isinstance(v, SCALARS)


def _is_expression(v: Any) -> bool:
    return isinstance(v, Mapping) and len(v) == 1 and next(iter(v)) in ("field", "formula",
                                                                        "expr")


def check_value(key: str, op: str, value: Any) -> None:
    """Refuse a leaf on field ``key`` whose value has the wrong shape for ``op`` (raises
    ``UnsupportedNode``)."""
    check_shape(repr(key), op, value)


def check_shape(label: str, op: str, value: Any) -> None:
    """``check_value`` for any left side, named by ``label`` in the message."""
    where = f"condition on {label} with {op!r}"
    if op in NO_VALUE:
        if value is not None:
            raise UnsupportedNode(f"{where} takes no value; remove \"value\"")
    elif op in {"=", "!="}:
        if value is not None and not _is_scalar(value) and not _is_expression(value):
            raise UnsupportedNode(f"{where} needs a single value (text, number or yes/no) or "
                                  "{\"field\": key} / {\"formula\": text}, not a list or object")
    elif op in ORDERING:
        if isinstance(value, bool) or not (_is_scalar(value) or _is_expression(value)):
            raise UnsupportedNode(f"{where} needs a single number, date or text value, or "
                                  "{\"field\": key} / {\"formula\": text}")
    elif op in {"in", "not_in", *MULTI_OPS}:
        if (not isinstance(value, list) or not value
                or not all(_is_scalar(v) for v in value)):
            raise UnsupportedNode(f"{where} needs a non-empty list of values, e.g. [\"a\", \"b\"]")
    elif op == "between":
        if (not isinstance(value, list) or len(value) != 2
                or not all((_is_scalar(v) and not isinstance(v, bool)) or _is_expression(v)
                           for v in value)):
            raise UnsupportedNode(f"{where} needs a list of two values [low, high]")
    elif op in TEXT_OPS:
        if not isinstance(value, str) and not _is_expression(value):
            raise UnsupportedNode(f"{where} needs a text value")
        # Text ops keep their literal (no coercion), so plain-text rules are checked here.
        if isinstance(value, str) and text_problem(value):
            raise UnsupportedNode(f"{where}: the text contains control characters or an "
                                  "invalid (lone surrogate) character; remove them")


def check_tree(node: Any, max_depth: int, max_leaves: int) -> None:
    """Refuse trees nested deeper than ``max_depth`` or with more than ``max_leaves``
    comparisons, without recursion (a 5000-deep tree must not overflow the stack). The
    ``where`` of a related-records node nests one level deeper and its leaves count too."""
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
            continue
        if "not" in current:
            stack.append((current["not"], depth + 1))
            continue
        related = next((current[k] for k in ("exists", *AGGREGATES) if k in current), None)
        if related is not None or any(k in current for k in LEFT_KEYS):
            leaves += 1
            if leaves > max_leaves:
                raise UnsupportedNode(f"the condition has more than {max_leaves} comparisons; "
                                      "narrow it down")
            if "field" in current and not isinstance(current["field"], str):
                raise UnsupportedNode("\"field\" must be a field key (text)")
        if isinstance(related, Mapping) and related.get("where") is not None:
            stack.append((related["where"], depth + 1))


def kind_of_value(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, (Decimal, float)):
        return NUM
    if isinstance(value, str):
        return TEXT
    if isinstance(value, datetime):
        return DATETIME
    if isinstance(value, date):
        return DATE
    return ANY


class ConditionBinder:
    """JSON condition -> bound nodes, in ``ctx.scope``; one ``visit_<node>`` per node type."""

    def __init__(self, ctx: ConditionContext) -> None:
        self.ctx = ctx

    def bind(self, node: Any) -> ir.Node:
        """The bound tree of a whole condition; its depth and width are checked first."""
        check_tree(node, self.ctx.max_depth, self.ctx.max_leaves)
        return self._bind(node)

    def _bind(self, node: Any) -> ir.Node:
        if not isinstance(node, Mapping) or not node:
            raise UnsupportedNode(f"a condition must be a non-empty object, got {node!r}")
        for kind in ("and", "or", "not", "exists"):
            if kind in node:
                return getattr(self, f"visit_{kind}")(node)  # type: ignore[no-any-return]
        if any(k in node for k in LEFT_KEYS):
            return self.visit_leaf(node)
        raise UnsupportedNode(f"unknown condition node with keys {sorted(map(str, node))}; use "
                              "and / or / not / exists / field / formula / count / sum / min "
                              "/ max")

    # --- groups -----------------------------------------------------------------------------
    def _parts(self, node: Mapping[str, Any], key: str) -> tuple[ir.Node, ...]:
        parts = node[key]
        if not isinstance(parts, list):
            raise UnsupportedNode("\"and\" / \"or\" take a list of conditions")
        return tuple(self._bind(p) for p in parts)

    def visit_and(self, node: Mapping[str, Any]) -> ir.Node:
        return ir.And(self._parts(node, "and"))

    def visit_or(self, node: Mapping[str, Any]) -> ir.Node:
        return ir.Or(self._parts(node, "or"))

    def visit_not(self, node: Mapping[str, Any]) -> ir.Node:
        # A failed comparison (unknown) is false, so NOT of it is true: the two-valued
        # behaviour of conditions, the same in SQL and in Python.
        return ir.Not(ir.Truth(self._bind(node["not"])))

    # --- related records --------------------------------------------------------------------
    def _related(self, name: str, spec: Any) -> tuple[Any, ConditionContext, ir.Node | None]:
        example = ("{\"" + name + "\": {\"form\": \"installment\", \"link\": \"customer\", "
                   "\"where\": {...}}}")
        if not isinstance(spec, Mapping):
            raise UnsupportedNode(f"\"{name}\" takes an object, e.g. {example}")
        unknown = sorted(set(map(str, spec)) - _RELATED_KEYS)
        if unknown:
            raise UnsupportedNode(f"\"{name}\" does not take {', '.join(unknown)}; it takes "
                                  "form, link, where (and field for sum / min / max)")
        if self.ctx.schema is None:
            raise UnsupportedNode(
                f"\"{name}\" reads related records, which needs the schema of the installed "
                "forms; compile with a ConditionContext that has a schema (list filters have "
                "none: use a segment or a report)")
        relation = self.ctx.schema.relation(self.ctx.scope, spec.get("form"), spec.get("link"))
        inner = self.ctx.within(relation.scope)
        where = spec.get("where")
        bound = None if where is None else ConditionBinder(inner)._bind(where)
        return relation, inner, bound

    def visit_exists(self, node: Mapping[str, Any]) -> ir.Node:
        extra = sorted(set(map(str, node)) - {"exists"})
        if extra:
            raise UnsupportedNode(f"\"exists\" stands alone; remove {', '.join(extra)} (to "
                                  "count rows use {\"count\": {...}, \"op\": ..., \"value\": ...})")
        relation, _inner, where = self._related("exists", node["exists"])
        return ir.Exists(relation, where)

    def _aggregate(self, name: str, spec: Any) -> ir.Aggregate:
        relation, inner, where = self._related(name, spec)
        if name == "count":
            if "field" in spec or "formula" in spec:
                raise UnsupportedNode("\"count\" counts rows and takes no field; use sum / min "
                                      "/ max for a field")
            return ir.Aggregate("count", relation, None, where, INT)
        binder = ExpressionBinder(inner)
        if "field" in spec:
            value = binder.key(spec["field"])
        elif "formula" in spec:
            value = binder.bind_text(spec["formula"])
        else:
            raise UnsupportedNode(f"\"{name}\" needs \"field\": the key of the field of "
                                  f"{relation.form!r} to aggregate")
        allowed = NUMERIC if name == "sum" else NUMERIC | {DATE, DATETIME}
        if value.kind not in allowed | {ANY}:
            raise UnsupportedNode(
                f"\"{name}\" of {relation.form}.{spec.get('field', 'formula')} needs "
                + ("numbers" if name == "sum" else "numbers or dates")
                + f", not {KIND_NAMES.get(value.kind, value.kind)}")
        return ir.Aggregate(name, relation, value, where, value.kind)

    # --- leaves -----------------------------------------------------------------------------
    def _left(self, node: Mapping[str, Any]) -> tuple[ir.Node, FieldInfo | None, str]:
        present = [k for k in LEFT_KEYS if k in node]
        if len(present) != 1:
            raise UnsupportedNode(f"a comparison has one left side; it has {present}: keep one "
                                  "of field / formula / expr / count / sum / min / max")
        key = present[0]
        if key == "field":
            if is_path(self.ctx, node["field"]):
                path = node["field"]
                return ExpressionBinder(self.ctx).key(path), None, f"{path!r}"
            info = self.ctx.scope.field(node["field"])
            if info.formula is not None:
                return ExpressionBinder(self.ctx).field(info), None, f"{info.key!r}"
            return ir.Col(info), info, f"{info.key!r}"
        if key == "formula":
            text = node["formula"]
            return ExpressionBinder(self.ctx).bind_text(text), None, f"formula {text!r}"
        if key == "expr":
            return ExpressionBinder(self.ctx).bind_tree(node["expr"]), None, "expression"
        spec = node[key]
        aggregate = self._aggregate(key, spec)
        return aggregate, None, f"{key} of {aggregate.relation.form}"

    def visit_leaf(self, node: Mapping[str, Any]) -> ir.Node:
        path = node.get("field")
        if is_path(self.ctx, path) and not _is_expression(node.get("value")):
            # The whole test runs on the referenced record, so it can use what only that
            # record's columns allow (keyed hashes of encrypted fields, multiple choice).
            return self._lookup_leaf(node, str(path))
        raw_op = node.get("op", "=")
        op = raw_op.strip().replace(" ", "_") if isinstance(raw_op, str) else raw_op
        if op not in OPERATORS:
            raise UnsupportedNode(f"operator {raw_op!r} is not supported; use one of: "
                                  f"{', '.join(OPERATORS)}")
        left, info, label = self._left(node)
        value = node.get("value")
        for option, ops in OPTIONS.items():
            if option in node and op not in ops:
                raise UnsupportedNode(f"condition on {label}: {option!r} applies to "
                                      f"{', '.join(sorted(ops))}, not to {op!r}")
        if op not in RELATIVE_OPS:
            check_shape(label, op, value)
        if info is not None and info.sensitive:
            return self._secret(info, op, value, label)
        if left.kind == MULTI:
            return self._multi(left, info, op, value, label)
        if op in COMPARE_OPS:
            return self._compare(node, left, info, op, value, label)
        if op == "between":
            assert isinstance(value, list)  # checked by check_value
            low = self._operand(left, info, op, value[0], label)
            high = self._operand(left, info, op, value[1], label)
            return ir.Between(left, low, high)
        if op in ("in", "not_in"):
            assert isinstance(value, list)
            values = tuple(self._literal(left, info, op, v, label).value for v in value)
            return ir.InList(left, values, op == "not_in")
        if op in ("is_empty", "is_not_empty"):
            return ir.Empty(left, op == "is_not_empty")
        if op in TEXT_OPS:
            return self._text(node, left, op, value, label)
        if op in ("is_true", "is_false"):
            if left.kind not in (BOOL, ANY):
                raise UnsupportedNode(f"condition on {label}: {op!r} applies to yes/no fields, "
                                      f"not to {KIND_NAMES.get(left.kind, left.kind)}")
            return ir.Cmp("=", left, ir.Lit(op == "is_true", BOOL))
        if op in MULTI_OPS:
            raise UnsupportedNode(f"condition on {label}: {op!r} applies to multiple-choice "
                                  "fields; use in / not_in for a single choice")
        return self._relative(node, left, op, value, label)

    def _lookup_leaf(self, node: Mapping[str, Any], path: str) -> ir.Node:
        """A leaf on a referenced record's field. It is unknown when there is no such record,
        except for the tests that are never unknown: without a record the field "is empty"
        and holds "none of" the options (as an empty field of the form itself would)."""
        assert self.ctx.schema is not None
        ref, relation, rest = self.ctx.schema.lookup(self.ctx.scope, path)
        inner = ConditionBinder(self.ctx.within(relation.scope))
        complement = _NEVER_UNKNOWN.get(str(node.get("op", "")).strip().replace(" ", "_"))
        if complement is None:
            return ir.Lookup(ref, relation, inner.visit_leaf({**node, "field": rest}))
        positive = ir.Lookup(ref, relation,
                             inner.visit_leaf({**node, "field": rest, "op": complement}))
        return ir.Not(ir.Truth(positive))

    def _compare(self, node: Mapping[str, Any], left: ir.Node, info: FieldInfo | None,
                 op: str, value: Any, label: str) -> ir.Node:
        if op in ORDERING and left.kind == BOOL:
            raise UnsupportedNode(f"condition on {label} with {op!r} cannot order yes/no "
                                  "values; use = or !=")
        right = self._operand(left, info, op, value, label)
        if op in ORDERING and right.kind == BOOL:
            raise UnsupportedNode(f"condition on {label} with {op!r} cannot order yes/no "
                                  "values; use = or !=")
        return ir.Cmp(op, left, right)

    def _operand(self, left: ir.Node, info: FieldInfo | None, op: str, value: Any,
                 label: str) -> ir.Node:
        if _is_expression(value):
            right = self.expression(value)
            if unify(left.kind, right.kind) is None:
                raise UnsupportedNode(f"condition on {label} with {op!r}: "
                                      f"{mismatch(left.kind, right.kind)}")
            return right
        return self._literal(left, info, op, value, label)

    def expression(self, value: Mapping[str, Any]) -> ir.Node:
        """A value given as ``{"field": key}``, ``{"formula": text}`` or ``{"expr": tree}``."""
        binder = ExpressionBinder(self.ctx)
        if "field" in value:
            return binder.key(value["field"])
        if "formula" in value:
            return binder.bind_text(value["formula"])
        return binder.bind_tree(value["expr"])

    def _literal(self, left: ir.Node, info: FieldInfo | None, op: str, value: Any,
                 label: str) -> ir.Lit:
        """A literal converted to the type of what it is compared with."""
        if value is None:
            return ir.Lit(None, NULL)
        coerce = self.ctx.scope.coerce
        if info is not None and coerce is not None:
            try:
                converted = coerce(info.key, value)
            except LiteralValueError as exc:
                expected = TYPE_NAMES.get(exc.type, f"a {exc.type} value")
                raise BadLiteral(f"field {exc.key!r} compares with {expected}: {exc.text}",
                                 exc.key, exc.type, exc.text) from None
        else:
            converted = coerce_kind(left.kind, value, label, self.ctx.tz)
        if op in ORDERING | {"between"} and isinstance(converted, bool):
            raise UnsupportedNode(f"condition on {label} with {op!r} cannot order yes/no "
                                  "values; use = or !=")
        kind = kind_of_value(converted)
        return ir.Lit(converted, kind if kind != ANY else left.kind)

    def _text(self, node: Mapping[str, Any], left: ir.Node, op: str, value: Any,
              label: str) -> ir.Node:
        sensitive = node.get("case_sensitive", False)
        if not isinstance(sensitive, bool):
            raise UnsupportedNode(f"condition on {label}: \"case_sensitive\" is true or false")
        if left.kind in (BOOL, MULTI, NULL):
            raise UnsupportedNode(f"condition on {label}: {op!r} matches text, not "
                                  f"{KIND_NAMES[left.kind]}")
        if _is_expression(value):
            pattern = self.expression(value)
            if pattern.kind not in (TEXT, ANY, NULL):
                raise UnsupportedNode(f"condition on {label}: {op!r} needs a text pattern, "
                                      f"not {KIND_NAMES.get(pattern.kind, pattern.kind)}")
        else:
            # Text matching compares the literal as text: it is not converted to the field's
            # type (so "12" finds 12.50 in an amount).
            pattern = text_literal(value)
        return ir.TextMatch(op, left, pattern, sensitive)

    def _multi(self, left: ir.Node, info: FieldInfo | None, op: str, value: Any,
               label: str) -> ir.Node:
        """Multiselect: = / in hold any of, != / not_in hold none of; any_of / all_of /
        none_of as named."""
        if op in ("is_empty", "is_not_empty"):
            return ir.Empty(left, op == "is_not_empty")
        mode = MULTI_OPS.get(op) or {"=": "any", "in": "any", "!=": "none",
                                     "not_in": "none"}.get(op)
        if mode is None:
            raise UnsupportedNode(f"condition on {label}: {op!r} does not apply to a multiple "
                                  "choice; use any_of / all_of / none_of (or = / in / != / "
                                  "not_in), is_empty")
        if value is None or _is_expression(value):
            raise UnsupportedNode(f"condition on {label} with {op!r} needs option values, "
                                  "e.g. [\"vip\"]")
        items = value if isinstance(value, list) else [value]
        values: list[str] = []
        for item in items:
            converted = self._literal(ir.Lit(None, TEXT), info, op, item, label).value
            if not isinstance(converted, str):
                raise UnsupportedNode(f"condition on {label}: option values are text, got "
                                      f"{item!r}")
            values.append(converted)
        return ir.MultiMatch(mode, left, tuple(values))

    def _secret(self, info: FieldInfo, op: str, value: Any, label: str) -> ir.Node:
        """An encrypted field: only equality (by keyed hash in SQL) and emptiness."""
        if op in ("is_empty", "is_not_empty"):
            return ir.Empty(ir.Col(info), op == "is_not_empty")
        if op not in ("=", "!=", "in", "not_in") or _is_expression(value):
            raise UnsupportedNode(
                f"field {info.key!r} is encrypted: conditions can only compare it with a "
                "literal by =, !=, in or not_in (through its keyed hash), or test is_empty")
        if value is None:  # = / != NULL: never true, as for any field
            return ir.Cmp(op, ir.Col(info), ir.Lit(None, NULL))
        items = value if isinstance(value, list) else [value]
        plain = tuple(self._literal(ir.Col(info), info, op, v, label).value for v in items)
        hashes = None
        lookup = self.ctx.lookup_hash
        if lookup is not None and info.hash_column is not None:
            hashes = tuple(lookup(self.ctx.scope.key, info.key, str(v)) for v in plain)
        return ir.SecretIn(info, plain, hashes, op in ("!=", "not_in"))

    def _relative(self, node: Mapping[str, Any], left: ir.Node, op: str, value: Any,
                  label: str) -> ir.Node:
        where = f"condition on {label} with {op!r}"
        if left.kind not in (DATE, DATETIME, ANY):
            raise UnsupportedNode(f"{where}: relative dates apply to date and date-time "
                                  f"fields, not to {KIND_NAMES.get(left.kind, left.kind)}")
        if self.ctx.now is None:
            raise UnsupportedNode(f"{where}: relative dates need the current time; compile "
                                  "with a ConditionContext that has now=")
        include = node.get("include_current", True)
        offset = node.get("offset", 0)
        to_date = node.get("to_date", False)
        if not isinstance(include, bool) or not isinstance(to_date, bool):
            raise UnsupportedNode(f"{where}: include_current and to_date are true or false")
        if isinstance(offset, bool) or not isinstance(offset, int) \
                or abs(offset) > MAX_RELATIVE_AMOUNT:
            raise UnsupportedNode(f"{where}: \"offset\" is a whole number of periods, e.g. -1 "
                                  "for the previous one")
        units = ", ".join(f'"{u}"' for u in UNITS)
        if op == "in_period":
            unit = unit_name(value)
            if unit is None:
                raise UnsupportedNode(f"{where} needs a period: one of {units} (\"today\" is "
                                      "\"day\"), e.g. \"month\"")
            amount = 0
        else:
            if (not isinstance(value, list) or len(value) != 2 or isinstance(value[0], bool)
                    or not isinstance(value[0], int) or unit_name(value[1]) is None
                    or not 0 <= value[0] <= MAX_RELATIVE_AMOUNT):
                raise UnsupportedNode(f"{where} needs [n, unit] with n a whole number from 0 "
                                      f"to {MAX_RELATIVE_AMOUNT} and unit one of {units}, "
                                      "e.g. [12, \"month\"]")
            amount, unit = value[0], str(unit_name(value[1]))
        kinds = (DATE, DATETIME) if left.kind == ANY else (left.kind,)
        windows = {}
        assert self.ctx.now is not None
        try:
            for kind in kinds:
                windows[kind] = relative_window(op, amount, unit, kind=kind, now=self.ctx.now,
                                                tz=self.ctx.tz, include_current=include,
                                                offset=offset, to_date=to_date)
        except (OverflowError, ValueError):
            raise UnsupportedNode(f"{where}: the window goes beyond the calendar; use fewer "
                                  "units") from None
        return ir.InWindow(left, windows.get(DATE), windows.get(DATETIME))


def coerce_kind(kind: str, value: Any, label: str, tz: tzinfo = UTC) -> Any:
    """A literal as a value of ``kind`` (for formulas, aggregates and bare tables); a
    date-time without an offset is read in ``tz`` and returned in UTC."""
    problem = f"condition on {label} compares with {KIND_NAMES.get(kind, kind)}"
    if isinstance(value, str) and text_problem(value):
        raise BadLiteral(f"{problem}: {text_problem(value)}", label, kind, str(text_problem(value)))
    try:
        if kind in (ANY, NULL):
            return value
        if kind == BOOL:
            if isinstance(value, bool):
                return value
        elif kind == TEXT or kind == MULTI:
            if isinstance(value, str):
                return value
            if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
                return str(value)
        elif kind in NUMERIC:
            if not isinstance(value, bool) and isinstance(value, (int, float, Decimal, str)):
                lit = number_literal(str(value).strip())
                if kind == INT and lit.kind == INT:
                    return lit.value
                return Decimal(lit.value) if kind == NUM or lit.kind == NUM else lit.value
        elif kind == DATE:
            if isinstance(value, date) and not isinstance(value, datetime):
                return value
            if isinstance(value, str):
                return date.fromisoformat(value)
        elif kind == DATETIME:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else value
            if isinstance(moment, datetime):
                return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).astimezone(UTC)
    except (ValueError, InvalidOperation, UnsupportedNode):
        pass
    raise BadLiteral(f"{problem}: {str(value)[:40]!r} does not convert", label, kind,
                     str(value)[:40])

