"""The Redis side: push job-run attempts onto an RQ queue (``RQPusher``), and ``JobQueue``, the
plain enqueue-a-function helper (RQ with Redis, else in-process) that predates job runs.

RQ job ids are derived from the run and the attempt (``lb-<queue>-<run>-<attempt>``), so
pushing the same attempt twice never queues it twice: a re-push first asks Redis which of its
jobs are still queued or started there (and pushes only the others), and a fresh push is of runs
no one has pushed before.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from lendbase.events.registry import resolve as _resolve
from lendbase.jobs.runs import PushItem

log = logging.getLogger("lendbase.jobs")

#: The function RQ calls for every attempt (``lendbase.jobs.worker.perform``).
PERFORM = "lendbase.jobs.worker.perform"
#: How long Redis keeps a finished / failed RQ job (the job run in the database is the record).
RESULT_TTL = 600
FAILURE_TTL = 7 * 24 * 3600

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
#: RQ statuses of a job that will not run (again) by itself: such an attempt is pushed anew. An
#: attempt RQ still holds as queued or started is left alone.
_GONE = frozenset({"finished", "failed", "stopped", "canceled"})


def resolve(path: str) -> Callable[..., Any]:
    return _resolve(path)


class PushFailed(RuntimeError):
    """Redis refused or could not be reached; the runs stay queued for the sweeper."""


class RQPusher:
    """Pushes attempts onto one RQ queue. The connection fails fast (a few seconds at most) so
    a request that committed never waits long on a Redis that is down."""

    def __init__(self, redis_url: str, queue_name: str = "default") -> None:
        from redis import Redis
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry
        from rq import Queue

        self.redis_url = redis_url
        self.queue_name = queue_name
        # one quick retry, 2 s to connect: a Redis that is down costs a commit a few seconds
        self.connection = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5,
                                         retry=Retry(ExponentialBackoff(cap=0.5, base=0.1), 1))
        self.queue = Queue(queue_name, connection=self.connection)
        self._prefix = f"lb-{_UNSAFE.sub('_', queue_name)}-"

    def job_id(self, run_id: int, attempt: int) -> str:
        return f"{self._prefix}{run_id}-{attempt}"

    def push(self, items: Sequence[PushItem], *, fresh: bool = False) -> int:
        """Queue each item's attempt once; returns how many were queued. ``fresh`` skips the
        existence check for runs that were just created. Raises ``PushFailed``."""
        if not items:
            return 0
        from redis.exceptions import RedisError
        from rq import Queue
        from rq.job import Job

        try:
            if not fresh:
                with self.connection.pipeline(transaction=False) as pipe:
                    for item in items:
                        pipe.hget(Job.key_for(self.job_id(item.run_id, item.attempt)), "status")
                    statuses = pipe.execute()
                items = [i for i, status in zip(items, statuses, strict=True)
                         if status is None or status.decode() in _GONE]
                if not items:
                    return 0
            datas = [Queue.prepare_data(
                PERFORM, args=(item.run_id, item.attempt, item.timeout_s),
                job_id=self.job_id(item.run_id, item.attempt), timeout=item.timeout_s,
                result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
                description=f"lendbase job run {item.run_id} attempt {item.attempt + 1}")
                for item in items]
            with self.connection.pipeline() as pipe:
                self.queue.enqueue_many(datas, pipeline=pipe)
                pipe.execute()
        except RedisError as exc:
            raise PushFailed(f"could not push {len(items)} job(s) to Redis queue "
                             f"{self.queue_name!r}: {exc}") from exc
        return len(items)

    def close(self) -> None:
        self.connection.close()


class JobQueue:
    """Enqueue a plain function by dotted path: on RQ with Redis, else run it in-process now.

    For work that must survive a crash use ``lendbase.jobs.enqueue`` (a job run written in the
    caller's transaction) instead."""

    def __init__(self, redis_url: str | None, name: str = "default") -> None:
        self.redis_url = redis_url
        self.name = name
        self._queue = None
        if redis_url:
            from redis import Redis
            from rq import Queue

            self._queue = Queue(name, connection=Redis.from_url(redis_url))

    @property
    def inline(self) -> bool:
        return self._queue is None

    def enqueue(self, path: str, *args: Any, retries: int = 3, **kwargs: Any) -> str | None:
        """Run ``path(*args, **kwargs)`` in the background; returns the RQ job id, or None
        when it ran in-process."""
        if self._queue is None:
            resolve(path)(*args, **kwargs)
            return None
        from rq import Retry

        job = self._queue.enqueue(path, *args, retry=Retry(max=retries, interval=[5, 30, 120]),
                                  **kwargs)
        return job.id
