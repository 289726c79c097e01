"""Jobs run in-process without Redis, and through a real RQ worker with it."""

from __future__ import annotations

import os
import uuid

import pytest

from lendbase.jobs import JobQueue

REDIS_URL = os.environ.get("LENDBASE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_inline_without_redis(tmp_path) -> None:
    target = tmp_path / "out.txt"
    queue = JobQueue(None)
    assert queue.enqueue("tests.jobs_fixtures.append_line", str(target), "一") is None
    assert target.read_text("utf-8") == "一\n"


@pytest.mark.redis
def test_rq_worker_runs_enqueued_jobs(tmp_path) -> None:
    from redis import Redis
    from rq import SimpleWorker

    target = tmp_path / "out.txt"
    queue = JobQueue(REDIS_URL, name=f"test-{uuid.uuid4().hex[:8]}")
    ids = [queue.enqueue("tests.jobs_fixtures.append_line", str(target), str(i))
           for i in range(3)]
    assert all(ids) and not target.exists()  # queued, not run yet
    connection = Redis.from_url(REDIS_URL)
    try:
        SimpleWorker([queue._queue], connection=connection).work(burst=True)
        assert target.read_text("utf-8").split() == ["0", "1", "2"]
    finally:
        queue._queue.delete(delete_jobs=True)
