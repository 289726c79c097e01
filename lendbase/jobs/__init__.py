"""Background jobs on RQ; in-process when ``REDIS_URL`` is unset (the embedded default).

Jobs carry ids and plain values, never objects, and are enqueued by the request or job boundary
after its transaction commits. The transactional outbox and the rule engine build on this in the
rules issue.
"""

from lendbase.jobs.queue import JobQueue

__all__ = ["JobQueue"]
