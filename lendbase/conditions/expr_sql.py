"""Compile bound nodes (``ir``) to one SQLAlchemy expression over a form's table: the set
compiler.

Identifiers come only from the scope (published metadata); every value is a bound parameter.
Related records become correlated ``EXISTS`` / scalar subqueries filtered on the related
table's link column (a foreign key, so indexed): one statement, evaluated by the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    FromClause,
    Integer,
    Numeric,
    String,
    Text,
    and_,
    case,
    cast,
    extract,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.types import JSON, NullType, TypeEngine

from lendbase.conditions import ir, sqlfuncs
from lendbase.conditions.bind import kind_of_value
from lendbase.conditions.context import (
    BOOL,
    DATE,
    DATETIME,
    INT,
    MULTI,
    NUM,
    TEXT,
    ConditionContext,
    Relation,
)
from lendbase.conditions.dates import Window
from lendbase.conditions.errors import UnsupportedNode

_TYPES: dict[str, TypeEngine[Any]] = {
    INT: BigInteger(), NUM: Numeric(), TEXT: String(), BOOL: Boolean(), DATE: Date(),
    DATETIME: DateTime(timezone=True),
}
_COMPARE = {"=": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__",
            ">=": "__ge__"}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _is_text(expr: Any) -> bool:
    try:
        return expr.type.python_type is str  # type: ignore[no-any-return]
    except NotImplementedError:
        return False


#: Nodes whose SQL is never NULL (so no coalesce is needed to read them as yes or no).
_NEVER_NULL = (ir.Exists, ir.MultiMatch, ir.Empty, ir.Truth)


class SqlCompiler:
    """Bound nodes -> SQL over ``table`` (the scope's table or an alias of it); one
    ``visit_<Node>`` per node class."""

    def __init__(self, ctx: ConditionContext, table: FromClause) -> None:
        self.ctx = ctx
        self.table = table

    def compile(self, node: ir.Node) -> Any:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            raise UnsupportedNode(f"node {type(node).__name__} has no SQL form")
        return method(node)

    # --- values -----------------------------------------------------------------------------
    def _literal(self, value: Any, kind: str, like: Any = None) -> Any:
        """A bound parameter; typed like ``like`` (a column) when the kinds agree."""
        if value is None:
            return null()
        type_ = _TYPES.get(kind, NullType())
        if like is not None and not isinstance(like.type, (NullType, JSON)):
            type_ = like.type
        return literal(value, type_)

    def visit_Lit(self, node: ir.Lit) -> Any:
        return self._literal(node.value, node.kind)

    def visit_Col(self, node: ir.Col) -> Any:
        name = node.field.column
        if name is None or name not in self.table.c:
            raise UnsupportedNode(f"field {node.field.key!r} has no column in "
                                  f"{self.ctx.scope.key or 'this table'!r}")
        return self.table.c[name]

    def _pair(self, left: ir.Node, right: ir.Node) -> tuple[Any, Any]:
        """Both operands; a literal facing a column of its own kind takes the column's type
        (so the comparison stays index friendly), any other literal its kind's type."""
        a, b = self.compile(left), self.compile(right)
        if isinstance(right, ir.Lit) and isinstance(left, ir.Col) and right.kind == left.kind:
            b = self._literal(right.value, right.kind, a)
        elif isinstance(left, ir.Lit) and isinstance(right, ir.Col) and right.kind == left.kind:
            a = self._literal(left.value, left.kind, b)
        return a, b

    def visit_Arith(self, node: ir.Arith) -> Any:
        a, b = self._pair(node.left, node.right)
        if node.op == "/":
            return sqlfuncs.safe_div(a, b)
        return {"+": a.__add__, "-": a.__sub__, "*": a.__mul__}[node.op](b)

    def visit_Neg(self, node: ir.Neg) -> Any:
        return -self.compile(node.arg)

    # --- comparisons ------------------------------------------------------------------------
    def visit_Cmp(self, node: ir.Cmp) -> Any:
        if any(isinstance(n, ir.Lit) and n.value is None for n in (node.left, node.right)):
            return null()  # a comparison with NULL is unknown (never "IS NULL")
        a, b = self._pair(node.left, node.right)
        return getattr(a, _COMPARE[node.op])(b)

    def visit_Between(self, node: ir.Between) -> Any:
        arg, low = self._pair(node.arg, node.low)
        _, high = self._pair(node.arg, node.high)
        return arg.between(low, high)

    def visit_InList(self, node: ir.InList) -> Any:
        arg = self.compile(node.arg)
        values: list[Any] = list(node.values)
        if not isinstance(node.arg, ir.Col):  # typed by each value, not by the expression
            values = [self._literal(v, kind_of_value(v)) for v in values]
        return arg.not_in(values) if node.negate else arg.in_(values)

    def visit_InWindow(self, node: ir.InWindow) -> Any:
        arg = self.compile(node.arg)
        window = node.datetime_window if node.arg.kind == DATETIME else node.date_window
        if node.arg.kind not in (DATE, DATETIME) or window is None:
            raise UnsupportedNode("relative dates need a date or date-time column")
        like = arg if isinstance(node.arg, ir.Col) else None
        return self._window(arg, window, node.arg.kind, like)

    def _window(self, arg: Any, window: Window, kind: str, like: Any) -> Any:
        parts = []
        if window.low is not None:
            low = self._literal(window.low, kind, like)
            parts.append(arg > low if window.low_exclusive else arg >= low)
        if window.high is not None:
            high = self._literal(window.high, kind, like)
            parts.append(arg < high if window.high_exclusive else arg <= high)
        return and_(*parts) if parts else arg.is_not(None)

    def visit_TextMatch(self, node: ir.TextMatch) -> Any:
        arg = self.compile(node.arg)
        # Non-text columns (numbers, dates) are matched on their text form, as in Python.
        target = arg if _is_text(arg) else cast(arg, Text())
        pattern_node = node.pattern
        if isinstance(pattern_node, ir.Lit) and not node.case_sensitive:
            text = _escape_like(str(pattern_node.value))
            like = {"contains": f"%{text}%", "starts_with": f"{text}%",
                    "ends_with": f"%{text}"}[node.op]
            return target.ilike(like, escape="\\")
        pattern = self.compile(pattern_node)
        if not node.case_sensitive:
            target, pattern = func.lower(target), func.lower(pattern)
        if node.op == "contains":
            return sqlfuncs.str_pos(target, pattern) > 0
        length = func.length(pattern)
        if node.op == "starts_with":
            return func.substr(target, 1, length) == pattern
        return and_(func.length(target) >= length,
                    func.substr(target, func.length(target) - length + 1) == pattern)

    def visit_MultiMatch(self, node: ir.MultiMatch) -> Any:
        arg = self.compile(node.arg)
        values = [literal(v, String()) for v in dict.fromkeys(node.values)]
        if node.mode == "all":
            return sqlfuncs.json_has_all(arg, *values)
        found = sqlfuncs.json_has_any(arg, *values)
        return found if node.mode == "any" else not_(found)

    def visit_SecretIn(self, node: ir.SecretIn) -> Any:
        column = node.field.hash_column
        if node.hashes is None or column is None or column not in self.table.c:
            raise UnsupportedNode(
                f"field {node.field.key!r} is encrypted: the database can only compare it "
                "through its keyed hash, which it has only when the field is unique or indexed "
                "and the caller passes lookup_hash; test another field or mark it indexed")
        hashed = self.table.c[column]
        values = list(node.hashes)
        if len(values) == 1:
            return hashed != values[0] if node.negate else hashed == values[0]
        return hashed.not_in(values) if node.negate else hashed.in_(values)

    def visit_Empty(self, node: ir.Empty) -> Any:
        arg = self.compile(node.arg)
        if node.arg.kind == MULTI:
            empty = sqlfuncs.json_array_empty(arg)
            return not_(empty) if node.negate else empty
        if node.arg.kind == TEXT or _is_text(arg):
            if node.negate:
                return and_(arg.is_not(None), arg != "")
            return or_(arg.is_(None), arg == "")
        return arg.is_not(None) if node.negate else arg.is_(None)

    # --- logic ------------------------------------------------------------------------------
    def visit_And(self, node: ir.And) -> Any:
        parts = [self.compile(a) for a in node.args]
        return and_(*parts) if parts else true()

    def visit_Or(self, node: ir.Or) -> Any:
        parts = [self.compile(a) for a in node.args]
        return or_(*parts) if parts else false()

    def visit_Not(self, node: ir.Not) -> Any:
        return not_(self.compile(node.arg))

    def visit_Truth(self, node: ir.Truth) -> Any:
        inner = self.compile(node.arg)
        if isinstance(node.arg, _NEVER_NULL):
            return inner  # NOT EXISTS (...) stays NOT EXISTS (...)
        # SQL NOT over NULL is NULL; a condition treats unknown as false, so NOT of it is
        # true: coalesce makes both compilers agree.
        return func.coalesce(inner, false())

    # --- functions --------------------------------------------------------------------------
    def visit_Func(self, node: ir.Func) -> Any:
        method = getattr(self, f"fn_{node.name.lower()}")
        return method(node)

    def _args(self, node: ir.Func) -> list[Any]:
        return [self.compile(a) for a in node.args]

    def fn_if(self, node: ir.Func) -> Any:
        cond, then, other = self._args(node)
        return type_coerce(case((cond, then), else_=other), _TYPES.get(node.kind, then.type))

    def fn_round(self, node: ir.Func) -> Any:
        (value,) = self._args(node)
        return func.round(cast(value, Numeric()), literal(node.param, Integer()),
                          type_=Numeric())

    def fn_abs(self, node: ir.Func) -> Any:
        (value,) = self._args(node)
        return func.abs(value, type_=value.type)

    def fn_min(self, node: ir.Func) -> Any:
        args = self._args(node)
        return sqlfuncs.least_of(*args, type_=_TYPES.get(node.kind, args[0].type))

    def fn_max(self, node: ir.Func) -> Any:
        args = self._args(node)
        return sqlfuncs.greatest_of(*args, type_=_TYPES.get(node.kind, args[0].type))

    def fn_coalesce(self, node: ir.Func) -> Any:
        args = self._args(node)
        return func.coalesce(*args, type_=_TYPES.get(node.kind, args[0].type))

    def fn_datedif(self, node: ir.Func) -> Any:
        start, end = self._args(node)
        if node.param == "day":
            return sqlfuncs.day_diff(start, end)
        forward = self._whole_months(start, end)
        backward = self._whole_months(end, start)
        if node.param == "year":
            forward, backward = forward // 12, backward // 12
        return case((start <= end, forward), else_=-backward)

    @staticmethod
    def _whole_months(start: Any, end: Any) -> Any:
        def part(name: str, value: Any) -> Any:
            return cast(extract(name, value), Integer())
        months = ((part("year", end) - part("year", start)) * 12
                  + part("month", end) - part("month", start))
        return months - case((part("day", end) < part("day", start), 1), else_=0)

    def _part(self, node: ir.Func, name: str) -> Any:
        (value,) = self._args(node)
        return cast(extract(name, value), Integer())

    def fn_year(self, node: ir.Func) -> Any:
        return self._part(node, "year")

    def fn_month(self, node: ir.Func) -> Any:
        return self._part(node, "month")

    def fn_day(self, node: ir.Func) -> Any:
        return self._part(node, "day")

    def fn_date(self, node: ir.Func) -> Any:
        (value,) = self._args(node)
        if node.args[0].kind != DATETIME:
            return value
        # SQLite has no time zones: it shifts by the zone's offset at the injected clock.
        moment = self.ctx.now or datetime(2000, 1, 1, tzinfo=self.ctx.tz)
        offset = moment.astimezone(self.ctx.tz).utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset is not None else 0
        zone = getattr(self.ctx.tz, "key", None) or str(self.ctx.tz)
        return sqlfuncs.local_date(value, literal(zone, String()),
                                   literal(f"{minutes:+d} minutes", String()))

    def fn_date_add(self, node: ir.Func) -> Any:
        day, amount = self._args(node)
        unit = node.param
        if unit in ("day", "week"):
            return sqlfuncs.add_days(day, amount * 7 if unit == "week" else amount)
        factor = {"month": 1, "quarter": 3, "year": 12}[unit]
        return sqlfuncs.add_months(day, amount * factor if factor != 1 else amount)

    def fn_len(self, node: ir.Func) -> Any:
        (value,) = self._args(node)
        return func.length(value, type_=Integer())

    def fn_concat(self, node: ir.Func) -> Any:
        parts = [func.coalesce(cast(a, Text()), literal("", Text()), type_=Text())
                 for a in self._args(node)]
        joined: Any = parts[0]
        for part in parts[1:]:
            joined = joined + part
        return joined

    # --- related records --------------------------------------------------------------------
    def _related(self, relation: Relation, where: ir.Node | None
                 ) -> tuple[Any, list[Any], SqlCompiler]:
        table = relation.scope.table
        if table is None:
            raise UnsupportedNode(f"form {relation.form!r} has no table to query")
        if "id" not in self.table.c:
            raise UnsupportedNode("related conditions need the outer table's id column")
        alias = table.alias()
        inner = SqlCompiler(self.ctx.within(relation.scope), alias)
        conditions = [alias.c[relation.link_column] == self.table.c.id]
        if where is not None:
            conditions.append(inner.compile(where))
        return alias, conditions, inner

    def visit_Lookup(self, node: ir.Lookup) -> Any:
        """A correlated scalar subquery on the referenced record, by its primary key."""
        table = node.relation.scope.table
        column = node.ref.column
        if table is None:
            raise UnsupportedNode(f"form {node.relation.form!r} has no table to query")
        if column is None or column not in self.table.c:
            raise UnsupportedNode(f"field {node.ref.key!r} has no column in "
                                  f"{self.ctx.scope.key or 'this table'!r}")
        alias = table.alias()
        inner = SqlCompiler(self.ctx.within(node.relation.scope), alias)
        value = inner.compile(node.inner)
        return (select(value).select_from(alias)
                .where(alias.c.id == self.table.c[column]).scalar_subquery())

    def visit_Exists(self, node: ir.Exists) -> Any:
        alias, conditions, _ = self._related(node.relation, node.where)
        return select(literal_column("1")).select_from(alias).where(*conditions).exists()

    def visit_Aggregate(self, node: ir.Aggregate) -> Any:
        alias, conditions, inner = self._related(node.relation, node.where)
        if node.fn == "count":
            return (select(func.count()).select_from(alias).where(*conditions)
                    .scalar_subquery())
        assert node.value is not None
        value = inner.compile(node.value)
        aggregate: Any = {"sum": func.sum, "min": func.min, "max": func.max}[node.fn]
        total = select(aggregate(value, type_=value.type)).select_from(alias).where(*conditions)
        result = total.scalar_subquery()
        if node.fn == "sum":
            return func.coalesce(result, self._literal(0, node.kind), type_=value.type)
        return result


__all__ = ["SqlCompiler"]
