"""The ``lb_job_run`` table: enqueue in the caller's transaction, claim, finish, fail, retry, and
the sweeper's set-based transitions. Nothing here commits.

Every status change is a compare-and-set on ``(id, status, attempts)``: a claim only succeeds
for the attempt a push announced, and an attempt whose lease ran out (its worker was taken for
dead and the run queued again) can no longer record a result. Together with the per-handler
``lb_event_handled`` rows this makes a duplicate delivery harmless.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import Conflict, NotFound, ValidationFailed
from lendbase.events.model import utcnow
from lendbase.events.registry import resolve
from lendbase.jobs.model import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT,
    JobKind,
    JobRun,
    JobStatus,
    lease_grace,
)

#: ``session.info`` key: the runs this session enqueued (or re-queued) since its last commit.
ENQUEUED_KEY = "lb_enqueued_runs"
#: The most rows a page of the jobs list holds.
MAX_PAGE = 200

t = db.job_run
_QUEUED = JobStatus.QUEUED.value
_RUNNING = JobStatus.RUNNING.value


@dataclass(frozen=True, order=True)
class PushItem:
    """What a queue needs to run an attempt: the run, which attempt comes next, its timeout."""

    run_id: int
    attempt: int
    timeout_s: int


def take_enqueued(session: Session) -> list[PushItem]:
    return session.info.pop(ENQUEUED_KEY, [])


def _note_enqueued(session: Session, items: Iterable[PushItem]) -> None:
    session.info.setdefault(ENQUEUED_KEY, []).extend(items)


def summarize(function: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    parts = [json.dumps(a, ensure_ascii=False, default=str) for a in args]
    parts += [f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in kwargs.items()]
    text = f"{function.rpartition('.')[2]}({', '.join(parts)})"
    return text if len(text) <= 200 else text[:197] + "..."


def run_values(*, kind: JobKind, function: str, args: Sequence[Any] = (),
               kwargs: Mapping[str, Any] | None = None, summary: str | None = None,
               now: datetime, pushed_at: datetime | None, max_attempts: int,
               timeout: int, outbox_id: int | None = None, schedule_key: str | None = None,
               due_at: datetime | None = None) -> dict[str, Any]:
    """The values of a new queued run (for a bulk INSERT)."""
    kwargs = dict(kwargs or {})
    return {
        "kind": kind.value, "function": function,
        "args": {"args": list(args), "kwargs": kwargs},
        "summary": summary or summarize(function, args, kwargs), "status": _QUEUED,
        "attempts": 0, "max_attempts": max_attempts, "timeout_s": timeout, "error": None,
        "outbox_id": outbox_id, "schedule_key": schedule_key, "due_at": due_at,
        "created_at": now, "queued_at": now, "pushed_at": pushed_at, "started_at": None,
        "finished_at": None, "next_retry_at": None, "lease_until": None,
    }


def insert_runs(session: Session, rows: Sequence[dict[str, Any]]) -> list[PushItem]:
    """Insert queued runs (one statement) and return what to push for them, in order."""
    if not rows:
        return []
    ids = session.execute(insert(t).returning(t.c.id, sort_by_parameter_order=True),
                          list(rows)).scalars().all()
    return [PushItem(run_id, 0, row["timeout_s"]) for run_id, row in zip(ids, rows, strict=True)]


def enqueue(session: Session, function: str, args: Sequence[Any] = (),
            kwargs: Mapping[str, Any] | None = None, *, summary: str | None = None,
            max_attempts: int = DEFAULT_MAX_ATTEMPTS, timeout: int = DEFAULT_TIMEOUT,
            now: datetime | None = None) -> int:
    """Run ``function(ctx, *args, **kwargs)`` in the background after the caller's transaction
    commits (``ctx`` is a ``JobContext``); returns the run's id. The run is a row written in
    that transaction, so a rollback cancels it and a commit never loses it.

    Jobs carry ids and plain JSON values, never objects."""
    resolve(function)
    try:
        json.dumps([list(args), dict(kwargs or {})])
    except (TypeError, ValueError) as exc:
        raise ValidationFailed({"args": [f"job arguments must be JSON values such as ids and "
                                         f"strings ({exc})"]}) from None
    if max_attempts < 1 or timeout < 1:
        raise ValidationFailed({"max_attempts": ["max_attempts and timeout must be at least 1"]})
    items = insert_runs(session, [run_values(
        kind=JobKind.TASK, function=function, args=args, kwargs=kwargs, summary=summary,
        now=now or utcnow(), pushed_at=now or utcnow(), max_attempts=max_attempts,
        timeout=timeout)])
    _note_enqueued(session, items)
    return items[0].run_id


# --- one attempt ------------------------------------------------------------------------------


def claim_run(session: Session, run_id: int, attempt: int, timeout_s: int,
              now: datetime) -> Mapping[Any, Any] | None:
    """Start attempt ``attempt + 1`` of a queued run; None when the run is not queued for that
    attempt any more (a duplicate delivery, or it was already taken)."""
    return session.execute(
        update(t)
        .where(t.c.id == run_id, t.c.status == _QUEUED, t.c.attempts == attempt)
        .values(status=_RUNNING, attempts=t.c.attempts + 1, started_at=now, finished_at=None,
                lease_until=now + timedelta(seconds=timeout_s) + lease_grace(timeout_s),
                next_retry_at=None)
        .returning(t.c.id, t.c.kind, t.c.function, t.c.args, t.c.attempts, t.c.max_attempts,
                   t.c.timeout_s, t.c.outbox_id, t.c.schedule_key, t.c.due_at)
    ).mappings().first()


def next_queued(session: Session, limit: int = 20) -> list[PushItem]:
    """The oldest queued runs (the in-process runner's queue is the table itself)."""
    rows = session.execute(
        select(t.c.id, t.c.attempts, t.c.timeout_s)
        .where(t.c.status == _QUEUED).order_by(t.c.id).limit(limit)).all()
    return [PushItem(r.id, r.attempts, r.timeout_s) for r in rows]


def _running(run_id: int, attempt: int) -> Any:
    """The run is still running the attempt ``attempt`` (1-based) started."""
    return and_(t.c.id == run_id, t.c.status == _RUNNING, t.c.attempts == attempt)


def complete(session: Session, run_id: int, attempt: int, now: datetime) -> bool:
    result = session.execute(
        update(t).where(_running(run_id, attempt))
        .values(status=JobStatus.SUCCEEDED.value, finished_at=now, lease_until=None,
                error=None))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def fail(session: Session, run_id: int, attempt: int, now: datetime, error: str,
         retry_at: datetime | None) -> bool:
    """Record a failed attempt: retrying at ``retry_at``, or failed for good when None."""
    status = JobStatus.RETRYING if retry_at is not None else JobStatus.FAILED
    result = session.execute(
        update(t).where(_running(run_id, attempt))
        .values(status=status.value, error=error, lease_until=None, next_retry_at=retry_at,
                finished_at=None if retry_at is not None else now))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def retry_failed(session: Session, run_id: int, now: datetime) -> PushItem:
    """Queue a failed run once more (one more attempt); it is pushed after commit."""
    row = session.execute(
        update(t).where(t.c.id == run_id, t.c.status == JobStatus.FAILED.value)
        .values(status=_QUEUED, queued_at=now, pushed_at=now, finished_at=None,
                next_retry_at=None, max_attempts=t.c.attempts + 1)
        .returning(t.c.attempts, t.c.timeout_s)).first()
    if row is None:
        current = session.execute(select(t.c.status).where(t.c.id == run_id)).scalar()
        if current is None:
            raise NotFound(f"job run {run_id} not found")
        raise Conflict(f"job run {run_id} is {current}; only a failed run can be retried")
    item = PushItem(run_id, row.attempts, row.timeout_s)
    _note_enqueued(session, [item])
    return item


# --- the sweeper's transitions ------------------------------------------------------------------


def _locked_ids(query: Select[Any], limit: int) -> Any:
    return query.limit(limit).with_for_update(skip_locked=True).scalar_subquery()


def requeue_due_retries(session: Session, now: datetime, pushed_at: datetime | None,
                        limit: int = 500) -> list[PushItem]:
    """Runs whose back-off is over go back to the queue, oldest due first."""
    status = JobStatus.RETRYING.value
    pick = select(t.c.id).where(t.c.status == status, t.c.next_retry_at <= now) \
        .order_by(t.c.next_retry_at)
    rows = session.execute(
        update(t).where(t.c.id.in_(_locked_ids(pick, limit)), t.c.status == status)
        .values(status=_QUEUED, queued_at=now, pushed_at=pushed_at, next_retry_at=None)
        .returning(t.c.id, t.c.attempts, t.c.timeout_s)).all()
    return sorted(PushItem(r.id, r.attempts, r.timeout_s) for r in rows)


ABANDONED = ("the worker stopped during this attempt (killed, crashed or cut off from the "
             "database) before recording a result; its lease ran out")


def recover_abandoned(session: Session, now: datetime, pushed_at: datetime | None,
                      limit: int = 500) -> tuple[list[PushItem], int]:
    """Runs still "running" after their lease: their worker died. Queue them again, or fail
    them when that was their last attempt. Returns (re-queued, failed count)."""
    def pick(last: bool) -> Any:
        attempts_left = t.c.attempts >= t.c.max_attempts if last else \
            t.c.attempts < t.c.max_attempts
        return _locked_ids(select(t.c.id).where(t.c.status == _RUNNING, t.c.lease_until < now,
                                                attempts_left).order_by(t.c.lease_until),
                           limit)

    requeued = session.execute(
        update(t).where(t.c.id.in_(pick(last=False)), t.c.status == _RUNNING)
        .values(status=_QUEUED, queued_at=now, pushed_at=pushed_at, lease_until=None,
                error=ABANDONED)
        .returning(t.c.id, t.c.attempts, t.c.timeout_s)).all()
    failed = session.execute(
        update(t).where(t.c.id.in_(pick(last=True)), t.c.status == _RUNNING)
        .values(status=JobStatus.FAILED.value, finished_at=now, lease_until=None,
                error=ABANDONED)).rowcount  # type: ignore[attr-defined]
    return sorted(PushItem(r.id, r.attempts, r.timeout_s) for r in requeued), int(failed)


def claim_unpushed(session: Session, now: datetime, *, unpushed_before: datetime,
                   pushed_before: datetime, limit: int = 500) -> list[PushItem]:
    """Queued runs that never reached the queue (Redis was down) or were pushed long ago and
    still wait (Redis lost them?): mark them pushed now and return them to push again."""
    stale = or_(and_(t.c.pushed_at.is_(None), t.c.queued_at < unpushed_before),
                t.c.pushed_at < pushed_before)
    pick = select(t.c.id).where(t.c.status == _QUEUED, stale).order_by(t.c.id)
    rows = session.execute(
        update(t).where(t.c.id.in_(_locked_ids(pick, limit)), t.c.status == _QUEUED)
        .values(pushed_at=now)
        .returning(t.c.id, t.c.attempts, t.c.timeout_s)).all()
    return sorted(PushItem(r.id, r.attempts, r.timeout_s) for r in rows)


def unmark_pushed(session: Session, items: Sequence[PushItem]) -> None:
    """A push failed: let the sweeper pick these runs up as soon as the queue is back."""
    if items:
        session.execute(update(t).where(t.c.id.in_([i.run_id for i in items]),
                                        t.c.status == _QUEUED).values(pushed_at=None))


# --- reading ------------------------------------------------------------------------------------


def _page_query() -> Select[Any]:
    o = db.outbox
    return select(t, o.c.form_key, o.c.record_id).outerjoin(o, o.c.id == t.c.outbox_id)


def list_runs(session: Session, *, status: JobStatus | None = None,
              kind: JobKind | None = None, before: int | None = None,
              limit: int = 50) -> tuple[list[JobRun], int | None]:
    """Newest first, keyset paged on the id: ``before`` is the previous page's cursor. Returns
    the runs and the next cursor (None on the last page)."""
    limit = max(1, min(limit, MAX_PAGE))
    query = _page_query()
    if status is not None:
        query = query.where(t.c.status == status.value)
    if kind is not None:
        query = query.where(t.c.kind == kind.value)
    if before is not None:
        query = query.where(t.c.id < before)
    rows = session.execute(query.order_by(t.c.id.desc()).limit(limit + 1)).mappings().all()
    runs = [JobRun.from_row(r) for r in rows[:limit]]
    return runs, (runs[-1].id if len(rows) > limit else None)


def get_run(session: Session, run_id: int) -> JobRun:
    row = session.execute(_page_query().where(t.c.id == run_id)).mappings().first()
    if row is None:
        raise NotFound(f"job run {run_id} not found")
    return JobRun.from_row(row)


def status_counts(session: Session, cap: int = 1000) -> dict[JobStatus, int]:
    """Runs per status, each counted up to ``cap`` through the (status, id) index (a capped
    count answers "999+" without walking a large table)."""
    counts: dict[JobStatus, int] = {}
    for status in JobStatus:
        capped = select(t.c.id).where(t.c.status == status.value).limit(cap).subquery()
        counts[status] = session.execute(select(func.count()).select_from(capped)).scalar_one()
    return counts
