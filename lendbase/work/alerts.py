"""Alerts: a rule (or a person) flags a record — "repaid on the last due day three periods in
a row", "related enterprise has negative news" — with a severity and the facts behind it.

An alert for a cause carries a UNIQUE ``cause_key``; raising it again returns the alert that
exists (whatever its status), so a monitoring rule that runs every night raises each alert
once. Put the period in the key when a cause may recur ("...:2026-11").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Select, String, cast, insert, literal, select, update
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import NotFound, PermissionDenied, ValidationFailed
from lendbase.forms.compile import CompiledSchema
from lendbase.records.permissions import Actor
from lendbase.work.access import RecordAccess
from lendbase.work.common import (
    Clock,
    all_checked,
    as_utc,
    check_cause_key,
    check_rule_key,
    execute_counting,
    id_source,
    insert_ignoring_conflicts,
    split_cause_pattern,
    utcnow,
    value,
)

MAX_TITLE = 200
MAX_PAGE = 200


class AlertSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    HIGH = "high"
    CRITICAL = "critical"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


@dataclass(frozen=True)
class Alert:
    id: int
    form_key: str
    record_id: int
    rule_key: str | None
    severity: AlertSeverity
    title: str
    detail: dict[str, Any]
    cause_key: str | None
    status: AlertStatus
    created_by: int | None
    created_at: datetime
    acknowledged_by: int | None
    acknowledged_at: datetime | None
    closed_by: int | None
    closed_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["severity"], out["status"] = self.severity.value, self.status.value
        return out


@dataclass(frozen=True)
class AlertPage:
    items: list[Alert]
    next_cursor: int | None


def _alert(row: Any) -> Alert:
    return Alert(int(row.id), row.form_key, int(row.record_id), row.rule_key,
                 AlertSeverity(row.severity), row.title, dict(row.detail or {}), row.cause_key,
                 AlertStatus(row.status), row.created_by,
                 as_utc(row.created_at) or row.created_at, row.acknowledged_by,
                 as_utc(row.acknowledged_at), row.closed_by, as_utc(row.closed_at))


def _check(title: Any, severity: Any, detail: Any) -> AlertSeverity:
    errors: dict[str, list[str]] = {}
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
        errors["title"] = [f"write a title of 1-{MAX_TITLE} characters"]
    try:
        level = AlertSeverity(severity)
    except ValueError:
        errors["severity"] = [f"{severity!r} is not a severity; use one of "
                              f"{', '.join(s.value for s in AlertSeverity)}"]
    if detail is not None and not isinstance(detail, Mapping):
        errors["detail"] = ["the detail is a JSON object of the facts behind the alert"]
    if errors:
        raise ValidationFailed(errors)
    return level


class AlertService:
    """Alerts for one actor: anyone who may read a record sees, acknowledges and closes its
    alerts; rules (the system) raise them."""

    def __init__(self, session: Session, actor: Actor, clock: Clock = utcnow, *,
                 schema: CompiledSchema | None = None) -> None:
        self.session = session
        self.actor = actor
        self.clock = clock
        self.records = RecordAccess(session, actor, schema)

    def raise_alert(self, form_key: str, record_id: int, *, title: str,
                    severity: AlertSeverity | str = AlertSeverity.WARNING,
                    detail: Mapping[str, Any] | None = None, cause_key: str | None = None,
                    rule: str | None = None) -> tuple[Alert, bool]:
        """Raise an alert on a record, or return the one ``cause_key`` already raised:
        (alert, created)."""
        level, _, cause_key = all_checked(lambda: _check(title, severity, detail),
                                          lambda: check_rule_key(rule),
                                          lambda: check_cause_key(cause_key))
        self.records.require_readable(form_key, record_id)
        values = {"form_key": form_key, "record_id": record_id, "rule_key": rule,
                  "severity": level.value, "title": title.strip(), "detail": dict(detail or {}),
                  "cause_key": cause_key, "status": AlertStatus.OPEN.value,
                  "created_by": self.actor.user_id, "created_at": self.clock()}
        if cause_key is None:
            new_id = self.session.execute(insert(db.alert).values(**values)
                                          .returning(db.alert.c.id)).scalar_one()
            return self._load(int(new_id)), True
        existing = self._by_cause(cause_key)
        if existing is not None:
            return existing, False
        new_id = self.session.execute(
            insert_ignoring_conflicts(self.session, db.alert, "cause_key").values(**values)
            .returning(db.alert.c.id)).scalar()
        if new_id is None:  # raised meanwhile by another transaction
            found = self._by_cause(cause_key)
            assert found is not None
            return found, False
        return self._load(int(new_id)), True

    def bulk_raise(self, form_key: str, ids: Select[Any], cause_pattern: str, *, title: str,
                   severity: AlertSeverity | str = AlertSeverity.WARNING,
                   detail: Mapping[str, Any] | None = None, rule: str | None = None) -> int:
        """One alert per record whose id ``ids`` selects, in one ``INSERT ... SELECT ... ON
        CONFLICT (cause_key) DO NOTHING``. Returns how many were raised (system only)."""
        level = _check(title, severity, detail)
        check_rule_key(rule)
        if not self.actor.superuser:
            raise PermissionDenied("bulk alerts are raised by rules (the system)")
        prefix, suffix = split_cause_pattern(cause_pattern)
        record_id = id_source(ids)
        columns = {
            "form_key": literal(form_key, String(64)), "record_id": record_id,
            "rule_key": value(rule, String(100)), "severity": literal(level.value, String(16)),
            "title": literal(title.strip(), String(200)),
            "detail": literal(dict(detail or {}), db.JsonType),
            "cause_key": (literal(prefix, String(200)) + cast(record_id, String(20))
                          + literal(suffix, String(200))),
            "status": literal(AlertStatus.OPEN.value, String(16)),
            "created_by": value(self.actor.user_id, db.IdType),
            "created_at": literal(self.clock(), DateTime(timezone=True)),
        }
        # WHERE true: SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
        stmt = insert_ignoring_conflicts(self.session, db.alert, "cause_key").from_select(
            list(columns), select(*columns.values()).where(record_id.is_not(None)))
        return execute_counting(self.session, stmt)

    def _by_cause(self, cause_key: str) -> Alert | None:
        row = self.session.execute(select(db.alert)
                                   .where(db.alert.c.cause_key == cause_key)).first()
        return _alert(row) if row is not None else None

    def _load(self, alert_id: int) -> Alert:
        row = self.session.execute(select(db.alert).where(db.alert.c.id == alert_id)).first()
        if row is None:
            raise NotFound(f"alert {alert_id} not found")
        return _alert(row)

    def get(self, alert_id: int) -> Alert:
        found = self._load(alert_id)
        if not self.records.can_read(found.form_key, found.record_id):
            raise NotFound(f"alert {alert_id} not found")
        return found

    def for_record(self, form_key: str, record_id: int, *,
                   include_closed: bool = False) -> list[Alert]:
        self.records.require_readable(form_key, record_id)
        a = db.alert
        query = select(a).where(a.c.form_key == form_key, a.c.record_id == record_id)
        if not include_closed:
            query = query.where(a.c.status != AlertStatus.CLOSED.value)
        return [_alert(r) for r in self.session.execute(query.order_by(a.c.id.desc())
                                                        .limit(200)).all()]

    def list_page(self, *, status: AlertStatus | str | None = AlertStatus.OPEN,
             form_key: str | None = None, after: int | None = None,
             limit: int = 50) -> AlertPage:
        """Alerts on records the actor may read, newest first, keyset-paged by id."""
        errors: dict[str, list[str]] = {}
        level = None
        if status is not None:
            try:
                level = AlertStatus(status)
            except ValueError:
                errors["status"] = [f"use one of {', '.join(s.value for s in AlertStatus)}"]
        if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            errors["limit"] = [f"must be between 1 and {MAX_PAGE}"]
        if errors:
            raise ValidationFailed(errors)
        a = db.alert
        query = select(a).where(self.records.readable_clause(a.c.form_key, a.c.record_id))
        if level is not None:
            query = query.where(a.c.status == level.value)
        if form_key is not None:
            query = query.where(a.c.form_key == form_key)
        if after is not None:
            query = query.where(a.c.id < after)
        rows = self.session.execute(query.order_by(a.c.id.desc()).limit(limit + 1)).all()
        items = [_alert(r) for r in rows[:limit]]
        return AlertPage(items, items[-1].id if len(rows) > limit and items else None)

    def acknowledge(self, alert_id: int) -> Alert:
        """Someone has seen it and is on it; acknowledging twice changes nothing."""
        found = self.get(alert_id)
        if found.status is not AlertStatus.OPEN:
            return found
        self.session.execute(update(db.alert).where(
            db.alert.c.id == alert_id, db.alert.c.status == AlertStatus.OPEN.value).values(
            status=AlertStatus.ACKNOWLEDGED.value, acknowledged_by=self.actor.user_id,
            acknowledged_at=self.clock()))
        return self._load(alert_id)

    def close(self, alert_id: int) -> Alert:
        found = self.get(alert_id)
        if found.status is AlertStatus.CLOSED:
            return found
        now = self.clock()
        values: dict[str, Any] = {"status": AlertStatus.CLOSED.value,
                                  "closed_by": self.actor.user_id, "closed_at": now}
        if found.acknowledged_at is None:
            values.update(acknowledged_by=self.actor.user_id, acknowledged_at=now)
        self.session.execute(update(db.alert).where(
            db.alert.c.id == alert_id, db.alert.c.status != AlertStatus.CLOSED.value)
            .values(**values))
        return self._load(alert_id)
