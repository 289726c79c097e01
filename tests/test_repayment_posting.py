"""Repayment posting in the credit template: a repayment changed through the record service
(or the API) pays or unpays its installment through the in-process job runtime, and the loan's
DPD, bucket and status follow at once, with the loan's ``record.updated`` event for rules;
a redelivered event posts nothing twice; events handled out of order still add up; a repayment
without an installment is left alone; the manifest's ``subscribers`` are checked at install."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from apps.credit_template.delinquency import update_delinquency
from apps.credit_template.posting import posting_deltas
from lendbase import db
from lendbase.errors import MetadataError
from lendbase.events import EventType
from lendbase.events.delivery import deliver
from lendbase.forms.compile import CompiledSchema
from lendbase.jobs import JobRuntime
from lendbase.meta import app_events
from lendbase.meta.app_manifest import read_app
from lendbase.meta.apps import install_app
from lendbase.records.permissions import Actor
from lendbase.records.service import RecordService
from lendbase.security import FieldCipher, generate_key_string
from tests.work_fixtures import counting_statements

D = Decimal
TEMPLATE = Path(__file__).resolve().parents[1] / "apps" / "credit_template"
HANDLER = app_events.HANDLER
#: 10:00 in Shanghai on 16 March: installment 2 (due the 15th) is 1 day late, within grace
T0 = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)
PAID_AT = "2026-03-15T17:30:00+00:00"  # 01:30 on the 16th in Shanghai: paid on the 16th


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def template_copy(folder: Path) -> Path:
    """The template's forms, seed, schedule and subscribers without its rules, segments, tags
    and templates: they have tests of their own, and the install is faster without them."""
    shutil.copytree(TEMPLATE / "forms", folder / "forms")
    manifest = json.loads((TEMPLATE / "app.json").read_text("utf-8"))
    for name in ("rules", "segments", "tag_groups", "notification_templates"):
        manifest.pop(name, None)
    (folder / "app.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    return folder


@dataclass
class Book:
    """A database with the template installed, the in-process job runtime running the apps'
    declared handlers, and one loan of three installments (the first paid)."""

    engine: Engine
    sessions: sessionmaker
    clock: Clock
    jobs: JobRuntime
    cipher: FieldCipher
    customer: int = 0
    loan: int = 0
    inst: tuple[int, ...] = ()

    def schema(self, session: Session) -> CompiledSchema:
        return app_events.runtime_for(session).forms.schema(session)

    def records(self, session: Session) -> RecordService:
        return RecordService(session, self.schema(session), Actor.system(), self.cipher,
                             self.clock)

    def insert(self, session: Session, form: str, **values: Any) -> int:
        t = self.schema(session)[form].table
        stamp = datetime(2026, 1, 1, tzinfo=UTC)
        return int(session.execute(insert(t).values(
            created_at=stamp, updated_at=stamp, version=1, **values).returning(t.c.id)
        ).scalar_one())

    def repay(self, installment: int | None = None, status: str = "posted",
              principal: str = "1000.00", interest: str = "100.00") -> int:
        with self.sessions.begin() as session:
            amount = D(principal) + D(interest)
            return int(self.records(session).create("repayment", {
                "loan": self.loan, "installment": installment, "customer": self.customer,
                "paid_at": PAID_AT, "amount": str(amount), "principal": principal,
                "interest": interest, "channel": "bank_transfer", "status": status})["id"])

    def edit(self, repayment: int, **values: Any) -> None:
        with self.sessions.begin() as session:
            self.records(session).update("repayment", repayment, values)

    def remove(self, repayment: int) -> None:
        with self.sessions.begin() as session:
            self.records(session).delete("repayment", repayment)

    def get(self, form: str, record_id: int) -> dict[str, Any]:
        with self.sessions() as session:
            t = self.schema(session)[form].table
            return dict(session.execute(select(t).where(t.c.id == record_id)).mappings().one())

    def paid(self, installment: int) -> tuple[D, D, str, date | None]:
        row = self.get("installment", installment)
        return (row["principal_paid"], row["interest_paid"], row["status"],
                row["paid_in_full_on"])

    def count(self, table: Any, *where: Any) -> int:
        with self.sessions() as session:
            return int(session.execute(select(func.count()).select_from(table).where(*where))
                       .scalar_one())

    def events(self, form: str, record_id: int) -> list[dict[str, Any]]:
        with self.sessions() as session:
            t = db.outbox
            rows = session.execute(select(t.c.id, t.c.type, t.c.data).where(
                t.c.form_key == form, t.c.record_id == record_id).order_by(t.c.id)).all()
            return [{"id": r.id, "type": r.type, **(r.data or {})} for r in rows]


def make_book(engine: Engine, folder: Path) -> Book:
    clock = Clock(T0)
    sessions = sessionmaker(engine, expire_on_commit=False)
    app_events.bind(engine, clock=clock)
    jobs = JobRuntime(sessions, clock=clock)
    app_events.subscribe(jobs.subscribers)
    book = Book(engine, sessions, clock, jobs, FieldCipher.from_key_string(generate_key_string()))
    with sessions.begin() as session:
        install_app(session, template_copy(folder), cipher=book.cipher)
    with sessions.begin() as session:
        product = book.insert(session, "loan_product", code="P1", name="经营贷",
                              grace_days=3, tolerance_amount=D("0.00"))
        book.customer = book.insert(session, "customer", name="张三", customer_type="individual")
        book.loan = book.insert(session, "loan", product=product, customer=book.customer,
                                status="active", dpd=0, bucket="m0",
                                overdue_amount=D("0.00"), principal=D("3000.00"))
        dues = [date(2026, 2, 15), date(2026, 3, 15), date(2026, 4, 15)]
        book.inst = tuple(book.insert(
            session, "installment", loan=book.loan, customer=book.customer, period_no=n,
            due_date=due, principal_due=D("1000.00"), interest_due=D("100.00"),
            fee_due=D("0.00"), penalty_due=D("0.00"),
            principal_paid=D("1000.00") if n == 1 else D("0.00"),
            interest_paid=D("100.00") if n == 1 else D("0.00"), fee_paid=D("0.00"),
            penalty_paid=D("0.00"), paid_in_full_on=date(2026, 2, 14) if n == 1 else None,
            status="paid" if n == 1 else "pending", overdue_days=0)
            for n, due in enumerate(dues, start=1))
    return book


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Book:
    return make_book(engine, tmp_path / "credit_template")


# --- the pure part ------------------------------------------------------------------------------


def test_deltas_of_every_kind_of_change() -> None:
    posted = {"status": "posted", "installment": 7, "principal": "900.00", "interest": "100"}
    parts = ("principal", "interest", "fee", "penalty")

    def d(*values: str) -> dict[str, D]:
        return dict(zip(parts, map(D, values), strict=True))

    assert posting_deltas(None, posted) == {7: d("900", "100", "0", "0")}
    assert posting_deltas(posted, None) == {7: d("-900", "-100", "0", "0")}
    assert posting_deltas(posted, {**posted, "status": "reversed"}) == \
        {7: d("-900", "-100", "0", "0")}
    assert posting_deltas({**posted, "status": "pending"}, posted) == \
        {7: d("900", "100", "0", "0")}
    assert posting_deltas(posted, {**posted, "principal": D("850.50")}) == \
        {7: d("-49.50", "0", "0", "0")}
    assert posting_deltas(posted, {**posted, "installment": 8}) == {
        7: d("-900", "-100", "0", "0"), 8: d("900", "100", "0", "0")}
    assert posting_deltas(posted, {**posted, "remarks": "x"}) == {}  # nothing moves
    assert posting_deltas(None, {**posted, "installment": None}) == {}  # no installment
    assert posting_deltas({**posted, "status": "reversed"}, {**posted, "status": "pending"}) \
        == {}


# --- through the record service and the job runtime ---------------------------------------------


def test_post_reverse_repost_correct_move_and_delete(book: Book) -> None:
    loan, (first, second, third) = book.loan, book.inst
    repayment = book.repay(second)
    book.jobs.run_until_idle()
    assert book.paid(second) == (D("1000.00"), D("100.00"), "paid", date(2026, 3, 16))
    assert (book.get("loan", loan)["dpd"], book.get("loan", loan)["status"]) == (0, "active")
    # its audit row and event, by the system, with the paid parts and the new status
    with book.sessions() as session:
        audit = session.execute(select(db.audit).where(
            db.audit.c.form_key == "installment", db.audit.c.record_id == second)).one()
    assert (audit.action, audit.actor_id, audit.record_version) == \
        ("update", None, book.get("installment", second)["version"])
    assert audit.changes["principal_paid"] == ["0.00", "1000.00"]
    assert audit.changes["status"] == ["pending", "paid"]
    assert audit.changes["paid_in_full_on"] == [None, "2026-03-16"]
    (event,) = book.events("installment", second)
    assert event["type"] == "record.updated"
    assert {"principal_paid", "interest_paid", "status", "paid_in_full_on"} <= \
        set(event["changed"])
    assert event["after"]["interest_paid"] == "100.00"

    # ten days later the payment is reversed: past due + grace, the loan goes overdue now
    book.clock.advance(days=9)  # business date 25 March
    loan_events = len(book.events("loan", loan))
    book.edit(repayment, status="reversed")
    book.jobs.run_until_idle()
    assert book.paid(second) == (D("0.00"), D("0.00"), "overdue", None)
    row = book.get("loan", loan)
    assert (row["dpd"], row["bucket"], row["status"], row["overdue_amount"]) == \
        (10, "m1", "overdue", D("1100.00"))
    new = book.events("loan", loan)[loan_events:]
    assert [e["type"] for e in new] == ["record.updated", "record.updated"]
    assert new[0]["after"] == {"dpd": 10, "bucket": "m1", "status": "overdue",
                               "overdue_amount": "1100.00"}
    assert "outstanding_principal" in new[1]["changed"]  # owed again
    assert book.paid(first)[2] == "paid" and book.paid(third)[2] == "pending"

    # posted again: paid in full on its paid_at date, the loan current again
    book.edit(repayment, status="posted")
    book.jobs.run_until_idle()
    assert book.paid(second) == (D("1000.00"), D("100.00"), "paid", date(2026, 3, 16))
    row = book.get("loan", loan)
    assert (row["dpd"], row["bucket"], row["status"]) == (0, "m0", "active")

    # an amount corrected while posted: only the difference moves
    book.edit(repayment, principal="600.00", amount="700.00")
    book.jobs.run_until_idle()
    assert book.paid(second) == (D("600.00"), D("100.00"), "overdue", None)
    assert book.get("loan", loan)["overdue_amount"] == D("400.00")

    # moved to the next installment: the second is unpaid again, the third partly paid
    book.edit(repayment, installment=third)
    book.jobs.run_until_idle()
    assert book.paid(second) == (D("0.00"), D("0.00"), "overdue", None)
    assert book.paid(third) == (D("600.00"), D("100.00"), "partially_paid", None)
    assert book.get("loan", loan)["overdue_amount"] == D("1100.00")

    # deleted: nothing of it is left anywhere
    book.remove(repayment)
    book.jobs.run_until_idle()
    assert book.paid(third) == (D("0.00"), D("0.00"), "pending", None)
    assert book.paid(second)[:2] == (D("0.00"), D("0.00"))
    assert book.paid(first) == (D("1000.00"), D("100.00"), "paid", date(2026, 2, 14))
    with book.sessions() as session:
        failed = session.execute(select(db.job_run.c.error).where(
            db.job_run.c.status != "succeeded")).scalars().all()
    assert failed == []


def test_only_the_repayments_loan_is_brought_up_to_date(book: Book) -> None:
    with book.sessions.begin() as session:
        product = book.get("loan", book.loan)["product"]
        other = book.insert(session, "loan", product=product, customer=book.customer,
                            status="active", dpd=0, bucket="m0")
        late = book.insert(session, "installment", loan=other, customer=book.customer,
                           period_no=1, due_date=date(2026, 3, 1), principal_due=D("50.00"),
                           interest_due=D("5.00"), status="pending", overdue_days=0)
    book.repay(book.inst[1])
    book.jobs.run_until_idle()
    assert book.paid(book.inst[1])[2] == "paid"
    assert (book.get("loan", other)["dpd"], book.get("installment", late)["status"]) == \
        (0, "pending")  # 15 days late, but not this repayment's loan: the night's job's
    with book.sessions.begin() as session:
        report = update_delinquency(session, business_date=date(2026, 3, 16),
                                    schema=book.schema(session), now=T0)
    assert (report.loans_changed, book.get("loan", other)["dpd"]) == (1, 15)


def test_a_redelivered_event_posts_nothing_twice(book: Book) -> None:
    second = book.inst[1]
    repayment = book.repay(second)
    (created,) = [e for e in book.events("repayment", repayment)
                  if e["type"] == EventType.RECORD_CREATED.value]
    first = deliver(book.sessions, created["id"], [HANDLER], book.clock)
    again = deliver(book.sessions, created["id"], [HANDLER], book.clock)
    assert (first.ran, first.failures, again.ran, again.skipped) == ([HANDLER], [], [], [HANDLER])
    book.jobs.run_until_idle()  # the job run of the same event: done already
    assert book.paid(second) == (D("1000.00"), D("100.00"), "paid", date(2026, 3, 16))
    assert book.count(db.audit, db.audit.c.form_key == "installment") == 1
    assert len(book.events("installment", second)) == 1
    assert book.count(db.event_handled, db.event_handled.c.event_id == created["id"],
                      db.event_handled.c.handler == HANDLER) == 1


def test_events_handled_out_of_order_still_add_up(book: Book) -> None:
    """Two changes of one repayment (reversed, then its principal corrected) handled newest
    first: each event is posted as the repayment was at its time."""
    second = book.inst[1]
    repayment = book.repay(second)
    book.jobs.run_until_idle()
    book.edit(repayment, status="reversed")
    book.edit(repayment, principal="800.00", amount="900.00")
    updates = [e["id"] for e in book.events("repayment", repayment)
               if e["type"] == EventType.RECORD_UPDATED.value]
    assert len(updates) == 2
    for event_id in reversed(updates):
        assert deliver(book.sessions, event_id, [HANDLER], book.clock).ran == [HANDLER]
    assert book.paid(second)[:2] == (D("0.00"), D("0.00"))  # not 1000 - 800
    book.edit(repayment, status="posted")
    book.jobs.run_until_idle()
    assert book.paid(second)[:3] == (D("800.00"), D("100.00"), "partially_paid")


def test_a_repayment_without_installment_changes_nothing(
        book: Book, caplog: pytest.LogCaptureFixture) -> None:
    def state() -> list[Any]:
        return [book.get("installment", i) for i in book.inst] + [book.get("loan", book.loan)]

    before = state()
    with caplog.at_level(logging.INFO, logger="apps.credit_template.posting"):
        repayment = book.repay(None)
        book.jobs.run_until_idle()
        book.edit(repayment, principal="500.00", amount="600.00")
        book.jobs.run_until_idle()
    assert state() == before
    assert book.count(db.audit, db.audit.c.form_key.in_(["installment", "loan"])) == 0
    assert "names no installment: left alone" in caplog.text
    with book.sessions() as session:
        assert session.execute(select(func.count()).select_from(db.job_run).where(
            db.job_run.c.status != "succeeded")).scalar_one() == 0


def test_an_installment_edited_by_hand_refuses_a_reversal_it_cannot_take(book: Book) -> None:
    second = book.inst[1]
    repayment = book.repay(second)
    book.jobs.run_until_idle()
    with book.sessions.begin() as session:  # someone zeroed the paid amounts directly
        t = book.schema(session)["installment"].table
        session.execute(update(t).where(t.c.id == second).values(principal_paid=D("0.00")))
    book.edit(repayment, status="reversed")
    book.jobs.run_until_idle()
    with book.sessions() as session:
        (run,) = session.execute(select(db.job_run).where(
            db.job_run.c.status != "succeeded")).all()
    assert run.status == "retrying"
    assert "PostingRefused: installment" in run.error and "below zero" in run.error
    assert book.paid(second)[:2] == (D("0.00"), D("100.00"))  # nothing half-posted


# --- the app's subscribers ----------------------------------------------------------------------


def test_subscribers_come_from_the_installed_app_and_are_cached(book: Book) -> None:
    with book.sessions() as session:
        runtime = app_events.runtime_for(session)
        (found,) = runtime.subscribers(session)
        assert (found.app, found.form, found.handler) == (
            "credit_template", "repayment", "apps.credit_template.posting.on_repayment_event")
        assert found.events == {"record.created", "record.updated", "record.deleted"}
        with counting_statements(book.engine) as statements:
            runtime.subscribers(session)
        assert len(statements) == 1  # the (key, checksum) of the installed apps, nothing else
        # what lb_app keeps wins over app.json; a new checksum reloads
        session.execute(update(db.app_install).values(
            checksum="x" * 64, documents={"forms": [], "subscribers": []}))
        assert runtime.subscribers(session) == ()
        session.rollback()
        session.execute(delete(db.app_install))
        assert runtime.subscribers(session) == ()


def test_the_manifest_subscribers_are_checked_with_pointers(tmp_path: Path) -> None:
    folder = template_copy(tmp_path / "app")
    manifest = json.loads((folder / "app.json").read_text("utf-8"))
    manifest["subscribers"] = [
        {"form": "repayment", "events": ["record.created"], "handler": "apps.nowhere.handler"},
        {"form": "payment", "events": ["record.posted"], "handler": "not a path", "when": 1},
        "apps.credit_template.posting.on_repayment_event",
    ]
    (folder / "app.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    with pytest.raises(MetadataError) as caught:
        read_app(folder)
    errors = caught.value.errors
    assert "cannot import 'apps.nowhere.handler'" in errors["/subscribers/0/handler"][0]
    assert set(errors) == {"/subscribers/0/handler", "/subscribers/1/form",
                           "/subscribers/1/events", "/subscribers/1/handler",
                           "/subscribers/1/when", "/subscribers/2"}


# --- the whole app: API, wiring, in-process runtime ---------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Any]:
    from lendbase.app import create_app
    from lendbase.auth.users import create_user, ensure_role
    from lendbase.config import load_settings
    from lendbase.migrate import upgrade_database

    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path / "var")}), TESTING=True)
    state = app.extensions["lendbase"]
    upgrade_database(state.engine)
    with state.sessions.begin() as session:
        ensure_role(session, "admin", superuser=True)
        create_user(session, "admin", "admin-pass-1", ["admin"])
    yield app
    state.engine.dispose()


def test_the_api_and_the_in_process_runtime_post_a_repayment(site: Any, tmp_path: Path) -> None:
    from lendbase.jobs import runtime_of

    state = site.extensions["lendbase"]
    clock = Clock(T0)
    runtime = runtime_of(site)
    runtime.clock = clock  # the handlers' clock follows the app's job runtime
    assert HANDLER in runtime.subscribers.handlers_for(EventType.RECORD_UPDATED)
    with state.sessions.begin() as session:
        install_app(session, template_copy(tmp_path / "credit_template"), cipher=state.cipher)
    book = Book(state.engine, state.sessions, clock, runtime, state.cipher)
    with state.sessions.begin() as session:
        product = book.insert(session, "loan_product", code="P1", name="经营贷", grace_days=0)
        customer = book.insert(session, "customer", name="李四", customer_type="individual")
        loan = book.insert(session, "loan", product=product, customer=customer,
                           status="active", dpd=0, bucket="m0")
        inst = book.insert(session, "installment", loan=loan, customer=customer, period_no=1,
                           due_date=date(2026, 3, 10), principal_due=D("500.00"),
                           interest_due=D("20.00"), status="pending", overdue_days=0)
    client = site.test_client()
    token = client.post("/api/v1/auth/token",
                        json={"username": "admin", "password": "admin-pass-1"}).json["token"]
    auth = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/records/repayment", headers=auth, json={
        "loan": loan, "installment": inst, "customer": customer, "paid_at": PAID_AT,
        "amount": "520.00", "principal": "500.00", "interest": "20.00",
        "channel": "bank_transfer"})
    assert created.status_code == 201, created.json
    runtime.run_until_idle()
    assert book.paid(inst) == (D("500.00"), D("20.00"), "paid", date(2026, 3, 16))
    reversed_ = client.patch(f"/api/v1/records/repayment/{created.json['id']}", headers={
        **auth, "If-Match": f"\"{created.json['version']}\""}, json={"status": "reversed"})
    assert reversed_.status_code == 200, reversed_.json
    runtime.run_until_idle()
    assert book.paid(inst) == (D("0.00"), D("0.00"), "overdue", None)
    row = book.get("loan", loan)
    assert (row["dpd"], row["status"]) == (6, "overdue")
    assert any(e["type"] == "record.updated" and e.get("after", {}).get("status") == "overdue"
               for e in book.events("loan", loan))
