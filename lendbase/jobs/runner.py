"""The background thread: scheduler + sweeper every ``interval`` seconds, and without Redis the
in-process job runner as well.

- ``lendbase run`` without ``REDIS_URL`` starts one with ``run_jobs=True``: due schedules fire,
  committed events are dispatched and every job runs in this thread, after the commit of the
  request that caused it (the commit hook wakes the thread up at once).
- ``lendbase worker`` starts one with ``run_jobs=False`` beside the RQ worker (and ``lendbase
  scheduler`` runs one in the foreground): it fires schedules, sweeps the outbox and pushes to
  Redis; the RQ workers run the jobs. Several may run at once: claims are compare-and-set and
  ``SKIP LOCKED``, so nothing fires or dispatches twice.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from lendbase.jobs.runtime import JobRuntime

log = logging.getLogger("lendbase.jobs")


class BackgroundLoop:
    def __init__(self, runtime: JobRuntime, *, interval: float = 2.0,
                 run_jobs: bool | None = None, name: str = "lendbase-jobs",
                 guard: Any = None) -> None:
        self.runtime = runtime
        self.interval = interval
        self.run_jobs = runtime.inline if run_jobs is None else run_jobs
        self.name = name
        #: Held during each round: ``lendbase worker`` forks its work horses only while no
        #: round is touching the database (see ``lendbase.jobs.worker.ForkSafeWorker``).
        self.guard = guard if guard is not None else contextlib.nullcontext()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def notify(self) -> None:
        """Something was committed: run a round now instead of at the next interval."""
        self._wake.set()

    def run_once(self) -> int:
        """One round: fire schedules, sweep, and (in-process) run the queued jobs. Returns the
        number of job attempts run."""
        with self.guard:
            self.runtime.tick()
        if not self.run_jobs:
            return 0
        return self.runtime.run_queued(keep_going=lambda: not self._stopping.is_set())

    def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        if self.run_jobs:
            self.runtime.set_notify(self.notify)
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the job that is running (if any) finishes."""
        self._stopping.set()
        self._wake.set()
        if self.run_jobs:
            self.runtime.set_notify(None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_forever(self) -> None:
        """Run in the calling thread until ``stop`` (from another thread) or Ctrl-C."""
        self._stopping.clear()
        if self.run_jobs:
            self.runtime.set_notify(self.notify)
        self._loop()

    def _loop(self) -> None:
        log.info("%s: scheduler and outbox sweeper every %ss%s", self.name, self.interval,
                 "; running jobs in-process" if self.run_jobs else "")
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                ran = self.run_once()
            except Exception:  # noqa: BLE001 - a bad round (database restarting) is retried
                log.exception("%s: a round failed; retrying in %ss", self.name, self.interval)
                ran = 0
            if ran:
                continue  # jobs may have emitted events or enqueued jobs: go again at once
            self._wake.wait(self.interval)
