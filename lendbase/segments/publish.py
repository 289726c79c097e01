"""Publishing a segment: validate the draft, bind it to the published forms, register its cron
schedule, record the version and enqueue its first recompute (a job, after commit).

``POST /api/v1/meta/segments/<key>/publish`` calls ``publish_segment`` through the metadata
kinds table; ``?dry_run=1`` returns the simulation of the draft instead (nothing written).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from lendbase.forms.compile import CompiledSchema
from lendbase.forms.publish import load_compiled_schema
from lendbase.jobs import enqueue, save_schedule
from lendbase.meta.store import MetadataStore, Version
from lendbase.meta.validate import validate_document
from lendbase.segments.binding import check_bindings
from lendbase.segments.model import KIND, load_segment, schedule_key_for
from lendbase.segments.simulate import SegmentSimulation, simulate_segment

#: The job of a segment's schedule and of its recomputes after publish or on request.
RECOMPUTE_JOB = "lendbase.segments.jobs.recompute_job"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SegmentPublishResult:
    key: str
    version: Version | None = None
    dry_run: bool = False
    unchanged: bool = False
    simulation: SegmentSimulation | None = None
    #: the job run of the first recompute
    recompute_run: int | None = None

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {
            "key": self.key,
            "version": self.version.version if self.version else None,
            "checksum": self.version.checksum if self.version else None,
            "applied": self.version is not None and not self.dry_run and not self.unchanged,
            "dry_run": self.dry_run,
            "unchanged": self.unchanged,
            "recompute_run": self.recompute_run,
            "simulation": self.simulation.to_dict(lang) if self.simulation else None,
        }


def enqueue_recompute(session: Session, key: str, *, trigger: str,
                      now: datetime | None = None) -> int:
    """A job that recomputes segment ``key`` after the caller's transaction commits."""
    return enqueue(session, RECOMPUTE_JOB, kwargs={"segment": key, "trigger": trigger},
                   summary=f"recompute segment {key} ({trigger})", now=now)


def publish_segment(session: Session, actor_id: int | None, key: str, *, dry_run: bool = False,
                    confirm: bool = False, backfill: Mapping[str, Any] | None = None,
                    note: str | None = None, lang: str = "en",
                    schema: CompiledSchema | None = None,
                    clock: Callable[[], datetime] = utcnow) -> SegmentPublishResult:
    """Publish the draft of segment ``key`` (with ``dry_run``: simulate it). ``confirm`` and
    ``backfill`` are the forms' publish options and mean nothing here. Raises
    ``MetadataError`` with a pointer per problem. Never commits."""
    del confirm, backfill
    store = MetadataStore(session, actor_id, clock)
    draft = store.get_draft(KIND, key)
    validate_document(KIND, draft.doc)
    segment = load_segment(draft.doc)
    schema = schema or load_compiled_schema(session)
    now = clock()
    if dry_run:
        return SegmentPublishResult(key, dry_run=True, simulation=simulate_segment(
            session, draft.doc, schema=schema, now=now))
    check_bindings(session, segment, schema, now)
    latest = store.published(KIND, key)
    if latest is not None and latest.doc == draft.doc:
        return SegmentPublishResult(key, latest, unchanged=True)
    save_schedule(session, schedule_key_for(key), segment.schedule.cron, RECOMPUTE_JOB,
                  {"segment": key, "trigger": "schedule"}, timezone=segment.schedule.timezone,
                  enabled=segment.schedule.enabled, now=now)
    version = store.record_version(KIND, key, draft.doc, note)
    run = enqueue_recompute(session, key, trigger="publish", now=now)
    return SegmentPublishResult(key, version, recompute_run=run)


__all__ = ["RECOMPUTE_JOB", "SegmentPublishResult", "enqueue_recompute", "publish_segment"]
