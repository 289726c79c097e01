"""Enqueue a job by the dotted path of its function: on RQ with Redis, else run it in-process."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("lendbase.jobs")


def resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class JobQueue:
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
