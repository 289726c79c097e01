"""Run the handlers of one event, each exactly once in effect.

Each handler runs in a transaction of its own that first inserts ``(event_id, handler)`` into
``lb_event_handled`` (primary key) and then lets the handler write its effects; both commit
together or not at all. A redelivered event (a retry, a worker killed after the commit, two
workers racing on an expired lease) finds the row and skips that handler; a concurrent duplicate
waits on the key and then fails to insert it, so its effects never commit. A failing handler
rolls back only its own transaction: the other handlers of the event still run and stay done.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from lendbase import db
from lendbase.events.outbox import load_event
from lendbase.events.registry import resolve

#: How much of an error (message and traceback) a job run keeps.
MAX_ERROR_CHARS = 4000


def format_error(exc: BaseException) -> str:
    """The exception's type and message first (what the jobs page shows folded), then the
    innermost frames of its traceback."""
    head = f"{type(exc).__name__}: {exc}"
    frames = "".join(traceback.format_tb(exc.__traceback__)[-6:])
    text = f"{head}\n{frames}" if frames else head
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 3] + "..."


@dataclass(frozen=True)
class HandlerFailure:
    handler: str
    error: str


@dataclass
class DeliveryReport:
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # done by an earlier delivery
    failures: list[HandlerFailure] = field(default_factory=list)

    def error_text(self) -> str:
        return "\n\n".join(f"[{f.handler}] {f.error}" for f in self.failures)


class EventMissing(LookupError):
    """The outbox row of a job run is gone (deleted by hand)."""


def deliver(sessions: sessionmaker, event_id: int, handlers: Sequence[str],
            clock: Callable[[], datetime]) -> DeliveryReport:
    """Run every handler in ``handlers`` for outbox event ``event_id`` not yet done for it."""
    with sessions() as session:
        event = load_event(session, event_id)
    if event is None:
        raise EventMissing(f"outbox event {event_id} does not exist any more")
    report = DeliveryReport()
    for path in handlers:
        session = sessions()
        try:
            try:
                session.execute(insert(db.event_handled), {
                    "event_id": event_id, "handler": path, "handled_at": clock()})
            except IntegrityError:
                session.rollback()
                report.skipped.append(path)
                continue
            try:
                resolve(path)(session, event)
                session.commit()
            except Exception as exc:  # noqa: BLE001 - any handler error is recorded, not raised
                session.rollback()
                report.failures.append(HandlerFailure(path, format_error(exc)))
            else:
                report.ran.append(path)
        finally:
            session.close()
    return report
