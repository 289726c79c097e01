"""What a job run is: its kind, its status, its retry policy, and what a job function gets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from lendbase.events.model import as_utc

#: Attempts of a job before it fails for good (a retry from the jobs page adds one more).
DEFAULT_MAX_ATTEMPTS = 5
#: Seconds a job may run; RQ stops it after this, and a run still "running" this long after its
#: start (plus ``lease_grace``) is taken for abandoned (its worker died) and queued again.
DEFAULT_TIMEOUT = 300


def lease_grace(timeout_s: int) -> timedelta:
    """Time allowed past a job's timeout for its worker to record the outcome: half the
    timeout, between 1 and 15 seconds."""
    return timedelta(seconds=min(15.0, max(1.0, timeout_s / 2)))


class JobKind(StrEnum):
    EVENT = "event"  # deliver one outbox event to its handlers
    SCHEDULE = "schedule"  # a cron schedule came due
    TASK = "task"  # enqueued by code


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # out of attempts; retry it from the jobs page or the API
    RETRYING = "retrying"  # an attempt failed; queued again at ``next_retry_at``


@dataclass(frozen=True)
class RetryPolicy:
    """Back-off between attempts: the n-th failed attempt waits ``delays[n-1]`` seconds (the
    last delay repeats)."""

    delays: tuple[float, ...] = (10, 60, 300, 1800)

    def delay(self, failed_attempt: int) -> timedelta:
        index = min(max(failed_attempt, 1), len(self.delays)) - 1
        return timedelta(seconds=self.delays[index])


@dataclass(frozen=True)
class JobContext:
    """What a task or scheduled job function receives first: ``fn(ctx, *args, **kwargs)``.

    ``session`` is in a transaction the job boundary commits together with the run's success,
    so a job must not commit; ``schedule_key`` and ``due_at`` say which schedule came due
    when, for a scheduled run.
    """

    session: Session
    run_id: int
    attempt: int
    now: datetime
    schedule_key: str | None = None
    due_at: datetime | None = None


@dataclass(frozen=True)
class JobRun:
    """One row of ``lb_job_run`` as the jobs page and the API show it."""

    id: int
    kind: JobKind
    function: str
    summary: str
    status: JobStatus
    attempts: int
    max_attempts: int
    error: str | None
    outbox_id: int | None
    schedule_key: str | None
    due_at: datetime | None
    created_at: datetime
    queued_at: datetime
    pushed_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    next_retry_at: datetime | None
    form_key: str | None = None  # of the event, for the record link
    record_id: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> JobRun:
        return cls(
            id=row["id"], kind=JobKind(row["kind"]), function=row["function"],
            summary=row["summary"], status=JobStatus(row["status"]), attempts=row["attempts"],
            max_attempts=row["max_attempts"], error=row["error"], outbox_id=row["outbox_id"],
            schedule_key=row["schedule_key"], due_at=as_utc(row["due_at"]),
            created_at=as_utc(row["created_at"]),  # type: ignore[arg-type]
            queued_at=as_utc(row["queued_at"]),  # type: ignore[arg-type]
            pushed_at=as_utc(row["pushed_at"]), started_at=as_utc(row["started_at"]),
            finished_at=as_utc(row["finished_at"]), next_retry_at=as_utc(row["next_retry_at"]),
            form_key=row.get("form_key"), record_id=row.get("record_id"))

    @property
    def error_head(self) -> str:
        """The first line of the error (type and message)."""
        return (self.error or "").split("\n", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind.value, "function": self.function,
            "summary": self.summary, "status": self.status.value, "attempts": self.attempts,
            "max_attempts": self.max_attempts, "error": self.error,
            "outbox_id": self.outbox_id, "schedule_key": self.schedule_key,
            "due_at": self.due_at, "created_at": self.created_at, "queued_at": self.queued_at,
            "pushed_at": self.pushed_at, "started_at": self.started_at,
            "finished_at": self.finished_at, "next_retry_at": self.next_retry_at,
            "form_key": self.form_key, "record_id": self.record_id,
        }
