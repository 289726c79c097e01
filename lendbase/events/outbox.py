"""The transactional outbox: ``emit`` writes an event in the caller's transaction; after commit
the dispatcher claims pending rows (set based, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and
turns them into job runs.

Nothing here commits. ``emit`` notes the new row's id in ``session.info`` so that the commit
hook of ``lendbase.jobs`` can dispatch exactly the rows this transaction wrote; rows it misses
(Redis down, process killed between commit and dispatch) stay pending for the sweeper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.events.model import Event, OutboxStatus, as_utc

#: ``session.info`` key: [(outbox id, event type)] written by this session since its last
#: commit or rollback (read and cleared by the commit hook).
EMITTED_KEY = "lb_emitted_events"

_insert_event = db.outbox.insert().returning(db.outbox.c.id)


def emit(session: Session, event: Event) -> Event:
    """Write ``event`` to the outbox in the caller's transaction (one INSERT) and return it
    with its id. It is dispatched after the transaction commits, and never if it rolls back."""
    values = event.to_row()
    values["status"] = OutboxStatus.PENDING.value
    event_id = session.execute(_insert_event, values).scalar_one()
    session.info.setdefault(EMITTED_KEY, []).append((event_id, values["type"]))
    return replace(event, id=event_id)


def take_emitted(session: Session) -> list[tuple[int, str]]:
    """The (id, type) of the events this session wrote since the last call, forgetting them."""
    return session.info.pop(EMITTED_KEY, [])


@dataclass(frozen=True)
class ClaimedEvent:
    id: int
    type: str
    summary: str


def claim_pending(session: Session, now: datetime, *, ids: Sequence[int] | None = None,
                  older_than: datetime | None = None, limit: int = 500) -> list[ClaimedEvent]:
    """Mark up to ``limit`` pending events dispatched (oldest first) and return them.

    ``ids`` restricts the claim to rows a transaction just committed; ``older_than`` leaves
    younger rows to the after-commit dispatcher. Rows another dispatcher holds are skipped
    (``SKIP LOCKED``; SQLite has a single writer), and the ``status`` check in the UPDATE makes
    a row claimed twice impossible, so each pending event is claimed exactly once.
    """
    t = db.outbox
    pick = select(t.c.id).where(t.c.status == OutboxStatus.PENDING.value)
    if ids is not None:
        if not ids:
            return []
        pick = pick.where(t.c.id.in_(list(ids)))
    if older_than is not None:
        pick = pick.where(t.c.occurred_at < older_than)
    pick = pick.order_by(t.c.id).limit(limit).with_for_update(skip_locked=True)
    rows = session.execute(
        update(t)
        .where(t.c.id.in_(pick.scalar_subquery()), t.c.status == OutboxStatus.PENDING.value)
        .values(status=OutboxStatus.DISPATCHED.value, dispatched_at=now)
        .returning(t.c.id, t.c.type, t.c.name, t.c.form_key, t.c.record_id, t.c.actor_id,
                   t.c.occurred_at, t.c.data)
    ).mappings().all()
    claimed = [ClaimedEvent(r["id"], r["type"], Event.from_row(r).describe()) for r in rows]
    return sorted(claimed, key=lambda e: e.id)


def settle_as_history(session: Session, after_id: int, now: datetime) -> int:
    """Mark the events written after outbox row ``after_id`` dispatched without running any
    handler, and forget them in this session: for data generated as history (the demo
    portfolio), whose tens of thousands of creation events must not replay through rules,
    pools and SOP tasks as if they had just happened. Returns how many were settled."""
    t = db.outbox
    take_emitted(session)
    result = session.execute(
        update(t).where(t.c.id > after_id, t.c.status == OutboxStatus.PENDING.value)
        .values(status=OutboxStatus.DISPATCHED.value, dispatched_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def last_event_id(session: Session) -> int:
    return int(session.execute(select(func.coalesce(func.max(db.outbox.c.id), 0))).scalar_one())


def load_event(session: Session, event_id: int) -> Event | None:
    row = session.execute(select(db.outbox).where(db.outbox.c.id == event_id)).mappings().first()
    return Event.from_row(row) if row is not None else None


@dataclass(frozen=True)
class Backlog:
    """The outbox rows not yet dispatched: how many, and since when the oldest waits."""

    pending: int
    oldest_at: datetime | None


def backlog(session: Session) -> Backlog:
    """Both numbers come from the partial index on pending rows, never a scan of the table."""
    t = db.outbox
    pending = t.c.status == OutboxStatus.PENDING.value
    count = session.execute(select(func.count()).select_from(t).where(pending)).scalar_one()
    oldest: Any = None
    if count:
        first_id = select(func.min(t.c.id)).where(pending).scalar_subquery()
        oldest = session.execute(select(t.c.occurred_at).where(t.c.id == first_id)).scalar()
    return Backlog(int(count), as_utc(oldest))
