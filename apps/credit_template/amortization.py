"""Repayment schedules with exact ``Decimal`` arithmetic (pure: no I/O, no floats).

The four methods are the values of the ``amortization`` option of the template's
``loan_product`` and ``loan`` forms:

- ``equal_installment`` (等额本息): one payment A = P r (1+r)^n / ((1+r)^n - 1) a month;
- ``equal_principal`` (等额本金): P/n of principal a month plus interest on the balance;
- ``interest_only`` (先息后本): interest every month, all principal with the last payment;
- ``bullet`` (到期一次还本付息): one payment at maturity, principal plus simple interest
  for the whole term.

``r`` is the monthly rate, annual percent / 12 / 100. Money is rounded to cents with
ROUND_HALF_UP as each period is computed; the last period takes whatever principal is
left, so the principal of a schedule always sums exactly to the loan principal.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

__all__ = [
    "BULLET",
    "EQUAL_INSTALLMENT",
    "EQUAL_PRINCIPAL",
    "INTEREST_ONLY",
    "METHODS",
    "Period",
    "add_months",
    "monthly_rate",
    "round_money",
    "schedule",
]

EQUAL_INSTALLMENT = "equal_installment"
EQUAL_PRINCIPAL = "equal_principal"
INTEREST_ONLY = "interest_only"
BULLET = "bullet"
METHODS = (EQUAL_INSTALLMENT, EQUAL_PRINCIPAL, INTEREST_ONLY, BULLET)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
_PRECISION = 50  # digits for intermediate results: (1+r)^360 needs far fewer


@dataclass(frozen=True)
class Period:
    """One installment of a schedule; amounts in yuan with two decimals."""

    period_no: int
    due_date: date
    principal_due: Decimal
    interest_due: Decimal
    fee_due: Decimal
    opening_balance: Decimal
    closing_balance: Decimal

    @property
    def total_due(self) -> Decimal:
        return self.principal_due + self.interest_due + self.fee_due


def round_money(amount: Decimal) -> Decimal:
    """Cents, half up (the rounding Chinese lenders and the template's money fields use)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def monthly_rate(annual_rate_percent: Decimal) -> Decimal:
    """The exact monthly rate for an annual percentage (12 -> 0.01)."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return Decimal(annual_rate_percent) / Decimal(1200)


def add_months(start: date, months: int, day: int | None = None) -> date:
    """``start`` moved by ``months``, on ``day`` (default ``start.day``) clamped to month end.

    Keeping the anchor day separate from the previous due date means Jan 31 gives
    Feb 28 (or 29) and then Mar 31, not Mar 28.
    """
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    anchor = start.day if day is None else day
    return date(year, month, min(anchor, calendar.monthrange(year, month)[1]))


def _level_payment(principal: Decimal, rate: Decimal, term: int) -> Decimal:
    """A = P r (1+r)^n / ((1+r)^n - 1), rounded to cents; P / n when the rate is zero."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        if rate == 0:
            return round_money(principal / term)
        growth = (1 + rate) ** term
        return round_money(principal * rate * growth / (growth - 1))


def schedule(principal: Decimal, annual_rate_percent: Decimal, term_months: int, method: str,
             first_due: date, *, fee_per_period: Decimal = ZERO) -> list[Period]:
    """The schedule of a loan of ``principal`` whose first installment falls on ``first_due``.

    Later installments fall on the same day of each following month (clamped to the month's
    last day). ``fee_per_period`` is a flat fee added to every installment (a product's
    per-installment service fee); a bullet loan has one installment, due ``term_months - 1``
    months after ``first_due``, i.e. at maturity.
    """
    principal = Decimal(principal)
    rate_percent = Decimal(annual_rate_percent)
    fee = round_money(Decimal(fee_per_period))
    if method not in METHODS:
        raise ValueError(f"unknown amortization method {method!r}; use one of: "
                         + ", ".join(METHODS))
    if not isinstance(term_months, int) or isinstance(term_months, bool) or term_months < 1:
        raise ValueError(f"term_months must be a whole number of months >= 1, got "
                         f"{term_months!r}")
    if principal <= 0 or round_money(principal) != principal:
        raise ValueError(f"principal must be a positive amount in cents, got {principal}")
    if rate_percent < 0:
        raise ValueError(f"annual rate must not be negative, got {rate_percent}")
    if fee < 0:
        raise ValueError(f"fee_per_period must not be negative, got {fee}")
    principal = round_money(principal)  # same value, always two decimals
    rate = monthly_rate(rate_percent)

    if method == BULLET:
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            interest = round_money(principal * rate * term_months)
        due = add_months(first_due, term_months - 1)
        return [Period(1, due, principal, interest, fee, principal, ZERO)]

    payment = _level_payment(principal, rate, term_months)
    equal_share = round_money(principal / term_months)
    periods: list[Period] = []
    balance = principal
    for number in range(1, term_months + 1):
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            interest = round_money(balance * rate)
        if number == term_months:
            part = balance
        elif method == EQUAL_INSTALLMENT:
            part = payment - interest
        elif method == EQUAL_PRINCIPAL:
            part = equal_share
        else:  # INTEREST_ONLY
            part = ZERO
        # Rounding up of tiny loans over long terms could otherwise overshoot the balance.
        part = min(max(part, ZERO), balance)
        due = add_months(first_due, number - 1)
        periods.append(Period(number, due, part, interest, fee, balance, balance - part))
        balance -= part
    return periods
