"""Recomputing a segment's membership, set based: the condition is compiled once to SQL and
the whole change is a handful of ``INSERT ... SELECT`` / ``DELETE`` / ``UPDATE`` statements,
whatever the number of records.

One run (``recompute_segment``), with ``run`` a fresh run key:

1. upsert today's ``lb_segment_count`` row (carrying yesterday's member count forward); on
   PostgreSQL this also locks it, so two runs of one segment take turns;
2. ``INSERT INTO lb_segment_history ... SELECT`` the records that match and are not members
   (``entered``);
3. ``INSERT INTO lb_segment_history ... SELECT`` the members whose record no longer matches,
   was deleted, or belongs to another form than the segment's now (``left``);
4. ``DELETE`` from ``lb_segment_member`` the ``left`` rows of this run (only if any);
5. ``INSERT INTO lb_segment_member ... SELECT`` the ``entered`` rows of this run (only if any);
6. ``UPDATE`` today's counts (only if anything moved);

then the on-enter and on-leave actions of the rule engine, each given the records as a SELECT
of this run's history rows. Restricted to some records (a record changed), every statement
gets ``id IN (...)``: the same SQL for one record as for a million.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Select,
    String,
    Table,
    and_,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.conditions import ConditionContext, ConditionSchema, compile_sql
from lendbase.errors import NotFound
from lendbase.forms.compile import CompiledForm, CompiledSchema
from lendbase.forms.values import DEFAULT_TZ
from lendbase.meta.store import MetadataStore
from lendbase.segments.actions import run_actions
from lendbase.segments.model import KIND, SegmentDef, load_segment
from lendbase.work.common import execute_counting

m = db.segment_member
h = db.segment_history
c = db.segment_count

ENTERED = "entered"
LEFT = "left"
#: Restrict a run to these records: a SELECT of ids, or a few ids (a record change).
Ids = Select[Any] | Collection[int]
Clock = Callable[[], datetime]


def new_run_key(now: datetime) -> str:
    """A run's key: its time (UTC, to the second) and a random suffix, e.g.
    ``20261128T090000Z.3fa2c1``; the cause of the actions of that run names it, so a record
    that enters again later gets new tasks."""
    return f"{now.astimezone(DEFAULT_TZ).strftime('%Y%m%dT%H%M%S')}.{secrets.token_hex(3)}"


def business_day(now: datetime) -> Any:
    """The day (in the business time zone) whose counts a run at ``now`` updates."""
    return now.astimezone(DEFAULT_TZ).date()


def condition_schema(schema: CompiledSchema) -> ConditionSchema:
    """What a segment condition may read: every published form, encrypted fields excluded
    (segments run in background jobs without the key-derived lookup of encrypted values)."""
    return ConditionSchema.from_compiled(schema, sensitive=False)


def compiled_form(schema: CompiledSchema, form_key: str) -> CompiledForm:
    try:
        return schema[form_key]
    except KeyError:
        raise NotFound(f"form {form_key!r} is not published; publish it first or pick a "
                       "published form") from None


def match_clause(segment: SegmentDef, schema: CompiledSchema, now: datetime,
                 conditions: ConditionSchema | None = None) -> ColumnElement[bool]:
    """The segment's condition as one WHERE clause over its form's table; relative dates are
    computed from ``now`` (the injected clock). Raises ``UnsupportedNode``."""
    context = ConditionContext.for_form(conditions or condition_schema(schema), segment.form,
                                        now=now)
    return compile_sql(segment.condition, context)


def _restrict(column: Any, ids: Ids | None) -> ColumnElement[bool]:
    if ids is None:
        return true()
    if isinstance(ids, Select):
        return column.in_(ids)  # type: ignore[no-any-return]
    return column.in_(sorted({int(i) for i in ids}))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class MembershipSql:
    """The two sets of a run as SELECTs of record ids (simulation counts and samples them,
    recompute inserts them): the same SQL, so a simulation says what the run will do."""

    segment: str
    form: str
    table: Table
    clause: ColumnElement[bool]
    ids: Ids | None = None

    def is_member(self) -> ColumnElement[bool]:
        t = self.table
        return exists().where(m.c.segment_key == self.segment, m.c.record_id == t.c.id,
                              m.c.form_key == self.form)

    def matching(self) -> Select[Any]:
        t = self.table
        return select(t.c.id).where(self.clause, _restrict(t.c.id, self.ids))

    def entering_where(self) -> ColumnElement[bool]:
        t = self.table
        return and_(self.clause, ~self.is_member(), _restrict(t.c.id, self.ids))

    def leaving_where(self) -> ColumnElement[bool]:
        """Members whose record no longer matches, is gone, or is of another form."""
        t = self.table
        still = exists().where(t.c.id == m.c.record_id, self.clause)
        return and_(m.c.segment_key == self.segment,
                    or_(m.c.form_key != self.form, ~still), _restrict(m.c.record_id, self.ids))

    def entering(self) -> Select[Any]:
        return select(self.table.c.id).where(self.entering_where())

    def leaving(self) -> Select[Any]:
        return select(m.c.record_id).where(self.leaving_where())


def membership_sql(segment: SegmentDef, schema: CompiledSchema, now: datetime,
                   ids: Ids | None = None) -> MembershipSql:
    table = compiled_form(schema, segment.form).table
    return MembershipSql(segment.key, segment.form, table, match_clause(segment, schema, now),
                         ids)


def run_ids(run_key: str, event: str) -> Select[Any]:
    """The records that entered (or left) in run ``run_key``: what the actions act on."""
    return select(h.c.record_id).where(h.c.run_key == run_key, h.c.event == event)


@dataclass(frozen=True)
class RecomputeReport:
    segment: str
    version: int
    run_key: str
    at: datetime
    entered: int
    left: int
    #: members after the run (from the counts row)
    members: int
    #: restricted to some records (a record change), not the whole form
    partial: bool = False
    enter_actions: Any = None
    leave_actions: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"segment": self.segment, "version": self.version, "run_key": self.run_key,
                "at": self.at, "entered": self.entered, "left": self.left,
                "members": self.members, "partial": self.partial,
                "enter_actions": report_dict(self.enter_actions),
                "leave_actions": report_dict(self.leave_actions)}


def report_dict(report: Any) -> Any:
    """The rule engine's ``ActionReport`` as JSON values (None stays None)."""
    return None if report is None else report.to_dict()


def _dialect_insert(session: Session, table: Table) -> Any:
    factory = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(
        session.get_bind().dialect.name)
    if factory is None:
        raise NotImplementedError("segments run on PostgreSQL and SQLite")
    return factory(table)


def _lock_counts(session: Session, key: str, day: Any, now: datetime) -> None:
    """Make sure today's counts row exists (members carried from the latest earlier day) and,
    on PostgreSQL, hold its lock until the transaction ends: one run of a segment at a time."""
    previous = (select(c.c.members).where(c.c.segment_key == key, c.c.day < day)
                .order_by(c.c.day.desc()).limit(1).scalar_subquery())
    source = select(literal(key, String(64)), literal(day, Date()),
                    func.coalesce(previous, literal(0, BigInteger())), literal(0, BigInteger()),
                    literal(0, BigInteger()), literal(now, DateTime(timezone=True))
                    ).where(true())  # SQLite's upsert needs a WHERE after INSERT ... SELECT
    stmt = _dialect_insert(session, c).from_select(
        ["segment_key", "day", "members", "entered", "left", "updated_at"], source)
    stmt = stmt.on_conflict_do_update(index_elements=["segment_key", "day"],
                                      set_={"updated_at": stmt.excluded.updated_at})
    session.execute(stmt)


def _history_insert(key: str, version: int, run: str, now: datetime, event: str,
                    source: Select[Any]) -> Any:
    """``INSERT INTO lb_segment_history ... SELECT`` (form_key, record_id) rows of ``source``."""
    sub = source.subquery("moved")
    columns = sub.c
    rows = select(literal(key, String(64)), columns.form_key, columns.record_id,
                  literal(event, String(8)), literal(now, DateTime(timezone=True)),
                  literal(version, Integer()), literal(run, String(40)))
    return db.segment_history.insert().from_select(
        ["segment_key", "form_key", "record_id", "event", "at", "version", "run_key"], rows)


def apply_membership(session: Session, segment: SegmentDef, version: int,
                     sql: MembershipSql, now: datetime) -> tuple[str, int, int, int]:
    """Statements 1-6 of the module docstring. Returns (run key, entered, left, members)."""
    key = segment.key
    run = new_run_key(now)
    day = business_day(now)
    _lock_counts(session, key, day, now)
    t = sql.table
    entered = execute_counting(session, _history_insert(
        key, version, run, now, ENTERED,
        select(literal(segment.form, String(64)).label("form_key"),
               t.c.id.label("record_id")).where(sql.entering_where())))
    left = execute_counting(session, _history_insert(
        key, version, run, now, LEFT,
        select(m.c.form_key.label("form_key"), m.c.record_id.label("record_id"))
        .where(sql.leaving_where())))
    if left:
        session.execute(delete(m).where(m.c.segment_key == key,
                                        m.c.record_id.in_(run_ids(run, LEFT))))
    if entered:
        session.execute(m.insert().from_select(
            ["segment_key", "record_id", "form_key", "entered_at"],
            select(h.c.segment_key, h.c.record_id, h.c.form_key, h.c.at)
            .where(h.c.run_key == run, h.c.event == ENTERED)))
    if entered or left:
        members = session.execute(
            update(c).where(c.c.segment_key == key, c.c.day == day)
            .values(members=c.c.members + entered - left, entered=c.c.entered + entered,
                    left=c.c.left + left, updated_at=now)
            .returning(c.c.members)).scalar_one()
    else:
        members = session.execute(select(c.c.members).where(
            c.c.segment_key == key, c.c.day == day)).scalar_one()
    return run, entered, left, int(members)


def enter_cause(key: str, run: str) -> str:
    """The cause of on-enter actions of a run: the rule engine appends the record id, so each
    entry (a run) of each record gets its own task; a retried run is a new transaction."""
    return f"segment:{key}:enter:{run}"


def leave_cause(key: str, run: str) -> str:
    return f"segment:{key}:leave:{run}"


def source_of(key: str) -> str:
    return f"segment:{key}"


def recompute_definition(session: Session, segment: SegmentDef, version: int, *,
                         clock: Clock, schema: CompiledSchema,
                         ids: Ids | None = None) -> RecomputeReport:
    """Recompute ``segment`` (a published version) now, optionally only for ``ids``."""
    now = clock()
    sql = membership_sql(segment, schema, now, ids)
    run, entered, left, members = apply_membership(session, segment, version, sql, now)
    enter_report = leave_report = None
    if entered and segment.on_enter:
        enter_report = run_actions(session, segment.on_enter, form_key=segment.form,
                                   ids=run_ids(run, ENTERED), cause=enter_cause(segment.key, run),
                                   source=source_of(segment.key), clock=lambda: now,
                                   schema=schema, pointer="/on_enter")
    if left and segment.on_leave:
        leave_report = run_actions(session, segment.on_leave, form_key=segment.form,
                                   ids=run_ids(run, LEFT), cause=leave_cause(segment.key, run),
                                   source=source_of(segment.key), clock=lambda: now,
                                   schema=schema, pointer="/on_leave")
    return RecomputeReport(segment.key, version, run, now, entered, left, members,
                           partial=ids is not None, enter_actions=enter_report,
                           leave_actions=leave_report)


def published_segment(session: Session, key: str) -> tuple[SegmentDef, int]:
    """The latest published version of segment ``key`` and its number."""
    found = MetadataStore(session, None).published(KIND, key)
    if found is None:
        raise NotFound(f"segment {key!r} is not published")
    return load_segment(found.doc), found.version


def recompute_segment(session: Session, key: str, *, clock: Clock, schema: CompiledSchema,
                      ids: Ids | None = None) -> RecomputeReport:
    """Bring the membership of published segment ``key`` up to date (only for ``ids`` when
    given) and run its on-enter / on-leave actions. Never commits."""
    segment, version = published_segment(session, key)
    return recompute_definition(session, segment, version, clock=clock, schema=schema, ids=ids)


def published_segments(session: Session) -> list[tuple[SegmentDef, int]]:
    return [(load_segment(v.doc), v.version)
            for v in MetadataStore(session, None).all_published(KIND)]


def latest_counts(session: Session, keys: Collection[str] | None = None
                  ) -> Mapping[str, Mapping[str, Any]]:
    """The latest counts row of each segment: {key: {"day", "members", "entered", "left"}}."""
    latest = select(c.c.segment_key, func.max(c.c.day).label("day")).group_by(c.c.segment_key)
    if keys is not None:
        latest = latest.where(c.c.segment_key.in_(sorted(keys)))
    sub = latest.subquery()
    rows = session.execute(
        select(c).join(sub, and_(sub.c.segment_key == c.c.segment_key, sub.c.day == c.c.day))
    ).mappings().all()
    return {r["segment_key"]: dict(r) for r in rows}


__all__ = ["ENTERED", "LEFT", "MembershipSql", "RecomputeReport", "business_day",
           "condition_schema", "enter_cause", "leave_cause", "match_clause", "membership_sql",
           "new_run_key", "published_segment", "published_segments", "recompute_definition",
           "recompute_segment", "report_dict", "run_ids"]
