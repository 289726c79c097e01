"""Handlers, job functions and a worker launcher for the outbox and job-runtime tests.

The handlers are imported by dotted path, also by ``lendbase worker`` processes the tests start,
so they live in a module of their own (not in a test module) that imports neither pytest nor
the test fixtures: a work horse imports it for each job."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
    text,
)

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("LENDBASE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PG_URL = os.environ.get("LENDBASE_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
#: A port nothing listens on: "Redis is down".
DEAD_REDIS_URL = "redis://127.0.0.1:1/15"

effects_metadata = MetaData()
#: What the test handlers write: one row per handler run that committed. No unique key on
#: purpose, so a duplicate run would show as a second row instead of an error.
effect = Table(
    "t_effect", effects_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", BigInteger, nullable=True),
    Column("handler", String(40), nullable=False),
    Column("pid", Integer, nullable=False),
)

#: Attempts per key made by the flaky handlers (in-process tests only).
ATTEMPTS: Counter[str] = Counter()


def record_effect(session: Any, event: Any) -> None:
    """Write the effect; then sleep ``payload.sleep`` seconds, or, for the event carrying
    ``payload.block`` (a file path), block the first time until the process is killed."""
    session.execute(effect.insert(), {"event_id": event.id, "handler": "record",
                                      "pid": os.getpid()})
    session.flush()
    marker = event.payload.get("block")
    if marker and not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        time.sleep(60)  # killed long before this ends
    if event.payload.get("sleep"):
        time.sleep(float(event.payload["sleep"]))


def second_effect(session: Any, event: Any) -> None:
    session.execute(effect.insert(), {"event_id": event.id, "handler": "second",
                                      "pid": os.getpid()})


def flaky(session: Any, event: Any) -> None:
    """Fails ``payload.fail_times`` times, then writes its effect."""
    key = f"flaky-{event.id}"
    ATTEMPTS[key] += 1
    session.execute(effect.insert(), {"event_id": event.id, "handler": "flaky",
                                      "pid": os.getpid()})
    if ATTEMPTS[key] <= int(event.payload.get("fail_times", 0)):
        raise RuntimeError(f"flaky handler fails on attempt {ATTEMPTS[key]}")


def broken(session: Any, event: Any) -> None:
    if not event.payload.get("fixed") and not ATTEMPTS.get("broken-fixed"):
        raise ValueError("the bureau answered 503; try again later")
    session.execute(effect.insert(), {"event_id": event.id, "handler": "broken",
                                      "pid": os.getpid()})


def scheduled_job(ctx: Any, label: str = "") -> None:
    """A scheduled job: one effect row per run, carrying its due minute."""
    minute = ctx.due_at.minute if ctx.due_at is not None else -1
    ctx.session.execute(effect.insert(), {"event_id": minute, "handler": f"sched:{label}",
                                          "pid": os.getpid()})


def effects(engine: Engine, handler: str | None = None) -> list[int]:
    query = select(effect.c.event_id).order_by(effect.c.id)
    if handler is not None:
        query = query.where(effect.c.handler == handler)
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def count(engine: Engine, table: Table, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where))
                   .scalar_one())


def database_url(engine: Engine) -> str:
    """The URL a separate process uses to reach this test database (and its schema)."""
    if engine.dialect.name == "sqlite":
        return engine.url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    return f"{PG_URL}?options=-csearch_path%3D{schema},public"


def wait_for(condition: Callable[[], bool], timeout: float, what: str,
             every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


class WorkerProcess:
    """``lendbase worker`` in a process group of its own (so SIGKILL takes its work horse
    too), logging to a file."""

    def __init__(self, db_url: str, queue: str, var_dir: Path, *, burst: bool = False,
                 interval: float = 0.5) -> None:
        self.log_path = var_dir / f"worker-{secrets.token_hex(3)}.log"
        env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": REDIS_URL,
               "SECRET_KEY": secrets.token_urlsafe(24),
               "LENDBASE_FIELD_KEY": "A" * 43 + "=", "LENDBASE_VAR_DIR": str(var_dir),
               "PYTHONPATH": str(ROOT)}
        args = [sys.executable, "-c", "from lendbase.cli import main; main()", "worker",
                "--queue", queue, "--interval", str(interval)]
        if burst:
            args.append("--burst")
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def _children(self) -> list[int]:
        """The work horses: RQ forks them into process groups of their own."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return found

    def kill(self) -> None:
        """SIGKILL the worker and its work horse at once: no clean-up runs anywhere."""
        if self.process.poll() is None:
            horses = self._children()
            os.killpg(self.process.pid, signal.SIGKILL)
            for pid in horses:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.process.wait(10)
        self._log.close()

    def wait(self, timeout: float) -> int:
        """Wait for a ``--burst`` worker to finish; killed if it does not in time."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        finally:
            self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def rq_queue(name: str) -> Iterator[Any]:
    """A test-unique RQ queue on the test Redis database; everything it left is deleted."""
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(REDIS_URL)
    try:
        yield Queue(name, connection=connection)
    finally:
        for pattern in (f"rq:*{name}*", f"rq:*lb-{name}-*"):
            keys = list(connection.scan_iter(match=pattern, count=1000))
            if keys:
                connection.delete(*keys)
        connection.close()
