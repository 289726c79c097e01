"""The change log of everything that is not a form record: metadata drafts and publishes,
users and departments. Form records have their own audit trail (``lendbase.records.audit``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lendbase import db


def subject_for(*parts: str | int) -> str:
    """``meta/forms/customer``, ``org/user/12``: the one way subjects are spelled."""
    return "/".join(str(p) for p in parts)


def log_change(session: Session, *, actor_id: int | None, subject: str, action: str,
               detail: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    session.execute(insert(db.change_log), {
        "at": at or datetime.now(UTC), "actor_id": actor_id, "subject": subject,
        "action": action, "detail": detail or {}})


def changes_of(session: Session, subject: str, limit: int = 200) -> list[dict[str, Any]]:
    rows = session.execute(
        select(db.change_log, db.user.c.username)
        .outerjoin(db.user, db.user.c.id == db.change_log.c.actor_id)
        .where(db.change_log.c.subject == subject)
        .order_by(db.change_log.c.id.desc()).limit(limit)).all()
    return [{"id": r.id, "at": r.at, "actor": r.username or "system", "action": r.action,
             "detail": r.detail} for r in rows]
