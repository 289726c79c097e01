"""Loan servicing, simulated in memory: what a disbursed loan looks like on a business date.

A ``LoanSimulation`` holds a loan's schedule (from ``amortization.schedule``) and the payments
made against it. Its rules are the template's servicing rules:

- penalty interest accrues on an installment's unpaid principal from its due date, at the
  product's penalty rate (annual percent, 360-day year), once the grace days are over;
- a payment is posted penalty -> fee -> interest -> principal;
- an early settlement pays the remaining principal, the current period's interest up to the
  settlement day and the prepayment fee; later installments lose their interest and fees;
- at the business date an installment is overdue when it is past its grace days and more than
  the tolerance amount is unpaid; the loan's DPD counts from the oldest overdue installment,
  its bucket and classification follow from the DPD, and past 180 days it is written off.

``simulate_borrower`` plays a seeded borrower profile (prompt, late, default...) against a
loan for the demo. Pure: no database, no clock; every date comes from the caller.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from apps.credit_template import amortization as am

__all__ = [
    "POSTING_ORDER",
    "WRITE_OFF_DPD",
    "Installment",
    "LoanSimulation",
    "Payment",
    "ServicingTerms",
    "bucket_for",
    "classification_for",
    "simulate_borrower",
]

ZERO = am.ZERO
#: The order a payment is posted in: penalty first, principal last.
POSTING_ORDER = ("penalty", "fee", "interest", "principal")
#: A loan more than this many days past due is written off.
WRITE_OFF_DPD = 180
_PENALTY_BASIS = Decimal(36000)  # annual percent over a 360-day year -> fraction per day


def bucket_for(dpd: int) -> str:
    """The template's delinquency bucket for days past due (M0 current ... M3+ over 90)."""
    if dpd <= 0:
        return "m0"
    if dpd <= 30:
        return "m1"
    if dpd <= 60:
        return "m2"
    return "m3" if dpd <= 90 else "m3_plus"


def classification_for(dpd: int) -> str:
    """Five-category loan classification by days past due."""
    if dpd <= 0:
        return "normal"
    if dpd <= 90:
        return "special_mention"
    return "substandard" if dpd <= 180 else "doubtful" if dpd <= 360 else "loss"


@dataclass(frozen=True)
class ServicingTerms:
    """The product terms servicing follows. Rates are annual (penalty) or plain percents."""

    amortization: str
    grace_days: int
    tolerance: Decimal
    penalty_rate: Decimal = ZERO
    installment_fee_rate: Decimal = ZERO  # percent of the principal, on every installment
    prepayment_fee_rate: Decimal = ZERO  # percent of the principal settled early
    prepayment_allowed: bool = True

    @classmethod
    def from_product(cls, product: Mapping[str, Any]) -> ServicingTerms:
        """The terms of a ``loan_product`` record's values."""
        per_installment = product.get("fee_charge_mode") == "per_installment"
        return cls(
            amortization=product["amortization"], grace_days=int(product["grace_days"]),
            tolerance=Decimal(product["tolerance_amount"]),
            penalty_rate=Decimal(product.get("penalty_rate") or 0),
            installment_fee_rate=Decimal(product["fee_rate"]) if per_installment else ZERO,
            prepayment_fee_rate=Decimal(product.get("prepayment_fee_rate") or 0),
            prepayment_allowed=bool(product.get("prepayment_allowed", True)))


@dataclass(eq=False)
class Installment:
    """One installment: what is due of each part and what has been paid of it."""

    period: am.Period
    principal_due: Decimal
    interest_due: Decimal
    fee_due: Decimal
    penalty_due: Decimal = ZERO
    paid: dict[str, Decimal] = field(
        default_factory=lambda: dict.fromkeys(POSTING_ORDER, ZERO))
    paid_on: date | None = None  # the day it was paid in full
    accrued_to: date | None = None  # penalty interest is accrued up to this day
    late_days: int = 0  # the most days after the due date a payment was made

    @property
    def due_date(self) -> date:
        return self.period.due_date

    def due(self, part: str) -> Decimal:
        return {"penalty": self.penalty_due, "fee": self.fee_due,
                "interest": self.interest_due, "principal": self.principal_due}[part]

    @property
    def unpaid(self) -> Decimal:
        return sum((self.due(p) - self.paid[p] for p in self.paid), ZERO)


@dataclass(frozen=True)
class Payment:
    """A posted payment: the amount of each part and when it came relative to the due date."""

    installment: int | None  # index of the installment; None for an early settlement
    on: date
    parts: dict[str, Decimal]
    payment_type: str  # scheduled / overdue / partial / early
    timing: str  # early / on_time / last_day / late

    @property
    def amount(self) -> Decimal:
        return sum(self.parts.values(), ZERO)


class LoanSimulation:
    """A disbursed loan's installments and payments up to the business date ``today``.

    Post payments with ``pay`` and ``settle`` in date order, then ``close`` the loan at the
    business date; the loan's state (``statuses``, ``dpd``, ``status``...) is read after that.
    """

    def __init__(self, terms: ServicingTerms, principal: Decimal, annual_rate: Decimal,
                 term_months: int, disbursed: date, today: date) -> None:
        self.terms, self.today, self.disbursed = terms, today, disbursed
        self.repayment_day = min(disbursed.day, 28)
        fee = ZERO
        if terms.installment_fee_rate:
            fee = am.round_money(principal * terms.installment_fee_rate / 100)
        first_due = am.add_months(disbursed, 1, self.repayment_day)
        self.periods = am.schedule(principal, annual_rate, term_months, terms.amortization,
                                   first_due, fee_per_period=fee)
        self.installments = [Installment(p, p.principal_due, p.interest_due, p.fee_due)
                             for p in self.periods]
        self.payments: list[Payment] = []
        self._statuses: list[str] | None = None

    # servicing
    def accrue(self, index: int, until: date) -> None:
        """Penalty interest on the unpaid principal from the due date, once past grace."""
        inst = self.installments[index]
        start = inst.accrued_to or inst.due_date
        if (until - inst.due_date).days <= self.terms.grace_days or until <= start:
            return
        base = inst.principal_due - inst.paid["principal"]
        inst.penalty_due += am.round_money(
            base * self.terms.penalty_rate / _PENALTY_BASIS * (until - start).days)
        inst.accrued_to = until

    def pay(self, index: int, on: date, amount: Decimal | None = None,
            payment_type: str = "scheduled") -> Payment:
        """Post ``amount`` (everything unpaid when None) to an installment, in posting order."""
        inst = self.installments[index]
        self.accrue(index, on)
        amount = inst.unpaid if amount is None else min(amount, inst.unpaid)
        parts: dict[str, Decimal] = {}
        for part in POSTING_ORDER:
            take = min(amount, inst.due(part) - inst.paid[part])
            inst.paid[part] += take
            parts[part] = take
            amount -= take
        due = inst.due_date
        inst.late_days = max(inst.late_days, (on - due).days)
        if inst.unpaid == 0:
            inst.paid_on = on
        timing = "on_time" if on < due else "last_day" if on == due else "late"
        payment = Payment(index, on, parts, payment_type, timing)
        self.payments.append(payment)
        return payment

    def settle(self, index: int, on: date) -> Payment:
        """Early settlement in installment ``index``'s period: the remaining principal, that
        period's interest up to ``on`` and the prepayment fee; later interest and fees lapse."""
        inst = self.installments[index]
        start = self.installments[index - 1].due_date if index else self.disbursed
        days = (inst.due_date - start).days
        inst.interest_due = am.round_money(inst.interest_due * (on - start).days / days)
        early = sum((i.principal_due for i in self.installments[index:]), ZERO)
        inst.fee_due += am.round_money(early * self.terms.prepayment_fee_rate / 100)
        parts = dict.fromkeys(POSTING_ORDER, ZERO)
        for later in self.installments[index:]:
            if later is not inst:  # the schedule is revised: no interest or fees ahead
                later.interest_due = later.fee_due = ZERO
            for part in parts:
                parts[part] += later.due(part) - later.paid[part]
                later.paid[part] = later.due(part)
            later.paid_on = on
        payment = Payment(None, on, parts, "early", "early")
        self.payments.append(payment)
        return payment

    def close(self) -> None:
        """Accrue penalty up to the business date and fix every installment's status.

        Idempotent: penalty already accrued to the business date is not accrued again.
        """
        today = self.today
        for index, inst in enumerate(self.installments):
            if inst.paid_on is None and inst.due_date < today:
                self.accrue(index, today)
        statuses = []
        for inst in self.installments:
            if inst.unpaid == 0:
                status = "paid"
            elif ((today - inst.due_date).days > self.terms.grace_days
                  and inst.unpaid > self.terms.tolerance):
                status = "overdue"
            else:
                status = "partially_paid" if any(inst.paid.values()) else "pending"
            statuses.append(status)
        self._statuses = statuses

    # state at the business date (after close)
    @property
    def statuses(self) -> list[str]:
        """Each installment's status: paid, overdue, partially_paid or pending."""
        if self._statuses is None:
            raise RuntimeError("close() the loan simulation before reading its state")
        return self._statuses

    def _overdue(self) -> list[Installment]:
        return [i for i, s in zip(self.installments, self.statuses, strict=True)
                if s == "overdue"]

    @property
    def dpd(self) -> int:
        """Days past due, counted from the oldest overdue installment's due date."""
        overdue = self._overdue()
        return (self.today - overdue[0].due_date).days if overdue else 0

    @property
    def overdue_amount(self) -> Decimal:
        return sum((i.unpaid for i in self._overdue()), ZERO)

    @property
    def outstanding(self) -> Decimal:
        """Principal not yet repaid."""
        return sum((i.principal_due - i.paid["principal"] for i in self.installments), ZERO)

    @property
    def last_paid(self) -> date | None:
        return max((p.on for p in self.payments), default=None)

    @property
    def status(self) -> str:
        """The loan's status: settled, written_off, overdue or active."""
        if all(s == "paid" for s in self.statuses):
            return "settled"
        dpd = self.dpd
        if dpd > WRITE_OFF_DPD:
            return "written_off"
        return "overdue" if dpd > 0 else "active"

    @property
    def bucket(self) -> str:
        return bucket_for(self.dpd)

    @property
    def classification(self) -> str:
        return classification_for(self.dpd)

    @property
    def written_off_on(self) -> date | None:
        """The day the loan went past ``WRITE_OFF_DPD`` days, when it is written off."""
        if self.status != "written_off":
            return None
        return self.today - timedelta(days=self.dpd - WRITE_OFF_DPD - 1)

    def overdue_days(self, index: int) -> int:
        """Days past due now for an overdue installment; days it was paid late for a paid one."""
        inst, status = self.installments[index], self.statuses[index]
        if status == "overdue":
            return (self.today - inst.due_date).days
        return max(0, inst.late_days) if status == "paid" else 0


# --- demo borrowers ----------------------------------------------------------------------


def _payment_offset(rng: random.Random, profile: str) -> int:
    """Days from the due date to the payment for a borrower of ``profile`` (negative: early)."""
    r, ri = rng.random(), rng.randint
    if profile in ("prompt", "settler"):
        return (-ri(1, 7) if r < .75 else 0 if r < .9 else -ri(8, 20) if r < .97
                else ri(1, 3))
    if profile == "last_day":
        return 0 if r < .85 else -ri(1, 3) if r < .95 else ri(1, 2)
    return (-ri(0, 5) if r < .35 else ri(1, 10) if r < .7 else ri(11, 35) if r < .92
            else ri(36, 75))


def simulate_borrower(loan: LoanSimulation, rng: random.Random, profile: str) -> None:
    """Play a borrower of ``profile`` against ``loan`` up to its business date, then close it.

    Profiles: ``prompt`` and ``last_day`` pay on or before the due date, ``settler`` settles
    early when the product allows it, ``late`` pays late and sometimes in part, ``default``
    stops paying some time before the business date.
    """
    today, insts, n = loan.today, loan.installments, len(loan.installments)
    stop = settle = None
    if profile == "default":
        target = rng.choice(((1, 30),) * 7 + ((31, 60),) * 5 + ((61, 90),) * 3
                            + ((91, 400),) * 5)
        lag = rng.randint(*target)
        due_before = [i for i, x in enumerate(insts) if x.due_date <= today - timedelta(days=lag)]
        stop = due_before[-1] if due_before else None
    elif profile == "settler" and loan.terms.prepayment_allowed:
        index = rng.randint(1, n - 1) if n > 1 else 0
        start = insts[index - 1].due_date if index else loan.disbursed
        gap = (insts[index].due_date - start).days
        on = start + timedelta(days=rng.randint(3, max(3, gap - 3)))
        if gap >= 8 and on <= today:
            settle = (index, on)
    last = loan.disbursed + timedelta(days=1)
    for index, inst in enumerate(insts):
        due = inst.due_date
        if stop is not None and index >= stop:
            room = (today - due).days
            if index == stop and room > 1 and rng.random() < 0.4:
                on = max(last, due + timedelta(days=rng.randint(1, min(room, 30))))
                part = am.round_money(inst.unpaid * Decimal(rng.randint(20, 60)) / 100)
                if on <= today:
                    loan.pay(index, on, part, "partial")
            break
        if settle is not None and index == settle[0] and settle[1] >= last:
            loan.settle(index, settle[1])
            break
        on = max(last, due + timedelta(days=_payment_offset(rng, profile)))
        if on > today:
            break
        if profile in ("late", "default") and rng.random() < 0.07:
            loan.pay(index, on, am.round_money(inst.unpaid * Decimal("0.5")), "partial")
            later = on + timedelta(days=rng.randint(5, 25))
            if later > today:
                break
            on = later
        past_grace = (on - due).days > loan.terms.grace_days
        loan.pay(index, on, None, "overdue" if past_grace else "scheduled")
        last = on
    loan.close()
