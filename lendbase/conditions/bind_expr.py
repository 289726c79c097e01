"""Type-check a formula's expression tree against a scope and bind it (``ir`` nodes).

The functions, their argument kinds and results are defined here once; ``expr_sql`` and
``expr_py`` implement each of them. Messages quote the formula part they are about.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from lendbase.conditions import ir
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
from lendbase.conditions.dates import today_in, unit_name
from lendbase.conditions.errors import UnsupportedNode
from lendbase.conditions.formula import (
    ARITHMETIC,
    COMPARISONS,
    check_expression,
    format_formula,
    parse_formula,
)
from lendbase.forms.values import INT64_MAX, text_problem

KIND_NAMES = {INT: "a whole number", NUM: "a number", TEXT: "text", BOOL: "yes/no",
              DATE: "a date", DATETIME: "a date and time", MULTI: "a multiple choice",
              NULL: "NULL", ANY: "a value"}
_ORDERED = NUMERIC | {TEXT, DATE, DATETIME, ANY, NULL}
#: Function name -> (fewest, most) arguments; most None = any number.
ARITY: dict[str, tuple[int, int | None]] = {
    "IF": (3, 3), "AND": (1, None), "OR": (1, None), "NOT": (1, 1), "ROUND": (1, 2),
    "ABS": (1, 1), "MIN": (1, None), "MAX": (1, None), "COALESCE": (1, None), "TODAY": (0, 0),
    "NOW": (0, 0), "DATEDIF": (3, 3), "YEAR": (1, 1), "MONTH": (1, 1), "DAY": (1, 1),
    "DATE": (1, 1), "DATE_ADD": (3, 3), "EDATE": (2, 2), "LEN": (1, 1), "CONCAT": (1, None),
    "ISBLANK": (1, 1),
}
DATEDIF_UNITS = {"D": "day", "M": "month", "Y": "year"}
MAX_ROUND_DIGITS = 10
#: Most units DATE_ADD may add as a literal (about 270 years): the result stays a date.
MAX_DATE_ADD = {"day": 100_000, "week": 14_000, "month": 3_200, "quarter": 1_000, "year": 270}


def mismatch(a: str, b: str) -> str:
    """Why two kinds cannot be compared, with the fix when there is one."""
    text = f"cannot compare {KIND_NAMES.get(a, a)} with {KIND_NAMES.get(b, b)}"
    if {a, b} == {DATE, DATETIME}:
        text += "; use DATE(x) to take the date of a date and time"
    return text


def unify(a: str, b: str) -> str | None:
    """The kind two values share, or None when they cannot be compared or mixed."""
    if a == b:
        return a
    if NULL in (a, b):
        return b if a == NULL else a
    if ANY in (a, b):
        return ANY
    if a in NUMERIC and b in NUMERIC:
        return NUM
    return None


def number_literal(text: str) -> ir.Lit:
    if len(text) > 30:
        raise UnsupportedNode(f"the number {text[:30]}... has too many digits")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise UnsupportedNode(f"{text!r} is not a number") from None
    if not number.is_finite():
        raise UnsupportedNode(f"{text!r} is not a number")
    if "." not in text and abs(number) <= INT64_MAX:
        return ir.Lit(int(number), INT)
    return ir.Lit(number, NUM)


def text_literal(text: Any) -> ir.Lit:
    if not isinstance(text, str):
        raise UnsupportedNode(f"a text literal must be text, got {text!r}")
    problem = text_problem(text)
    if problem:
        raise UnsupportedNode(f"the text {text[:20]!r} {problem}; remove those characters")
    return ir.Lit(text, TEXT)


def is_path(ctx: ConditionContext, key: Any) -> bool:
    """Whether ``key`` follows a reference (``customer.rating``): dotted, with the installed
    forms known (without a schema a dotted key is refused as an unknown field)."""
    return isinstance(key, str) and "." in key and ctx.schema is not None


class ExpressionBinder:
    """Binds one expression tree in ``ctx.scope``; one ``visit_<node>`` per node type.

    ``expanding`` holds the computed fields being inlined (to refuse a cycle).
    """

    def __init__(self, ctx: ConditionContext, expanding: tuple[str, ...] = ()) -> None:
        self.ctx = ctx
        self.expanding = expanding
        self.source = ""

    def bind_text(self, text: Any) -> ir.Node:
        tree = parse_formula(text)
        self.source = text
        return self.bind(tree)

    def bind_tree(self, tree: Any) -> ir.Node:
        check_expression(tree)
        return self.bind(tree)

    def bind(self, node: Any) -> ir.Node:
        if isinstance(node, Mapping):
            for kind in ("num", "str", "bool", "null", "ref", "op", "fn"):
                if kind in node:
                    visit: Callable[[Mapping[str, Any]], ir.Node] = getattr(self, f"visit_{kind}")
                    return visit(node)
        raise UnsupportedNode(
            f"unknown expression node {node!r}; use num / str / bool / null / ref / op / fn "
            "(see docs/conditions.md)")

    # --- helpers ----------------------------------------------------------------------------
    def _where(self, node: Mapping[str, Any]) -> str:
        try:
            text = format_formula(node)
        except (TypeError, KeyError, IndexError, AttributeError):
            text = repr(node)
        return f"in {text[:80]!r}"

    def _args(self, node: Mapping[str, Any]) -> list[Any]:
        args = node.get("args")
        if not isinstance(args, list):
            raise UnsupportedNode(f"{self._where(node)}: \"args\" must be a list")
        return args

    def _need(self, node: Mapping[str, Any], arg: ir.Node, kinds: frozenset[str] | set[str],
              what: str) -> None:
        if arg.kind not in kinds | {NULL, ANY}:
            raise UnsupportedNode(f"{self._where(node)}: {what} must be "
                                  f"{' or '.join(sorted({KIND_NAMES[k] for k in kinds}))}, "
                                  f"not {KIND_NAMES.get(arg.kind, arg.kind)}")

    def _need_today(self, node: Mapping[str, Any]) -> None:
        if self.ctx.now is None:
            raise UnsupportedNode(f"{self._where(node)}: TODAY() and NOW() need the current "
                                  "time; compile with a ConditionContext that has now=")

    def _constant_text(self, node: Mapping[str, Any], arg: Any, what: str) -> str:
        if not isinstance(arg, Mapping) or not isinstance(arg.get("str"), str):
            raise UnsupportedNode(f"{self._where(node)}: {what} must be a text in quotes")
        return str(arg["str"])

    def _as_date(self, node: Mapping[str, Any], arg: ir.Node, what: str) -> ir.Node:
        """A date argument; a date-time becomes its date in the business time zone."""
        self._need(node, arg, {DATE, DATETIME}, what)
        if arg.kind == DATETIME:
            return ir.Func("DATE", (arg,), DATE)
        return arg

    # --- leaves -----------------------------------------------------------------------------
    def visit_num(self, node: Mapping[str, Any]) -> ir.Node:
        text = node["num"]
        if isinstance(text, bool) or not isinstance(text, (str, int)):
            raise UnsupportedNode(f"a number node holds its digits as text, got {text!r}")
        return number_literal(str(text))

    def visit_str(self, node: Mapping[str, Any]) -> ir.Node:
        return text_literal(node["str"])

    def visit_bool(self, node: Mapping[str, Any]) -> ir.Node:
        if not isinstance(node["bool"], bool):
            raise UnsupportedNode(f"a bool node holds true or false, got {node['bool']!r}")
        return ir.Lit(node["bool"], BOOL)

    def visit_null(self, node: Mapping[str, Any]) -> ir.Node:
        return ir.Lit(None, NULL)

    def visit_ref(self, node: Mapping[str, Any]) -> ir.Node:
        return self.key(node["ref"])

    def key(self, key: Any) -> ir.Node:
        """A field by key; ``reference.field`` (``customer.credit_limit``) reads the field of
        the record the reference points at."""
        if is_path(self.ctx, key):
            assert self.ctx.schema is not None
            ref, relation, rest = self.ctx.schema.lookup(self.ctx.scope, key)
            inner = ExpressionBinder(self.ctx.within(relation.scope)).key(rest)
            return ir.Lookup(ref, relation, inner)
        return self.field(self.ctx.scope.field(key))

    def field(self, info: FieldInfo) -> ir.Node:
        """A field as an expression; a computed field is its formula, inlined."""
        if info.sensitive:
            raise UnsupportedNode(
                f"field {info.key!r} is encrypted; formulas cannot read it (conditions can "
                "only test it with =, !=, in, not_in or is_empty)")
        if info.formula is None:
            return ir.Col(info)
        if info.key in self.expanding:
            chain = " -> ".join([*self.expanding, info.key])
            raise UnsupportedNode(f"computed field {info.key!r} refers to itself ({chain}); "
                                  "fix its formula")
        inner = ExpressionBinder(self.ctx, (*self.expanding, info.key))
        try:
            return inner.bind_text(info.formula)
        except UnsupportedNode as exc:
            raise UnsupportedNode(f"computed field {info.key!r}: {exc.message}") from None

    # --- operators --------------------------------------------------------------------------
    def visit_op(self, node: Mapping[str, Any]) -> ir.Node:
        op = node["op"]
        args = self._args(node)
        if op == "neg":
            if len(args) != 1:
                raise UnsupportedNode(f"{self._where(node)}: \"neg\" takes one argument")
            arg = self.bind(args[0])
            self._need(node, arg, NUMERIC, "the operand of unary minus")
            return ir.Neg(arg)
        if op not in ARITHMETIC and op not in COMPARISONS:
            raise UnsupportedNode(f"unknown operator {op!r}; use one of "
                                  f"{', '.join((*ARITHMETIC, *COMPARISONS, 'neg'))}")
        if len(args) != 2:
            raise UnsupportedNode(f"{self._where(node)}: {op!r} takes two arguments")
        left, right = self.bind(args[0]), self.bind(args[1])
        if op in ARITHMETIC:
            self._need(node, left, NUMERIC, f"each side of {op!r}")
            self._need(node, right, NUMERIC, f"each side of {op!r}")
            kind = INT if op != "/" and left.kind == INT and right.kind == INT else NUM
            return ir.Arith(op, left, right, kind)
        return self.compare(node, op, left, right)

    def compare(self, node: Mapping[str, Any], op: str, left: ir.Node,
                right: ir.Node) -> ir.Node:
        left, right = self._dates_from_text(node, left, right)
        kind = unify(left.kind, right.kind)
        if kind is None or kind == MULTI:
            raise UnsupportedNode(f"{self._where(node)}: {mismatch(left.kind, right.kind)}")
        if op not in ("=", "!=") and kind not in _ORDERED:
            raise UnsupportedNode(f"{self._where(node)}: {op!r} cannot order "
                                  f"{KIND_NAMES[kind]} values; use = or !=")
        return ir.Cmp(op, left, right)

    def _dates_from_text(self, node: Mapping[str, Any], left: ir.Node,
                         right: ir.Node) -> tuple[ir.Node, ir.Node]:
        """A text literal compared with a date (date-time) is read as one."""
        def convert(lit: ir.Node, kind: str) -> ir.Node:
            if not (isinstance(lit, ir.Lit) and lit.kind == TEXT and kind in (DATE, DATETIME)):
                return lit
            return ir.Lit(parse_date_text(self._where(node), lit.value, kind, self.ctx), kind)
        return convert(left, right.kind), convert(right, left.kind)

    # --- functions --------------------------------------------------------------------------
    def visit_fn(self, node: Mapping[str, Any]) -> ir.Node:
        name = node["fn"]
        if not isinstance(name, str) or name.upper() not in ARITY:
            raise UnsupportedNode(f"unknown function {name!r}; use one of: "
                                  f"{', '.join(sorted(ARITY))}")
        name = name.upper()
        raw = self._args(node)
        low, high = ARITY[name]
        if len(raw) < low or (high is not None and len(raw) > high):
            count = str(low) if low == high else (f"{low} or more" if high is None
                                                  else f"{low} to {high}")
            raise UnsupportedNode(f"{self._where(node)}: {name} takes {count} argument(s), "
                                  f"got {len(raw)}")
        method: Callable[[Mapping[str, Any], list[Any]], ir.Node] = getattr(
            self, f"fn_{name.lower()}")
        return method(node, raw)

    def _bound(self, node: Mapping[str, Any], raw: list[Any]) -> list[ir.Node]:
        return [self.bind(a) for a in raw]

    def fn_if(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        cond, then, other = self._bound(node, raw)
        self._need(node, cond, {BOOL}, "the condition of IF")
        kind = unify(then.kind, other.kind)
        if kind is None or kind == MULTI:
            raise UnsupportedNode(f"{self._where(node)}: both results of IF must be of one "
                                  f"kind, not {KIND_NAMES[then.kind]} and "
                                  f"{KIND_NAMES[other.kind]}")
        return ir.Func("IF", (cond, then, other), kind)

    def _logic(self, node: Mapping[str, Any], raw: list[Any]) -> list[ir.Node]:
        args = self._bound(node, raw)
        for arg in args:
            self._need(node, arg, {BOOL}, f"each argument of {node['fn'].upper()}")
        return args

    def fn_and(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        return ir.And(tuple(self._logic(node, raw)))

    def fn_or(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        return ir.Or(tuple(self._logic(node, raw)))

    def fn_not(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        return ir.Not(self._logic(node, raw)[0])

    def fn_round(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        value = self.bind(raw[0])
        self._need(node, value, NUMERIC, "the value ROUND rounds")
        digits = 0
        if len(raw) == 2:
            bound = self.bind(raw[1])
            if not (isinstance(bound, ir.Lit) and bound.kind == INT
                    and 0 <= bound.value <= MAX_ROUND_DIGITS):
                raise UnsupportedNode(f"{self._where(node)}: the decimals of ROUND must be a "
                                      f"whole number from 0 to {MAX_ROUND_DIGITS}")
            digits = bound.value
        return ir.Func("ROUND", (value,), NUM, digits)

    def fn_abs(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        (value,) = self._bound(node, raw)
        self._need(node, value, NUMERIC, "the value of ABS")
        return ir.Func("ABS", (value,), value.kind if value.kind != NULL else NUM)

    def _common(self, node: Mapping[str, Any], args: list[ir.Node], allowed: set[str]) -> str:
        kind = NULL
        for arg in args:
            self._need(node, arg, allowed, f"each argument of {node['fn'].upper()}")
            joined = unify(kind, arg.kind)
            if joined is None:
                raise UnsupportedNode(f"{self._where(node)}: the arguments of "
                                      f"{node['fn'].upper()} must be of one kind")
            kind = joined
        return kind

    def fn_min(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        args = self._bound(node, raw)
        kind = self._common(node, args, {INT, NUM, DATE, DATETIME})
        return ir.Func("MIN", tuple(args), kind)

    def fn_max(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        args = self._bound(node, raw)
        kind = self._common(node, args, {INT, NUM, DATE, DATETIME})
        return ir.Func("MAX", tuple(args), kind)

    def fn_coalesce(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        args = self._bound(node, raw)
        kind = self._common(node, args, {INT, NUM, TEXT, BOOL, DATE, DATETIME})
        return ir.Func("COALESCE", tuple(args), kind)

    def fn_today(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        self._need_today(node)
        assert self.ctx.now is not None
        return ir.Lit(today_in(self.ctx.now, self.ctx.tz), DATE)

    def fn_now(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        self._need_today(node)
        return ir.Lit(self.ctx.now_utc, DATETIME)

    def fn_datedif(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        start = self._as_date(node, self.bind(raw[0]), "the start of DATEDIF")
        end = self._as_date(node, self.bind(raw[1]), "the end of DATEDIF")
        unit = self._constant_text(node, raw[2], "the unit of DATEDIF").upper()
        if unit not in DATEDIF_UNITS:
            raise UnsupportedNode(f"{self._where(node)}: the unit of DATEDIF must be \"D\" "
                                  "(days), \"M\" (months) or \"Y\" (years)")
        return ir.Func("DATEDIF", (start, end), INT, DATEDIF_UNITS[unit])

    def _part(self, node: Mapping[str, Any], raw: list[Any], name: str) -> ir.Node:
        value = self._as_date(node, self.bind(raw[0]), f"the argument of {name}")
        return ir.Func(name, (value,), INT)

    def fn_year(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        return self._part(node, raw, "YEAR")

    def fn_month(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        return self._part(node, raw, "MONTH")

    def fn_day(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        return self._part(node, raw, "DAY")

    def fn_date(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        arg = self.bind(raw[0])
        if isinstance(arg, ir.Lit) and arg.kind == TEXT:
            return ir.Lit(parse_date_text(self._where(node), arg.value, DATE, self.ctx), DATE)
        return self._as_date(node, arg, "the argument of DATE")

    def _date_add(self, node: Mapping[str, Any], day: Any, amount: Any,
                  unit: str) -> ir.Node:
        value = self._as_date(node, self.bind(day), "the date of DATE_ADD")
        count = self.bind(amount)
        if isinstance(count, ir.Lit) and count.kind == NUM and count.value == int(count.value):
            count = ir.Lit(int(count.value), INT)
        self._need(node, count, {INT}, "the number of units to add")
        if isinstance(count, ir.Lit) and count.value is not None \
                and abs(count.value) > MAX_DATE_ADD[unit]:
            raise UnsupportedNode(f"{self._where(node)}: add at most {MAX_DATE_ADD[unit]} "
                                  f"{unit}s at a time")
        return ir.Func("DATE_ADD", (value, count), DATE, unit)

    def fn_date_add(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        unit = unit_name(self._constant_text(node, raw[2], "the unit of DATE_ADD"))
        if unit is None:
            raise UnsupportedNode(f"{self._where(node)}: the unit of DATE_ADD must be one of "
                                  "\"D\", \"W\", \"M\", \"Q\", \"Y\" (day ... year)")
        return self._date_add(node, raw[0], raw[1], unit)

    def fn_edate(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        return self._date_add(node, raw[0], raw[1], "month")

    def fn_len(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        (value,) = self._bound(node, raw)
        self._need(node, value, {TEXT}, "the argument of LEN")
        return ir.Func("LEN", (value,), INT)

    def fn_concat(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        args = self._bound(node, raw)
        for arg in args:
            self._need(node, arg, {TEXT, INT}, "each argument of CONCAT")
        return ir.Func("CONCAT", tuple(args), TEXT)

    def fn_isblank(self, node: Mapping[str, Any], raw: list[Any]) -> ir.Node:
        (value,) = self._bound(node, raw)
        return ir.Empty(value)


def parse_date_text(where: str, text: str, kind: str, ctx: ConditionContext) -> date:
    """A date (or, for ``DATETIME``, an instant in UTC) from ISO text; a date-time without an
    offset is read in the business time zone."""
    try:
        if kind == DATE:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        example = "2024-01-31" if kind == DATE else "2024-01-31T09:30"
        raise UnsupportedNode(f"{where}: {text[:30]!r} is not {KIND_NAMES[kind]} "
                              f"(write e.g. {example!r})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ctx.tz)
    return moment.astimezone(UTC)
