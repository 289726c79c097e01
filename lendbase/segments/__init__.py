"""Segments (pools): the records of one form that match a condition, kept up to date set based
by a scheduled job and on record changes, with entered / left history, daily counts, actions
on entering and leaving (the rule engine's) and a simulation before publishing.
See docs/segments.md.
"""

from lendbase.segments.engine import (
    MembershipSql,
    RecomputeReport,
    enter_cause,
    leave_cause,
    membership_sql,
    recompute_segment,
)
from lendbase.segments.jobs import apply_record_change, on_record_change, recompute_job, subscribe
from lendbase.segments.model import (
    DEFAULT_SCHEDULE,
    Hop,
    ScheduleDef,
    SegmentDef,
    load_segment,
    related_paths,
    schedule_key_for,
    semantic_errors,
    watched_forms,
)
from lendbase.segments.publish import SegmentPublishResult, enqueue_recompute, publish_segment
from lendbase.segments.queries import (
    MemberListService,
    SegmentSummary,
    counts_between,
    history_page,
    overview,
)
from lendbase.segments.simulate import SampleRecord, SegmentSimulation, simulate_segment

__all__ = [
    "DEFAULT_SCHEDULE",
    "Hop",
    "MemberListService",
    "MembershipSql",
    "RecomputeReport",
    "SampleRecord",
    "ScheduleDef",
    "SegmentDef",
    "SegmentPublishResult",
    "SegmentSimulation",
    "SegmentSummary",
    "apply_record_change",
    "counts_between",
    "enqueue_recompute",
    "enter_cause",
    "history_page",
    "leave_cause",
    "load_segment",
    "membership_sql",
    "on_record_change",
    "overview",
    "publish_segment",
    "recompute_job",
    "recompute_segment",
    "related_paths",
    "schedule_key_for",
    "semantic_errors",
    "simulate_segment",
    "subscribe",
    "watched_forms",
]
