"""Reading segments for people: the members as a record list (the reader's rights applied as
on any list), the entered / left history, counts over time and the overview of all segments.

Members are listed by ``RecordService.list_page`` itself, restricted to the segment with an
``EXISTS`` on ``lb_segment_member``: the same filters, search, sort, keyset paging, row scope
and hidden / masked fields as the form's own list. No page counts the members: the number
comes from the counts table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, exists, select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import NotFound, ValidationFailed
from lendbase.events.model import as_utc
from lendbase.forms.compile import CompiledForm, CompiledSchema
from lendbase.records import query as q
from lendbase.records.permissions import Actor, FormAccess, scope_clause
from lendbase.records.service import RecordService, utcnow
from lendbase.security import FieldCipher
from lendbase.segments.engine import business_day, latest_counts, published_segments
from lendbase.segments.model import SegmentDef

m = db.segment_member
h = db.segment_history
c = db.segment_count

MAX_PAGE = 200
MAX_COUNT_DAYS = 3660


def is_member(segment_key: str, form: CompiledForm) -> Any:
    """``EXISTS`` a membership row of ``segment_key`` for the row of ``form.table``."""
    t = form.table
    return exists().where(m.c.segment_key == segment_key, m.c.record_id == t.c.id,
                          m.c.form_key == form.key)


class MemberListService(RecordService):
    """``RecordService`` whose lists of the segment's form only hold the segment's members
    (every other behaviour, and the lists of other forms, unchanged)."""

    def __init__(self, session: Session, schema: CompiledSchema, actor: Actor,
                 cipher: FieldCipher, segment: SegmentDef,
                 clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(session, schema, actor, cipher, clock)
        self.segment = segment

    def _list_query(self, cf: CompiledForm, access: FormAccess,
                    where: Mapping[str, Any] | None, search: str | None,
                    order_by: list[str] | None) -> tuple[list[q.SortKey], list[Any]]:
        keys, conditions = super()._list_query(cf, access, where, search, order_by)
        if cf.key == self.segment.form:
            conditions = [*conditions, is_member(self.segment.key, cf)]
        return keys, conditions


def find_segment(session: Session, key: str) -> tuple[SegmentDef, int]:
    for segment, version in published_segments(session):
        if segment.key == key:
            return segment, version
    raise NotFound(f"segment {key!r} is not published")


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    record_id: int
    title: str
    event: str
    at: datetime
    version: int
    run_key: str
    present: bool

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "record_id": self.record_id, "title": self.title,
                "event": self.event, "at": self.at, "version": self.version,
                "run_key": self.run_key, "present": self.present}


def _title_column(form: CompiledForm) -> Any:
    key = form.form.title_field
    if key and form.form.has_field(key):
        f = form.form.field(key)
        if f.stored and not f.sensitive and key in form.table.c:
            return form.table.c[key]
    return None


def history_page(session: Session, segment: SegmentDef, form: CompiledForm, actor: Actor,
                 access: FormAccess, *, before: int | None = None, limit: int = 50,
                 record_id: int | None = None) -> tuple[list[HistoryEntry], int | None]:
    """Entries newest first (keyset on the id: ``before`` is the last id of the previous page)
    of records the reader may see: with a row scope other than "all", entries of records out
    of scope (or deleted) are left out. Returns (entries, next ``before`` or None)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed({"limit": [f"must be between 1 and {MAX_PAGE}"]})
    t = form.table
    title = _title_column(form) if form.form.title_field not in access.hidden_fields else None
    columns = [h.c.id, h.c.record_id, h.c.event, h.c.at, h.c.version, h.c.run_key,
               t.c.id.label("present")]
    if title is not None:
        columns.append(title.label("title"))
    joined = h.outerjoin(t, and_(t.c.id == h.c.record_id, h.c.form_key == form.key))
    query: Select[Any] = select(*columns).select_from(joined).where(
        h.c.segment_key == segment.key)
    if access.scope != "all":
        query = query.where(h.c.form_key == form.key, t.c.id.is_not(None),
                            scope_clause(actor, access, t))
    if record_id is not None:
        query = query.where(h.c.record_id == record_id)
    if before is not None:
        query = query.where(h.c.id < before)
    rows = session.execute(query.order_by(h.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    entries = [HistoryEntry(
        r.id, r.record_id, (str(r.title) if title is not None and r.title not in (None, "")
                            else f"#{r.record_id}"),
        r.event, as_utc(r.at) or r.at, r.version, r.run_key, r.present is not None) for r in rows]
    return entries, (rows[-1].id if more and rows else None)


def counts_between(session: Session, key: str, start: date | None,
                   end: date | None) -> list[dict[str, Any]]:
    """Daily counts of segment ``key`` from ``start`` to ``end`` (both included), oldest first;
    days without a recompute have no row."""
    if start is not None and end is not None:
        if start > end:
            raise ValidationFailed({"from": ["must not be after 'to'"]})
        if (end - start).days > MAX_COUNT_DAYS:
            raise ValidationFailed({"from": [f"ask for at most {MAX_COUNT_DAYS} days at once"]})
    query = select(c.c.day, c.c.members, c.c.entered, c.c.left).where(c.c.segment_key == key)
    if start is not None:
        query = query.where(c.c.day >= start)
    if end is not None:
        query = query.where(c.c.day <= end)
    rows = session.execute(query.order_by(c.c.day.desc()).limit(MAX_COUNT_DAYS)).all()
    return [{"day": r.day, "members": int(r.members), "entered": int(r.entered),
             "left": int(r.left)} for r in reversed(rows)]


@dataclass(frozen=True)
class SegmentSummary:
    segment: SegmentDef
    version: int
    members: int | None
    entered_today: int
    left_today: int
    computed_on: date | None


def overview(session: Session, now: datetime,
             readable: Callable[[SegmentDef], bool] = lambda s: True) -> list[SegmentSummary]:
    """Every published segment the caller may read, with its member count and today's moves
    (two queries, whatever the number of members)."""
    segments = [(s, v) for s, v in published_segments(session) if readable(s)]
    counts = latest_counts(session, [s.key for s, _ in segments])
    today = business_day(now)
    out = []
    for segment, version in segments:
        row = counts.get(segment.key)
        is_today = row is not None and row["day"] == today
        out.append(SegmentSummary(
            segment, version, int(row["members"]) if row else None,
            int(row["entered"]) if is_today and row else 0,
            int(row["left"]) if is_today and row else 0,
            row["day"] if row else None))
    return out


__all__ = ["HistoryEntry", "MemberListService", "SegmentSummary", "counts_between",
           "find_segment", "history_page", "is_member", "overview"]
