"""Funnel figures of a form's lifecycle, each one set-based SQL statement inside the database:

- ``stage_counts``: records per stage now (GROUP BY on the form's table);
- ``conversions``: moves between stages in a period (from ``lb_stage_history``);
- ``time_in_stage``: how long records stayed in each stage they left in a period (count,
  average and median days; the median by window functions, so SQLite and PostgreSQL agree);
- ``overdue_in_stage`` / ``overdue_counts``: records in their stage longer than its
  ``target_days`` (the current stage's latest entry; a record with no entry counts from its
  creation).

Every function takes ``scope``: a WHERE clause on the form's table restricting the records
counted (the reader's row scope); None counts every record. Callers check the read right.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, DateTime, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.events.model import as_utc
from lendbase.forms.compile import CompiledForm
from lendbase.forms.model import Lifecycle

_DAY = 86400


@dataclass(frozen=True)
class Conversion:
    source: str | None  # None: records that started at ``target``
    target: str
    count: int


@dataclass(frozen=True)
class StageTime:
    stage: str
    count: int  # records that left the stage in the period (with a known duration)
    avg_days: float
    median_days: float


@dataclass(frozen=True)
class OverdueRecord:
    record_id: int
    stage: str
    entered_at: datetime
    days_in_stage: float
    target_days: int


def _lifecycle(cf: CompiledForm) -> Lifecycle:
    if cf.form.lifecycle is None:
        raise ValueError(f"form {cf.key!r} has no lifecycle")
    return cf.form.lifecycle


def _days(seconds: Any) -> float:
    if seconds is None:
        return 0.0
    return round(float(Decimal(str(seconds))) / _DAY, 2)


def _history_scope(cf: CompiledForm, scope: ColumnElement[bool] | None) -> list[Any]:
    h = db.stage_history
    conditions: list[Any] = [h.c.form_key == cf.key]
    if scope is not None:
        conditions.append(h.c.record_id.in_(select(cf.table.c.id).where(scope)))
    return conditions


def _utc(value: datetime) -> datetime:
    """Times are stored in UTC (SQLite keeps no offset, so a bound value must be UTC too)."""
    return value.astimezone(UTC)


def _period(since: datetime | None, until: datetime | None) -> list[Any]:
    h = db.stage_history
    out: list[Any] = []
    if since is not None:
        out.append(h.c.at >= _utc(since))
    if until is not None:
        out.append(h.c.at < _utc(until))
    return out


def stage_counts(session: Session, cf: CompiledForm,
                 scope: ColumnElement[bool] | None = None) -> dict[str | None, int]:
    """Records per value of the stage field now (None: records without a stage)."""
    column = cf.table.c[_lifecycle(cf).field]
    query = select(column, func.count()).group_by(column)
    if scope is not None:
        query = query.where(scope)
    return {stage: int(n) for stage, n in session.execute(query)}


def conversions(session: Session, cf: CompiledForm, since: datetime | None = None,
                until: datetime | None = None,
                scope: ColumnElement[bool] | None = None) -> list[Conversion]:
    """How many records moved from each stage to each other in [since, until)."""
    _lifecycle(cf)
    h = db.stage_history
    rows = session.execute(
        select(h.c.from_stage, h.c.to_stage, func.count())
        .where(*_history_scope(cf, scope), *_period(since, until))
        .group_by(h.c.from_stage, h.c.to_stage)
        .order_by(h.c.from_stage, h.c.to_stage)).all()
    return [Conversion(a, b, int(n)) for a, b, n in rows]


def time_in_stage(session: Session, cf: CompiledForm, since: datetime | None = None,
                  until: datetime | None = None,
                  scope: ColumnElement[bool] | None = None) -> dict[str, StageTime]:
    """Per stage left in [since, until): how many left it and their average and median days
    in it. The median is the mean of the middle one or two durations, picked by row number."""
    _lifecycle(cf)
    h = db.stage_history
    seconds = h.c.seconds_in_previous
    ranked = (
        select(h.c.from_stage.label("stage"), seconds.label("seconds"),
               func.row_number().over(partition_by=h.c.from_stage,
                                      order_by=seconds).label("rn"),
               func.count().over(partition_by=h.c.from_stage).label("n"))
        .where(*_history_scope(cf, scope), *_period(since, until),
               h.c.from_stage.is_not(None), seconds.is_not(None))
        .subquery("ranked"))
    middle = or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
    rows = session.execute(
        select(ranked.c.stage, func.count(), func.avg(ranked.c.seconds),
               func.avg(case((middle, ranked.c.seconds))))
        .group_by(ranked.c.stage)).all()
    return {stage: StageTime(stage, int(n), _days(avg), _days(median))
            for stage, n, avg, median in rows}


def _entered_query(cf: CompiledForm, now: datetime,
                   scope: ColumnElement[bool] | None) -> tuple[Any, dict[str, int]] | None:
    """Records in a stage with a target, with the time they entered it and their deadline
    (entered before it: overdue), as a subquery; None when no stage has a target."""
    lc = _lifecycle(cf)
    targets = {s.key: s.target_days for s in lc.stages
               if s.target_days is not None and s.key not in lc.terminal}
    if not targets:
        return None
    t, h = cf.table, db.stage_history
    stage = t.c[lc.field]
    entered = (select(func.max(h.c.at))
               .where(h.c.form_key == cf.key, h.c.record_id == t.c.id, h.c.to_stage == stage)
               .correlate(t).scalar_subquery())
    cutoffs = {key: _utc(now) - timedelta(days=days) for key, days in targets.items()}
    query = select(t.c.id.label("record_id"), stage.label("stage"),
                   func.coalesce(entered, t.c.created_at).label("entered_at"),
                   case({key: literal(at, DateTime(timezone=True))
                         for key, at in cutoffs.items()}, value=stage).label("cutoff")
                   ).where(stage.in_(list(targets)))
    if scope is not None:
        query = query.where(scope)
    return query.subquery("in_stage"), targets


def overdue_in_stage(session: Session, cf: CompiledForm, now: datetime,
                     scope: ColumnElement[bool] | None = None,
                     limit: int = 100) -> list[OverdueRecord]:
    """Records in their stage beyond its target, longest waiting first (at most ``limit``)."""
    found = _entered_query(cf, now, scope)
    if found is None:
        return []
    sub, targets = found
    rows = session.execute(
        select(sub.c.record_id, sub.c.stage, sub.c.entered_at)
        .where(sub.c.entered_at < sub.c.cutoff)
        .order_by(sub.c.entered_at, sub.c.record_id).limit(limit)).all()
    out = []
    for record_id, stage, entered_at in rows:
        at = as_utc(entered_at) or entered_at
        out.append(OverdueRecord(int(record_id), stage, at,
                                 round((now - at).total_seconds() / _DAY, 2), targets[stage]))
    return out


def overdue_counts(session: Session, cf: CompiledForm, now: datetime,
                   scope: ColumnElement[bool] | None = None) -> dict[str, int]:
    """How many records are beyond their stage's target, per stage."""
    found = _entered_query(cf, now, scope)
    if found is None:
        return {}
    sub, _targets = found
    rows = session.execute(select(sub.c.stage, func.count())
                           .where(and_(sub.c.entered_at < sub.c.cutoff))
                           .group_by(sub.c.stage)).all()
    return {stage: int(n) for stage, n in rows}


__all__ = ["Conversion", "OverdueRecord", "StageTime", "conversions", "overdue_counts",
           "overdue_in_stage", "stage_counts", "time_in_stage"]
