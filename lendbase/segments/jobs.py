"""What runs segments in the background: the recompute job (cron schedule, after publish, on
request) and the record-change handler that recomputes only the records a change can move.

The handler subscribes to ``record.created`` / ``updated`` / ``deleted`` of every form and
first checks, from the published segments, whether the event's form is one a segment watches:
its own form, or a form its condition reads through related-record nodes. An installment
change maps to its customer through the link field (``installment.customer``): the current
value of the row plus the before / after values of the event (a moved or deleted
installment), hop by hop for longer chains (repayment -> loan -> customer).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendbase.events import Event, EventType, SubscriberRegistry
from lendbase.forms.compile import CompiledSchema
from lendbase.forms.registry import FormRegistry
from lendbase.jobs import JobContext
from lendbase.segments.engine import (
    RecomputeReport,
    published_segments,
    recompute_definition,
    recompute_segment,
)
from lendbase.segments.model import Hop, SegmentDef, lookup_references, related_paths

log = logging.getLogger("lendbase.segments")

HANDLER = "lendbase.segments.jobs.on_record_change"
RECORD_EVENTS = (EventType.RECORD_CREATED, EventType.RECORD_UPDATED, EventType.RECORD_DELETED)

#: Compiled forms for job and handler code, which get a session but no app: one per process,
#: refreshed by the metadata generation like the app's own registry.
_forms = FormRegistry()


def job_schema(session: Session) -> CompiledSchema:
    return _forms.schema(session)


def subscribe(registry: SubscriberRegistry) -> None:
    """Recompute the affected records of segments when records change."""
    registry.subscribe_many(RECORD_EVENTS, HANDLER)


def recompute_job(ctx: JobContext, segment: str, trigger: str = "job") -> None:
    """The scheduled / enqueued job: recompute the whole segment as of the job's clock."""
    report = recompute_segment(ctx.session, segment, clock=lambda: ctx.now,
                               schema=job_schema(ctx.session))
    log.info("segment %s (%s): %d entered, %d left, %d members", segment, trigger,
             report.entered, report.left, report.members)


def _link_values(event: Event, link: str) -> set[int]:
    values = set()
    for side in (event.before, event.after):
        value = side.get(link)
        if isinstance(value, int) and not isinstance(value, bool):
            values.add(value)
    return values


def affected_ids(session: Session, segment: SegmentDef, schema: CompiledSchema,
                 event: Event) -> set[int]:
    """The records of ``segment.form`` whose membership ``event`` may change."""
    if event.form is None or event.record_id is None:
        return set()
    ids: set[int] = set()
    if event.form == segment.form:
        ids.add(event.record_id)
    forms = {k: cf.form for k, cf in schema.forms.items()}
    for path in related_paths(segment.condition, segment.form, forms):
        for depth, hop in enumerate(path):
            if hop.form == event.form:
                ids |= _walk_back(session, schema, path[:depth + 1], event)
    table = schema[segment.form].table
    for target, ref in lookup_references(segment.condition, segment.form, forms):
        if target == event.form:  # the records whose reference points at the changed one
            ids |= set(session.execute(select(table.c.id)
                                       .where(table.c[ref] == event.record_id)).scalars())
    return ids


def _walk_back(session: Session, schema: CompiledSchema, path: tuple[Hop, ...],
               event: Event) -> set[int]:
    """From the changed row (the last hop's form) back to the segment's form: at each hop the
    ids of the record one level up, read through the link column (one small query a hop)."""
    last = path[-1]
    table = schema[last.form].table
    current = set(session.execute(select(table.c[last.link])
                                  .where(table.c.id == event.record_id)).scalars())
    current = {i for i in current if i is not None} | _link_values(event, last.link)
    for hop in reversed(path[:-1]):
        if not current:
            break
        table = schema[hop.form].table
        current = {i for i in session.execute(select(table.c[hop.link])
                                              .where(table.c.id.in_(sorted(current))))
                   .scalars() if i is not None}
    return current


def apply_record_change(session: Session, event: Event, *, schema: CompiledSchema,
                        clock: Callable[[], datetime],
                        segments: list[tuple[SegmentDef, int]] | None = None
                        ) -> list[RecomputeReport]:
    """Recompute, for every published segment (or every one of ``segments``) the event
    concerns, only the affected records."""
    if EventType(event.type) not in RECORD_EVENTS or event.form is None:
        return []
    reports = []
    for segment, version in published_segments(session) if segments is None else segments:
        if segment.form not in schema.forms:
            continue
        ids = affected_ids(session, segment, schema, event)
        if ids:
            reports.append(recompute_definition(session, segment, version, clock=clock,
                                                schema=schema, ids=ids))
    return reports


def on_record_change(session: Session, event: Event) -> None:
    """The event handler (``HANDLER``): one query when no segment is published."""
    if EventType(event.type) not in RECORD_EVENTS or event.form is None:
        return
    segments = published_segments(session)
    if segments:
        apply_record_change(session, event, schema=job_schema(session),
                            clock=lambda: datetime.now(UTC), segments=segments)


__all__ = ["HANDLER", "affected_ids", "apply_record_change", "job_schema", "on_record_change",
           "recompute_job", "subscribe"]

