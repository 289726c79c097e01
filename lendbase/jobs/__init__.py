"""Background jobs: job runs in the database, RQ on Redis to run them, in-process without it.

Every background job is a row of ``lb_job_run`` written in the caller's transaction (``enqueue``,
an event's delivery, a schedule coming due) and handed to a queue after commit; the admin jobs
page and ``/api/v1/jobs`` read that table. With ``REDIS_URL`` attempts are pushed to RQ and run
by ``lendbase worker``; without it the ``BackgroundLoop`` of ``lendbase run`` runs them. See
``docs/jobs.md``.
"""

from lendbase.jobs.model import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT,
    JobContext,
    JobKind,
    JobRun,
    JobStatus,
    RetryPolicy,
)
from lendbase.jobs.queue import JobQueue, RQPusher
from lendbase.jobs.runner import BackgroundLoop
from lendbase.jobs.runs import enqueue, get_run, list_runs, status_counts
from lendbase.jobs.runtime import EXTENSION, JobRuntime, SweepReport, runtime_of
from lendbase.jobs.schedule import (
    TICK_JOB,
    Schedule,
    delete_schedule,
    get_schedule,
    list_schedules,
    next_due,
    save_schedule,
)

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_TIMEOUT",
    "EXTENSION",
    "TICK_JOB",
    "BackgroundLoop",
    "JobContext",
    "JobKind",
    "JobQueue",
    "JobRun",
    "JobRuntime",
    "JobStatus",
    "RQPusher",
    "RetryPolicy",
    "Schedule",
    "SweepReport",
    "delete_schedule",
    "enqueue",
    "get_run",
    "get_schedule",
    "list_runs",
    "list_schedules",
    "next_due",
    "runtime_of",
    "save_schedule",
    "status_counts",
]
