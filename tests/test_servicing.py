"""Loan servicing rules: penalty accrual, posting order, early settlement, DPD and buckets."""

from __future__ import annotations

import dataclasses
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from apps.credit_template.demo_data import PRODUCTS
from apps.credit_template.servicing import (
    POSTING_ORDER,
    LoanSimulation,
    ServicingTerms,
    bucket_for,
    classification_for,
    simulate_borrower,
)

D = Decimal
DISBURSED = date(2026, 1, 10)
FIRST_DUE = date(2026, 2, 10)
#: 36 % a year on a 360-day year: one yuan of principal per 1,000 per day past due.
TERMS = ServicingTerms(amortization="equal_principal", grace_days=3, tolerance=D("10.00"),
                       penalty_rate=D("36"), installment_fee_rate=D("0.2"),
                       prepayment_fee_rate=D("1"))
NO_PENALTY = dataclasses.replace(TERMS, penalty_rate=D("0"))


def _loan(today: date, terms: ServicingTerms = TERMS, term: int = 12) -> LoanSimulation:
    """12,000 at 12 % over ``term`` months, equal principal: 1,000 a month plus interest."""
    return LoanSimulation(terms, D("12000"), D("12"), term, DISBURSED, today)


def _product(code: str) -> dict:
    return next(p for p in PRODUCTS if p["code"] == code)


def test_schedule_fee_and_repayment_day():
    loan = _loan(date(2026, 1, 20))
    insts = loan.installments
    assert [i.due_date for i in insts[:3]] == [FIRST_DUE, date(2026, 3, 10), date(2026, 4, 10)]
    assert sum(i.principal_due for i in insts) == D("12000")
    assert [i.interest_due for i in insts[:2]] == [D("120.00"), D("110.00")]
    assert {i.fee_due for i in insts} == {D("24.00")}  # 0.2 % of the principal each month
    late_month = LoanSimulation(TERMS, D("12000"), D("12"), 3, date(2026, 1, 31), FIRST_DUE)
    assert late_month.repayment_day == 28
    assert late_month.installments[0].due_date == date(2026, 2, 28)


def test_terms_from_products():
    quick = ServicingTerms.from_product(_product("KD-02"))
    assert quick.installment_fee_rate == D("0.2") and quick.grace_days == 1
    assert quick.tolerance == D("5.00") and quick.penalty_rate == D("27")
    upfront = ServicingTerms.from_product(_product("JY-03"))  # fee charged once, not monthly
    assert upfront.installment_fee_rate == 0 and upfront.prepayment_fee_rate == D("1")
    assert ServicingTerms.from_product(_product("CD-07")).prepayment_allowed is False


def test_grace_days_then_overdue_with_penalty_from_the_due_date():
    within = _loan(FIRST_DUE + timedelta(days=3))
    within.close()
    assert within.statuses[0] == "pending" and within.dpd == 0
    assert within.installments[0].penalty_due == 0 and within.status == "active"

    past = _loan(FIRST_DUE + timedelta(days=4))
    past.close()
    assert past.statuses[0] == "overdue" and past.statuses[1] == "pending"
    assert past.dpd == 4 and past.status == "overdue" and past.overdue_days(0) == 4
    # penalty counts from the due date, not from the end of the grace period
    assert past.installments[0].penalty_due == D("4.00")
    assert past.overdue_amount == D("1148.00")  # 1,000 + 120 + 24 + 4


def test_close_is_idempotent_and_required():
    loan = _loan(FIRST_DUE + timedelta(days=10))
    with pytest.raises(RuntimeError, match="close"):
        _ = loan.dpd
    loan.close()
    loan.close()
    assert loan.installments[0].penalty_due == D("10.00")


def test_dpd_counts_from_the_oldest_overdue_installment():
    today = date(2026, 5, 1)
    loan = _loan(today)
    loan.pay(0, date(2026, 4, 20))  # the first installment, 69 days late, in full
    loan.close()
    assert loan.installments[0].penalty_due == D("69.00")  # 1,000 x 0.1 % x 69 days
    assert loan.statuses[:4] == ["paid", "overdue", "overdue", "pending"]
    assert loan.dpd == (today - date(2026, 3, 10)).days == 52
    assert loan.bucket == "m2" and loan.classification == "special_mention"
    assert loan.overdue_days(0) == 69  # how late it was paid
    assert loan.overdue_days(1) == 52 and loan.overdue_days(3) == 0
    assert loan.overdue_amount == sum((i.unpaid for i in loan.installments[1:3]), D(0))


def test_tolerance_keeps_a_small_shortfall_out_of_overdue():
    today = FIRST_DUE + timedelta(days=40)
    small = LoanSimulation(NO_PENALTY, D("12000"), D("12"), 12, DISBURSED, today)
    small.pay(0, FIRST_DUE, D("1134.00"))  # 10.00 short: exactly the tolerance
    small.close()
    assert small.statuses[0] == "partially_paid"
    # the second installment is overdue, so DPD counts from it, not from the first
    assert small.statuses[1] == "overdue" and small.dpd == 12
    assert small.overdue_amount == D("1134.00")  # 1,000 + 110 + 24, the shortfall excluded

    big = LoanSimulation(NO_PENALTY, D("12000"), D("12"), 12, DISBURSED, today)
    big.pay(0, FIRST_DUE, D("1133.99"))  # 10.01 short
    big.close()
    assert big.statuses[0] == "overdue" and big.dpd == 40


def test_payments_post_penalty_fee_interest_principal():
    loan = _loan(date(2026, 6, 1))
    first = loan.pay(0, FIRST_DUE + timedelta(days=10), D("30"), "partial")
    assert tuple(first.parts) == POSTING_ORDER
    assert first.parts == {"penalty": D("10.00"), "fee": D("20.00"), "interest": D("0.00"),
                           "principal": D("0.00")}
    second = loan.pay(0, FIRST_DUE + timedelta(days=10), D("200"), "partial")
    assert second.parts == {"penalty": D("0.00"), "fee": D("4.00"), "interest": D("120.00"),
                            "principal": D("76.00")}
    assert second.timing == "late" and loan.installments[0].late_days == 10
    assert loan.installments[0].paid_on is None
    rest = loan.pay(0, FIRST_DUE + timedelta(days=10))
    assert rest.amount == D("924.00") and rest.parts["principal"] == D("924.00")
    assert loan.installments[0].paid_on == FIRST_DUE + timedelta(days=10)
    assert loan.installments[0].unpaid == 0
    # never more than is due; timing against the due date
    assert loan.pay(1, date(2026, 3, 10), D("99999")).amount == D("1134.00")
    assert loan.payments[-1].timing == "last_day"
    assert loan.pay(2, date(2026, 4, 1)).timing == "on_time"


def test_early_settlement_waives_later_interest_and_fees():
    loan = _loan(date(2026, 6, 1))
    loan.pay(0, FIRST_DUE)
    settlement = loan.settle(1, date(2026, 3, 1))  # 19 of the 28 days of period 2
    insts = loan.installments
    assert insts[1].interest_due == D("74.64")  # 110.00 x 19 / 28
    assert insts[1].fee_due == D("134.00")  # 24 + 1 % of the 11,000 settled early
    assert all(i.interest_due == 0 and i.fee_due == 0 for i in insts[2:])
    assert settlement.installment is None and settlement.payment_type == "early"
    assert settlement.timing == "early"
    assert settlement.parts == {"penalty": D("0.00"), "fee": D("134.00"),
                                "interest": D("74.64"), "principal": D("11000.00")}
    loan.close()
    assert loan.statuses == ["paid"] * 12 and loan.status == "settled"
    assert loan.outstanding == 0 and loan.dpd == 0 and loan.bucket == "m0"
    assert loan.last_paid == date(2026, 3, 1)
    assert {i.paid_on for i in insts[1:]} == {date(2026, 3, 1)}


def test_written_off_past_180_days():
    at_180 = _loan(FIRST_DUE + timedelta(days=180))
    at_180.close()
    assert at_180.dpd == 180 and at_180.status == "overdue" and at_180.written_off_on is None
    later = _loan(FIRST_DUE + timedelta(days=200))
    later.close()
    assert later.dpd == 200 and later.status == "written_off"
    assert later.written_off_on == FIRST_DUE + timedelta(days=181)
    assert later.bucket == "m3_plus" and later.classification == "doubtful"


@pytest.mark.parametrize(("dpd", "bucket"), [
    (-3, "m0"), (0, "m0"), (1, "m1"), (30, "m1"), (31, "m2"), (60, "m2"), (61, "m3"),
    (90, "m3"), (91, "m3_plus"), (400, "m3_plus")])
def test_bucket_boundaries(dpd, bucket):
    assert bucket_for(dpd) == bucket


@pytest.mark.parametrize(("dpd", "classification"), [
    (0, "normal"), (1, "special_mention"), (90, "special_mention"), (91, "substandard"),
    (180, "substandard"), (181, "doubtful"), (360, "doubtful"), (361, "loss")])
def test_classification_boundaries(dpd, classification):
    assert classification_for(dpd) == classification


def test_demo_bucket_for_is_the_servicing_one():
    from apps.credit_template import demo

    assert demo.bucket_for is bucket_for


def _simulated(seed: int, profile: str, code: str = "XF-01") -> LoanSimulation:
    loan = LoanSimulation(ServicingTerms.from_product(_product(code)), D("36000"), D("14.4"),
                          24, date(2024, 9, 5), date(2026, 3, 15))
    simulate_borrower(loan, random.Random(seed), profile)
    return loan


@pytest.mark.parametrize("profile", ["prompt", "last_day", "settler", "late", "default"])
def test_simulated_borrowers_keep_the_books_consistent(profile):
    for seed in range(40):
        loan = _simulated(seed, profile)
        today = loan.today
        for part in POSTING_ORDER:
            assert (sum((p.parts[part] for p in loan.payments), D(0))
                    == sum((i.paid[part] for i in loan.installments), D(0)))
        for inst, status in zip(loan.installments, loan.statuses, strict=True):
            assert all(inst.paid[p] <= inst.due(p) for p in POSTING_ORDER)
            assert (status == "paid") == (inst.unpaid == 0) == (inst.paid_on is not None)
            if status == "overdue":
                assert (today - inst.due_date).days > loan.terms.grace_days
        assert all(loan.disbursed < p.on <= today for p in loan.payments)
        assert [p.on for p in loan.payments] == sorted(p.on for p in loan.payments)
        assert loan.outstanding == D("36000") - sum(p.parts["principal"] for p in loan.payments)
        assert (loan.dpd > 0) == ("overdue" in loan.statuses)
        assert loan.bucket == bucket_for(loan.dpd)


def test_simulated_profiles_behave_differently():
    def statuses(profile: str, code: str = "XF-01") -> list[str]:
        return [_simulated(seed, profile, code).status for seed in range(40)]

    assert "settled" in statuses("settler")
    assert "settled" not in statuses("settler", "CD-07")  # no prepayment on that product
    assert statuses("prompt").count("active") >= 35  # 18 months in, a 24-month loan
    defaulted = statuses("default")
    assert "written_off" in defaulted and "active" not in defaulted
    again = _simulated(3, "late")
    assert [(p.on, p.parts) for p in again.payments] == [
        (p.on, p.parts) for p in _simulated(3, "late").payments]
