"""Repayment schedules of the credit template: exact, formula-true, and summing to the principal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.credit_template.amortization import (
    BULLET,
    EQUAL_INSTALLMENT,
    EQUAL_PRINCIPAL,
    INTEREST_ONLY,
    METHODS,
    add_months,
    schedule,
)

D = Decimal


def test_methods_are_the_template_amortization_options():
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "apps" / "credit_template" / "forms"
    for form in ("loan_product", "loan"):
        doc = json.loads((root / f"{form}.json").read_text(encoding="utf-8"))
        field = next(f for f in doc["fields"] if f["key"] == "amortization")
        assert tuple(o["value"] for o in field["options"]) == METHODS


@pytest.mark.parametrize("method", METHODS)
def test_principal_sums_exactly_to_the_loan(method):
    for principal, rate, term in [(D("100000"), D("12"), 12), (D("33333.33"), D("7.35"), 7),
                                  (D("0.05"), D("24"), 36), (D("5000000"), D("4.35"), 360)]:
        periods = schedule(principal, rate, term, method, date(2026, 1, 15))
        assert sum(p.principal_due for p in periods) == principal
        assert periods[-1].closing_balance == 0
        assert all(p.principal_due.as_tuple().exponent == -2 for p in periods)


def test_equal_installment_matches_the_formula():
    periods = schedule(D("100000"), D("12"), 12, EQUAL_INSTALLMENT, date(2026, 1, 15))
    payments = [p.principal_due + p.interest_due for p in periods]
    assert payments[:-1] == [D("8884.88")] * 11
    assert abs(payments[-1] - D("8884.88")) <= D("0.05")
    assert periods[0].interest_due == D("1000.00")
    assert periods[0].principal_due == D("7884.88")


def test_equal_installment_formula_for_another_loan():
    # A = P r (1+r)^n / ((1+r)^n - 1), P = 300000, 4.9 % a year, 36 months -> 8977.806 -> 8977.81
    periods = schedule(D("300000"), D("4.9"), 36, EQUAL_INSTALLMENT, date(2025, 3, 1))
    assert periods[0].principal_due + periods[0].interest_due == D("8977.81")
    assert len({p.principal_due + p.interest_due for p in periods[:-1]}) == 1


def test_equal_principal_interest_declines():
    periods = schedule(D("120000"), D("9.6"), 24, EQUAL_PRINCIPAL, date(2026, 2, 10))
    assert {p.principal_due for p in periods[:-1]} == {D("5000.00")}
    interests = [p.interest_due for p in periods]
    assert interests[0] == D("960.00")
    assert all(a > b for a, b in zip(interests, interests[1:], strict=False))
    assert periods[-1].interest_due == D("40.00")


def test_interest_only_repays_principal_at_the_end():
    periods = schedule(D("500000"), D("8.4"), 6, INTEREST_ONLY, date(2026, 1, 20))
    assert [p.principal_due for p in periods] == [D("0.00")] * 5 + [D("500000.00")]
    assert {p.interest_due for p in periods} == {D("3500.00")}
    assert all(p.opening_balance == D("500000") for p in periods)


def test_bullet_is_one_payment_at_maturity():
    periods = schedule(D("200000"), D("7.2"), 6, BULLET, date(2026, 1, 31))
    assert len(periods) == 1
    only = periods[0]
    assert only.due_date == date(2026, 6, 30)
    assert (only.principal_due, only.interest_due) == (D("200000.00"), D("7200.00"))


@pytest.mark.parametrize("method", [EQUAL_INSTALLMENT, EQUAL_PRINCIPAL, INTEREST_ONLY, BULLET])
def test_zero_rate_has_no_interest(method):
    periods = schedule(D("1000"), D("0"), 3, method, date(2026, 1, 1))
    assert all(p.interest_due == 0 for p in periods)
    assert sum(p.principal_due for p in periods) == D("1000")
    if method in (EQUAL_INSTALLMENT, EQUAL_PRINCIPAL):
        assert [p.principal_due for p in periods] == [D("333.33"), D("333.33"), D("333.34")]


def test_due_dates_keep_the_day_and_clamp_to_month_end():
    periods = schedule(D("1200"), D("12"), 5, EQUAL_PRINCIPAL, date(2024, 1, 31))
    assert [p.due_date for p in periods] == [
        date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30),
        date(2024, 5, 31)]
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months(date(2025, 3, 15), -3) == date(2024, 12, 15)


def test_fee_per_period_is_added_to_every_installment():
    periods = schedule(D("10000"), D("18"), 3, EQUAL_INSTALLMENT, date(2026, 1, 5),
                       fee_per_period=D("30"))
    assert [p.fee_due for p in periods] == [D("30.00")] * 3
    assert sum(p.principal_due for p in periods) == D("10000")


@pytest.mark.parametrize("args, text", [
    ((D("1000"), D("12"), 12, "balloon"), "unknown amortization method"),
    ((D("1000"), D("12"), 0, EQUAL_INSTALLMENT), "term_months"),
    ((D("0"), D("12"), 12, EQUAL_INSTALLMENT), "principal"),
    ((D("10.005"), D("12"), 12, EQUAL_INSTALLMENT), "principal"),
    ((D("1000"), D("-1"), 12, EQUAL_INSTALLMENT), "rate"),
])
def test_bad_input_is_refused_with_a_reason(args, text):
    with pytest.raises(ValueError, match=text):
        schedule(*args, date(2026, 1, 1))


_money = st.decimals(min_value=D("0.01"), max_value=D("50000000"), places=2,
                     allow_nan=False, allow_infinity=False)
_rate = st.decimals(min_value=D("0"), max_value=D("36"), places=4,
                    allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(principal=_money, rate=_rate, term=st.integers(min_value=1, max_value=360),
       method=st.sampled_from(METHODS),
       first_due=st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31)))
def test_schedule_invariants(principal, rate, term, method, first_due):
    periods = schedule(principal, rate, term, method, first_due)
    assert sum(p.principal_due for p in periods) == principal
    assert periods[-1].closing_balance == 0
    assert len(periods) == (1 if method == BULLET else term)
    balance = principal
    for number, p in enumerate(periods, start=1):
        assert p.period_no == number
        assert p.opening_balance == balance
        assert p.principal_due >= 0 and p.interest_due >= 0
        assert p.closing_balance == p.opening_balance - p.principal_due >= 0
        balance = p.closing_balance
    dates = [p.due_date for p in periods]
    assert dates == sorted(set(dates))
    if method == EQUAL_INSTALLMENT and len(periods) > 2:
        payments = {p.principal_due + p.interest_due for p in periods[:-1]
                    if p.closing_balance > 0}
        assert len(payments) <= 1
