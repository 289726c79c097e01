"""Cron schedules (``lb_schedule``) and the scheduler's claim of a due one.

A due schedule is claimed with a compare-and-set, ``UPDATE ... SET next_run_at = :next WHERE key
= :key AND next_run_at = :seen``, in the same transaction that writes its job run (whose
``(schedule_key, due_at)`` is unique besides). Any number of scheduler loops may run: for each
due time exactly one of them wins and the others update nothing. Missed due times (the scheduler
was down) are coalesced into one run; the next one is computed from now.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from lendbase import db
from lendbase.errors import NotFound, ValidationFailed
from lendbase.events.model import Event, EventType, as_utc
from lendbase.events.outbox import emit
from lendbase.events.registry import resolve
from lendbase.jobs.model import DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT, JobContext, JobKind
from lendbase.jobs.runs import PushItem, insert_runs, run_values

log = logging.getLogger("lendbase.jobs")

s = db.schedule

#: The job that turns a schedule into a ``schedule.tick`` event (for rules with a cron trigger).
TICK_JOB = "lendbase.jobs.schedule.emit_tick"


@dataclass(frozen=True)
class Schedule:
    key: str
    cron: str
    timezone: str
    job: str
    args: Mapping[str, Any]
    enabled: bool
    last_run_at: datetime | None
    next_run_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Schedule:
        return cls(row["key"], row["cron"], row["timezone"], row["job"], dict(row["args"] or {}),
                   bool(row["enabled"]), as_utc(row["last_run_at"]), as_utc(row["next_run_at"]))


def next_due(cron: str, timezone: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that ``cron`` names, read in ``timezone``
    (so "0 9 * * *" in Asia/Shanghai is 09:00 Beijing time), returned in UTC."""
    local = after.astimezone(ZoneInfo(timezone))
    due = croniter(cron, local).get_next(datetime)
    return as_utc(due)  # type: ignore[return-value]


def _check(key: str, cron: str, timezone: str, job: str) -> None:
    errors: dict[str, list[str]] = {}
    if not key or len(key) > 64:
        errors["key"] = ["give the schedule a key of 1 to 64 characters"]
    if not croniter.is_valid(cron) or len(cron) > 100:
        errors["cron"] = [f"{cron!r} is not a cron expression; write five fields such as "
                          "'0 9 * * 1-5' (09:00 on weekdays) or '*/15 * * * *'"]
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = [f"{timezone!r} is not a time zone; use a name such as "
                              "'Asia/Shanghai' or 'UTC'"]
    try:
        resolve(job)
    except Exception as exc:  # noqa: BLE001 - reported as a field error
        errors["job"] = [str(getattr(exc, "message", exc))]
    if errors:
        raise ValidationFailed(errors)


def save_schedule(session: Session, key: str, cron: str, job: str,
                  args: Mapping[str, Any] | None = None, *, timezone: str = "UTC",
                  enabled: bool = True, now: datetime) -> Schedule:
    """Create or change the schedule ``key``: run ``job(ctx, **args)`` at every time ``cron``
    names in ``timezone``. Its next run is computed from ``now``."""
    _check(key, cron, timezone, job)
    values = {"cron": cron, "timezone": timezone, "job": job, "args": dict(args or {}),
              "enabled": enabled, "updated_at": now,
              "next_run_at": next_due(cron, timezone, now) if enabled else None}
    changed = session.execute(
        update(s).where(s.c.key == key).values(**values)).rowcount  # type: ignore[attr-defined]
    if not changed:
        session.execute(insert(s).values(key=key, last_run_at=None, **values))
    return get_schedule(session, key)


def get_schedule(session: Session, key: str) -> Schedule:
    row = session.execute(select(s).where(s.c.key == key)).mappings().first()
    if row is None:
        raise NotFound(f"no schedule {key!r}")
    return Schedule.from_row(row)


def list_schedules(session: Session) -> list[Schedule]:
    rows = session.execute(select(s).order_by(s.c.next_run_at, s.c.key)).mappings().all()
    return [Schedule.from_row(r) for r in rows]


def delete_schedule(session: Session, key: str) -> None:
    session.execute(delete(s).where(s.c.key == key))


def fire_due(sessions: sessionmaker, now: datetime, *, pushed_at: datetime | None,
             limit: int = 100, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
             timeout: int = DEFAULT_TIMEOUT) -> list[PushItem]:
    """Claim every enabled schedule due at ``now`` and write one job run per claimed due time,
    each claim in a transaction of its own. Returns the runs to push."""
    with sessions() as session:
        due = session.execute(
            select(s.c.key, s.c.cron, s.c.timezone, s.c.job, s.c.args, s.c.next_run_at)
            .where(s.c.enabled.is_(True), s.c.next_run_at <= now)
            .order_by(s.c.next_run_at).limit(limit)).mappings().all()
    items: list[PushItem] = []
    for row in due:
        seen = row["next_run_at"]
        due_at = as_utc(seen)
        assert due_at is not None
        try:
            following = next_due(row["cron"], row["timezone"], max(now, due_at))
        except Exception:  # noqa: BLE001 - a schedule broken by hand must not stop the others
            log.exception("schedule %s has an invalid cron or time zone; skipped", row["key"])
            continue
        try:
            with sessions.begin() as session:
                claimed = session.execute(
                    update(s).where(s.c.key == row["key"], s.c.next_run_at == seen)
                    .values(next_run_at=following, last_run_at=due_at)).rowcount
                if not claimed:
                    continue  # another scheduler fired it
                items += insert_runs(session, [run_values(
                    kind=JobKind.SCHEDULE, function=row["job"], kwargs=row["args"] or {},
                    summary=f"{row['key']}: {row['job'].rpartition('.')[2]}", now=now,
                    pushed_at=pushed_at, max_attempts=max_attempts, timeout=timeout,
                    schedule_key=row["key"], due_at=due_at)])
        except (IntegrityError, OperationalError) as exc:
            # SQLite's single writer or the (schedule_key, due_at) key: another scheduler won
            log.info("schedule %s not claimed this tick: %s", row["key"], exc.orig)
    return items


def emit_tick(ctx: JobContext, **payload: Any) -> None:
    """A scheduled job that emits a ``schedule.tick`` event named after its schedule, so rules
    with a cron trigger subscribe to events like every other rule."""
    emit(ctx.session, Event(type=EventType.SCHEDULE_TICK, name=ctx.schedule_key,
                            payload={**payload, "due_at": ctx.due_at.isoformat()
                                     if ctx.due_at else None}, occurred_at=ctx.now))

