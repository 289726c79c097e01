"""The credit template's risk control, as a lender runs it: the app (rules engine, segments,
repayment posting, in-process jobs) with the template installed, a small hand-made book, and
the clock of the job runtime moved by the test.

- admission screening on a new application (blacklist, age, identity) and on a bureau query
  (score threshold); a bureau query without a valid consent is refused;
- the issue's walk: a repayment is reversed, so the loan goes overdue; the alert, the
  account manager's task and (at the next half hour of the SMS rule) the SMS record appear,
  all through jobs; a customer living in London gets no SMS at 02:00 their time, and gets it
  once it is morning there;
- the collections ladder: a phone-collection task with the script and a link to the
  customer's full view; lost contact and high risk escalate; the conduct gates refuse a
  night-time contact and the 7th unanswered call to one number in a day;
- automatic rating tags, and the high-risk pool with its task.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.auth.users import create_user
from lendbase.errors import ValidationFailed
from lendbase.jobs import runtime_of
from lendbase.meta.apps import install_app
from lendbase.records.permissions import Actor
from lendbase.records.service import RecordService
from lendbase.rules.engine import schedule_key_for as rule_schedule
from lendbase.segments.model import schedule_key_for as segment_schedule
from lendbase.work import TagService
from tests.browser_support import ROOT, app_with_admin
from tests.test_web_pages import login

PASSWORD = "secret-pass-1"
#: 10:00 on 17 March in Shanghai (02:00 in London): an installment due on the 15th is 2 days
#: overdue with the product's 0 grace days
T0 = datetime(2026, 3, 17, 2, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Lender:
    app: Any
    state: Any
    clock: Clock
    users: dict[str, int]
    ids: dict[str, int]

    def session(self) -> Session:
        return self.state.sessions()

    def records(self, session: Session, actor: Actor | None = None) -> RecordService:
        return RecordService(session, self.state.registry.schema(session),
                             actor or Actor.system(), self.state.cipher, self.clock)

    def table(self, session: Session, form: str) -> Any:
        return self.state.registry.schema(session)[form].table

    def insert(self, form: str, **values: Any) -> int:
        """Setup rows written directly, as a data migration would (no rules see them)."""
        with self.state.sessions.begin() as session:
            t = self.table(session, form)
            return int(session.execute(insert(t).values(
                created_at=T0 - timedelta(days=90), updated_at=T0 - timedelta(days=90),
                version=1, **values).returning(t.c.id)).scalar_one())

    def create(self, form: str, values: dict[str, Any]) -> int:
        with self.state.sessions.begin() as session:
            return int(self.records(session).create(form, values)["id"])

    def update(self, form: str, record_id: int, values: dict[str, Any]) -> None:
        with self.state.sessions.begin() as session:
            self.records(session).update(form, record_id, values)

    def settle(self) -> None:
        """Deliver every pending event and run every queued job, as the worker does."""
        runtime_of(self.app).run_until_idle()

    def run_schedule(self, key: str) -> None:
        """The schedule falls due now and the worker's scheduler fires it."""
        with self.state.sessions.begin() as session:
            session.execute(update(db.schedule).where(db.schedule.c.key == key)
                            .values(next_run_at=self.clock() - timedelta(minutes=1)))
        runtime = runtime_of(self.app)
        runtime.tick()
        runtime.run_until_idle()

    def tags(self, form: str, record_id: int) -> set[str]:
        with self.session() as session:
            return {t.tag_key for t in TagService(session, Actor.system()).tags_of(form, record_id)}

    def rows(self, table: Any, *where: Any) -> list[Any]:
        with self.session() as session:
            return list(session.execute(select(table).where(*where).order_by(table.c.id)))

    def count(self, table: Any, *where: Any) -> int:
        with self.session() as session:
            return int(session.execute(select(func.count()).select_from(table).where(*where))
                       .scalar_one())

    def get(self, form: str, record_id: int) -> dict[str, Any]:
        with self.session() as session:
            t = self.table(session, form)
            return dict(session.execute(select(t).where(t.c.id == record_id)).mappings().one())


def _customer(lender: Lender, name: str, mobile: str, **values: Any) -> int:
    return lender.create("customer", {
        "customer_type": "individual", "name": name, "mobile": mobile, "channel": "branch",
        "account_manager": lender.users["am01"], "lifecycle_stage": "repaying",
        "birth_date": "1985-05-01", **values})


def _loan(lender: Lender, customer: int, *, status: str = "active", dpd: int = 0,
          bucket: str = "m0") -> int:
    ids = lender.ids
    application = lender.insert(
        "loan_application", customer=customer, product=ids["product"], amount=3000,
        term_months=3, purpose="working_capital", guarantee_method="credit",
        status="disbursed", account_manager=lender.users["am01"])
    return lender.insert(
        "loan", loan_no=f"LN{application:06d}", application=application, customer=customer,
        product=ids["product"],
        principal=3000, annual_rate=12, term_months=3, amortization="equal_principal",
        disbursed_on=date(2025, 12, 15), maturity_date=date(2026, 3, 15), status=status,
        dpd=dpd, bucket=bucket, overdue_amount=1010 if dpd else 0,
        outstanding_principal=1000, account_manager=lender.users["am01"])


def _installment(lender: Lender, loan: int, customer: int, period: int, due: date, *,
                 paid: bool) -> int:
    amounts = {"principal_paid": 1000, "interest_paid": 10, "paid_in_full_on": due,
               "status": "paid"} if paid else {"status": "pending"}
    return lender.insert("installment", loan=loan, customer=customer, period_no=period,
                         due_date=due, principal_due=1000, interest_due=10, fee_due=0,
                         penalty_due=0, **amounts)


@pytest.fixture
def lender(tmp_path: Path) -> Iterator[Lender]:
    app, state, _admin = app_with_admin(tmp_path / "var", PASSWORD)
    clock = Clock(T0)
    runtime_of(app).clock = clock
    with state.sessions.begin() as session:
        install_app(session, ROOT / "apps" / "credit_template", cipher=state.cipher)
        users = {name: create_user(session, name, PASSWORD, [role], display_name=name)
                 for name, role in (("am01", "account_manager"), ("ro01", "risk_officer"),
                                    ("co01", "collector"), ("mg01", "manager"))}
    runtime_of(app).run_until_idle()  # the pools' first recompute over an empty book
    lender = Lender(app, state, clock, users, {})
    lender.ids["product"] = lender.insert(
        "loan_product", code="P1", name="经营贷", product_type="personal_business",
        customer_scope="individual", amortization="equal_principal", annual_rate=12,
        min_amount=1000, max_amount=100000, min_term_months=3, max_term_months=12,
        grace_days=0, tolerance_amount=0)
    try:
        yield lender
    finally:
        state.engine.dispose()


# --- admission screening ------------------------------------------------------------------


def test_screening_flags_a_new_application_and_refuses_a_query_without_consent(
        lender: Lender) -> None:
    listed = _customer(lender, "黑名单客户", "13900000001", blacklisted=True,
                       blacklist_reason="历史欺诈")
    minor = _customer(lender, "未成年", "13900000002", birth_date="2012-01-01")
    fine = _customer(lender, "正常客户", "13900000003", id_number="11010519491231002X")
    lender.settle()
    apps = {}
    for name, customer in (("listed", listed), ("minor", minor), ("fine", fine)):
        apps[name] = lender.create("loan_application", {
            "customer": customer, "product": lender.ids["product"], "amount": "50000",
            "term_months": 12, "purpose": "working_capital", "guarantee_method": "credit",
            "status": "submitted", "account_manager": lender.users["am01"]})
    lender.settle()
    assert {"screen_blacklist", "screen_identity"} <= lender.tags("loan_application",
                                                                  apps["listed"])
    assert lender.get("loan_application", apps["listed"])["risk_level"] == "high"
    assert {"screen_age", "screen_identity"} <= lender.tags("loan_application", apps["minor"])
    assert lender.tags("loan_application", apps["fine"]) == set()
    reviews = lender.rows(db.task, db.task.c.form_key == "loan_application",
                          db.task.c.kind == "review")
    assert {t.record_id for t in reviews} == {apps["listed"], apps["minor"]}
    assert {t.assignee_id for t in reviews} == {lender.users["ro01"]}
    assert lender.count(db.alert, db.alert.c.record_id == apps["listed"],
                        db.alert.c.form_key == "loan_application") == 1

    consent = lender.insert("consent", customer=fine, purpose="credit_bureau_query",
                            signer_name="正常客户", channel="paper",
                            signed_at=T0 - timedelta(days=3))
    revoked = lender.insert("consent", customer=fine, purpose="credit_bureau_query",
                            signer_name="正常客户", channel="paper",
                            signed_at=T0 - timedelta(days=30), revoked_at=T0 - timedelta(days=1))
    query = {"customer": fine, "application": apps["fine"], "query_type": "personal",
             "bureau": "pboc", "query_reason": "loan_approval",
             "queried_at": T0.isoformat(), "score": 550}
    with pytest.raises(ValidationFailed) as refused:
        lender.create("bureau_query", {**query, "consent": revoked})
    assert "有效征信查询授权书" in refused.value.fields["consent"][0] \
        or "valid consent" in refused.value.fields["consent"][0]
    low = lender.create("bureau_query", {**query, "consent": consent})
    lender.settle()
    assert lender.tags("bureau_query", low) == {"bureau_low_score"}
    assert lender.count(db.task, db.task.c.form_key == "bureau_query",
                        db.task.c.record_id == low) == 1


# --- the walk: a reversed repayment -------------------------------------------------


def test_a_reversed_repayment_makes_the_loan_overdue_and_the_worker_alerts_and_texts(
        lender: Lender) -> None:
    here = _customer(lender, "上海客户", "13800138000")
    london = _customer(lender, "伦敦客户", "13800138001", timezone="Europe/London")
    loan = _loan(lender, here)
    _installment(lender, loan, here, 1, date(2026, 1, 15), paid=True)
    _installment(lender, loan, here, 2, date(2026, 2, 15), paid=True)
    last = _installment(lender, loan, here, 3, date(2026, 3, 15), paid=False)
    away = _loan(lender, london, status="overdue", dpd=2, bucket="m1")
    _installment(lender, away, london, 1, date(2026, 3, 15), paid=False)

    repayment = lender.create("repayment", {
        "loan": loan, "installment": last, "customer": here,
        "paid_at": "2026-03-15T02:00:00+00:00", "amount": "1010.00", "principal": "1000.00",
        "interest": "10.00", "channel": "bank_transfer", "payment_type": "scheduled",
        "status": "posted"})
    lender.settle()
    assert lender.get("installment", last)["status"] == "paid"
    paid = lender.get("loan", loan)
    assert (paid["status"], paid["outstanding_principal"], paid["last_repaid_on"]) == (
        "active", 0, date(2026, 3, 15))
    assert lender.get("customer", here)["balance"] == 0
    assert lender.count(db.alert, db.alert.c.form_key == "loan") == 0

    lender.update("repayment", repayment, {"status": "reversed"})  # the debit bounced
    lender.settle()
    after = lender.get("loan", loan)
    assert (after["status"], after["dpd"], after["bucket"]) == ("overdue", 2, "m1")
    # the principal is owed again, and no posted repayment is left on the loan
    assert (after["outstanding_principal"], after["last_repaid_on"]) == (1000, None)
    assert lender.get("customer", here)["balance"] == 1000
    (alert,) = lender.rows(db.alert, db.alert.c.form_key == "loan")
    assert (alert.record_id, alert.title) == (loan, "本月新增逾期")
    (task,) = lender.rows(db.task, db.task.c.form_key == "loan")
    assert (task.record_id, task.assignee_id, task.kind) == (loan, lender.users["am01"],
                                                             "follow_up")
    assert "overdue" in lender.tags("loan", loan)

    lender.run_schedule(rule_schedule("collect_sms_reminder"))  # 10:00 in Shanghai
    sms = {r.record_id: r for r in lender.rows(db.notification)}
    assert sms[loan].status == "sent" and sms[loan].recipient == "13800138000"
    assert "已逾期2天" in sms[loan].body and after["loan_no"] in sms[loan].body
    assert (sms[away].status, sms[away].reason_code) == ("refused", "quiet_hours"), sms[away]
    assert "Europe/London" in (sms[away].reason or "")
    client = lender.app.test_client()  # a collector may not unmask: the number is masked
    login(client, "co01", PASSWORD)
    page = client.get(f"/f/loan/{loan}").get_data(as_text=True)
    assert "138****8000" in page and "13800138000" not in page
    assert "免打扰时段 22:00–08:00（客户当地时间 Europe/London），未发送" in client.get(
        f"/f/loan/{away}").get_data(as_text=True)

    lender.clock.now = T0 + timedelta(hours=7, minutes=30)  # 17:30 here, 09:30 in London
    lender.run_schedule(rule_schedule("collect_sms_reminder"))
    statuses = {(r.record_id, r.status) for r in lender.rows(db.notification)}
    assert statuses == {(loan, "sent"), (away, "sent")}  # the refused one went, none twice


# --- collections ladder and conduct ---------------------------------------------------------


def test_phone_collection_escalation_and_the_conduct_gates(lender: Lender) -> None:
    customer = _customer(lender, "逾期客户", "13700000001", rating="c")
    loan = _loan(lender, customer, status="overdue", dpd=9, bucket="m1")
    _installment(lender, loan, customer, 1, date(2026, 3, 8), paid=False)
    lender.settle()

    lender.run_schedule(rule_schedule("collect_phone_task"))
    (call,) = lender.rows(db.task, db.task.c.kind == "phone_collection")
    assert call.assignee_id == lender.users["co01"] and "全程录音" in call.description
    client = lender.app.test_client()
    login(client, "co01", PASSWORD)
    page = client.get(f"/tasks/{call.id}").get_data(as_text=True)
    assert f'href="/f/customer/{customer}" id="task-related-customer"' in page  # full view
    assert "规则 催收梯度：逾期 7 天以上电话催收" in page  # who made it, by name

    attempt = {"loan": loan, "customer": customer, "channel": "phone",
               "phone_number": "13700000001", "collector": lender.users["co01"],
               "outcome": "no_answer", "recording_ref": "REC1"}
    with pytest.raises(ValidationFailed) as night:  # 23:10 in Shanghai
        lender.create("collection_attempt", {**attempt, "contacted_at": "2026-03-17T15:10:00Z"})
    assert "22:00" in night.value.fields["contacted_at"][0]
    for minute in range(6):
        lender.create("collection_attempt",
                      {**attempt, "contacted_at": f"2026-03-17T00:{10 + minute}:00Z"})
    with pytest.raises(ValidationFailed) as seventh:
        lender.create("collection_attempt", {**attempt, "contacted_at": "2026-03-17T01:00:00Z"})
    assert "6" in seventh.value.fields["phone_number"][0]
    with pytest.raises(ValidationFailed) as no_recording:
        lender.create("collection_attempt", {**attempt, "outcome": "answered",
                                             "recording_ref": None,
                                             "contacted_at": "2026-03-17T01:00:00Z"})
    assert "recording_ref" in no_recording.value.fields
    lender.create("collection_attempt", {**attempt, "outcome": "lost_contact",
                                         "contacted_at": "2026-03-17T01:05:00Z"})
    lender.settle()

    lender.run_schedule(rule_schedule("collect_escalation"))
    (escalation,) = lender.rows(db.task, db.task.c.kind == "escalation")
    assert escalation.record_id == loan and escalation.priority == "urgent"
    assert "escalated" in lender.tags("loan", loan)
    lender.run_schedule(rule_schedule("collect_escalation"))  # once a month: no second one
    assert lender.count(db.task, db.task.c.kind == "escalation") == 1


# --- tags and pools ---------------------------------------------------------------------------


def test_rating_tags_follow_the_rating_and_the_high_risk_pool_fills(lender: Lender) -> None:
    customer = _customer(lender, "评级客户", "13600000001", rating="b")
    lender.settle()
    assert lender.tags("customer", customer) == {"rating_b"}
    lender.update("customer", customer, {"rating": "c"})
    lender.settle()
    assert lender.tags("customer", customer) == {"rating_c"}  # one rating at a time

    loan = _loan(lender, customer, status="overdue", dpd=2, bucket="m1")
    _installment(lender, loan, customer, 1, date(2026, 3, 15), paid=False)
    with lender.state.sessions.begin() as session:  # the DPD job marks it overdue
        t = lender.table(session, "installment")
        session.execute(update(t).where(t.c.loan == loan).values(status="overdue",
                                                                 overdue_days=2))
    lender.run_schedule(segment_schedule("high_risk_pool"))
    assert {"high_risk", "rating_c"} <= lender.tags("customer", customer)
    (review,) = lender.rows(db.task, db.task.c.form_key == "customer",
                            db.task.c.record_id == customer)
    assert review.assignee_id == lender.users["am01"] and review.kind == "review"
    assert lender.count(db.segment_member, db.segment_member.c.segment_key == "high_risk_pool",
                        db.segment_member.c.record_id == customer) == 1
