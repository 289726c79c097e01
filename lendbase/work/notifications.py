"""Notifications: templates rendered over a record's values, sent through a channel, with
gates that may refuse a send and a record of every message.

The notification row IS the message record (for SMS: the SMS record): template, channel,
recipient, the rendered text, and its fate — ``sent``, ``refused`` by a gate (with the gate's
code and reason, e.g. collection contact at night), or ``failed`` (template or channel error).

Idempotency: a notification for a cause has a UNIQUE ``cause_key``. Sending the same cause
again returns the notification as it stands; one that was refused or failed is tried again
(the gates run again, the attempt counter grows), but a claim on the row (an UPDATE from
refused/failed to queued) lets only one concurrent retry through, so a message is never sent
twice for one cause.

Channels: ``Channel.send(notification) -> SendResult``. The ``sms`` and ``in_app`` channels
only record the message as sent for now (the SMS gateway comes later); a channel that talks
to a real gateway should hand the message to a job after commit (the transactional outbox).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.changelog import log_change
from lendbase.errors import NotFound, PermissionDenied, ValidationFailed
from lendbase.forms.compile import CompiledSchema
from lendbase.records.permissions import Actor, access_for
from lendbase.security import mask_value
from lendbase.work.access import RecordAccess
from lendbase.work.common import (
    Clock,
    as_utc,
    check_cause_key,
    check_rule_key,
    insert_ignoring_conflicts,
    utcnow,
)

MAX_BODY = 5000
MAX_RECIPIENT = 255


class ChannelKind(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    IN_APP = "in_app"
    WECOM = "wecom"
    DINGTALK = "dingtalk"


class NotificationStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    REFUSED = "refused"
    FAILED = "failed"


RETRYABLE = (NotificationStatus.REFUSED.value, NotificationStatus.FAILED.value)


# --- templates (pure) -------------------------------------------------------------------------

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True)


def check_template_text(source: str, name: str = "body") -> None:
    """ValidationFailed with the line of a syntax error."""
    try:
        _ENV.parse(source)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" on line {line}" if line else ""
        raise ValidationFailed({name: [f"template error{where}: {exc}; fix the "
                                       "{{ ... }} / {% ... %} syntax"]}) from None


def render_text(source: str, values: Mapping[str, Any]) -> str:
    """Render ``source`` in Jinja2's sandbox over ``values`` (the record's fields as plain
    names, and ``record`` for the whole record). An undefined name is an error, never an
    empty gap in a message a customer reads. Raises ``jinja2.TemplateError``."""
    context = {**values, "record": values}
    return _ENV.from_string(source).render(context)


# --- channels and gates -----------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingNotification:
    """What a gate judges and a channel sends."""

    id: int
    template_key: str | None
    channel: str
    recipient: str
    subject: str | None
    body: str
    form_key: str | None
    record_id: int | None
    cause_key: str | None
    record: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    ok: bool
    provider_ref: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Refusal:
    """A gate's "no": a stable code (for reports) and a sentence for people."""

    code: str
    reason: str


class Channel(Protocol):
    def send(self, notification: OutgoingNotification) -> SendResult: ...


class RecordingChannel:
    """A channel whose delivery is the notification record itself (SMS until the gateway
    exists, in-app messages): always sent."""

    def send(self, notification: OutgoingNotification) -> SendResult:
        return SendResult(True, provider_ref=None)


#: A gate sees the notification about to go out and the time; None lets it through.
Gate = Callable[[OutgoingNotification, datetime], Refusal | None]


#: How a recipient is masked for readers who may not unmask, by channel.
_MASK_OF_CHANNEL = {"sms": "phone", "email": "email"}


def default_channels() -> dict[str, Channel]:
    return {ChannelKind.SMS.value: RecordingChannel(), ChannelKind.IN_APP.value: RecordingChannel()}


def quiet_hours_gate(start_hour: int = 22, end_hour: int = 8, *,
                     timezone: str = "Asia/Shanghai",
                     tz_field: str | None = None,
                     channels: Iterable[str] = (ChannelKind.SMS.value,)) -> Gate:
    """A gate refusing sends between ``start_hour`` and ``end_hour`` local time (the record's
    ``tz_field`` holds an IANA zone name when customers live in several zones)."""
    return quiet_window_gate(time(start_hour), time(end_hour), timezone=timezone,
                             tz_field=tz_field, channels=channels)


def quiet_window_gate(start: time, end: time, *, timezone: str = "Asia/Shanghai",
                      tz_field: str | None = None,
                      channels: Iterable[str] | None = (ChannelKind.SMS.value,)) -> Gate:
    """A gate refusing sends from ``start`` (included) to ``end`` (excluded) local time; the
    window wraps midnight when ``start`` is later than ``end``. The zone is the record's
    ``tz_field`` (an IANA name) when it holds a valid one, else ``timezone``. ``channels``
    None: every channel."""
    kinds = None if channels is None else frozenset(channels)

    def gate(n: OutgoingNotification, now: datetime) -> Refusal | None:
        if kinds is not None and n.channel not in kinds:
            return None
        zone_name = n.record.get(tz_field) if tz_field else None
        try:
            zone = ZoneInfo(zone_name if isinstance(zone_name, str) and zone_name else timezone)
        except (KeyError, ValueError):
            zone = ZoneInfo(timezone)
        local = now.astimezone(zone).time().replace(tzinfo=None)
        quiet = local >= start or local < end if start > end else start <= local < end
        if quiet:
            return Refusal("quiet_hours", f"no contact between {start:%H:%M} and {end:%H:%M} "
                                          f"customer local time ({zone.key}; it is "
                                          f"{local:%H:%M} there)")
        return None

    return gate


# --- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationTemplate:
    key: str
    label: Mapping[str, str]
    channel: ChannelKind
    form_key: str | None
    subject: str | None
    body: str
    active: bool


@dataclass(frozen=True)
class Notification:
    id: int
    template_key: str | None
    channel: str
    recipient: str
    subject: str | None
    body: str
    status: NotificationStatus
    reason_code: str | None
    reason: str | None
    cause_key: str | None
    form_key: str | None
    record_id: int | None
    attempts: int
    provider_ref: str | None
    created_by: int | None
    created_by_rule: str | None
    created_at: datetime
    sent_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["status"] = self.status.value
        return out


def _notification(row: Any) -> Notification:
    return Notification(
        int(row.id), row.template_key, row.channel, row.recipient, row.subject, row.body,
        NotificationStatus(row.status), row.reason_code, row.reason, row.cause_key,
        row.form_key, row.record_id, int(row.attempts), row.provider_ref, row.created_by,
        row.created_by_rule, as_utc(row.created_at) or row.created_at, as_utc(row.sent_at))


def _template(row: Any) -> NotificationTemplate:
    return NotificationTemplate(row.key, dict(row.label), ChannelKind(row.channel),
                                row.form_key, row.subject, row.body, bool(row.active))


class NotificationService:
    """Templates (kept by administrators) and sends (by rules, or people on records they may
    read). ``channels`` maps channel names to senders; ``gates`` run before every send."""

    def __init__(self, session: Session, actor: Actor, clock: Clock = utcnow, *,
                 schema: CompiledSchema | None = None,
                 channels: Mapping[str, Channel] | None = None,
                 gates: Iterable[Gate] = ()) -> None:
        self.session = session
        self.actor = actor
        self.clock = clock
        self.records = RecordAccess(session, actor, schema)
        self.channels = dict(default_channels() if channels is None else channels)
        self.gates = list(gates)

    # --- templates --------------------------------------------------------------------------
    def templates(self) -> list[NotificationTemplate]:
        t = db.notification_template
        return [_template(r) for r in self.session.execute(select(t).order_by(t.c.key)).all()]

    def template(self, key: str) -> NotificationTemplate:
        row = self.session.execute(select(db.notification_template)
                                   .where(db.notification_template.c.key == key)).first()
        if row is None:
            raise NotFound(f"no notification template {key!r}; an administrator creates it")
        return _template(row)

    def save_template(self, key: str, *, label: Mapping[str, str], channel: ChannelKind | str,
                      body: str, subject: str | None = None, form_key: str | None = None,
                      active: bool = True) -> NotificationTemplate:
        if not self.actor.superuser:
            raise PermissionDenied("only administrators may change notification templates")
        errors: dict[str, list[str]] = {}
        if not isinstance(key, str) or not key.replace("_", "").isalnum() \
                or not key[:1].isalpha() or len(key) > 64 or not key.isascii():
            errors["key"] = ["use 1-64 letters, digits or '_', starting with a letter"]
        if not isinstance(label, Mapping) or not any(label.get(k) for k in ("zh", "en")):
            errors["label"] = ['give a label, e.g. {"zh": "还款提醒", "en": "Repayment '
                               'reminder"}']
        try:
            kind = ChannelKind(channel)
        except ValueError:
            errors["channel"] = [f"use one of {', '.join(c.value for c in ChannelKind)}"]
        if not isinstance(body, str) or not body.strip() or len(body) > MAX_BODY:
            errors["body"] = [f"write a body of 1-{MAX_BODY} characters"]
        else:
            try:
                check_template_text(body, "body")
            except ValidationFailed as exc:
                errors.update(exc.fields)
        if subject is not None:
            try:
                check_template_text(subject, "subject")
            except ValidationFailed as exc:
                errors.update(exc.fields)
        if errors:
            raise ValidationFailed(errors)
        t = db.notification_template
        values = {"label": {k: str(v) for k, v in label.items() if k in ("zh", "en")},
                  "channel": kind.value, "form_key": form_key, "subject": subject,
                  "body": body, "active": bool(active), "updated_by": self.actor.user_id,
                  "updated_at": self.clock()}
        if self.session.execute(select(t.c.key).where(t.c.key == key)).first() is None:
            self.session.execute(insert(t).values(key=key, **values))
        else:
            self.session.execute(update(t).where(t.c.key == key).values(**values))
        log_change(self.session, actor_id=self.actor.user_id, at=self.clock(),
                   subject=f"notification_template:{key}", action="save",
                   detail={"channel": kind.value, "subject": subject, "body": body})
        return self.template(key)

    # --- sending ----------------------------------------------------------------------------
    def send(self, template_key: str, record: Mapping[str, Any], recipient: str,
             cause_key: str | None = None, *, form_key: str | None = None,
             rule: str | None = None) -> Notification:
        """Render ``template_key`` over ``record`` (its values, with ``id``), run the gates
        and send through the template's channel. Returns the notification record: ``sent``,
        ``refused`` (a gate said no, with its reason) or ``failed`` (template or channel)."""
        check_rule_key(rule)
        cause_key = check_cause_key(cause_key)
        if rule is not None and not self.actor.superuser:
            raise PermissionDenied("only the system may act on behalf of a rule")
        if not isinstance(recipient, str) or not recipient.strip() \
                or len(recipient) > MAX_RECIPIENT:
            raise ValidationFailed({"recipient": [
                f"give the recipient (a phone number, address or user) in 1-{MAX_RECIPIENT} "
                "characters"]})
        tpl = self.template(template_key)
        if not tpl.active:
            raise ValidationFailed({"template": [f"template {template_key!r} is switched off"]})
        form_key = form_key or tpl.form_key
        record_id = record.get("id") if isinstance(record.get("id"), int) else None
        if form_key is not None and record_id is not None:
            self.records.require_readable(form_key, record_id)
        elif not self.actor.superuser:
            raise ValidationFailed({"record": ["a notification is about a record: give the "
                                               "form and the record with its id"]})
        n = db.notification
        if cause_key is not None:
            existing = self._by_cause(cause_key)
            if existing is not None:
                return self._retry(existing, tpl, record)
        subject, body, error = self._render(tpl, record)
        values = {"template_key": tpl.key, "channel": tpl.channel.value,
                  "recipient": recipient.strip(), "subject": subject, "body": body,
                  "status": NotificationStatus.QUEUED.value, "cause_key": cause_key,
                  "form_key": form_key, "record_id": record_id, "attempts": 0,
                  "created_by": self.actor.user_id, "created_by_rule": rule,
                  "created_at": self.clock()}
        if cause_key is None:
            new_id = self.session.execute(
                insert(n).values(**values).returning(n.c.id)).scalar_one()
        else:
            new_id = self.session.execute(
                insert_ignoring_conflicts(self.session, n, "cause_key").values(**values)
                .returning(n.c.id)).scalar()
            if new_id is None:  # another transaction made it first: it is theirs to send
                found = self._by_cause(cause_key)
                assert found is not None
                return found
        return self._deliver(self._load(int(new_id)), record, error)

    def _render(self, tpl: NotificationTemplate,
                record: Mapping[str, Any]) -> tuple[str | None, str, str | None]:
        try:
            subject = render_text(tpl.subject, record) if tpl.subject else None
            return subject, render_text(tpl.body, record)[:MAX_BODY], None
        except TemplateError as exc:
            return None, "", f"template {tpl.key!r} could not be rendered: {exc}"

    def _retry(self, existing: Notification, tpl: NotificationTemplate,
               record: Mapping[str, Any]) -> Notification:
        if existing.status.value not in RETRYABLE:
            return existing
        n = db.notification
        subject, body, error = self._render(tpl, record)
        claimed = self.session.execute(
            update(n).where(n.c.id == existing.id, n.c.status == existing.status.value,
                            n.c.attempts == existing.attempts)
            .values(status=NotificationStatus.QUEUED.value, subject=subject,
                    body=body or existing.body)).rowcount  # type: ignore[attr-defined]
        if claimed != 1:  # another retry got there first
            return self._load(existing.id)
        return self._deliver(self._load(existing.id), record, error)

    def _deliver(self, current: Notification, record: Mapping[str, Any],
                 render_error: str | None) -> Notification:
        n = db.notification
        now = self.clock()
        attempts = current.attempts + 1
        outcome: dict[str, Any]
        if render_error is not None:
            outcome = {"status": NotificationStatus.FAILED.value, "reason_code": "template",
                       "reason": render_error}
        else:
            outgoing = OutgoingNotification(
                current.id, current.template_key, current.channel, current.recipient,
                current.subject, current.body, current.form_key, current.record_id,
                current.cause_key, record)
            refusal = next((r for r in (gate(outgoing, now) for gate in self.gates)
                            if r is not None), None)
            channel = self.channels.get(current.channel)
            if refusal is not None:
                outcome = {"status": NotificationStatus.REFUSED.value,
                           "reason_code": refusal.code, "reason": refusal.reason}
            elif channel is None:
                outcome = {"status": NotificationStatus.FAILED.value, "reason_code": "channel",
                           "reason": f"no {current.channel!r} channel is set up yet; an "
                                     "administrator configures it"}
            else:
                result = channel.send(outgoing)
                outcome = ({"status": NotificationStatus.SENT.value, "sent_at": now,
                            "provider_ref": result.provider_ref, "reason_code": None,
                            "reason": None} if result.ok else
                           {"status": NotificationStatus.FAILED.value, "reason_code": "channel",
                            "reason": result.error or "the channel refused the message"})
        self.session.execute(update(n).where(n.c.id == current.id)
                             .values(attempts=attempts, **outcome))
        return self._load(current.id)

    # --- reading ----------------------------------------------------------------------------
    def _by_cause(self, cause_key: str) -> Notification | None:
        row = self.session.execute(select(db.notification)
                                   .where(db.notification.c.cause_key == cause_key)).first()
        return _notification(row) if row is not None else None

    def _load(self, notification_id: int) -> Notification:
        row = self.session.execute(select(db.notification)
                                   .where(db.notification.c.id == notification_id)).first()
        if row is None:
            raise NotFound(f"notification {notification_id} not found")
        return _notification(row)

    def for_record(self, form_key: str, record_id: int, limit: int = 100) -> list[Notification]:
        """A record's notifications, newest first. The recipient (a phone number, an address)
        is masked unless the reader may unmask the record's form: it usually comes from an
        encrypted field."""
        self.records.require_readable(form_key, record_id)
        n = db.notification
        rows = self.session.execute(
            select(n).where(n.c.form_key == form_key, n.c.record_id == record_id)
            .order_by(n.c.id.desc()).limit(limit)).all()
        found = [_notification(r) for r in rows]
        if self._may_unmask(form_key):
            return found
        return [replace(x, recipient=mask_value(_MASK_OF_CHANNEL.get(x.channel, "text"),
                                                x.recipient) or "") for x in found]

    def _may_unmask(self, form_key: str) -> bool:
        if self.actor.superuser:
            return True
        schema = self.records.schema
        cf = schema.forms.get(form_key) if schema is not None else None
        return cf is not None and access_for(self.actor, cf.form).unmask
