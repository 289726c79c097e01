"""Evaluate bound nodes (``ir``) on one record in memory: the Python predicate compiler.

Records are mappings from field key to Python value (``Decimal``, ``date``, timezone-aware
``datetime``; a naive datetime is read as UTC, as the database stores it). NULL is ``None``
and unknown truth is ``None`` too (three-valued, as in SQL).

Related records come only through an explicit resolver (no database access here):

``related(form, link, record_id) -> Sequence[Mapping]`` returns the rows of ``form`` whose
reference field ``link`` holds ``record_id`` or, when ``form`` is the record's own form and
``link`` one of its sub-tables, that sub-table's rows of the record. Each row is a record
like the outer one (with its ``id`` when nested related conditions need it). A record without
an ``id`` (not saved yet) has no related rows and the resolver is not called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, DivisionByZero, InvalidOperation
from typing import Any, Protocol

from lendbase.conditions import ir
from lendbase.conditions.context import NUM, Relation
from lendbase.conditions.dates import Window, add_units, date_difference
from lendbase.conditions.errors import UnsupportedNode

Record = Mapping[str, Any]


class RelatedRows(Protocol):
    """The resolver of related records the Python predicate is given (see module doc)."""

    def __call__(self, form: str, link: str, record_id: Any) -> Sequence[Record]: ...


def read_value(value: Any) -> Any:
    """A record value as the evaluator compares it."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def _and(values: Sequence[Any]) -> bool | None:
    if any(v is False for v in values):
        return False
    return None if any(v is not True for v in values) else True


def _or(values: Sequence[Any]) -> bool | None:
    if any(v is True for v in values):
        return True
    return None if any(v is not False for v in values) else False


def _in_window(value: Any, window: Window | None) -> bool | None:
    if window is None:
        return None
    try:
        if window.low is not None:
            if value < window.low or (window.low_exclusive and value == window.low):
                return False
        if window.high is not None:
            if value > window.high or (window.high_exclusive and value == window.high):
                return False
    except TypeError:
        return None
    return True


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b), "!=": lambda a, b: bool(a != b),
    "<": lambda a, b: bool(a < b), "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b), ">=": lambda a, b: bool(a >= b),
}


class PythonEvaluator:
    """Evaluates bound nodes; one ``visit_<Node>`` per node class."""

    def __init__(self, tz: tzinfo, related: RelatedRows | None = None) -> None:
        self.tz = tz
        self.related = related
        self._rows: dict[tuple[str, str, Any], Sequence[Record]] = {}

    def value(self, node: ir.Node, record: Record) -> Any:
        method: Callable[[Any, Record], Any] = getattr(self, f"visit_{type(node).__name__}")
        return method(node, record)

    def holds(self, node: ir.Node, record: Record) -> bool:
        """Whether ``record`` satisfies a condition (unknown counts as no)."""
        return self.value(node, record) is True

    # --- values -----------------------------------------------------------------------------
    def visit_Lit(self, node: ir.Lit, record: Record) -> Any:
        return node.value

    def visit_Col(self, node: ir.Col, record: Record) -> Any:
        return read_value(record.get(node.field.key))

    def visit_Arith(self, node: ir.Arith, record: Record) -> Any:
        a, b = self.value(node.left, record), self.value(node.right, record)
        if a is None or b is None:
            return None
        try:
            if node.op == "/":
                return None if b == 0 else Decimal(a) / Decimal(b)
            if node.result_kind == NUM:
                a, b = Decimal(a), Decimal(b)
            return a + b if node.op == "+" else a - b if node.op == "-" else a * b
        except (TypeError, InvalidOperation, DivisionByZero):
            return None

    def visit_Neg(self, node: ir.Neg, record: Record) -> Any:
        value = self.value(node.arg, record)
        try:
            return None if value is None else -value
        except TypeError:
            return None

    # --- comparisons ------------------------------------------------------------------------
    def visit_Cmp(self, node: ir.Cmp, record: Record) -> bool | None:
        a, b = self.value(node.left, record), self.value(node.right, record)
        if a is None or b is None:
            return None
        if isinstance(a, list) and node.op == "=":  # a multiselect without metadata: holds
            return b in a
        try:
            return _COMPARE[node.op](a, b)
        except TypeError:
            return None

    def visit_Between(self, node: ir.Between, record: Record) -> bool | None:
        a = self.value(node.arg, record)
        low, high = self.value(node.low, record), self.value(node.high, record)
        if a is None:
            return None
        parts: list[bool | None] = []
        for bound, test in ((low, _COMPARE[">="]), (high, _COMPARE["<="])):
            try:
                parts.append(None if bound is None else test(a, bound))
            except TypeError:
                parts.append(None)
        return _and(parts)

    def visit_InList(self, node: ir.InList, record: Record) -> bool | None:
        a = self.value(node.arg, record)
        if a is None:
            return None
        if isinstance(a, list) and not node.negate:  # a multiselect without metadata
            return any(v in a for v in node.values)
        found = a in node.values
        return not found if node.negate else found

    def visit_InWindow(self, node: ir.InWindow, record: Record) -> bool | None:
        a = self.value(node.arg, record)
        if isinstance(a, datetime):
            return _in_window(a, node.datetime_window)
        if isinstance(a, date):
            return _in_window(a, node.date_window)
        return None

    def visit_TextMatch(self, node: ir.TextMatch, record: Record) -> bool | None:
        a, pattern = self.value(node.arg, record), self.value(node.pattern, record)
        if a is None or pattern is None:
            return None
        text, wanted = str(a), str(pattern)
        if not node.case_sensitive:
            text, wanted = text.lower(), wanted.lower()
        if node.op == "contains":
            return wanted in text
        return text.startswith(wanted) if node.op == "starts_with" else text.endswith(wanted)

    def visit_MultiMatch(self, node: ir.MultiMatch, record: Record) -> bool:
        held = self.value(node.arg, record)
        items = held if isinstance(held, list) else []
        if node.mode == "all":
            return all(v in items for v in node.values)
        found = any(v in items for v in node.values)
        return found if node.mode == "any" else not found

    def visit_SecretIn(self, node: ir.SecretIn, record: Record) -> bool | None:
        plain = record.get(node.field.key)
        if plain is None:
            return None
        found = plain in node.values
        return not found if node.negate else found

    def visit_Empty(self, node: ir.Empty, record: Record) -> bool:
        value = self.value(node.arg, record)
        empty = value is None or value == "" or value == [] or value == {}
        return not empty if node.negate else empty

    # --- logic ------------------------------------------------------------------------------
    def visit_And(self, node: ir.And, record: Record) -> bool | None:
        values = []
        for arg in node.args:
            value = self.value(arg, record)
            if value is False:
                return False
            values.append(value)
        return _and(values)

    def visit_Or(self, node: ir.Or, record: Record) -> bool | None:
        values = []
        for arg in node.args:
            value = self.value(arg, record)
            if value is True:
                return True
            values.append(value)
        return _or(values)

    def visit_Not(self, node: ir.Not, record: Record) -> bool | None:
        value = self.value(node.arg, record)
        return None if value is None else not value

    def visit_Truth(self, node: ir.Truth, record: Record) -> bool:
        return self.value(node.arg, record) is True

    # --- functions --------------------------------------------------------------------------
    def visit_Func(self, node: ir.Func, record: Record) -> Any:
        if node.name == "IF":
            cond = self.value(node.args[0], record)
            return self.value(node.args[1] if cond is True else node.args[2], record)
        args = [self.value(a, record) for a in node.args]
        if node.name == "COALESCE":
            return next((a for a in args if a is not None), None)
        if node.name == "CONCAT":
            return "".join("" if a is None else str(a) for a in args)
        if node.name in ("MIN", "MAX"):
            present = [a for a in args if a is not None]
            if not present:
                return None
            return min(present) if node.name == "MIN" else max(present)
        if any(a is None for a in args):
            return None
        try:
            return self._function(node, args)
        except (OverflowError, ValueError, ArithmeticError, TypeError, AttributeError):
            # a date beyond year 9999; or, without metadata, a value of an unexpected type
            return None

    def _function(self, node: ir.Func, args: list[Any]) -> Any:
        name = node.name
        if name == "ROUND":
            exponent = Decimal(1).scaleb(-node.param)
            return Decimal(args[0]).quantize(exponent, rounding=ROUND_HALF_UP)
        if name == "ABS":
            return abs(args[0])
        if name == "DATEDIF":
            return date_difference(args[0], args[1], node.param)
        if name == "YEAR":
            return args[0].year
        if name == "MONTH":
            return args[0].month
        if name == "DAY":
            return args[0].day
        if name == "DATE":
            value = args[0]
            return value.astimezone(self.tz).date() if isinstance(value, datetime) else value
        if name == "DATE_ADD":
            return add_units(args[0], int(args[1]), node.param)
        if name == "LEN":
            return len(args[0])
        raise UnsupportedNode(f"function {name} has no Python implementation")

    # --- related records --------------------------------------------------------------------
    def _related_rows(self, relation: Relation, record: Record) -> Sequence[Record]:
        record_id = record.get("id")
        if record_id is None:
            return ()
        if self.related is None:
            raise UnsupportedNode(
                f"the condition reads related {relation.form!r} records: pass related= (a "
                "resolver of related rows) to the predicate")
        key = (relation.form, relation.link, record_id)
        if key not in self._rows:
            self._rows[key] = self.related(relation.form, relation.link, record_id)
        return self._rows[key]

    def _matching(self, relation: Relation, where: ir.Node | None,
                  record: Record) -> list[Record]:
        rows = self._related_rows(relation, record)
        return [r for r in rows if where is None or self.value(where, r) is True]

    def visit_Lookup(self, node: ir.Lookup, record: Record) -> Any:
        target = read_value(record.get(node.ref.key))
        if target is None:
            return None
        if self.related is None:
            raise UnsupportedNode(
                f"the condition reads the referenced {node.relation.form!r} record: pass "
                "related= (a resolver of related rows) to the predicate")
        key = (node.relation.form, "id", target)
        if key not in self._rows:
            self._rows[key] = self.related(node.relation.form, "id", target)
        rows = self._rows[key]
        return self.value(node.inner, rows[0]) if rows else None

    def visit_Exists(self, node: ir.Exists, record: Record) -> bool:
        return bool(self._matching(node.relation, node.where, record))

    def visit_Aggregate(self, node: ir.Aggregate, record: Record) -> Any:
        rows = self._matching(node.relation, node.where, record)
        if node.fn == "count":
            return len(rows)
        assert node.value is not None
        values = [v for v in (self.value(node.value, r) for r in rows) if v is not None]
        if node.fn == "sum":
            return sum(values, Decimal(0) if node.result_kind == NUM else 0)
        if not values:
            return None
        try:
            return min(values) if node.fn == "min" else max(values)
        except TypeError:
            return None
