"""Simulating a segment before publishing it: how many records would be members, which would
enter and leave compared with the current membership, and what the on-enter actions would do.

It runs the very SELECTs a recompute turns into ``INSERT ... SELECT`` (``MembershipSql``), so
with the same clock a simulation's entering / leaving are exactly what the next recompute
does. It writes nothing: the actions run in the rule engine's dry-run mode, inside a savepoint
that is rolled back.

``as_of`` moves the clock only: relative dates ("overdue in the last 12 months", "this month")
are computed as of that day, but field values are today's (records keep no past versions of
their values here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from lendbase.errors import MetadataError
from lendbase.forms.compile import CompiledSchema
from lendbase.forms.model import FormDef
from lendbase.forms.values import DEFAULT_TZ
from lendbase.meta.store import MetadataStore
from lendbase.meta.validate import validate_document
from lendbase.segments.actions import run_actions
from lendbase.segments.binding import check_bindings
from lendbase.segments.engine import (
    MembershipSql,
    compiled_form,
    enter_cause,
    latest_counts,
    m,
    membership_sql,
    report_dict,
    source_of,
)
from lendbase.segments.model import KIND, SegmentDef, load_segment

MAX_SAMPLE = 100


def as_of_instant(as_of: date | datetime | None, now: datetime) -> datetime:
    """The clock of a simulation: ``now``, a given instant, or the end of a given day in the
    business time zone (so "today" is that day and the whole day counts)."""
    if as_of is None:
        return now
    if isinstance(as_of, datetime):
        return as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
    return datetime.combine(as_of, time(23, 59, 59, 999999), DEFAULT_TZ)


@dataclass(frozen=True)
class SampleRecord:
    id: int
    title: str
    deleted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "deleted": self.deleted}


@dataclass(frozen=True)
class SegmentSimulation:
    key: str
    form: str
    #: the clock the condition was evaluated with
    as_of: datetime
    #: how many records match (would be members)
    members: int
    #: how many would enter / leave compared with the current membership
    entering: int
    leaving: int
    #: members now (from the counts), None when the segment was never computed
    current_members: int | None
    published_version: int | None
    sample_members: list[SampleRecord] = field(default_factory=list)
    sample_entering: list[SampleRecord] = field(default_factory=list)
    sample_leaving: list[SampleRecord] = field(default_factory=list)
    #: what the on-enter actions would do (the rule engine's dry-run report)
    enter_actions: Any = None
    #: as_of was given: relative dates moved, field values are today's
    past: bool = False

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        note = None
        if self.past:
            note = ("相对日期按所选日期计算；字段取值为当前值（不回溯历史值）" if lang == "zh" else
                    "relative dates are computed as of that day; field values are today's")
        return {
            "key": self.key, "form": self.form, "as_of": self.as_of,
            "members": self.members, "entering": self.entering, "leaving": self.leaving,
            "current_members": self.current_members,
            "published_version": self.published_version,
            "sample_members": [s.to_dict() for s in self.sample_members],
            "sample_entering": [s.to_dict() for s in self.sample_entering],
            "sample_leaving": [s.to_dict() for s in self.sample_leaving],
            "enter_actions": report_dict(self.enter_actions),
            "past": self.past, "note": note,
        }


def _title_column(form: FormDef, table: Any) -> Any:
    key = form.title_field
    if key and form.has_field(key):
        f = form.field(key)
        if f.stored and not f.sensitive and key in table.c:
            return table.c[key]
    return None


def _samples(session: Session, form: FormDef, table: Any, ids: Select[Any],
             limit: int) -> list[SampleRecord]:
    if limit <= 0:
        return []
    title = _title_column(form, table)
    sub = ids.order_by(None).limit(limit).subquery()
    record_id = list(sub.c)[0]
    columns = [record_id, table.c.id.label("present")]
    if title is not None:
        columns.append(title.label("title"))
    rows = session.execute(select(*columns).select_from(
        sub.outerjoin(table, table.c.id == record_id)).order_by(record_id)).all()
    return [SampleRecord(int(r[0]), _title_text(r, title is not None),
                         deleted=r.present is None) for r in rows]


def _leaving_samples(session: Session, form: FormDef, sql: MembershipSql,
                     limit: int) -> list[SampleRecord]:
    """Members that would leave; a member of another form (the segment's form changed) or a
    deleted record has no title here."""
    if limit <= 0:
        return []
    table = sql.table
    title = _title_column(form, table)
    sub = (select(m.c.record_id, m.c.form_key).where(sql.leaving_where())
           .order_by(m.c.record_id).limit(limit).subquery())
    columns = [sub.c.record_id, table.c.id.label("present")]
    if title is not None:
        columns.append(title.label("title"))
    joined = sub.outerjoin(table, (table.c.id == sub.c.record_id)
                           & (sub.c.form_key == sql.form))
    rows = session.execute(select(*columns).select_from(joined)
                           .order_by(sub.c.record_id)).all()
    return [SampleRecord(int(r.record_id), _title_text(r, title is not None),
                         deleted=r.present is None) for r in rows]


def _title_text(row: Any, has_title: bool) -> str:
    text = getattr(row, "title", None) if has_title else None
    return str(text) if text not in (None, "") else f"#{row[0]}"


def _count(session: Session, ids: Select[Any]) -> int:
    return int(session.execute(select(func.count()).select_from(
        ids.order_by(None).subquery())).scalar_one())


def _draft_segment(session: Session, doc: Mapping[str, Any] | None, key: str | None
                   ) -> SegmentDef:
    if doc is None:
        if key is None:
            raise MetadataError("give a segment document or the key of a saved draft")
        doc = MetadataStore(session, None).get_draft(KIND, key).doc
    validate_document(KIND, doc)
    return load_segment(doc)


def simulate_segment(session: Session, doc: Mapping[str, Any] | None, *,
                     as_of: date | datetime | None = None, schema: CompiledSchema,
                     sample: int = 20, key: str | None = None,
                     now: datetime | None = None) -> SegmentSimulation:
    """What segment document ``doc`` (a draft, saved or not; None: the saved draft of ``key``)
    would do now, or with ``as_of`` as of a past day. Raises ``MetadataError`` (pointers to the
    document's parts) for a document that does not validate or bind. Writes nothing."""
    segment = _draft_segment(session, doc, key)
    clock_now = as_of_instant(as_of, now or datetime.now(UTC))
    check_bindings(session, segment, schema, clock_now)
    sample = max(0, min(int(sample), MAX_SAMPLE))
    sql: MembershipSql = membership_sql(segment, schema, clock_now)
    form = compiled_form(schema, segment.form)
    published = MetadataStore(session, None).published(KIND, segment.key)
    counts = latest_counts(session, [segment.key]).get(segment.key)
    simulation = SegmentSimulation(
        key=segment.key, form=segment.form, as_of=clock_now,
        members=_count(session, sql.matching()),
        entering=_count(session, sql.entering()),
        leaving=_count(session, sql.leaving()),
        current_members=int(counts["members"]) if counts else None,
        published_version=published.version if published else None,
        sample_members=_samples(session, form.form, form.table, sql.matching(), sample),
        sample_entering=_samples(session, form.form, form.table, sql.entering(), sample),
        sample_leaving=_leaving_samples(session, form.form, sql, sample),
        past=as_of is not None)
    if segment.on_enter and simulation.entering:
        savepoint = session.begin_nested()
        try:
            report = run_actions(session, segment.on_enter, form_key=segment.form,
                                 ids=sql.entering(), cause=enter_cause(segment.key, "simulation"),
                                 source=source_of(segment.key), clock=lambda: clock_now,
                                 schema=schema, dry_run=True, pointer="/on_enter")
        finally:
            savepoint.rollback()
        simulation = replace(simulation, enter_actions=report)
    return simulation


__all__ = ["SampleRecord", "SegmentSimulation", "as_of_instant", "simulate_segment"]
