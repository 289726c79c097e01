"""The RQ side of the job boundary: ``perform`` is the one function RQ runs.

RQ calls functions by dotted path with plain arguments, so the worker process binds its
``JobRuntime`` once (``lendbase worker`` does, from the app it builds), as Flask binds an app to
a request; below this point everything takes its session and context explicitly. A plain ``rq
worker`` works too: the first job builds a runtime from the environment (``DATABASE_URL``...).

RQ forks a work horse per job: the engine's pool inherited from the parent is replaced (without
closing the parent's connections) the first time a process uses it. The scheduler thread of
``lendbase worker`` uses an engine of its own, and the worker forks only between two of its
rounds (``ForkSafeWorker``): a child forked while another thread is inside a database call would
inherit that call's locks (SQLite's in-process lock table, pool mutexes) held forever.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from sqlalchemy.orm import sessionmaker

from lendbase.jobs.runtime import JobRuntime


class _Binding:
    """The runtime of this worker process, and the pid that last used its engine."""

    def __init__(self) -> None:
        self.runtime: JobRuntime | None = None
        self.pid = os.getpid()
        self.lock = threading.Lock()


_binding = _Binding()


def bind(runtime: JobRuntime | None) -> None:
    """Make ``runtime`` the one ``perform`` uses in this process (None unbinds)."""
    with _binding.lock:
        _binding.runtime = runtime
        _binding.pid = os.getpid()


def _runtime_from_environment(queue_name: str) -> JobRuntime:
    from lendbase.config import load_settings
    from lendbase.db import make_engine

    settings = load_settings()
    runtime = JobRuntime(sessionmaker(make_engine(settings.database_url),
                                      expire_on_commit=False),
                         redis_url=settings.redis_url, queue_name=queue_name)
    runtime.install()
    return runtime


def current_runtime(queue_name: str = "default") -> JobRuntime:
    with _binding.lock:
        if _binding.runtime is None:
            _binding.runtime = _runtime_from_environment(queue_name)
            _binding.pid = os.getpid()
        runtime = _binding.runtime
        if _binding.pid != os.getpid():  # a forked work horse: never share the parent's pool
            runtime.sessions.kw["bind"].dispose(close=False)
            _binding.pid = os.getpid()
        return runtime


def perform(run_id: int, attempt: int, timeout_s: int) -> str | None:
    """Run attempt ``attempt + 1`` of job run ``run_id`` (called by RQ)."""
    from rq import get_current_job

    job = get_current_job()
    runtime = current_runtime(job.origin if job is not None else "default")
    status = runtime.execute(run_id, attempt, timeout_s)
    return status.value if status is not None else None


def fork_safe_worker_class(fork_lock: Any) -> type:
    """An RQ ``Worker`` that forks its work horse while holding ``fork_lock`` (the lock the
    scheduler thread holds during each round)."""
    from rq import Worker

    class ForkSafeWorker(Worker):
        def fork_work_horse(self, job: Any, queue: Any) -> None:
            with fork_lock:
                super().fork_work_horse(job, queue)

    return ForkSafeWorker
