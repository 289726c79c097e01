"""Repayment posting: a posted repayment pays its installment, and its loan is brought up to
date at once.

A repayment *counts* when its ``status`` is ``posted`` and it names an ``installment``: its
``principal``, ``interest``, ``fee`` and ``penalty`` are then part of that installment's
``*_paid``. Each change of a repayment moves the installments by the difference between what
the repayment counted for just before and just after it:

- created posted: + its parts; deleted while posted: - its parts;
- posted -> reversed or pending: - its parts; reversed or pending -> posted: + its parts;
- parts corrected while posted: + the difference, part by part;
- moved from installment A to B while posted: - its old parts on A, + its new parts on B.

For every installment concerned, in id order (its loan locked first, so postings of one loan
take turns): one ``UPDATE`` of its paid parts (guarded by its
version, ``version`` + 1, ``updated_at``), with ``paid_in_full_on`` set to the date of the
repayment's ``paid_at`` in Asia/Shanghai when the installment becomes paid in full and cleared
when it no longer is. Then the delinquency statements run for those installments' loans only
(``update_delinquency(loan_ids=...)``), on today's business date by the job runtime's clock:
installment statuses and days overdue, and the loan's DPD, bucket, status and overdue amount
are current at once, and a loan whose bucket or status moves emits its ``record.updated``
event as the nightly job does (rules raise the alert, create the task, send the SMS). Last,
one audit row and one ``record.updated`` outbox event per installment, with its paid parts,
``paid_in_full_on``, ``status`` and ``overdue_days`` as they were before and are now (the
audit row carries the installment's final version).

**Repayments without an installment** (early settlement, one payment for several periods) are
left alone: the handler logs them and writes nothing. Spreading them over installments needs
an allocation order (oldest period first? penalty before principal?) the template does not
define yet; until it does, finance records one repayment per installment.

**Which values.** A ``record.created`` event carries all of the repayment's values and a
``record.deleted`` event all of them as they were; a ``record.updated`` event only the fields
that changed. The other values are taken from the repayment row, with the changes of the later
events of the same repayment undone (their ``before`` values; a later deletion carries the
whole record): that is the repayment just after this event, whatever happened since and in
whatever order the events are handled. Money comes as text in events and as decimals from the
row; both are read as ``Decimal``.

**Exactly once.** The handler runs in the delivery transaction that also records it as done
for the event (``lb_event_handled``), so a redelivered event posts nothing twice, and a failed
posting rolls back whole and is retried. A change that would take an installment's paid part
below zero (its paid amounts were edited by hand meanwhile) is refused with
``PostingRefused``: the job run fails with the reason, to be retried once the data is fixed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from apps.credit_template.delinquency import (
    OPEN_STATUSES,
    BucketRangesInvalid,
    DelinquencyReport,
    business_date_of,
    update_delinquency,
)
from lendbase import db
from lendbase.errors import Conflict
from lendbase.events import Event, EventType, emit
from lendbase.events.model import as_utc, record_event
from lendbase.forms.compile import CompiledSchema
from lendbase.records.audit import changed_fields, write_audit

__all__ = [
    "PARTS",
    "PostingRefused",
    "PostingReport",
    "Share",
    "counted_share",
    "on_repayment_event",
    "post_repayment_event",
    "posting_deltas",
    "repayment_states",
]

log = logging.getLogger("apps.credit_template.posting")

FORM = "repayment"
INSTALLMENT = "installment"
POSTED = "posted"
PARTS = ("principal", "interest", "fee", "penalty")
#: The repayment values posting reads.
_KEYS = ("status", "installment", "paid_at", *PARTS)
#: The installment values its audit row and event report.
_TRACKED = (*(f"{p}_paid" for p in PARTS), "paid_in_full_on", "status", "overdue_days")
_CENT = Decimal("0.01")


class PostingRefused(Conflict):
    """A repayment change cannot be posted as the data stands; the message says why."""

    code = "repayment_posting_refused"


# --- what a repayment counts for (pure) --------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """What one state of a repayment pays: ``parts`` of ``installment``, paid at ``paid_at``."""

    installment: int
    parts: Mapping[str, Decimal]
    paid_at: datetime | None


def _money(value: Any, what: str) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise PostingRefused(f"{what} is {value!r}, not an amount") from None
    if not amount.is_finite():
        raise PostingRefused(f"{what} is {value!r}, not an amount")
    return amount.quantize(_CENT)


def _reference(value: Any) -> int | None:
    if isinstance(value, Mapping):  # {"id": ..., "title": ...} as some views present it
        value = value.get("id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _moment(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    return as_utc(value) if isinstance(value, datetime) else None


def counted_share(state: Mapping[str, Any] | None) -> Share | None:
    """What a repayment in ``state`` pays, or None when it does not count (not posted, or no
    installment named)."""
    if state is None or state.get("status") != POSTED:
        return None
    installment = _reference(state.get("installment"))
    if installment is None:
        return None
    return Share(installment, {p: _money(state.get(p), f"repayment {p}") for p in PARTS},
                 _moment(state.get("paid_at")))


def _unplaced(state: Mapping[str, Any] | None) -> bool:
    """Posted, but for no installment (early settlement, several periods at once)."""
    return state is not None and state.get("status") == POSTED \
        and _reference(state.get("installment")) is None


def posting_deltas(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
                   ) -> dict[int, dict[str, Decimal]]:
    """{installment id: {part: amount to add}} for a repayment going from ``before`` to
    ``after`` (None: it did not exist / no longer exists); installments whose parts do not
    move are left out."""
    deltas: dict[int, dict[str, Decimal]] = {}
    for sign, state in ((-1, before), (1, after)):
        share = counted_share(state)
        if share is None:
            continue
        moved = deltas.setdefault(share.installment, {p: Decimal(0) for p in PARTS})
        for part, amount in share.parts.items():
            moved[part] += sign * amount
    return {i: parts for i, parts in deltas.items() if any(parts.values())}


# --- the repayment before and after an event ---------------------------------------------------


def _later_events(session: Session, event: Event) -> list[Event]:
    """The updates and deletion of the same repayment written after ``event``, newest first
    (outbox ids follow the order of a record's versions: each change writes its event after
    its guarded UPDATE)."""
    if event.id is None:
        return []
    t = db.outbox
    rows = session.execute(
        select(t).where(t.c.id > event.id, t.c.form_key == event.form,
                        t.c.record_id == event.record_id,
                        t.c.type.in_([EventType.RECORD_UPDATED.value,
                                      EventType.RECORD_DELETED.value]))
        .order_by(t.c.id.desc())).mappings().all()
    return [Event.from_row(r) for r in rows]


def repayment_states(session: Session, table: Table, event: Event
                     ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The repayment's values just before and just after ``event`` (None where it did not
    exist), as the module docstring explains."""
    kind = EventType(event.type)
    if kind is EventType.RECORD_CREATED:
        return None, dict(event.after)
    if kind is EventType.RECORD_DELETED:
        return dict(event.before), None
    # the row first, then the later events: a change committed in between is undone from
    # the events whether or not the row read already showed it
    row = session.execute(select(*[table.c[k] for k in _KEYS])
                          .where(table.c.id == event.record_id)).mappings().first()
    state: dict[str, Any] | None = dict(row) if row is not None else None
    for later in _later_events(session, event):
        if later.type is EventType.RECORD_DELETED:
            state = dict(later.before)
        elif state is not None:
            state.update({k: later.before.get(k) for k in later.changed})
    if state is None:
        raise PostingRefused(f"repayment {event.record_id} is gone and no deletion event "
                             "says what it was; post its installment by hand")
    before = {**state, **{k: event.before.get(k) for k in event.changed}}
    return before, state


# --- applying it -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostingReport:
    """What posting one event changed."""

    repayment: int | None
    installments: tuple[int, ...] = ()
    loans: tuple[int, ...] = ()
    delinquency: DelinquencyReport | None = None

    def __str__(self) -> str:
        if not self.installments:
            return f"repayment {self.repayment}: nothing to post"
        return (f"repayment {self.repayment}: installment(s) "
                f"{', '.join(map(str, self.installments))} of loan(s) "
                f"{', '.join(map(str, self.loans))} posted")


def _snapshot(session: Session, inst: Table, ids: Sequence[int], *, lock: bool
              ) -> dict[int, dict[str, Any]]:
    columns = [inst.c.id, inst.c.loan, inst.c.version, inst.c.status, inst.c.overdue_days,
               inst.c.paid_in_full_on, *[inst.c[f"{p}_due"] for p in PARTS],
               *[inst.c[f"{p}_paid"] for p in PARTS]]
    query = select(*columns).where(inst.c.id.in_(list(ids))).order_by(inst.c.id)
    if lock:  # FOR UPDATE on PostgreSQL (in id order: no deadlock); SQLite has one writer
        query = query.with_for_update()
    return {r["id"]: dict(r) for r in session.execute(query).mappings()}


def _lock_loans(session: Session, schema: CompiledSchema, inst: Table, ids: Sequence[int]
                ) -> None:
    """Lock the loans of installments ``ids`` (PostgreSQL), in id order: two repayments of
    one loan posted by two workers then take turns instead of deadlocking in the delinquency
    UPDATE of each other's installments."""
    loan = schema["loan"].table
    session.execute(select(loan.c.id).where(loan.c.id.in_(
        select(inst.c.loan).where(inst.c.id.in_(list(ids))).scalar_subquery()))
        .order_by(loan.c.id).with_for_update(of=loan))


def _unpaid(row: Mapping[str, Any], paid: Mapping[str, Decimal]) -> Decimal:
    due = sum((_money(row[f"{p}_due"], f"installment {row['id']} {p}_due") for p in PARTS),
              Decimal(0))
    return due - sum(paid.values(), Decimal(0))


def _post_installment(session: Session, inst: Table, row: Mapping[str, Any],
                      delta: Mapping[str, Decimal], paid_on: date, now: datetime) -> None:
    """One guarded UPDATE of the installment's paid parts and ``paid_in_full_on``."""
    old = {p: _money(row[f"{p}_paid"], f"installment {row['id']} {p}_paid") for p in PARTS}
    new = {p: old[p] + delta[p] for p in PARTS}
    below = [f"{p}_paid {old[p]} {delta[p]:+} = {new[p]}" for p in PARTS if new[p] < 0]
    if below:
        raise PostingRefused(
            f"installment {row['id']} cannot take this repayment change: {'; '.join(below)} "
            "would be below zero. Its paid amounts were changed by other means; correct them "
            "on the installment, then retry the job")
    was_paid, now_paid = _unpaid(row, old) <= 0, _unpaid(row, new) <= 0
    paid_in_full_on = (row["paid_in_full_on"] if was_paid else paid_on) if now_paid else None
    result = session.execute(
        update(inst).where(inst.c.id == row["id"], inst.c.version == row["version"])
        .values(version=inst.c.version + 1, updated_at=now, updated_by=None,
                paid_in_full_on=paid_in_full_on,
                **{f"{p}_paid": new[p] for p in PARTS}))
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict(f"installment {row['id']} changed while its repayment was posted; the "
                       "job is retried")


def _record(session: Session, before: Mapping[str, Any], after: Mapping[str, Any],
            now: datetime) -> None:
    """The installment's audit row and ``record.updated`` event, as the record service writes
    them (money as text, dates as ISO), by the system."""
    changes = changed_fields({k: before[k] for k in _TRACKED},
                             {k: after[k] for k in _TRACKED})
    if not changes:
        return
    write_audit(session, form_key=INSTALLMENT, record_id=after["id"], action="update",
                record_version=after["version"], actor_id=None, at=now, changes=changes)
    emit(session, record_event(EventType.RECORD_UPDATED, INSTALLMENT, after["id"], changes,
                               actor_id=None, at=now))


def _save(session: Session, table: Table, form_key: str, row: Mapping[str, Any],
          values: Mapping[str, Any], now: datetime) -> None:
    """Write ``values`` that differ from ``row`` (id, version and those keys) by the system:
    a version-guarded UPDATE, an audit row and a ``record.updated`` event."""
    changes = changed_fields({k: row[k] for k in values}, dict(values))
    if not changes:
        return
    changed = {k: values[k] for k in changes}
    result = session.execute(
        update(table).where(table.c.id == row["id"], table.c.version == row["version"])
        .values(version=table.c.version + 1, updated_at=now, updated_by=None, **changed))
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict(f"{form_key} {row['id']} changed while a repayment was posted; the job "
                       "is retried")
    write_audit(session, form_key=form_key, record_id=row["id"], action="update",
                record_version=row["version"] + 1, actor_id=None, at=now, changes=changes)
    emit(session, record_event(EventType.RECORD_UPDATED, form_key, row["id"], changes,
                               actor_id=None, at=now))


def _update_balances(session: Session, schema: CompiledSchema, loans: Sequence[int],
                     now: datetime) -> None:
    """The loans' outstanding principal (principal still due by their schedule) and last
    repayment date (of their posted repayments), then their customers' balance (outstanding
    principal of open loans): what a reversed repayment raises again. One query per kind,
    then a guarded UPDATE per record that changes (the loans of one event: a handful)."""
    if not loans:
        return
    inst, loan, rep = schema[INSTALLMENT].table, schema["loan"].table, schema[FORM].table
    owed = dict(session.execute(
        select(inst.c.loan, func.sum(func.coalesce(inst.c.principal_due, 0)
                                     - func.coalesce(inst.c.principal_paid, 0)))
        .where(inst.c.loan.in_(list(loans))).group_by(inst.c.loan)).all())
    last_paid = dict(session.execute(
        select(rep.c.loan, func.max(rep.c.paid_at))
        .where(rep.c.loan.in_(list(loans)), rep.c.status == POSTED).group_by(rep.c.loan)).all())
    rows = session.execute(select(loan.c.id, loan.c.version, loan.c.customer,
                                  loan.c.outstanding_principal, loan.c.last_repaid_on)
                           .where(loan.c.id.in_(list(loans))).order_by(loan.c.id)).mappings()
    customers = set()
    for row in rows:
        values: dict[str, Any] = {}
        if row["id"] in owed:
            values["outstanding_principal"] = _money(owed[row["id"]], "outstanding principal")
        paid_at = _moment(last_paid.get(row["id"]))
        values["last_repaid_on"] = business_date_of(paid_at) if paid_at else None
        _save(session, loan, "loan", row, values, now)
        if row["customer"] is not None:
            customers.add(row["customer"])
    if not customers:
        return
    cust = schema["customer"].table
    balance = dict(session.execute(
        select(loan.c.customer, func.sum(func.coalesce(loan.c.outstanding_principal, 0)))
        .where(loan.c.customer.in_(sorted(customers)), loan.c.status.in_(OPEN_STATUSES))
        .group_by(loan.c.customer)).all())
    for row in session.execute(select(cust.c.id, cust.c.version, cust.c.balance)
                               .where(cust.c.id.in_(sorted(customers)))
                               .order_by(cust.c.id)).mappings():
        _save(session, cust, "customer", row,
              {"balance": _money(balance.get(row["id"], 0), "balance")}, now)


def post_repayment_event(session: Session, event: Event, *, schema: CompiledSchema,
                         now: datetime) -> PostingReport:
    """Post what ``event`` (a repayment created, updated or deleted) changes for its
    installments and bring their loans up to date on ``now``'s business date. Never
    commits."""
    if event.form != FORM or event.record_id is None:
        return PostingReport(event.record_id)
    before, after = repayment_states(session, schema[FORM].table, event)
    deltas = posting_deltas(before, after)
    if not any(counted_share(s) for s in (before, after)) \
            and any(_unplaced(s) for s in (before, after)):
        log.info("repayment %s names no installment: left alone (a payment for several "
                 "installments is not spread automatically)", event.record_id)
    elif _unplaced(after):
        log.info("repayment %s no longer names an installment: taken off its former one and "
                 "not spread", event.record_id)
    if not deltas:
        return PostingReport(event.record_id)
    inst = schema[INSTALLMENT].table
    ids = sorted(deltas)
    _lock_loans(session, schema, inst, ids)
    rows = _snapshot(session, inst, ids, lock=True)
    missing = [i for i in ids if i not in rows]
    if missing:
        log.warning("repayment %s: installment(s) %s do not exist; nothing posted to them",
                    event.record_id, ", ".join(map(str, missing)))
    share = counted_share(after)
    today = business_date_of(now)
    paid_on = business_date_of(share.paid_at) if share and share.paid_at else today
    for inst_id in ids:
        if inst_id in rows:
            _post_installment(session, inst, rows[inst_id], deltas[inst_id], paid_on, now)
    posted = [i for i in ids if i in rows]
    loans = sorted({rows[i]["loan"] for i in posted if rows[i]["loan"] is not None})
    report = None
    if loans:
        try:
            report = update_delinquency(session, business_date=today, schema=schema, now=now,
                                        loan_ids=loans)
        except BucketRangesInvalid as exc:  # the payment stands; statuses wait for the fix
            log.error("repayment %s posted, but loan(s) %s were not brought up to date: %s",
                      event.record_id, ", ".join(map(str, loans)), exc.message)
    final = _snapshot(session, inst, posted, lock=False)
    for inst_id in posted:
        _record(session, rows[inst_id], final[inst_id], now)
    _update_balances(session, schema, loans, now)
    result = PostingReport(event.record_id, tuple(posted), tuple(loans), report)
    log.info("%s", result)
    return result


def on_repayment_event(session: Session, event: Event) -> None:
    """The subscriber ``app.json`` declares for repayment events (``handler(session, event)``,
    run by ``lendbase.meta.app_events``): posts on the job runtime's clock."""
    from lendbase.meta.app_events import runtime_for

    runtime = runtime_for(session)
    post_repayment_event(session, event, schema=runtime.forms.schema(session),
                         now=runtime.clock())
