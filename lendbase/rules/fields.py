"""``set_field`` actions, set based: one audit INSERT ... SELECT and one UPDATE for all the field
changes of an action list, whatever the number of records.

For the records that match and whose value would change (``IS DISTINCT FROM`` the new value),
the audit trail gets one row each (action ``update``, the record's next version, no actor: the
system, and ``{field: [before, after]}`` for the fields that change in that row, built in SQL),
then the form's table is updated with the version bumped. Rows are locked first (``SELECT ...
FOR UPDATE`` on PostgreSQL), so the audit rows and the update see the same values.

Field changes made by rules emit no ``record.updated`` event: a rule's change never triggers
rules in turn (no cascades, no loops); the audit trail records it.

Refused targets: sensitive (encrypted) fields, computed fields, sub-tables, multiple-choice,
files and auto numbers. The value is a literal of the field's type (null empties a field that
is not required) or a formula evaluated in SQL (numbers, dates, text, yes/no).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    String,
    case,
    cast,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)

from lendbase import db
from lendbase.conditions import UnsupportedNode, compile_formula_sql
from lendbase.conditions.bind_expr import ExpressionBinder
from lendbase.conditions.context import (
    ANY,
    BOOL,
    DATE,
    DATETIME,
    INT,
    NULL,
    NUM,
    TEXT,
    kind_of_type,
)
from lendbase.forms.model import FieldDef
from lendbase.forms.values import FieldValueError, coerce_value
from lendbase.rules.actions import ActionOutcome, Run
from lendbase.rules.model import SetField
from lendbase.rules.sql import audit_changes, audit_value, key_literal
from lendbase.work.common import execute_counting

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Field types a rule may not write, and why.
REFUSED_TYPES = {
    "subtable": "a sub-table holds rows; a rule cannot replace them",
    "computed": "a computed field is its formula; change the fields it reads instead",
    "multiselect": "a multiple-choice field cannot be set by a rule yet; use a tag",
    "file": "a file field holds an uploaded file",
    "auto_number": "an auto number is given once, when the record is created",
}
#: The formula result kinds each target kind accepts.
_ACCEPTS = {INT: {INT}, NUM: {INT, NUM}, TEXT: {TEXT}, DATE: {DATE}, DATETIME: {DATETIME},
            BOOL: {BOOL}}


class FieldChangeRefused(ValueError):
    pass


@dataclass(frozen=True)
class _Change:
    action: SetField
    field: FieldDef
    value: ColumnElement[Any]

    @property
    def column(self) -> Any:
        return self.field.key


def _target(run: Run, action: SetField) -> FieldDef:
    form = run.target.cf.form
    if not form.has_field(action.field):
        writable = [f.key for f in form.fields
                    if f.stored and not f.sensitive and f.type not in REFUSED_TYPES]
        raise FieldChangeRefused(
            f"form {run.form_key!r} has no field {action.field!r}; use one of: "
            + ", ".join(writable[:20]))
    f = form.field(action.field)
    if f.type in REFUSED_TYPES:
        raise FieldChangeRefused(f"field {f.key!r} cannot be set by a rule: "
                                 f"{REFUSED_TYPES[f.type]}")
    if f.sensitive:
        raise FieldChangeRefused(f"field {f.key!r} is sensitive (stored encrypted); a rule "
                                 "cannot write it — people change it on the record, with "
                                 "their right to")
    return f


def _literal(run: Run, f: FieldDef, raw: Any) -> ColumnElement[Any]:
    column = run.target.table.c[f.key]
    if raw is None or raw == "":
        if f.required:
            raise FieldChangeRefused(f"field {f.key!r} is required; a rule cannot empty it — "
                                     "give a value")
        return null()
    try:
        value = coerce_value(f, raw)
    except FieldValueError as exc:
        raise FieldChangeRefused(f"{raw!r} is not a value of field {f.key!r}: "
                                 f"{getattr(exc, 'text', exc)}") from None
    if f.type in {"reference", "user"}:
        table = (run.target.cf.table.metadata.tables.get(_target_table(run, f))
                 if f.type == "reference" else db.user)
        if table is None or run.session.execute(
                select(table.c.id).where(table.c.id == value)).first() is None:
            what = f"a {f.target} record" if f.type == "reference" else "a user"
            raise FieldChangeRefused(f"{value!r} is not {what}; give the id of one that exists")
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
    # typed bound value (PostgreSQL gets a cast from the driver; no CAST on SQLite, where
    # CAST(text AS DATE) would turn a date into a number)
    return literal(value, column.type)


def _target_table(run: Run, f: FieldDef) -> str:
    from lendbase.forms.naming import table_name_for

    return table_name_for(f.target or "")


def _formula(run: Run, f: FieldDef, text: str) -> ColumnElement[Any]:
    if f.type in {"select", "reference", "user", "region"}:
        raise FieldChangeRefused(f"field {f.key!r} takes one of its allowed values; give it "
                                 "as \"value\" rather than a formula")
    try:
        bound = ExpressionBinder(run.context).bind_text(text)
        expr = compile_formula_sql(text, run.context)
    except UnsupportedNode as exc:
        raise FieldChangeRefused(f"formula {text!r}: {exc.message}") from None
    want = kind_of_type(f.type)
    if bound.kind not in (NULL, ANY) and bound.kind not in _ACCEPTS.get(want, {want}):
        raise FieldChangeRefused(f"formula {text!r} gives {bound.kind}, but field {f.key!r} "
                                 f"({f.type}) needs {want}")
    if f.type in {"decimal", "money", "percent"}:
        scale = f.decimals if f.decimals is not None else (4 if f.type == "percent" else 2)
        expr = func.round(expr, scale)
    if f.type == "integer":
        expr = cast(func.round(expr), Integer())
    column = run.target.table.c[f.key]
    return cast(expr, column.type) if f.type not in {"date", "datetime"} else expr


def _change(run: Run, action: SetField) -> _Change:
    f = _target(run, action)
    value = _literal(run, f, action.value) if action.has_value \
        else _formula(run, f, action.formula or "")
    return _Change(action, f, value)


def set_field_errors(run: Run, action: SetField, ptr: str) -> dict[str, list[str]]:
    try:
        f = _target(run, action)
    except FieldChangeRefused as exc:
        return {f"{ptr}/field": [str(exc)]}
    try:
        if action.has_value:
            _literal(run, f, action.value)
        else:
            _formula(run, f, action.formula or "")
    except FieldChangeRefused as exc:
        return {f"{ptr}/{'value' if action.has_value else 'formula'}": [str(exc)]}
    return {}


def apply_field_changes(run: Run, actions: Sequence[SetField]) -> dict[int, ActionOutcome]:
    """Count, sample and (unless a dry run) apply every ``set_field`` of the list together."""
    if not actions:
        return {}
    t = run.target.table
    changes = [_change(run, a) for a in actions]
    differs = [t.c[c.column].is_distinct_from(c.value) for c in changes]
    rows = select(t.c.id, *[case((d, 1), else_=0).label(f"c{i}")
                            for i, d in enumerate(differs)]).where(run.target.within,
                                                                   or_(*differs))
    if not run.dry_run:
        rows = rows.with_for_update(of=t)
    sub = rows.subquery("changing")
    totals = run.session.execute(select(func.count(), *[
        func.coalesce(func.sum(sub.c[f"c{i}"]), 0) for i in range(len(changes))
    ]).select_from(sub)).one()
    outcomes = {c.action.index: ActionOutcome(c.action.index, c.action.type, int(totals[i + 1]),
                                              run.target.sample(differs[i]))
                for i, c in enumerate(changes)}
    if run.dry_run or not totals[0]:
        return outcomes
    now = literal(run.now, DateTime(timezone=True))
    where = (run.target.within, or_(*differs))
    quads: list[Any] = []
    for c, d in zip(changes, differs, strict=True):
        quads += [key_literal(c.column), audit_value(t.c[c.column], c.field.type,
                                                     c.field.decimals),
                  audit_value(c.value, c.field.type, c.field.decimals), d]
    run.session.execute(insert(db.audit).from_select(
        ["form_key", "record_id", "action", "record_version", "actor_id", "at", "changes"],
        select(literal(run.form_key, String(64)), t.c.id, literal("update", String(16)),
               t.c.version + 1, null(), now, audit_changes(*quads)).where(*where)))
    execute_counting(run.session, update(t).where(*where).values(
        {c.column: c.value for c in changes} | {"version": t.c.version + 1,
                                                "updated_at": now, "updated_by": None}))
    return outcomes


__all__ = ["REFUSED_TYPES", "apply_field_changes", "set_field_errors"]
