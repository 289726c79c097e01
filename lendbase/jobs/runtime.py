"""The job runtime: dispatch after commit, the sweeper, and the job boundary that runs attempts.

One ``JobRuntime`` belongs to the app (``app.extensions["lendbase_jobs"]``). It owns the
subscriber registry, the clock, the retry policy and, with ``REDIS_URL``, the RQ pusher.

**Dispatch after commit** hooks into SQLAlchemy: ``install()`` listens to ``after_commit`` on the
app's ``sessionmaker``, so every transaction that commits through it - a web request, an API
call, a CLI command, a job - hands over the outbox rows and job runs it wrote (``emit`` and
``enqueue`` note them in ``session.info``; a rollback forgets them). The request boundary needs no
code of its own, and the hook runs after the commit, never inside the caller's transaction.
With Redis the hook claims those events, writes their job runs and pushes them at once; without
it, it wakes the in-process runner. Whatever the hook misses (Redis down, a crash between commit
and dispatch) is still in the database, and ``sweep`` finds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from lendbase.events.delivery import deliver, format_error
from lendbase.events.model import as_utc, utcnow
from lendbase.events.outbox import claim_pending, take_emitted
from lendbase.events.registry import SubscriberRegistry, resolve
from lendbase.jobs import runs
from lendbase.jobs.model import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT,
    JobContext,
    JobKind,
    JobStatus,
    RetryPolicy,
)
from lendbase.jobs.queue import RQPusher
from lendbase.jobs.runs import PushItem
from lendbase.jobs.schedule import fire_due

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("lendbase.jobs")

#: The ``function`` of event runs (shown on the jobs page; the runtime calls ``deliver``).
DELIVER = "lendbase.events.deliver"
#: Where the app keeps its runtime: ``app.extensions[EXTENSION]``.
EXTENSION = "lendbase_jobs"


class _LeaseLost(Exception):
    """This attempt was taken for dead and re-queued meanwhile; its result must not count."""


@dataclass
class SweepReport:
    scheduled: int = 0  # runs of schedules that came due
    dispatched: int = 0  # outbox events claimed
    created: int = 0  # event runs written for them
    retried: int = 0  # runs whose back-off was over
    recovered: int = 0  # runs of dead workers queued again
    abandoned: int = 0  # runs of dead workers that were on their last attempt
    pushed: int = 0  # attempts pushed to Redis

    @property
    def busy(self) -> bool:
        return any((self.scheduled, self.dispatched, self.retried, self.recovered,
                    self.abandoned, self.pushed))


class JobRuntime:
    def __init__(self, sessions: sessionmaker, *, redis_url: str | None = None,
                 queue_name: str = "default", subscribers: SubscriberRegistry | None = None,
                 clock: Callable[[], datetime] = utcnow, retry: RetryPolicy | None = None,
                 event_timeout: int = DEFAULT_TIMEOUT,
                 event_max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                 dispatch_grace: timedelta = timedelta(seconds=5),
                 repush_after: timedelta = timedelta(minutes=10), batch: int = 500,
                 max_batches: int = 20) -> None:
        self.sessions = sessions
        self.redis_url = redis_url
        self.queue_name = queue_name
        self.subscribers = subscribers if subscribers is not None else SubscriberRegistry()
        self.clock = clock
        self.retry_policy = retry or RetryPolicy()
        self.event_timeout = event_timeout
        self.event_max_attempts = event_max_attempts
        self.dispatch_grace = dispatch_grace
        self.repush_after = repush_after
        self.batch = batch
        self.max_batches = max_batches
        self.pusher = RQPusher(redis_url, queue_name) if redis_url else None
        self._notify: Callable[[], None] | None = None
        self._installed = False

    @property
    def inline(self) -> bool:
        """No Redis: jobs run in this process (``InProcessRunner``)."""
        return self.pusher is None

    def copy(self, sessions: sessionmaker) -> JobRuntime:
        """The same runtime on other sessions (a thread of its own gets its own engine)."""
        clone = JobRuntime(sessions, redis_url=self.redis_url, queue_name=self.queue_name,
                           subscribers=self.subscribers, clock=self.clock,
                           retry=self.retry_policy, event_timeout=self.event_timeout,
                           event_max_attempts=self.event_max_attempts,
                           dispatch_grace=self.dispatch_grace, repush_after=self.repush_after,
                           batch=self.batch, max_batches=self.max_batches)
        clone._notify = self._notify
        return clone

    # --- dispatch after commit -----------------------------------------------------------------

    def install(self) -> None:
        """Dispatch after every commit of ``self.sessions`` (see the module docstring)."""
        if not self._installed:
            sa_event.listen(self.sessions, "after_commit", self._on_commit)
            sa_event.listen(self.sessions, "after_soft_rollback", self._on_rollback)
            self._installed = True

    def uninstall(self) -> None:
        if self._installed:
            sa_event.remove(self.sessions, "after_commit", self._on_commit)
            sa_event.remove(self.sessions, "after_soft_rollback", self._on_rollback)
            self._installed = False

    def set_notify(self, notify: Callable[[], None] | None) -> None:
        self._notify = notify

    def _on_commit(self, session: Session) -> None:
        emitted = take_emitted(session)
        enqueued = runs.take_enqueued(session)
        if emitted or enqueued:
            try:
                self.after_commit(emitted, enqueued)
            except Exception:  # noqa: BLE001 - the commit stands; the sweeper finishes the job
                log.exception("handing over %d event(s) and %d job(s) after commit failed",
                              len(emitted), len(enqueued))

    @staticmethod
    def _on_rollback(session: Session, previous: SessionTransaction) -> None:
        if previous.parent is None:  # the whole transaction, not a savepoint
            take_emitted(session)
            runs.take_enqueued(session)

    def after_commit(self, emitted: Sequence[tuple[int, str]],
                     enqueued: Sequence[PushItem]) -> None:
        """Hand what a transaction committed to the queue. Never raises: the commit stands,
        and anything left undone here is in the database for the sweeper."""
        if self.pusher is None:
            if self._notify is not None:
                self._notify()
            return
        items = list(enqueued)
        try:
            subscribed = self.subscribers.subscribed_types()
            ids = [event_id for event_id, kind in emitted if kind in subscribed]
            for start in range(0, min(len(ids), self.batch * self.max_batches), self.batch):
                items += self.dispatch(ids=ids[start:start + self.batch])[1]
        except Exception:  # noqa: BLE001 - the sweeper dispatches them later
            log.exception("dispatching %d committed event(s) failed; the sweeper will retry",
                          len(emitted))
        self.push(items, fresh=True)

    def dispatch(self, *, ids: Sequence[int] | None = None,
                 older_than: datetime | None = None) -> tuple[int, list[PushItem]]:
        """Claim pending events (``ids``, or the oldest ones) and write one run per event that
        has handlers, in one transaction. Returns (events claimed, runs to push)."""
        now = self.clock()
        pushed_at = now if self.pusher is not None else None
        with self.sessions.begin() as session:
            claimed = claim_pending(session, now, ids=ids, older_than=older_than,
                                    limit=self.batch)
            rows = []
            for event in claimed:
                handlers = self.subscribers.handlers_for(event.type)
                if handlers:
                    rows.append(runs.run_values(
                        kind=JobKind.EVENT, function=DELIVER, args=[event.id, list(handlers)],
                        summary=event.summary, now=now, pushed_at=pushed_at,
                        max_attempts=self.event_max_attempts, timeout=self.event_timeout,
                        outbox_id=event.id))
            items = runs.insert_runs(session, rows)
        return len(claimed), items

    def push(self, items: Sequence[PushItem], *, fresh: bool = False) -> int:
        """Push attempts to Redis; on failure leave them for the sweeper. Returns how many
        were pushed (0 in-process, where the runner reads the table)."""
        if self.pusher is None or not items:
            return 0
        try:
            return self.pusher.push(items, fresh=fresh)
        except Exception as exc:  # noqa: BLE001 - PushFailed, or anything RQ raised
            log.warning("%s; the runs stay queued and the sweeper pushes them when Redis is "
                        "back", exc)
            try:
                with self.sessions.begin() as session:
                    runs.unmark_pushed(session, items)
            except Exception:  # noqa: BLE001 - they are re-pushed after repush_after anyway
                log.exception("could not mark %d run(s) unpushed", len(items))
            return 0

    # --- the sweeper and the scheduler -----------------------------------------------------------

    def sweep(self) -> SweepReport:
        """One pass of the sweeper, set based and in batches: dispatch pending events (oldest
        first; with Redis only those older than ``dispatch_grace``, younger ones are the
        after-commit hook's), queue runs whose back-off is over, recover runs of dead workers,
        and (with Redis) push queued runs that never reached it."""
        report = SweepReport()
        now = self.clock()
        items: list[PushItem] = []
        older_than = now - self.dispatch_grace if self.pusher is not None else None
        for _ in range(self.max_batches):
            claimed, created = self.dispatch(older_than=older_than)
            report.dispatched += claimed
            report.created += len(created)
            items += created
            if claimed < self.batch:
                break
        pushed_at = now if self.pusher is not None else None
        with self.sessions.begin() as session:
            retried = runs.requeue_due_retries(session, now, pushed_at, self.batch)
            recovered, report.abandoned = runs.recover_abandoned(session, now, pushed_at,
                                                                 self.batch)
            if self.pusher is not None:
                items += runs.claim_unpushed(session, now,
                                             unpushed_before=now - self.dispatch_grace,
                                             pushed_before=now - self.repush_after,
                                             limit=self.batch)
        if report.abandoned:
            log.warning("%d job run(s) failed: their worker died on the last attempt",
                        report.abandoned)
        report.retried, report.recovered = len(retried), len(recovered)
        report.pushed = self.push(items + retried + recovered)
        return report

    def fire_schedules(self) -> list[PushItem]:
        return fire_due(self.sessions, self.clock(),
                        pushed_at=self.clock() if self.pusher is not None else None)

    def tick(self) -> SweepReport:
        """What the scheduler loop does every interval: fire due schedules, then sweep."""
        items = self.fire_schedules()
        pushed = self.push(items)
        report = self.sweep()
        report.scheduled = len(items)
        report.pushed += pushed
        return report

    # --- the job boundary ------------------------------------------------------------------------

    def retry(self, session: Session, run_id: int) -> PushItem:
        """Queue failed run ``run_id`` once more, in the caller's transaction (pushed after
        commit)."""
        return runs.retry_failed(session, run_id, self.clock())

    def execute(self, run_id: int, attempt: int, timeout_s: int) -> JobStatus | None:
        """Run the next attempt of a queued run: claim it, run it, record the outcome.
        Returns the run's new status, or None when the attempt was not (or no longer) ours."""
        with self.sessions.begin() as session:
            row = runs.claim_run(session, run_id, attempt, timeout_s, self.clock())
        if row is None:
            log.info("job run %s attempt %s is not queued any more; skipped", run_id,
                     attempt + 1)
            return None
        mine = row["attempts"]
        args: list[Any] = list((row["args"] or {}).get("args", []))
        kwargs: dict[str, Any] = dict((row["args"] or {}).get("kwargs", {}))
        error: str | None = None
        try:
            if row["kind"] == JobKind.EVENT.value:
                report = deliver(self.sessions, int(args[0]), list(args[1]), self.clock)
                if report.failures:
                    error = report.error_text()
                else:
                    with self.sessions.begin() as session:
                        runs.complete(session, run_id, mine, self.clock())
            else:
                function = resolve(row["function"])
                with self.sessions.begin() as session:
                    ctx = JobContext(session, run_id, mine, self.clock(),
                                     row["schedule_key"], as_utc(row["due_at"]))
                    function(ctx, *args, **kwargs)
                    if not runs.complete(session, run_id, mine, self.clock()):
                        raise _LeaseLost()
        except _LeaseLost:
            log.warning("job run %s attempt %s outlived its lease; its result was discarded",
                        run_id, mine)
            return None
        except Exception as exc:  # noqa: BLE001 - recorded on the run, retried with back-off
            error = format_error(exc)
        if error is None:
            return JobStatus.SUCCEEDED
        return self._record_failure(run_id, mine, row["max_attempts"], error)

    def _record_failure(self, run_id: int, attempt: int, max_attempts: int,
                        error: str) -> JobStatus | None:
        now = self.clock()
        retry_at = now + self.retry_policy.delay(attempt) if attempt < max_attempts else None
        with self.sessions.begin() as session:
            if not runs.fail(session, run_id, attempt, now, error, retry_at):
                return None
        if retry_at is None:
            log.error("job run %s failed for good after %s attempt(s): %s", run_id, attempt,
                      error.split("\n", 1)[0])
            return JobStatus.FAILED
        log.warning("job run %s attempt %s failed; retrying at %s: %s", run_id, attempt,
                    retry_at.isoformat(), error.split("\n", 1)[0])
        return JobStatus.RETRYING

    def run_queued(self, limit: int | None = None,
                   keep_going: Callable[[], bool] = lambda: True) -> int:
        """Run queued runs here, oldest first (the in-process mode); returns how many."""
        done = 0
        while keep_going() and (limit is None or done < limit):
            with self.sessions() as session:
                batch = runs.next_queued(session, 20 if limit is None else
                                         min(20, limit - done))
            if not batch:
                break
            for item in batch:
                if not keep_going():
                    break
                self.execute(item.run_id, item.attempt, item.timeout_s)
                done += 1
        return done

    def run_until_idle(self, max_rounds: int = 50) -> int:
        """Tick and run queued runs until nothing is left to do now (in-process mode and
        tests). Returns how many attempts ran."""
        total = 0
        for _ in range(max_rounds):
            report = self.tick()
            ran = self.run_queued() if self.pusher is None else 0
            total += ran
            if not ran and not report.busy:
                break
        return total


def runtime_of(app: Flask) -> JobRuntime:
    """The app's job runtime."""
    return app.extensions[EXTENSION]  # type: ignore[no-any-return]
