"""The daily delinquency job: installment statuses, loan DPD and buckets, set-based.

For a business date, in a handful of statements whatever the size of the loan book:

1. read the delinquency buckets (the ``delinquency_bucket`` form, edited by admins) and check
   that their ranges start at 0 and follow one another without gaps or overlaps;
2. one ``UPDATE`` of the installments of open loans (``active`` / ``overdue``): ``status`` and
   ``overdue_days`` by the servicing rules of ``servicing.LoanSimulation.close`` (paid when
   nothing is unpaid; overdue when past the product's grace days with more than its tolerance
   amount unpaid; else partially paid or pending);
3. the loans whose ``dpd``, ``bucket``, ``status`` or ``overdue_amount`` change, computed once
   into a temporary table with their version and before / after values: DPD counts from the
   oldest overdue installment's due date, less the days of the loan's DPD pause; the bucket and
   the status come from the bucket whose range holds the DPD;
4. from that table, one ``UPDATE`` of the loans (guarded by their version: a loan a user saved
   meanwhile is left for the next run), then for the loans it changed one ``INSERT ... SELECT``
   of their audit rows and one of the ``record.updated`` outbox events of those whose bucket or
   status changes (so rules on "bucket changed" fire), in ``emit``'s shape.

Only rows whose values change get a new ``version`` and ``updated_at``, so a second run on the
same business date changes nothing. Settled and written-off loans (and their installments) are
never touched. Dialect differences (date arithmetic, JSON building) go through SQLAlchemy
constructs; the callers own the transaction. The same statements, restricted to a few loans
(``loan_ids``), bring a loan up to date as soon as a repayment is posted (``posting``).
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Column,
    ColumnElement,
    MetaData,
    String,
    Table,
    and_,
    case,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from lendbase import db
from lendbase.conditions.sqlfuncs import add_days, day_diff
from lendbase.errors import ConfigError
from lendbase.events.model import EventType
from lendbase.events.outbox import EMITTED_KEY
from lendbase.forms.compile import CompiledSchema
from lendbase.jobs import JobContext

__all__ = [
    "BUCKET_FORM",
    "Bucket",
    "BucketRangesInvalid",
    "DelinquencyReport",
    "check_buckets",
    "delinquency_job",
    "load_buckets",
    "update_delinquency",
]

log = logging.getLogger("apps.credit_template.delinquency")

BUCKET_FORM = "delinquency_bucket"
#: Loans the job maintains; settled and written-off loans are left as they are.
OPEN_STATUSES = ("active", "overdue")
#: The loan fields the job writes, in audit order; a change of the last two emits an event.
TRACKED = ("dpd", "bucket", "status", "overdue_amount")
EVENT_FIELDS = ("bucket", "status")
TZ = ZoneInfo("Asia/Shanghai")
_PARTS = ("principal", "interest", "fee", "penalty")


# --- buckets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    """One row of the ``delinquency_bucket`` form: DPD ``min_dpd`` to ``max_dpd`` (both
    included; None: no upper bound) is bucket ``code``, and its loans get ``loan_status``."""

    id: int
    code: str
    min_dpd: int | None
    max_dpd: int | None
    loan_status: str

    def describe(self) -> str:
        upper = "" if self.max_dpd is None else self.max_dpd
        return f"{self.code} (record {self.id}, DPD {self.min_dpd}-{upper})"


class BucketRangesInvalid(ConfigError):
    """The bucket ranges cannot place every DPD in exactly one bucket; ``problems`` says where."""

    code = "invalid_delinquency_buckets"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("the delinquency buckets are not usable, fix them on the Delinquency "
                         "bucket page: " + "; ".join(self.problems))


def check_buckets(buckets: Sequence[Bucket], codes: Sequence[str],
                  statuses: Sequence[str] = OPEN_STATUSES) -> list[Bucket]:
    """The buckets in DPD order, or ``BucketRangesInvalid`` naming every row at fault: each DPD
    from 0 up must fall in exactly one bucket, codes must be options of the loan's ``bucket``
    field and statuses ``active`` or ``overdue``."""
    problems: list[str] = []
    if not buckets:
        raise BucketRangesInvalid(["there is no bucket; add at least one starting at DPD 0 "
                                   "with no upper bound"])
    seen: dict[str, Bucket] = {}
    for b in buckets:
        if b.code not in codes:
            problems.append(f"{b.describe()}: code {b.code!r} is not an option of the loan's "
                            f"bucket field ({', '.join(codes)}); add the option there or use "
                            "one of these")
        if b.code in seen:
            problems.append(f"{b.describe()} and {seen[b.code].describe()} have the same code")
        seen[b.code] = b
        if b.loan_status not in statuses:
            problems.append(f"{b.describe()}: loan status {b.loan_status!r} must be one of "
                            f"{', '.join(statuses)}")
        if b.min_dpd is None or b.min_dpd < 0:
            problems.append(f"{b.describe()}: From DPD must be 0 or more")
        elif b.max_dpd is not None and b.max_dpd < b.min_dpd:
            problems.append(f"{b.describe()}: To DPD {b.max_dpd} is below From DPD {b.min_dpd}")
    if problems:
        raise BucketRangesInvalid(problems)
    ordered = sorted(buckets, key=lambda b: (b.min_dpd or 0, b.id))
    if ordered[0].min_dpd != 0:
        problems.append(f"no bucket holds DPD 0-{(ordered[0].min_dpd or 0) - 1}: "
                        f"{ordered[0].describe()} is the first; make a bucket start at 0")
    for low, high in zip(ordered, ordered[1:], strict=False):
        assert high.min_dpd is not None
        if low.max_dpd is None or high.min_dpd <= low.max_dpd:
            end = high.max_dpd if low.max_dpd is None else (
                low.max_dpd if high.max_dpd is None else min(low.max_dpd, high.max_dpd))
            both = f"{high.min_dpd} and above" if end is None else f"{high.min_dpd}-{end}"
            problems.append(f"{low.describe()} overlaps {high.describe()}: DPD {both} would be "
                            "in both")
        elif high.min_dpd > low.max_dpd + 1:
            problems.append(f"no bucket holds DPD {low.max_dpd + 1}-{high.min_dpd - 1}, between "
                            f"{low.describe()} and {high.describe()}")
    last = ordered[-1]
    if last.max_dpd is not None:
        problems.append(f"no bucket holds DPD above {last.max_dpd}: leave To DPD of "
                        f"{last.describe()} empty or add a bucket without an upper bound")
    if problems:
        raise BucketRangesInvalid(problems)
    return ordered


def load_buckets(session: Session, schema: CompiledSchema) -> list[Bucket]:
    """The bucket rows (one SELECT), checked against the loan form's options."""
    missing = [k for k in (BUCKET_FORM, "loan", "installment", "loan_product")
               if k not in schema.forms]
    if missing:
        raise ConfigError(f"form(s) {', '.join(missing)} are not published: install the credit "
                          "template (lendbase app install apps/credit_template) first")
    t = schema[BUCKET_FORM].table
    rows = session.execute(select(t.c.id, t.c.code, t.c.min_dpd, t.c.max_dpd, t.c.loan_status)
                           .order_by(t.c.min_dpd, t.c.id)).all()
    loan = schema["loan"].form
    codes = [o.value for o in loan.field("bucket").options]
    statuses = [o.value for o in loan.field("status").options if o.value in OPEN_STATUSES]
    return check_buckets([Bucket(r.id, r.code, r.min_dpd, r.max_dpd, r.loan_status)
                          for r in rows], codes, statuses)


# --- SQL constructs whose spelling differs per dialect ---------------------------------------

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


class _ChangedJson(FunctionElement[Any]):
    """A JSON document about the fields of a row that changed: ``changes`` ({key: [old, new]},
    the audit trail's shape), ``before`` ({key: old}), ``after`` ({key: new}) or ``keys``
    ([key, ...]). Built from ``(key, changed, old, new)`` per field, where ``changed`` is a
    boolean SQL expression and ``old`` / ``new`` are already JSON-ready values."""

    inherit_cache = False  # the keys and the shape live on the element, not in its clauses
    name = "changed_json"

    def __init__(self, shape: str, fields: Sequence[tuple[str, ColumnElement[Any],
                                                          ColumnElement[Any], ColumnElement[Any]]]
                 ) -> None:
        if shape not in ("changes", "before", "after", "keys"):
            raise ValueError(f"unknown shape {shape!r}")
        if not all(_KEY.match(key) for key, *_ in fields):
            raise ValueError("field keys must be identifiers")
        self.shape, self.keys = shape, [key for key, *_ in fields]
        super().__init__(*[part for _, *parts in fields for part in parts])


class _JsonObject(FunctionElement[Any]):
    """``{"k1": v1, ...}`` of constant keys (``jsonb_build_object`` / ``json_object``)."""

    inherit_cache = False
    name = "json_object"

    def __init__(self, **values: ColumnElement[Any]) -> None:
        self.keys = list(values)
        super().__init__(*values.values())


class _MoneyText(FunctionElement[str]):
    """A money value as the audit trail writes it: text with ``scale`` decimals."""

    inherit_cache = False
    name = "money_text"
    type = String()

    def __init__(self, value: ColumnElement[Any], scale: int) -> None:
        self.scale = int(scale)
        super().__init__(value)


class _Greatest(FunctionElement[Any]):
    """The larger of two values that are never NULL (``greatest`` / SQLite's ``max``)."""

    inherit_cache = True
    name = "greatest"


class _Least(FunctionElement[Any]):
    """The smaller of two values that are never NULL (``least`` / SQLite's ``min``)."""

    inherit_cache = True
    name = "least"


@compiles(_Greatest)
def _greatest(element: _Greatest, compiler: Any, **kw: Any) -> str:
    return f"greatest({', '.join(_parts(element, compiler, **kw))})"


@compiles(_Least)
def _least(element: _Least, compiler: Any, **kw: Any) -> str:
    return f"least({', '.join(_parts(element, compiler, **kw))})"


@compiles(_Greatest, "sqlite")
def _greatest_sqlite(element: _Greatest, compiler: Any, **kw: Any) -> str:
    return f"max({', '.join(_parts(element, compiler, **kw))})"


@compiles(_Least, "sqlite")
def _least_sqlite(element: _Least, compiler: Any, **kw: Any) -> str:
    return f"min({', '.join(_parts(element, compiler, **kw))})"


def _parts(element: FunctionElement[Any], compiler: Any, **kw: Any) -> list[str]:
    return [compiler.process(c, **kw) for c in element.clauses.clauses]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _changed_triples(element: _ChangedJson, compiler: Any, **kw: Any
                     ) -> list[tuple[str, str, str, str]]:
    parts = _parts(element, compiler, **kw)
    return [(key, parts[3 * i], parts[3 * i + 1], parts[3 * i + 2])
            for i, key in enumerate(element.keys)]


@compiles(_ChangedJson, "postgresql")
def _changed_json_pg(element: _ChangedJson, compiler: Any, **kw: Any) -> str:
    fields = _changed_triples(element, compiler, **kw)
    if element.shape == "keys":
        items = ", ".join(f"CASE WHEN {c} THEN {_quote(k)} END" for k, c, _, _ in fields)
        return f"to_jsonb(array_remove(ARRAY[{items}]::text[], NULL))"
    value = {"changes": lambda o, n: f"jsonb_build_array({o}, {n})",
             "before": lambda o, n: o, "after": lambda o, n: n}[element.shape]
    doc = "jsonb_build_object(" + ", ".join(
        f"{_quote(k)}, {value(o, n)}" for k, _, o, n in fields) + ")"
    for key, changed, _, _ in fields:  # jsonb - '' removes nothing
        doc = f"({doc} - CASE WHEN {changed} THEN ''::text ELSE {_quote(key)} END)"
    return doc


@compiles(_ChangedJson, "sqlite")
def _changed_json_sqlite(element: _ChangedJson, compiler: Any, **kw: Any) -> str:
    fields = _changed_triples(element, compiler, **kw)
    keep = "'$.__unchanged__'"  # a path that is never there: json_remove leaves the doc as is
    if element.shape == "keys":
        items = ", ".join(f"CASE WHEN {c} THEN {_quote(k)} END" for k, c, _, _ in fields)
        # remove the NULLs from the last index down, so earlier indexes stay valid
        paths = ", ".join(f"CASE WHEN {c} THEN {keep} ELSE '$[{i}]' END"
                          for i, (_, c, _, _) in reversed(list(enumerate(fields))))
        return f"json_remove(json_array({items}), {paths})"
    value = {"changes": lambda o, n: f"json_array({o}, {n})",
             "before": lambda o, n: o, "after": lambda o, n: n}[element.shape]
    doc = "json_object(" + ", ".join(f"{_quote(k)}, {value(o, n)}" for k, _, o, n in fields) + ")"
    paths = ", ".join(f"CASE WHEN {c} THEN {keep} ELSE {_quote('$.' + k)} END"
                      for k, c, _, _ in fields)
    return f"json_remove({doc}, {paths})"


@compiles(_JsonObject, "postgresql")
def _json_object_pg(element: _JsonObject, compiler: Any, **kw: Any) -> str:
    values = _parts(element, compiler, **kw)
    return "jsonb_build_object(" + ", ".join(
        f"{_quote(k)}, {v}" for k, v in zip(element.keys, values, strict=True)) + ")"


@compiles(_JsonObject, "sqlite")
def _json_object_sqlite(element: _JsonObject, compiler: Any, **kw: Any) -> str:
    values = _parts(element, compiler, **kw)
    return "json_object(" + ", ".join(
        f"{_quote(k)}, {v}" for k, v in zip(element.keys, values, strict=True)) + ")"


@compiles(_MoneyText, "postgresql")
def _money_text_pg(element: _MoneyText, compiler: Any, **kw: Any) -> str:
    (value,) = _parts(element, compiler, **kw)
    return f"CAST(CAST({value} AS NUMERIC(38, {element.scale})) AS TEXT)"


@compiles(_MoneyText, "sqlite")
def _money_text_sqlite(element: _MoneyText, compiler: Any, **kw: Any) -> str:
    (value,) = _parts(element, compiler, **kw)
    # printf reads NULL as 0
    return f"CASE WHEN {value} IS NULL THEN NULL ELSE printf('%.{element.scale}f', {value}) END"


# --- the job -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DelinquencyReport:
    """What one run changed."""

    business_date: date
    installments_changed: int
    loans_changed: int
    events: int
    buckets: tuple[str, ...]

    def __str__(self) -> str:
        return (f"delinquency on {self.business_date}: {self.installments_changed} "
                f"installment(s) and {self.loans_changed} loan(s) changed, {self.events} "
                f"bucket/status event(s); buckets {', '.join(self.buckets)}")


def _positive(value: ColumnElement[Any]) -> ColumnElement[Any]:
    return _Greatest(value, literal(0))


def _unpaid(inst: Table) -> ColumnElement[Any]:
    """Due less paid over every part, rounded to cents (SQLite computes in binary floats)."""
    due = sum((func.coalesce(inst.c[f"{p}_due"], 0) for p in _PARTS[1:]),
              func.coalesce(inst.c.principal_due, 0))
    paid = sum((func.coalesce(inst.c[f"{p}_paid"], 0) for p in _PARTS[1:]),
               func.coalesce(inst.c.principal_paid, 0))
    return func.round(due - paid, 2)


def _installment_update(inst: Table, loan: Table, product: Table, day: Any, now: datetime,
                        loan_ids: Sequence[int] | None = None) -> Any:
    """Statuses and days overdue of the installments of open loans (of ``loan_ids`` only,
    when given), where they change."""
    unpaid = _unpaid(inst)
    paid_any = sum((func.coalesce(inst.c[f"{p}_paid"], 0) for p in _PARTS[1:]),
                   func.coalesce(inst.c.principal_paid, 0)) > 0
    late = day_diff(inst.c.due_date, day)
    overdue = and_(late > func.coalesce(product.c.grace_days, 0),
                   unpaid > func.coalesce(product.c.tolerance_amount, 0))
    status = case((unpaid <= 0, "paid"), (overdue, "overdue"), (paid_any, "partially_paid"),
                  else_="pending")
    paid_late = case((inst.c.paid_in_full_on.is_(None), func.coalesce(inst.c.overdue_days, 0)),
                     else_=_positive(day_diff(inst.c.due_date, inst.c.paid_in_full_on)))
    days = case((unpaid <= 0, paid_late), (overdue, late), else_=0)
    statement = (update(inst)
                 .where(inst.c.loan == loan.c.id, loan.c.product == product.c.id,
                        loan.c.status.in_(OPEN_STATUSES),
                        or_(inst.c.status.is_distinct_from(status),
                            inst.c.overdue_days.is_distinct_from(days)))
                 .values(status=status, overdue_days=days, version=inst.c.version + 1,
                         updated_at=now, updated_by=None))
    return statement if loan_ids is None else statement.where(inst.c.loan.in_(loan_ids))


def _changes_table(loan: Table) -> Table:
    """A temporary table of this run's changed loans: before and after values."""
    columns = [Column("id", loan.c.id.type, primary_key=True, autoincrement=False),
               Column("version", loan.c.version.type)]
    for key in TRACKED:
        columns += [Column(f"old_{key}", loan.c[key].type), Column(f"new_{key}", loan.c[key].type)]
    return Table("lb_tmp_delinquency", MetaData(), *columns, prefixes=["TEMPORARY"])


def _changed_loans(inst: Table, loan: Table, buckets: Sequence[Bucket], day: Any,
                   loan_ids: Sequence[int] | None = None) -> Any:
    """The open loans (of ``loan_ids`` only, when given) whose tracked values differ from what
    the installments say now, with their version and before and after values."""
    arrears = select(inst.c.loan.label("loan_id"), func.min(inst.c.due_date).label("oldest"),
                     func.sum(_unpaid(inst)).label("amount")).where(inst.c.status == "overdue")
    if loan_ids is not None:
        arrears = arrears.where(inst.c.loan.in_(loan_ids))
    overdue = arrears.group_by(inst.c.loan).subquery("overdue")
    # the days of [paused_from, paused_until] within (oldest due date, business date]
    pause_end = _Least(func.coalesce(loan.c.dpd_paused_until, day), day)
    pause_start = _Greatest(overdue.c.oldest, add_days(loan.c.dpd_paused_from, -1))
    paused = case((loan.c.dpd_paused_from.is_(None), 0),
                  else_=_positive(day_diff(pause_start, pause_end)))
    fresh = (select(loan.c.id, loan.c.version, *[loan.c[key] for key in TRACKED],
                    case((overdue.c.oldest.is_(None), 0),
                         else_=_positive(day_diff(overdue.c.oldest, day) - paused))
                    .label("new_dpd"),
                    func.round(func.coalesce(overdue.c.amount, 0), 2).label("new_amount"))
             .select_from(loan.outerjoin(overdue, overdue.c.loan_id == loan.c.id))
             .where(loan.c.status.in_(OPEN_STATUSES)))
    if loan_ids is not None:
        fresh = fresh.where(loan.c.id.in_(loan_ids))
    now = fresh.subquery("fresh")
    bounded = [b for b in buckets if b.max_dpd is not None]
    last = buckets[-1]
    dpd = now.c.new_dpd
    bucket = case(*[(dpd <= b.max_dpd, b.code) for b in bounded], else_=last.code) \
        if bounded else literal(last.code)
    status = case(*[(dpd <= b.max_dpd, b.loan_status) for b in bounded],
                  else_=last.loan_status) if bounded else literal(last.loan_status)
    new = {"dpd": dpd, "bucket": bucket, "status": status, "overdue_amount": now.c.new_amount}
    return (select(now.c.id, now.c.version,
                   *[col for key in TRACKED for col in (now.c[key], new[key])])
            .where(or_(*[now.c[key].is_distinct_from(new[key]) for key in TRACKED])))


def _json_fields(tmp: Table, loan: Table, keys: Sequence[str]) -> list[tuple[str, Any, Any, Any]]:
    fields = []
    for key in keys:
        old: ColumnElement[Any] = tmp.c[f"old_{key}"]
        new: ColumnElement[Any] = tmp.c[f"new_{key}"]
        scale = getattr(loan.c[key].type, "scale", None)
        if scale is not None:  # money: text with its decimals, as the audit trail keeps it
            old, new = _MoneyText(old, scale), _MoneyText(new, scale)
        fields.append((key, tmp.c[f"old_{key}"].is_distinct_from(tmp.c[f"new_{key}"]), old, new))
    return fields


def update_delinquency(session: Session, *, business_date: date, schema: CompiledSchema,
                       now: datetime | None = None,
                       loan_ids: Sequence[int] | None = None) -> DelinquencyReport:
    """Bring installment statuses and loan DPD, bucket, status and overdue amount up to
    ``business_date`` (see the module docstring). ``loan_ids`` restricts the run to those
    loans and their installments (repayment posting brings one loan up to date at once);
    None is the whole book. Never commits; raises ``BucketRangesInvalid`` before changing
    anything when the bucket ranges are unusable."""
    if loan_ids is not None:
        loan_ids = sorted(set(loan_ids))
    now = now or datetime.now(UTC)
    buckets = load_buckets(session, schema)
    inst, loan, product = (schema[k].table for k in ("installment", "loan", "loan_product"))
    day = literal(business_date, type_=inst.c.due_date.type)
    stamp = literal(now, type_=loan.c.updated_at.type)
    conn = session.connection()
    installments = conn.execute(_installment_update(inst, loan, product, day, now, loan_ids)
                                ).rowcount

    tmp = _changes_table(loan)
    tmp.create(conn)
    conn.execute(insert(tmp).from_select(
        [c.name for c in tmp.columns], _changed_loans(inst, loan, buckets, day, loan_ids)))
    # a loan someone changed since it was read keeps its version: it is left for tomorrow
    loans = conn.execute(
        update(loan).where(loan.c.id == tmp.c.id, loan.c.version == tmp.c.version)
        .values(version=loan.c.version + 1, updated_at=now, updated_by=None,
                **{key: tmp.c[f"new_{key}"] for key in TRACKED})).rowcount
    # audit and events of the loans this UPDATE changed (and now holds locked)
    applied = tmp.join(loan, and_(loan.c.id == tmp.c.id, loan.c.version == tmp.c.version + 1,
                                  loan.c.updated_at == stamp))
    fields = _json_fields(tmp, loan, TRACKED)
    session.execute(insert(db.audit).from_select(
        ["form_key", "record_id", "action", "record_version", "actor_id", "at", "changes"],
        select(literal("loan"), tmp.c.id, literal("update"), tmp.c.version + 1, null(), stamp,
               _ChangedJson("changes", fields)).select_from(applied)))
    data = _JsonObject(changed=_ChangedJson("keys", fields),
                       before=_ChangedJson("before", fields),
                       after=_ChangedJson("after", fields))
    emitted = session.execute(insert(db.outbox).from_select(
        ["type", "name", "form_key", "record_id", "actor_id", "occurred_at", "data", "status"],
        select(literal(EventType.RECORD_UPDATED.value), null(), literal("loan"), tmp.c.id,
               null(), stamp, data, literal("pending")).select_from(applied)
        .where(or_(*[tmp.c[f"old_{k}"].is_distinct_from(tmp.c[f"new_{k}"])
                     for k in EVENT_FIELDS])))
        .returning(db.outbox.c.id, db.outbox.c.type)).all()
    session.info.setdefault(EMITTED_KEY, []).extend((r.id, r.type) for r in emitted)
    tmp.drop(conn)
    return DelinquencyReport(business_date, installments, loans, len(emitted),
                             tuple(b.code for b in buckets))


# --- running it --------------------------------------------------------------------------


def business_date_of(moment: datetime) -> date:
    """The business date of an instant: its date in the business time zone."""
    return moment.astimezone(TZ).date()


def delinquency_job(ctx: JobContext, business_date: str | None = None) -> None:
    """The scheduled job (``app.json`` schedules it at 00:10 Beijing time): the business date
    is the schedule's due date in Asia/Shanghai, or ``business_date`` (ISO) when given, as
    ``enqueue(session, "apps.credit_template.delinquency.delinquency_job",
    kwargs={"business_date": "2026-03-15"})`` does to run it now for a date."""
    from lendbase.forms.publish import load_compiled_schema

    day = date.fromisoformat(business_date) if business_date \
        else business_date_of(ctx.due_at or ctx.now)
    report = update_delinquency(ctx.session, business_date=day,
                                schema=load_compiled_schema(ctx.session), now=ctx.now)
    log.info("%s", report)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m apps.credit_template.delinquency [--date YYYY-MM-DD]``: run the job now on
    the database of ``DATABASE_URL`` (or the embedded one) and commit."""
    from sqlalchemy.orm import sessionmaker

    from lendbase.config import load_settings
    from lendbase.forms.publish import load_compiled_schema

    parser = argparse.ArgumentParser(description="Run the daily delinquency job now.")
    parser.add_argument("--date", type=date.fromisoformat,
                        help="business date (default: today in Asia/Shanghai)")
    parser.add_argument("--dry-run", action="store_true", help="report, then roll back")
    args = parser.parse_args(argv)
    engine = db.make_engine(load_settings().database_url)
    try:
        with sessionmaker(engine)() as session:
            day = args.date or business_date_of(datetime.now(UTC))
            report = update_delinquency(session, business_date=day,
                                        schema=load_compiled_schema(session))
            if args.dry_run:
                session.rollback()
            else:
                session.commit()
    except BucketRangesInvalid as error:
        print(f"error: {error.message}")
        return 1
    finally:
        engine.dispose()
    print(("(dry run, rolled back) " if args.dry_run else "") + str(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
