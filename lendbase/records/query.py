"""List queries: filters (condition trees), sort, search and keyset pagination.

No page ever counts the whole table: a page fetches ``limit + 1`` rows to know whether another
follows, and the cursor carries the sort key of the last row, so page 500 costs what page 1 does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, false, or_, select, tuple_

from lendbase.conditions import ConditionContext, FormScope, UnsupportedNode, compile_sql
from lendbase.errors import ValidationFailed
from lendbase.forms.compile import SYSTEM_COLUMNS
from lendbase.forms.model import FormDef
from lendbase.forms.naming import hash_column_for
from lendbase.forms.values import (
    INT64_MAX,
    MAX_EXPONENT,
    FieldValueError,
    coerce_value,
    text_problem,
)

MAX_LIMIT = 200
#: A cursor is a few sort values; anything much longer is not one of ours.
MAX_CURSOR_CHARS = 4096
_AFTER_ERROR = "the cursor is not valid for this sort order; start again from the first page"


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool


def parse_sort(form: FormDef, order_by: Sequence[str] | None, *,
               hidden_fields: frozenset[str] = frozenset()) -> list[SortKey]:
    """Sort keys from ``["-created_at", "name"]``; ``id`` is always the final tie-breaker.

    ``hidden_fields`` (hidden from the reader's role) cannot be sorted by: the order would
    reveal their values.
    """
    sortable = {f.key for f in form.stored_fields if not f.sensitive and f.type != "multiselect"}
    sortable |= set(SYSTEM_COLUMNS)
    sortable -= hidden_fields
    keys: list[SortKey] = []
    id_descending: bool | None = None
    for item in order_by or form.default_sort or ["-id"]:
        if not isinstance(item, str):
            raise ValidationFailed({"order_by": [
                "give field keys as text, e.g. [\"-created_at\", \"name\"]"]})
        name = item.lstrip("-")
        if name not in sortable:
            raise ValidationFailed({"order_by": [
                f"cannot sort by {name!r}; sortable: {', '.join(sorted(sortable))}"]})
        if name == "id":
            id_descending = item.startswith("-")
            break
        keys.append(SortKey(name, item.startswith("-")))
    if len(keys) > 3:
        raise ValidationFailed({"order_by": ["sort by at most 3 fields"]})
    if id_descending is None:
        id_descending = keys[-1].descending if keys else True
    return [*keys, SortKey("id", id_descending)]


def _dump(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"D": value.isoformat()}
    return value


def _load(value: Any) -> Any:
    if isinstance(value, dict):
        if "d" in value:
            return Decimal(value["d"])
        if "t" in value:
            return datetime.fromisoformat(value["t"])
        if "D" in value:
            return date.fromisoformat(value["D"])
        raise ValueError
    return value


def _fits(value: Any, column: Any) -> bool:
    """Whether a decoded cursor value has the type of its sort column."""
    if value is None:
        return True
    try:
        expected = column.type.python_type
    except NotImplementedError:
        return False
    if isinstance(value, bool):
        return expected is bool
    if expected is int:
        return isinstance(value, int) and abs(value) <= INT64_MAX
    if expected in (Decimal, float):
        return (isinstance(value, Decimal) and value.is_finite()
                and (not value or abs(value.adjusted()) <= MAX_EXPONENT))
    if expected is datetime:
        return isinstance(value, datetime)
    if expected is date:
        return isinstance(value, date) and not isinstance(value, datetime)
    if expected is str:
        return isinstance(value, str) and text_problem(value) is None
    return False


def encode_cursor(row: Mapping[Any, Any], keys: list[SortKey]) -> str:
    payload = json.dumps([_dump(row[k.column]) for k in keys], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, keys: list[SortKey], table: Table | None = None) -> list[Any]:
    """The sort values in ``cursor``; with ``table``, each is checked against its column's type
    so a forged cursor gets a 422 on ``after``, never a database error."""
    try:
        if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError
        loaded = [_load(v) for v in values]
        if table is not None:
            for key, value in zip(keys, loaded, strict=True):
                if not _fits(value, table.c[key.column]):
                    raise ValueError
        return loaded
    except (ValueError, TypeError, ArithmeticError, RecursionError, KeyError):
        raise ValidationFailed({"after": [_AFTER_ERROR]}) from None


def _after(table: Table, keys: list[SortKey], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``keys``.

    NULL sorts as the largest value (last ascending, first descending), which is PostgreSQL's
    native order, so an index on (column, id) serves both directions. When no sort column can
    hold NULL and all go the same way, a row-value comparison ``(created_at, id) < (:v, :id)``
    lets the database start the index scan right at the cursor.
    """
    columns = [table.c[k.column] for k in keys]
    if (len({k.descending for k in keys}) == 1 and None not in values
            and not any(c.nullable for c in columns)):
        row, cursor = tuple_(*columns), tuple_(*values)
        return row < cursor if keys[0].descending else row > cursor
    clauses = []
    for i, key in enumerate(keys):
        col = table.c[key.column]
        value = values[i]
        equal_prefix = [
            (table.c[k.column].is_(None) if v is None else table.c[k.column] == v)
            for k, v in zip(keys[:i], values[:i], strict=True)
        ]
        beyond: ColumnElement[bool]
        if value is None:
            if not key.descending:
                continue  # nothing sorts after NULL ascending, except by later keys
            beyond = col.is_not(None)
        elif key.descending:
            beyond = col < value
        else:
            beyond = or_(col > value, col.is_(None))
        clauses.append(and_(*equal_prefix, beyond))
    return or_(*clauses) if clauses else false()


def order_clauses(table: Table, keys: list[SortKey]) -> list[Any]:
    return [
        table.c[k.column].desc().nulls_first() if k.descending
        else table.c[k.column].asc().nulls_last()
        for k in keys
    ]


def search_clause(form: FormDef, table: Table, text: str, lookup_hash: Any, *,
                  hidden_fields: frozenset[str] = frozenset()) -> ColumnElement[bool]:
    """Full-text search over the form's searchable fields, plus exact lookup of indexed
    sensitive fields (by keyed hash) and of auto numbers.

    ``hidden_fields`` (hidden from the reader's role) are silently left out of the search.
    """
    term = text.strip()
    problem = text_problem(term)
    if problem:
        raise ValidationFailed({"q": [f"the search text {problem}"]})
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    parts: list[ColumnElement[bool]] = [
        table.c[f.key].ilike(f"%{escaped}%", escape="\\") for f in form.searchable_fields
        if f.stored and f.key not in hidden_fields
    ]
    for f in form.stored_fields:
        if f.key in hidden_fields:
            continue
        if f.type == "auto_number":
            parts.append(table.c[f.key] == term.upper())
        if f.has_lookup_hash:
            try:
                normal = coerce_value(f, term)
            except FieldValueError:
                continue
            parts.append(table.c[hash_column_for(f.key)] == lookup_hash(f, str(normal)))
    return or_(*parts) if parts else false()


def filter_clause(form: FormDef, table: Table, where: Mapping[str, Any] | None, *,
                  hidden_fields: frozenset[str] = frozenset(),
                  now: datetime | None = None) -> ColumnElement[bool] | None:
    """The SQL of a ``where`` condition tree; every problem is a 422 on ``where``.

    Sensitive fields and ``hidden_fields`` (hidden from the reader's role) cannot be filtered
    on: bisecting with filters would reveal their values. Literals are converted to their
    field's type first, so a wrong-typed literal never reaches the database. ``now`` is the
    clock of relative dates ("created in the last 7 days"); callers should pass theirs.
    """
    if not where:
        return None
    scope = FormScope.for_form(form, table, exclude=hidden_fields, sensitive=False)
    context = ConditionContext(scope, now=now or datetime.now(UTC))
    try:
        return compile_sql(where, context)
    except UnsupportedNode as exc:
        raise ValidationFailed({"where": [exc.message]}) from None
    except (KeyError, TypeError, IndexError, ValueError, ArithmeticError) as exc:
        raise ValidationFailed({"where": [f"malformed condition: {exc}"]}) from None


def page_query(table: Table, keys: list[SortKey], conditions: list[Any],
               after: str | None, limit: int) -> Select:
    query = select(table)
    if after:
        conditions = [*conditions, _after(table, keys, decode_cursor(after, keys, table))]
    if conditions:
        query = query.where(and_(*conditions))
    return query.order_by(*order_clauses(table, keys)).limit(limit + 1)
