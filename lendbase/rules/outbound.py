"""Actions that reach outside the record: notifications from a template and webhook calls.

``notify`` renders per record, so it reads the records in chunks (one query per chunk of
``CHUNK`` records, never one per record) and sends each through ``NotificationService`` with
the record's cause key: a notification already sent for that cause is never sent again, a
refused or failed one is tried again.

``webhook`` writes one ``lb_webhook_call`` row per record in one ``INSERT ... SELECT ... ON
CONFLICT (cause_key) DO NOTHING`` and enqueues a job run per new call
(``lendbase.rules.webhooks.deliver``), which POSTs it signed and is retried with back-off.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import DateTime, Integer, String, literal, select

from lendbase import db
from lendbase.conditions import UnsupportedNode
from lendbase.forms.model import FieldDef
from lendbase.jobs import enqueue
from lendbase.records.codec import RecordCodec, context_for
from lendbase.rules.actions import (
    ActionOutcome,
    Run,
    SampleRecord,
    cause_column,
    no_row_with_cause,
)
from lendbase.rules.model import Notify, Webhook
from lendbase.work import NotificationService, cause_key_for
from lendbase.work.common import insert_ignoring_conflicts
from lendbase.work.notifications import RETRYABLE, Gate, quiet_window_gate

#: Records read per query when notifying.
CHUNK = 500
#: Field types that can hold a recipient (a phone number, an address, a user).
RECIPIENT_TYPES = frozenset({"phone", "email", "text", "user"})
#: Labels of the extra columns read beside the record (not field keys: those never start with
#: an underscore).
RECIPIENT_KEY, ZONE_KEY = "_lb_recipient", "_lb_timezone"


def notify_errors(run: Run, action: Notify, ptr: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    t = db.notification_template
    row = run.session.execute(select(t.c.active, t.c.form_key).where(t.c.key == action.template)
                              ).first()
    if row is None:
        errors[f"{ptr}/template"] = [f"there is no notification template {action.template!r}; "
                                     "create it first or pick an existing one"]
    elif not row.active:
        errors[f"{ptr}/template"] = [f"template {action.template!r} is switched off"]
    elif row.form_key not in (None, run.form_key):
        errors[f"{ptr}/template"] = [f"template {action.template!r} is for form "
                                     f"{row.form_key!r}, not {run.form_key!r}"]
    try:
        path = resolve_path(run, action.recipient_field)
    except UnsupportedNode as exc:
        errors[f"{ptr}/recipient_field"] = [exc.message]
        return errors
    if path.field.type not in RECIPIENT_TYPES:
        form = run.target.cf.form
        usable = [x.key for x in form.fields if x.type in RECIPIENT_TYPES]
        errors[f"{ptr}/recipient_field"] = [
            f"{action.recipient_field!r} is not a phone, e-mail, text or user field; use one "
            f"of: {', '.join(usable) or '(none)'}, or reference.field (customer.mobile)"]
    elif path.field.sensitive and run.env.cipher is None and not run.dry_run:
        # a dry run (publish, simulation) sends nothing, so it may lack the key
        errors[f"{ptr}/recipient_field"] = [
            f"field {path.field.key!r} is encrypted and this run has no key to read it"]
    quiet = action.quiet_hours or {}
    if quiet.get("timezone_field"):
        try:
            zone_path = resolve_path(run, quiet["timezone_field"])
            if zone_path.field.sensitive or zone_path.field.type not in ("text", "select"):
                errors[f"{ptr}/quiet_hours/timezone_field"] = [
                    f"{quiet['timezone_field']!r} must be a text or single-choice field holding "
                    "a time zone name such as Asia/Shanghai"]
        except UnsupportedNode as exc:
            errors[f"{ptr}/quiet_hours/timezone_field"] = [exc.message]
    if quiet.get("timezone"):
        try:
            ZoneInfo(quiet["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            errors[f"{ptr}/quiet_hours/timezone"] = [
                f"{quiet['timezone']!r} is not a time zone; use a name such as Asia/Shanghai"]
    return errors


@dataclass(frozen=True)
class FieldPath:
    """A field of the record (``mobile``) or of the record a reference points at
    (``customer.mobile``): its definition, its SQL value over the rule's table, and the form
    whose key encrypts it."""

    field: FieldDef
    column: Any
    form_key: str


def resolve_path(run: Run, path: str) -> FieldPath:
    """``path`` against the rule's form; raises ``UnsupportedNode`` naming the fix."""
    t = run.target.table
    form = run.target.cf.form
    if "." not in path:
        if not form.has_field(path) or form.field(path).type == "subtable":
            usable = [x.key for x in form.fields if x.type in RECIPIENT_TYPES]
            raise UnsupportedNode(f"{path!r} is not a field of form {run.form_key!r}; use one "
                                  f"of: {', '.join(usable) or '(none)'}")
        return FieldPath(form.field(path), t.c[path], run.form_key)
    schema = run.context.schema
    if schema is None:
        raise UnsupportedNode(f"{path!r} follows a reference, which needs the installed forms")
    ref, relation, rest = schema.lookup(run.context.scope, path)
    info = relation.scope.field(rest)
    target = relation.scope.table
    if info.definition is None or info.column is None or target is None:
        raise UnsupportedNode(f"{path!r}: {rest!r} is not a stored field of "
                              f"{relation.form!r}")
    alias = target.alias()
    column = (select(alias.c[info.column]).where(alias.c.id == t.c[ref.key])
              .scalar_subquery())
    return FieldPath(info.definition, column, relation.form)


def _plain(run: Run, path: FieldPath, stored: Any) -> Any:
    if path.field.sensitive and stored is not None and run.env.cipher is not None:
        return run.env.cipher.decrypt(stored, context_for(path.form_key, path.field.key))
    return stored


def _quiet_gate(run: Run, action: Notify) -> Gate | None:
    quiet = action.quiet_hours
    if not quiet:
        return None
    zone = quiet.get("timezone") or getattr(run.env.tz, "key", None) or "Asia/Shanghai"
    return quiet_window_gate(time.fromisoformat(quiet["from"]), time.fromisoformat(quiet["to"]),
                             timezone=zone, tz_field=ZONE_KEY if quiet.get("timezone_field")
                             else None, channels=None)


def _would_send(run: Run, action: Notify) -> Any:
    """No notification for this cause yet, or only a refused / failed one (tried again); and
    a recipient to send to."""
    n = db.notification
    t = run.target.table
    recipient = resolve_path(run, action.recipient_field).column
    return no_row_with_cause(n, run.pattern(action), t.c.id, n.c.status.not_in(RETRYABLE)) \
        & recipient.is_not(None)


def notify(run: Run, action: Notify) -> ActionOutcome:
    clause = _would_send(run, action)
    if run.dry_run:
        return ActionOutcome(action.index, action.type, run.target.count(clause),
                             run.target.sample(clause))
    cf = run.target.cf
    t = run.target.table
    pattern = run.pattern(action)
    quiet = _quiet_gate(run, action)
    gates = (*run.env.gates, quiet) if quiet is not None else run.env.gates
    service = NotificationService(run.session, run.system, run.clock,
                                  channels=run.env.channels, gates=gates)
    codec = RecordCodec(cf.form, run.env.cipher) if run.env.cipher is not None else None
    readable = tuple(f for f in cf.form.stored_fields if codec is not None or not f.sensitive)
    recipient_path = resolve_path(run, action.recipient_field)
    zone_field = (action.quiet_hours or {}).get("timezone_field")
    extra = [recipient_path.column.label(RECIPIENT_KEY)]
    if zone_field:
        extra.append(resolve_path(run, zone_field).column.label(ZONE_KEY))
    title = cf.form.title_field
    statuses: Counter[str] = Counter()
    sample: list[SampleRecord] = []
    last = 0
    while True:
        rows = run.session.execute(
            select(t, *extra).where(run.target.within, clause, t.c.id > last).order_by(t.c.id)
            .limit(CHUNK)).mappings().all()
        for row in rows:
            values: dict[str, Any] = (codec.decode(readable, row) if codec is not None
                                      else {f.key: row[f.key] for f in readable})
            recipient = _plain(run, recipient_path, row[RECIPIENT_KEY])
            record = {"id": row["id"], **values}
            if zone_field:
                record[ZONE_KEY] = row[ZONE_KEY]
            sent = service.send(action.template, record, str(recipient),
                                cause_key_for(pattern, row["id"]), form_key=run.form_key,
                                rule=run.source)
            statuses[sent.status.value] += 1
            if len(sample) < run.target.sample_size:
                shown = values.get(title) if title else None
                sample.append(SampleRecord(int(row["id"]),
                                           None if shown is None else str(shown)))
        if len(rows) < CHUNK:
            break
        last = int(rows[-1]["id"])
    return ActionOutcome(action.index, action.type, sum(statuses.values()), tuple(sample),
                         dict(statuses))


def webhook(run: Run, action: Webhook) -> ActionOutcome:
    from lendbase.rules.webhooks import DELIVER

    w = db.webhook_call
    t = run.target.table
    pattern = run.pattern(action)
    new = no_row_with_cause(w, pattern, t.c.id)
    sample = run.target.sample(new)
    if run.dry_run:
        return ActionOutcome(action.index, action.type, run.target.count(new), sample)
    columns = {
        "cause_key": cause_column(pattern, t.c.id),
        "source": literal(run.source, String(100)),
        "form_key": literal(run.form_key, String(64)),
        "record_id": t.c.id,
        "url": literal(action.url, String(2000)),
        "secret": literal(action.secret, String(200)),
        "timeout_s": literal(action.timeout_s, Integer()),
        "payload": literal(dict(action.payload), db.JsonType),
        "status": literal("pending", String(16)),
        "attempts": literal(0, Integer()),
        "created_at": literal(run.now, DateTime(timezone=True)),
    }
    stmt = insert_ignoring_conflicts(run.session, w, "cause_key").from_select(
        list(columns), select(*columns.values()).where(run.target.within, new)
    ).returning(w.c.id, w.c.record_id)
    calls = run.session.execute(stmt).all()
    for call in calls:
        enqueue(run.session, DELIVER, args=[int(call.id)],
                summary=f"webhook {run.form_key}#{call.record_id} -> {action.url}"[:200],
                timeout=action.timeout_s + 30, now=run.now)
    return ActionOutcome(action.index, action.type, len(calls), sample)


__all__ = ["CHUNK", "notify", "notify_errors", "webhook"]
