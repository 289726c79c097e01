"""SQL constructs whose spelling differs between SQLite and PostgreSQL (``@compiles``).

Each is a small ``FunctionElement``; the compiler functions below render it per dialect, so
the condition compiler never branches on the database. Semantics are those of
``lendbase.conditions.expr_py`` (NULL in, NULL out unless said otherwise).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Date, Integer, Numeric
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeEngine


def _args(element: FunctionElement[Any], compiler: Any, **kw: Any) -> list[str]:
    return [compiler.process(c, **kw) for c in element.clauses.clauses]


class json_has_any(FunctionElement[bool]):  # noqa: N801 - SQL function style
    """A JSON array of text (a multiselect) holds any of the given values; never NULL."""

    type = Boolean()
    inherit_cache = True
    name = "json_has_any"


class json_has_all(FunctionElement[bool]):  # noqa: N801
    """The array holds every one of the given (distinct) values; never NULL."""

    type = Boolean()
    inherit_cache = True
    name = "json_has_all"


class json_array_empty(FunctionElement[bool]):  # noqa: N801
    """NULL, JSON null or ``[]``; never NULL."""

    type = Boolean()
    inherit_cache = True
    name = "json_array_empty"


@compiles(json_has_any, "sqlite")
def _json_any_sqlite(element: json_has_any, compiler: Any, **kw: Any) -> str:
    column, *values = _args(element, compiler, **kw)
    return (f"EXISTS (SELECT 1 FROM json_each({column}) AS lb_item "
            f"WHERE lb_item.value IN ({', '.join(values)}))")


@compiles(json_has_all, "sqlite")
def _json_all_sqlite(element: json_has_all, compiler: Any, **kw: Any) -> str:
    column, *values = _args(element, compiler, **kw)
    # values are distinct (the compiler dedupes them): all present = as many distinct matches
    return (f"((SELECT count(DISTINCT lb_item.value) FROM json_each({column}) AS lb_item "
            f"WHERE lb_item.value IN ({', '.join(values)})) = {len(values)})")


@compiles(json_array_empty, "sqlite")
def _json_empty_sqlite(element: json_array_empty, compiler: Any, **kw: Any) -> str:
    (column,) = _args(element, compiler, **kw)
    return f"(coalesce(json_array_length({column}), 0) = 0)"


@compiles(json_has_any, "postgresql")
def _json_any_pg(element: json_has_any, compiler: Any, **kw: Any) -> str:
    column, *values = _args(element, compiler, **kw)
    return f"coalesce(({column}) ?| ARRAY[{', '.join(values)}], false)"


@compiles(json_has_all, "postgresql")
def _json_all_pg(element: json_has_all, compiler: Any, **kw: Any) -> str:
    column, *values = _args(element, compiler, **kw)
    return f"coalesce(({column}) ?& ARRAY[{', '.join(values)}], false)"


@compiles(json_array_empty, "postgresql")
def _json_empty_pg(element: json_array_empty, compiler: Any, **kw: Any) -> str:
    (column,) = _args(element, compiler, **kw)
    return (f"(coalesce(jsonb_array_length(CASE WHEN jsonb_typeof({column}) = 'array' "
            f"THEN {column} END), 0) = 0)")


class safe_div(FunctionElement[Any]):  # noqa: N801
    """``a / b`` as a decimal division (never integer division); NULL when ``b`` is 0."""

    type = Numeric()
    inherit_cache = True
    name = "safe_div"


@compiles(safe_div)
def _safe_div(element: safe_div, compiler: Any, **kw: Any) -> str:
    a, b = _args(element, compiler, **kw)
    return f"(CAST({a} AS NUMERIC) / NULLIF({b}, 0))"


@compiles(safe_div, "sqlite")
def _safe_div_sqlite(element: safe_div, compiler: Any, **kw: Any) -> str:
    a, b = _args(element, compiler, **kw)
    # NUMERIC affinity would keep 1 an integer, and 1 / 2 would be 0
    return f"(CAST({a} AS REAL) / NULLIF({b}, 0))"


class day_diff(FunctionElement[int]):  # noqa: N801
    """Days from date ``a`` to date ``b``."""

    type = Integer()
    inherit_cache = True
    name = "day_diff"


@compiles(day_diff)
def _day_diff(element: day_diff, compiler: Any, **kw: Any) -> str:
    a, b = _args(element, compiler, **kw)
    return f"(({b}) - ({a}))"


@compiles(day_diff, "sqlite")
def _day_diff_sqlite(element: day_diff, compiler: Any, **kw: Any) -> str:
    a, b = _args(element, compiler, **kw)
    return f"CAST(julianday({b}) - julianday({a}) AS INTEGER)"


class add_days(FunctionElement[Any]):  # noqa: N801
    """Date ``d`` plus ``n`` days."""

    type = Date()
    inherit_cache = True
    name = "add_days"


@compiles(add_days)
def _add_days(element: add_days, compiler: Any, **kw: Any) -> str:
    d, n = _args(element, compiler, **kw)
    return f"CAST(({d}) + CAST({n} AS INTEGER) AS DATE)"


@compiles(add_days, "sqlite")
def _add_days_sqlite(element: add_days, compiler: Any, **kw: Any) -> str:
    d, n = _args(element, compiler, **kw)
    # printf would read NULL as 0, so a NULL count is handled first
    return f"(CASE WHEN ({n}) IS NULL THEN NULL ELSE date({d}, printf('%+d days', {n})) END)"


class add_months(FunctionElement[Any]):  # noqa: N801
    """Date ``d`` plus ``n`` months, clamped to the end of the target month."""

    type = Date()
    inherit_cache = True
    name = "add_months"


@compiles(add_months)
def _add_months(element: add_months, compiler: Any, **kw: Any) -> str:
    d, n = _args(element, compiler, **kw)
    return f"CAST(({d}) + make_interval(months => CAST({n} AS INTEGER)) AS DATE)"


@compiles(add_months, "sqlite")
def _add_months_sqlite(element: add_months, compiler: Any, **kw: Any) -> str:
    d, n = _args(element, compiler, **kw)
    # SQLite's '+1 months' overflows 31 January into March: move the month's first day,
    # add the day of month back, and keep the smaller of that and the target month's end.
    day = f"CAST(strftime('%d', {d}) AS INTEGER)"
    moved = (f"date({d}, 'start of month', printf('%+d months', {n}), "
             f"printf('+%d days', {day} - 1))")
    month_end = f"date({d}, 'start of month', printf('%+d months', ({n}) + 1), '-1 day')"
    return f"(CASE WHEN ({n}) IS NULL THEN NULL ELSE min({moved}, {month_end}) END)"


class local_date(FunctionElement[Any]):  # noqa: N801
    """The date of an instant in the business time zone: ``local_date(ts, zone, modifier)``
    (PostgreSQL uses the zone name; SQLite, which has no time zones, the modifier with the
    zone's UTC offset, e.g. '+480 minutes')."""

    type = Date()
    inherit_cache = True
    name = "local_date"


@compiles(local_date)
def _local_date(element: local_date, compiler: Any, **kw: Any) -> str:
    ts, zone, _modifier = _args(element, compiler, **kw)
    return f"CAST(timezone({zone}, {ts}) AS DATE)"


@compiles(local_date, "sqlite")
def _local_date_sqlite(element: local_date, compiler: Any, **kw: Any) -> str:
    ts, _zone, modifier = _args(element, compiler, **kw)
    return f"date({ts}, {modifier})"


class _Typed(FunctionElement[Any]):
    """A construct whose result type is that of its arguments."""

    inherit_cache = True

    def __init__(self, *clauses: Any, type_: TypeEngine[Any] | None = None) -> None:
        super().__init__(*clauses)
        if type_ is not None:
            self.type = type_


class least_of(_Typed):  # noqa: N801
    """The smallest argument that is not NULL (NULL when all are)."""

    inherit_cache = True
    name = "least_of"


class greatest_of(_Typed):  # noqa: N801
    """The largest argument that is not NULL (NULL when all are)."""

    inherit_cache = True
    name = "greatest_of"


@compiles(least_of)
def _least(element: least_of, compiler: Any, **kw: Any) -> str:
    return f"least({', '.join(_args(element, compiler, **kw))})"


@compiles(greatest_of)
def _greatest(element: greatest_of, compiler: Any, **kw: Any) -> str:
    return f"greatest({', '.join(_args(element, compiler, **kw))})"


def _nulls_skipped(fn: str, args: list[str]) -> str:
    if len(args) == 1:
        return args[0]
    # SQLite's scalar min()/max() are NULL when any argument is: coalesce each argument with
    # the others so only an all-NULL list stays NULL.
    rotated = [", ".join(args[i:] + args[:i]) for i in range(len(args))]
    return f"{fn}({', '.join(f'coalesce({r})' for r in rotated)})"


@compiles(least_of, "sqlite")
def _least_sqlite(element: least_of, compiler: Any, **kw: Any) -> str:
    return _nulls_skipped("min", _args(element, compiler, **kw))


@compiles(greatest_of, "sqlite")
def _greatest_sqlite(element: greatest_of, compiler: Any, **kw: Any) -> str:
    return _nulls_skipped("max", _args(element, compiler, **kw))


class str_pos(FunctionElement[int]):  # noqa: N801
    """1-based position of ``needle`` in ``haystack`` (0 when absent), case-sensitive."""

    type = Integer()
    inherit_cache = True
    name = "str_pos"


@compiles(str_pos)
def _str_pos(element: str_pos, compiler: Any, **kw: Any) -> str:
    haystack, needle = _args(element, compiler, **kw)
    return f"strpos({haystack}, {needle})"


@compiles(str_pos, "sqlite")
def _str_pos_sqlite(element: str_pos, compiler: Any, **kw: Any) -> str:
    haystack, needle = _args(element, compiler, **kw)
    return f"instr({haystack}, {needle})"
