"""The daily delinquency job: installment statuses, loan DPD and buckets, set-based, on SQLite
and PostgreSQL; editable bucket ranges; agreement with the pure servicing simulation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from apps.credit_template.delinquency import (
    Bucket,
    BucketRangesInvalid,
    check_buckets,
    delinquency_job,
    update_delinquency,
)
from apps.credit_template.servicing import LoanSimulation, ServicingTerms, bucket_for
from lendbase import db
from lendbase.events.model import Event
from lendbase.events.outbox import EMITTED_KEY
from lendbase.forms.compile import CompiledSchema, compile_schema
from lendbase.forms.model import check_form
from lendbase.jobs import JobContext, JobRuntime, enqueue, get_schedule, list_runs

D = Decimal
TEMPLATE = Path(__file__).resolve().parents[1] / "apps" / "credit_template"
APP = json.loads((TEMPLATE / "app.json").read_text("utf-8"))
TODAY = date(2026, 3, 15)
NOW = datetime(2026, 3, 14, 16, 10, tzinfo=UTC)  # 00:10 on the 15th in Beijing
CODES = ["m0", "m1", "m2", "m3", "m3_plus"]


@pytest.fixture(scope="module")
def schema() -> CompiledSchema:
    forms = [check_form(json.loads((TEMPLATE / "forms" / f"{key}.json").read_text("utf-8")))
             for key in APP["forms"]]
    return compile_schema([(form, (), "", 1) for form in forms])


@pytest.fixture
def book(session: Session, schema: CompiledSchema) -> Iterator[Book]:
    """The template's tables with the default buckets and nothing else."""
    schema.metadata.create_all(session.get_bind())
    b = Book(session, schema)
    for row in APP["seed"]["delinquency_bucket"]:
        b.insert("delinquency_bucket", **row)
    session.commit()
    yield b


class Book:
    """Rows written straight into the template's tables: the job is under test, not the
    record service."""

    def __init__(self, session: Session, schema: CompiledSchema) -> None:
        self.session, self.schema = session, schema

    def table(self, form: str) -> Any:
        return self.schema[form].table

    def insert(self, form: str, **values: Any) -> int:
        t = self.table(form)
        stamp = datetime(2026, 1, 1, tzinfo=UTC)
        return self.session.execute(insert(t).values(
            created_at=stamp, updated_at=stamp, version=1, **values).returning(t.c.id)
        ).scalar_one()

    def product(self, grace: int = 3, tolerance: str = "10.00") -> int:
        return self.insert("loan_product", code=f"P{grace}-{tolerance}", grace_days=grace,
                           tolerance_amount=D(tolerance))

    def loan(self, product: int, status: str = "active", dpd: int = 0, bucket: str = "m0",
             amount: str | None = "0.00", **values: Any) -> int:
        return self.insert("loan", product=product, status=status, dpd=dpd, bucket=bucket,
                           overdue_amount=None if amount is None else D(amount), **values)

    def inst(self, loan: int, period: int, due: date, principal: str = "1000.00",
             interest: str = "100.00", paid: str = "0.00", paid_on: date | None = None,
             status: str = "pending", days: int = 0, **values: Any) -> int:
        """An installment of ``principal + interest``; ``paid`` goes to interest first."""
        paid_d, interest_d = D(paid), D(interest)
        return self.insert("installment", loan=loan, period_no=period, due_date=due,
                           principal_due=D(principal), interest_due=interest_d,
                           fee_due=D(0), penalty_due=D(0),
                           interest_paid=min(paid_d, interest_d),
                           principal_paid=max(paid_d - interest_d, D(0)), fee_paid=D(0),
                           penalty_paid=D(0), paid_in_full_on=paid_on, status=status,
                           overdue_days=days, **values)

    def get(self, form: str, record_id: int) -> Any:
        t = self.table(form)
        return self.session.execute(select(t).where(t.c.id == record_id)).mappings().one()

    def count(self, table: Any) -> int:
        return self.session.execute(select(func.count()).select_from(table)).scalar_one()

    def run(self, day: date = TODAY) -> Any:
        report = update_delinquency(self.session, business_date=day, schema=self.schema,
                                    now=NOW)
        self.session.commit()
        return report

    def set_bucket(self, code: str, **values: Any) -> None:
        t = self.table("delinquency_bucket")
        self.session.execute(update(t).where(t.c.code == code).values(**values))
        self.session.commit()


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


# --- installments ----------------------------------------------------------------------------


def test_installment_status_follows_grace_tolerance_and_payments(book: Book) -> None:
    product = book.product(grace=3, tolerance="10.00")
    loan = book.loan(product)
    i = {
        "in_grace": book.inst(loan, 1, ago(3)),  # 3 days late, grace 3: not yet overdue
        "past_grace": book.inst(loan, 2, ago(4)),
        "at_tolerance": book.inst(loan, 3, ago(14), paid="1090.00"),  # 10.00 left
        "over_tolerance": book.inst(loan, 4, ago(14), paid="1089.99"),  # 10.01 left
        "paid_late": book.inst(loan, 5, ago(40), paid="1100.00", paid_on=ago(35)),
        "paid_early": book.inst(loan, 6, ago(70), paid="1100.00", paid_on=ago(72)),
        "future_part": book.inst(loan, 7, TODAY + timedelta(days=20), paid="50.00"),
        "future": book.inst(loan, 8, TODAY + timedelta(days=50), status="overdue", days=9),
    }
    report = book.run()
    got = {k: (book.get("installment", v)["status"], book.get("installment", v)["overdue_days"])
           for k, v in i.items()}
    assert got == {
        "in_grace": ("pending", 0), "past_grace": ("overdue", 4),
        "at_tolerance": ("partially_paid", 0), "over_tolerance": ("overdue", 14),
        "paid_late": ("paid", 5), "paid_early": ("paid", 0),
        "future_part": ("partially_paid", 0), "future": ("pending", 0)}
    changed = {k for k, v in i.items() if book.get("installment", v)["version"] == 2}
    assert changed == set(i) - {"in_grace"}  # the only one that was right already
    assert report.installments_changed == len(changed)
    row = book.get("loan", loan)
    # the oldest overdue installment is 14 days late; both overdue ones are owed in full
    assert (row["dpd"], row["bucket"], row["status"]) == (14, "m1", "overdue")
    assert row["overdue_amount"] == D("1100.00") + D("10.01")


def test_dpd_bucket_boundaries_audit_and_events(book: Book) -> None:
    product = book.product(grace=0, tolerance="0.00")
    loans = {}
    for dpd in (0, 1, 30, 31, 60, 61, 90, 91):
        loans[dpd] = book.loan(product)
        book.inst(loans[dpd], 1, ago(dpd))
        book.inst(loans[dpd], 2, TODAY + timedelta(days=5))  # not yet due
    cured = book.loan(product, status="overdue", dpd=40, bucket="m2", amount="1100.00")
    book.inst(cured, 1, ago(40), paid="1100.00", paid_on=ago(1), status="overdue", days=39)
    same_bucket = book.loan(product, status="overdue", dpd=10, bucket="m1", amount="1100.00")
    book.inst(same_bucket, 1, ago(11), status="overdue", days=10)
    book.session.commit()

    report = book.run()
    expected = {0: "m0", 1: "m1", 30: "m1", 31: "m2", 60: "m2", 61: "m3", 90: "m3",
                91: "m3_plus"}
    for dpd, loan in loans.items():
        row = book.get("loan", loan)
        assert (row["dpd"], row["bucket"]) == (dpd, expected[dpd]) == (dpd, bucket_for(dpd))
        assert row["status"] == ("overdue" if dpd else "active")
    assert book.get("loan", cured)["dpd"] == 0
    assert book.get("loan", cured)["bucket"] == "m0"
    assert book.get("loan", cured)["status"] == "active"
    assert book.get("loan", cured)["overdue_amount"] == 0
    assert book.get("loan", same_bucket)["dpd"] == 11
    # dpd 0 changes nothing; the others change
    assert report.loans_changed == 9
    assert book.get("loan", loans[0])["version"] == 1

    audits = book.session.execute(select(db.audit).where(db.audit.c.form_key == "loan")
                                  .order_by(db.audit.c.record_id)).mappings().all()
    assert len(audits) == 9
    by_loan = {a["record_id"]: a for a in audits}
    assert by_loan[loans[31]]["changes"] == {
        "dpd": [0, 31], "bucket": ["m0", "m2"], "status": ["active", "overdue"],
        "overdue_amount": ["0.00", "1100.00"]}
    assert by_loan[loans[31]]["action"] == "update"
    assert by_loan[loans[31]]["record_version"] == 2 == book.get("loan", loans[31])["version"]
    assert by_loan[loans[31]]["actor_id"] is None
    assert by_loan[same_bucket]["changes"] == {"dpd": [10, 11]}
    assert by_loan[cured]["changes"] == {"dpd": [40, 0], "bucket": ["m2", "m0"],
                                         "status": ["overdue", "active"],
                                         "overdue_amount": ["1100.00", "0.00"]}

    # events: only for the loans whose bucket or status changed, in emit's shape
    rows = book.session.execute(select(db.outbox).order_by(db.outbox.c.id)).mappings().all()
    events = {e.record_id: e for e in map(Event.from_row, rows)}
    assert set(events) == {loans[d] for d in (1, 30, 31, 60, 61, 90, 91)} | {cured}
    assert report.events == len(events) == 8
    ev = events[loans[91]]
    assert ev.type == "record.updated" and ev.form == "loan" and ev.touched("bucket")
    assert sorted(ev.changed) == ["bucket", "dpd", "overdue_amount", "status"]
    assert dict(ev.before) == {"dpd": 0, "bucket": "m0", "status": "active",
                               "overdue_amount": "0.00"}
    assert dict(ev.after) == {"dpd": 91, "bucket": "m3_plus", "status": "overdue",
                              "overdue_amount": "1100.00"}
    assert {r["status"] for r in rows} == {"pending"}


def test_emitted_events_are_noted_for_the_commit_hook(book: Book) -> None:
    loan = book.loan(book.product(grace=0))
    book.inst(loan, 1, ago(5))
    update_delinquency(book.session, business_date=TODAY, schema=book.schema, now=NOW)
    noted = book.session.info.get(EMITTED_KEY, [])
    (event_id,) = book.session.execute(select(db.outbox.c.id)).scalars()
    assert noted == [(event_id, "record.updated")]
    book.session.rollback()


def test_closed_loans_and_their_installments_are_untouched(book: Book) -> None:
    product = book.product(grace=0)
    settled = book.loan(product, status="settled", dpd=5, bucket="m1")
    stale = book.inst(settled, 1, ago(30), status="pending")
    written_off = book.loan(product, status="written_off", dpd=200, bucket="m3_plus")
    frozen = book.inst(written_off, 1, ago(400), status="overdue", days=200)
    report = book.run()
    assert report.loans_changed == report.installments_changed == 0
    assert book.get("loan", settled)["dpd"] == 5 and book.get("loan", settled)["version"] == 1
    assert book.get("loan", written_off)["dpd"] == 200
    assert book.get("installment", stale)["status"] == "pending"
    assert book.get("installment", frozen)["overdue_days"] == 200
    assert book.count(db.audit) == 0


def test_a_loan_without_unpaid_installments_is_current(book: Book) -> None:
    product = book.product()
    loan = book.loan(product, amount=None)  # never computed before
    book.inst(loan, 1, ago(60), paid="1100.00", paid_on=ago(60), status="paid")
    book.inst(loan, 2, ago(30), paid="1100.00", paid_on=ago(31), status="paid")
    report = book.run()
    row = book.get("loan", loan)
    assert (row["dpd"], row["bucket"], row["status"], row["overdue_amount"]) == \
        (0, "m0", "active", 0)
    assert report.installments_changed == 0 and report.loans_changed == 1  # amount was empty
    assert report.events == 0


def test_pause_days_are_not_counted(book: Book) -> None:
    product = book.product(grace=0)
    paused = book.loan(product, dpd_paused_from=ago(20), dpd_paused_until=ago(11))
    book.inst(paused, 1, ago(40))
    open_ended = book.loan(product, dpd_paused_from=ago(4))
    book.inst(open_ended, 1, ago(40))
    before = book.loan(product, dpd_paused_from=ago(90), dpd_paused_until=ago(50))
    book.inst(before, 1, ago(40))
    book.run()
    assert book.get("loan", paused)["dpd"] == 30  # 10 paused days
    assert book.get("loan", open_ended)["dpd"] == 35  # paused since 4 days ago, today included
    assert book.get("loan", before)["dpd"] == 40  # the pause ended before the arrears
    assert book.get("loan", paused)["bucket"] == "m1"


def test_second_run_changes_nothing_and_statements_are_bounded(book: Book,
                                                               engine: Engine) -> None:
    product = book.product(grace=1)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.strip().upper() not in ("BEGIN", "COMMIT"):  # SQLite's own
            statements.append(statement)

    def fill(n: int) -> None:
        for k in range(n):
            loan = book.loan(product)
            for p in range(1, 7):
                book.inst(loan, p, ago(150 - 30 * p + k), paid="1100.00" if p < 3 else "0",
                          paid_on=ago(140 - 30 * p) if p < 3 else None)
        book.session.commit()

    counts = []
    for n in (2, 40):
        fill(n)
        event.listen(engine, "before_cursor_execute", count)
        try:
            first = book.run()
            counts.append(len(statements))
            statements.clear()
        finally:
            event.remove(engine, "before_cursor_execute", count)
        audits, events = book.count(db.audit), book.count(db.outbox)
        event.listen(engine, "before_cursor_execute", count)
        try:
            second = book.run()
            counts.append(len(statements))
            statements.clear()
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert first.loans_changed >= n and first.installments_changed > 0
        assert (second.loans_changed, second.installments_changed, second.events) == (0, 0, 0)
        assert (book.count(db.audit), book.count(db.outbox)) == (audits, events)
    # the same few statements however many loans: no per-row work
    assert len(set(counts)) == 1 and counts[0] <= 8, counts


# --- editable buckets ------------------------------------------------------------------------


def test_edited_bucket_ranges_change_the_result(book: Book) -> None:
    product = book.product(grace=0)
    three, twenty = book.loan(product), book.loan(product)
    book.inst(three, 1, ago(3))
    book.inst(twenty, 1, ago(20))
    book.run()
    assert book.get("loan", three)["bucket"] == "m1"
    # M0 now tolerates 5 days (loans stay active), M1 is 6-15, M2 16-60
    book.set_bucket("m0", max_dpd=5)
    book.set_bucket("m1", min_dpd=6, max_dpd=15)
    book.set_bucket("m2", min_dpd=16)
    book.run()
    assert (book.get("loan", three)["bucket"], book.get("loan", three)["status"]) == \
        ("m0", "active")
    assert book.get("loan", three)["dpd"] == 3
    assert book.get("loan", twenty)["bucket"] == "m2"


def test_overlapping_or_gapped_ranges_are_refused_before_any_change(book: Book) -> None:
    loan = book.loan(book.product(grace=0))
    inst = book.inst(loan, 1, ago(45))
    book.set_bucket("m2", min_dpd=25)
    with pytest.raises(BucketRangesInvalid) as caught:
        book.run()
    message = caught.value.message
    assert "m1 (record 2, DPD 1-30) overlaps m2 (record 3, DPD 25-60)" in message
    assert "DPD 25-30 would be in both" in message
    assert caught.value.code == "invalid_delinquency_buckets"
    book.session.rollback()
    assert book.get("installment", inst)["status"] == "pending"  # nothing was changed
    book.set_bucket("m2", min_dpd=35)
    with pytest.raises(BucketRangesInvalid, match="no bucket holds DPD 31-34, between m1"):
        book.run()


def _b(id_: int, code: str, low: int | None, high: int | None, status: str = "overdue"
       ) -> Bucket:
    return Bucket(id_, code, low, high, status)


def test_check_buckets_names_every_problem() -> None:
    good = [_b(1, "m0", 0, 0, "active"), _b(3, "m2", 31, None), _b(2, "m1", 1, 30)]
    assert [b.code for b in check_buckets(good, CODES)] == ["m0", "m1", "m2"]
    with pytest.raises(BucketRangesInvalid, match="there is no bucket"):
        check_buckets([], CODES)
    with pytest.raises(BucketRangesInvalid) as caught:
        check_buckets([_b(1, "m0", 5, 10), _b(2, "m1", 11, 30)], CODES)
    assert caught.value.problems == [
        "no bucket holds DPD 0-4: m0 (record 1, DPD 5-10) is the first; make a bucket start "
        "at 0",
        "no bucket holds DPD above 30: leave To DPD of m1 (record 2, DPD 11-30) empty or add a "
        "bucket without an upper bound"]
    with pytest.raises(BucketRangesInvalid, match=r"m0 \(record 1, DPD 0-\) overlaps m1"):
        check_buckets([_b(1, "m0", 0, None), _b(2, "m1", 1, None)], CODES)
    with pytest.raises(BucketRangesInvalid) as caught:
        check_buckets([_b(1, "m9", 0, None, "settled"), _b(2, "m1", 9, 3)], CODES)
    assert len(caught.value.problems) == 3
    assert "code 'm9' is not an option of the loan's bucket field" in caught.value.message
    assert "loan status 'settled' must be one of active, overdue" in caught.value.message
    assert "To DPD 3 is below From DPD 9" in caught.value.message
    with pytest.raises(BucketRangesInvalid, match="have the same code"):
        check_buckets([_b(1, "m0", 0, 0), _b(2, "m0", 1, None)], CODES)


# --- install, schedule, job ------------------------------------------------------------------


def test_install_seeds_buckets_and_schedules_the_job_once(engine: Engine) -> None:
    from lendbase.forms.publish import load_compiled_schema
    from lendbase.meta.apps import install_app

    sessions = sessionmaker(engine)
    with sessions.begin() as session:
        install_app(session, TEMPLATE)
    with sessions.begin() as session:
        schema = load_compiled_schema(session)
        t = schema["delinquency_bucket"].table
        rows = session.execute(select(t.c.code, t.c.min_dpd, t.c.max_dpd, t.c.loan_status)
                               .order_by(t.c.sort_order)).all()
        assert [tuple(r) for r in rows] == [
            ("m0", 0, 0, "active"), ("m1", 1, 30, "overdue"), ("m2", 31, 60, "overdue"),
            ("m3", 61, 90, "overdue"), ("m3_plus", 91, None, "overdue")]
        loan_codes = [o.value for o in schema["loan"].form.field("bucket").options]
        assert [r.code for r in rows] == loan_codes
        scheduled = get_schedule(session, "credit_template.delinquency")
        assert (scheduled.cron, scheduled.timezone, scheduled.job) == (
            "10 0 * * *", "Asia/Shanghai", "apps.credit_template.delinquency.delinquency_job")
        assert scheduled.next_run_at is not None  # 00:10 in Beijing is 16:10 UTC
        assert (scheduled.next_run_at.hour, scheduled.next_run_at.minute) == (16, 10)
        # an admin edits a bucket and disables the schedule
        session.execute(update(t).where(t.c.code == "m0").values(max_dpd=3))
        session.execute(update(db.schedule).values(enabled=False))
        audits = session.execute(select(func.count()).select_from(db.audit)).scalar()
    with sessions.begin() as session:
        install_app(session, TEMPLATE)  # an upgrade keeps the admin's changes
    with sessions.begin() as session:
        assert session.execute(select(func.count()).select_from(t)).scalar() == 5
        assert session.execute(select(t.c.max_dpd).where(t.c.code == "m0")).scalar() == 3
        assert get_schedule(session, "credit_template.delinquency").enabled is False
        assert session.execute(select(func.count()).select_from(db.audit)).scalar() == audits


def test_job_runs_for_the_schedule_date_or_a_given_one(session: Session,
                                                       engine: Engine) -> None:
    from lendbase.forms.publish import load_compiled_schema
    from lendbase.meta.apps import install_app

    install_app(session, TEMPLATE)  # the job reads the published forms
    session.commit()
    book = Book(session, load_compiled_schema(session))
    product = book.product(grace=0)
    loan = book.loan(product)
    book.inst(loan, 1, ago(10))
    book.session.commit()
    # the schedule came due at 00:10 Beijing time on the 15th (16:10 UTC on the 14th)
    delinquency_job(JobContext(book.session, 1, 1, NOW, "credit_template.delinquency", NOW))
    book.session.commit()
    assert book.get("loan", loan)["dpd"] == 10

    # run it now for another business date, through the job queue
    sessions = sessionmaker(engine)
    runtime = JobRuntime(sessions, clock=lambda: NOW)
    with sessions.begin() as session:
        enqueue(session, "apps.credit_template.delinquency.delinquency_job",
                kwargs={"business_date": "2026-03-20"}, now=NOW)
    runtime.run_until_idle()
    with sessions() as session:
        (run,) = [r for r in list_runs(session)[0] if r.function.endswith("delinquency_job")]
        assert run.status == "succeeded", run.error
    book.session.rollback()  # a fresh snapshot
    assert book.get("loan", loan)["dpd"] == 15


# --- agreement with the pure servicing simulation ---------------------------------------------


@st.composite
def loans(draw: st.DrawFn) -> dict[str, Any]:
    """A loan, its terms and a borrower's payments up to a business date."""
    term = draw(st.integers(2, 9))
    disbursed = date(2025, 1, 1) + timedelta(days=draw(st.integers(0, 300)))
    today = disbursed + timedelta(days=draw(st.integers(20, 40 * term)))
    terms = ServicingTerms(
        amortization=draw(st.sampled_from(["equal_installment", "equal_principal",
                                           "interest_only"])),
        grace_days=draw(st.integers(0, 5)),
        tolerance=draw(st.sampled_from([D("0.00"), D("5.00"), D("10.00")])),
        penalty_rate=draw(st.sampled_from([D("0"), D("18")])))
    plans = draw(st.lists(st.tuples(
        st.sampled_from(["full", "full", "partial", "partial_then_full", "none"]),
        st.integers(-6, 45), st.sampled_from(["-0.01", "0", "0.01", "0.37", "half"])),
        min_size=term, max_size=term))
    settle = draw(st.one_of(st.none(), st.integers(1, term - 1)))
    return {"terms": terms, "term": term, "disbursed": disbursed, "today": today,
            "plans": plans, "settle": settle,
            "principal": D(draw(st.integers(10, 300))) * 1000}


def _simulate(spec: dict[str, Any]) -> LoanSimulation:
    terms, today = spec["terms"], spec["today"]
    sim = LoanSimulation(terms, spec["principal"], D("12"), spec["term"], spec["disbursed"],
                         today)
    last = spec["disbursed"] + timedelta(days=1)
    for index, (kind, offset, left) in enumerate(spec["plans"]):
        inst = sim.installments[index]
        if spec["settle"] == index:
            start = sim.installments[index - 1].due_date
            on = max(last, start + timedelta(days=2))
            if on < inst.due_date and on <= today:
                sim.settle(index, on)
                break
        on = max(last, inst.due_date + timedelta(days=offset))
        if on > today or kind == "none":
            continue
        if kind in ("partial", "partial_then_full"):
            sim.accrue(index, on)
            keep = inst.unpaid / 2 if left == "half" else terms.tolerance + D(left)
            amount = inst.unpaid - max(keep, D("0.01"))
            if amount > 0:
                sim.pay(index, on, amount.quantize(D("0.01")), "partial")
            later = on + timedelta(days=7)
            if kind == "partial" or later > today:
                last = on
                continue
            on = later
        sim.pay(index, on)
        last = on
    sim.close()
    return sim


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(loans(), min_size=1, max_size=3), st.integers(0, 30))
def test_job_agrees_with_the_servicing_simulation(book: Book, specs: list[dict[str, Any]],
                                                  shift: int) -> None:
    today = date(2026, 6, 1) + timedelta(days=shift)
    cases = []
    try:
        for n, spec in enumerate(specs):
            spec = {**spec, "today": today,
                    "disbursed": today - (spec["today"] - spec["disbursed"])}
            sim = _simulate(spec)
            product = book.insert("loan_product", code=f"S{n}",
                                  grace_days=spec["terms"].grace_days,
                                  tolerance_amount=spec["terms"].tolerance)
            loan = book.loan(product)
            ids = []
            for inst in sim.installments:
                ids.append(book.insert(
                    "installment", loan=loan, period_no=inst.period.period_no,
                    due_date=inst.due_date, paid_in_full_on=inst.paid_on, status="pending",
                    overdue_days=0,
                    **{f"{p}_due": inst.due(p) for p in inst.paid},
                    **{f"{p}_paid": v for p, v in inst.paid.items()}))
            cases.append((sim, loan, ids))
        update_delinquency(book.session, business_date=today, schema=book.schema, now=NOW)
        for sim, loan, ids in cases:
            rows = [book.get("installment", i) for i in ids]
            assert [r["status"] for r in rows] == sim.statuses
            assert [r["overdue_days"] for r in rows] == \
                [sim.overdue_days(i) for i in range(len(ids))]
            row = book.get("loan", loan)
            assert row["dpd"] == sim.dpd
            assert row["bucket"] == sim.bucket == bucket_for(sim.dpd)
            assert row["overdue_amount"] == sim.overdue_amount
            # the job leaves settling and write-offs to their own processes
            assert row["status"] == ("overdue" if sim.dpd > 0 else "active")
    finally:
        book.session.rollback()


def test_demo_portfolio_is_already_up_to_date(session: Session, schema: CompiledSchema) -> None:
    """The demo books loans with the pure simulation; the job finds nothing to change."""
    from apps.credit_template.demo import generate_demo
    from lendbase.security import FieldCipher, generate_key_string

    schema.metadata.create_all(session.get_bind())
    cipher = FieldCipher.from_key_string(generate_key_string())
    generate_demo(session, schema, cipher, seed=5, customers=40, today=TODAY)
    session.commit()
    report = update_delinquency(session, business_date=TODAY, schema=schema, now=NOW)
    assert (report.installments_changed, report.loans_changed) == (0, 0)
    loans = schema["loan"].table
    assert session.execute(select(func.count()).select_from(loans).where(
        loans.c.status == "overdue")).scalar()  # the portfolio has arrears to agree on
    tomorrow = update_delinquency(session, business_date=TODAY + timedelta(days=1),
                                  schema=schema, now=NOW)
    assert tomorrow.loans_changed > 0
    session.rollback()


def test_command_line_runs_it_now_for_a_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from apps.credit_template.delinquency import main
    from lendbase.forms.publish import load_compiled_schema
    from lendbase.meta.apps import install_app

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("LENDBASE_VAR_DIR", str(tmp_path))
    engine = db.make_engine(f"sqlite:///{tmp_path / 'lendbase.db'}")
    db.platform_metadata.create_all(engine)
    with sessionmaker(engine).begin() as session:
        install_app(session, TEMPLATE)
    with sessionmaker(engine)() as session:
        book = Book(session, load_compiled_schema(session))
        loan = book.loan(book.product(grace=0))
        book.inst(loan, 1, ago(31))
        session.commit()
    assert main(["--date", TODAY.isoformat(), "--dry-run"]) == 0
    assert "(dry run, rolled back) delinquency on 2026-03-15: 1 installment(s) and 1 loan(s)" \
        in capsys.readouterr().out
    assert main(["--date", TODAY.isoformat()]) == 0
    with sessionmaker(engine)() as session:
        book.session = session
        assert book.get("loan", loan)["bucket"] == "m2"
    engine.dispose()
