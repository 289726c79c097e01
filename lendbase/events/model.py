"""Typed lifecycle events: what happened, to which record, by whom, and what changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class EventType(StrEnum):
    RECORD_CREATED = "record.created"
    RECORD_UPDATED = "record.updated"
    RECORD_DELETED = "record.deleted"
    #: A record moved to another lifecycle stage (emitted by the record service beside the
    #: ``record.updated`` of the same change; the flow engine will emit it for approval steps).
    STAGE_CHANGED = "stage.changed"
    #: Posted by another system through ``POST /api/v1/events``; ``name`` says what it is.
    EXTERNAL = "external"
    #: A cron schedule came due; ``name`` is the schedule's key.
    SCHEDULE_TICK = "schedule.tick"


class OutboxStatus(StrEnum):
    PENDING = "pending"  # committed, not yet turned into job runs
    DISPATCHED = "dispatched"  # its job run exists (or no handler subscribes to its type)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything is stored in UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Event:
    """One event. ``id`` is the outbox row's id, set by ``emit``.

    ``changed`` lists the field keys a change touched, so a "field X changed" trigger filters
    without reloading the record; ``before`` / ``after`` hold their values as the audit trail
    shows them (sensitive values masked, sub-table rows left out: reload the record for those).
    ``payload`` is an external event's body or a schedule tick's arguments.
    """

    type: EventType
    form: str | None = None
    record_id: int | None = None
    changed: tuple[str, ...] = ()
    before: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    after: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    actor_id: int | None = None
    occurred_at: datetime = field(default_factory=utcnow)
    name: str | None = None
    payload: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    id: int | None = None

    def touched(self, *field_keys: str) -> bool:
        """Whether the change touched any of ``field_keys``."""
        return any(key in self.changed for key in field_keys)

    def to_row(self) -> dict[str, Any]:
        """The ``lb_outbox`` values of this event (without ``id`` and ``status``)."""
        data: dict[str, Any] = {}
        if self.changed:
            data["changed"] = list(self.changed)
        if self.before:
            data["before"] = dict(self.before)
        if self.after:
            data["after"] = dict(self.after)
        if self.payload:
            data["payload"] = dict(self.payload)
        return {"type": EventType(self.type).value, "name": self.name, "form_key": self.form,
                "record_id": self.record_id, "actor_id": self.actor_id,
                "occurred_at": self.occurred_at, "data": data}

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Event:
        data = row["data"] or {}
        return cls(
            id=row["id"], type=EventType(row["type"]), form=row["form_key"],
            record_id=row["record_id"], changed=tuple(data.get("changed", ())),
            before=MappingProxyType(data.get("before", {})),
            after=MappingProxyType(data.get("after", {})), actor_id=row["actor_id"],
            occurred_at=as_utc(row["occurred_at"]) or utcnow(), name=row["name"],
            payload=MappingProxyType(data.get("payload", {})))

    def describe(self) -> str:
        """A one-line summary for the jobs page: "record.updated loan#12 [amount, term]"."""
        text = EventType(self.type).value
        if self.name:
            text += f" {self.name}"
        if self.form:
            text += f" {self.form}" + (f"#{self.record_id}" if self.record_id is not None else "")
        if self.changed:
            keys = ", ".join(self.changed[:6]) + (", ..." if len(self.changed) > 6 else "")
            text += f" [{keys}]"
        return text[:200]


def record_event(event_type: EventType, form: str, record_id: int,
                 changes: Mapping[str, Any], *, actor_id: int | None, at: datetime,
                 omit_values: tuple[str, ...] = ()) -> Event:
    """The event of a record change from the audit trail's ``{field: [before, after]}`` (values
    already masked): created carries the after values, deleted the before values, updated
    both. ``omit_values`` (sub-tables) are named in ``changed`` without their rows."""
    kept = {k: v for k, v in changes.items() if k not in omit_values}
    before = {k: v[0] for k, v in kept.items()} \
        if event_type is not EventType.RECORD_CREATED else {}
    after = {k: v[1] for k, v in kept.items()} \
        if event_type is not EventType.RECORD_DELETED else {}
    changed = tuple(changes) if event_type is not EventType.RECORD_DELETED else ()
    return Event(type=event_type, form=form, record_id=record_id, changed=changed,
                 before=before, after=after, actor_id=actor_id, occurred_at=at)
