"""The append-only audit trail of record changes and the log of unmasks and exports."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lendbase import db


def jsonable(value: Any) -> Any:
    """Audit rows store JSON: exact decimals as strings, dates as ISO text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """{field: [before, after]} for the fields whose value differs."""
    return {
        k: [jsonable(before.get(k)), jsonable(v)]
        for k, v in after.items()
        if jsonable(before.get(k)) != jsonable(v)
    }


def write_audit(session: Session, *, form_key: str, record_id: int, action: str,
                record_version: int, actor_id: int | None, at: datetime,
                changes: Mapping[str, Any]) -> None:
    session.execute(insert(db.audit), {
        "form_key": form_key, "record_id": record_id, "action": action,
        "record_version": record_version, "actor_id": actor_id, "at": at,
        "changes": dict(changes)})


def record_history(session: Session, form_key: str, record_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(db.audit, db.user.c.username, db.user.c.display_name)
        .outerjoin(db.user, db.user.c.id == db.audit.c.actor_id)
        .where(db.audit.c.form_key == form_key, db.audit.c.record_id == record_id)
        .order_by(db.audit.c.id.desc())
    ).all()
    return [
        {"id": r.id, "action": r.action, "version": r.record_version, "at": r.at,
         "actor": r.display_name or r.username or "system", "changes": r.changes}
        for r in rows
    ]


def log_access(session: Session, *, actor_id: int, at: datetime, action: str, form_key: str,
               record_id: int | None, field_key: str | None, reason: str) -> None:
    session.execute(insert(db.access_log).values(
        actor_id=actor_id, at=at, action=action, form_key=form_key, record_id=record_id,
        field_key=field_key, reason=reason))
