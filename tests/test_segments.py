"""Segments: the upsell and high-risk pools computed set based on crafted data (NULLs and
boundaries included), idempotent recomputes, history and daily counts, the record-change path
that recomputes only the affected customer, the statement count on thousands of rows, and the
simulation that predicts the next recompute exactly without writing anything."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from lendbase import db
from lendbase.conditions import ConditionContext, SqlRelatedRows, compile_predicate
from lendbase.errors import MetadataError, NotFound
from lendbase.events.outbox import load_event, take_emitted
from lendbase.forms.compile import CompiledSchema
from lendbase.forms.publish import load_compiled_schema, publish_form
from lendbase.jobs import JobRuntime, JobStatus, get_run, get_schedule
from lendbase.meta.store import MetadataStore
from lendbase.records.permissions import Actor
from lendbase.records.service import RecordService
from lendbase.security import FieldCipher, generate_key_string
from lendbase.segments import (
    Hop,
    apply_record_change,
    load_segment,
    publish_segment,
    recompute_segment,
    related_paths,
    simulate_segment,
)
from lendbase.segments.engine import condition_schema
from tests.sample_forms import label
from tests.work_fixtures import counting_statements

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def _option(value: str) -> dict[str, Any]:
    return {"value": value, "label": label(value, value)}


def customer_form() -> dict[str, Any]:
    return {
        "key": "customer", "label": label("客户", "Customer"), "title_field": "name",
        "fields": [
            {"key": "name", "type": "text", "label": label("名称", "Name"), "required": True,
             "searchable": True},
            {"key": "rating", "type": "select", "label": label("评级", "Rating"),
             "options": [_option("A"), _option("B"), _option("C")]},
            {"key": "balance", "type": "money", "label": label("余额", "Balance")},
            {"key": "credit_limit", "type": "money", "label": label("授信额度", "Credit line")},
            {"key": "id_number", "type": "id_number", "label": label("身份证", "ID number"),
             "sensitive": True},
        ],
        "list": {"columns": ["name", "rating", "balance", "credit_limit", "id_number"],
                 "filters": ["rating"]},
        "permissions": {
            "account_manager": {"actions": ["read", "update"], "scope": "own"},
            "analyst": {"actions": ["read"], "scope": "all", "hidden_fields": ["balance"]},
        },
    }


def installment_form() -> dict[str, Any]:
    return {
        "key": "installment", "label": label("还款计划", "Installment"),
        "title_field": "period_no",
        "fields": [
            {"key": "customer", "type": "reference", "target": "customer",
             "label": label("客户", "Customer")},
            {"key": "period_no", "type": "integer", "label": label("期数", "Period")},
            {"key": "due_date", "type": "date", "label": label("应还日", "Due date")},
            {"key": "status", "type": "select", "label": label("状态", "Status"),
             "options": [_option("pending"), _option("paid"), _option("overdue")]},
        ],
        "permissions": {"account_manager": {"actions": ["read"], "scope": "own"}},
    }


UPSELL = {"and": [
    {"field": "rating", "op": "=", "value": "A"},
    {"not": {"exists": {"form": "installment", "link": "customer",
                        "where": {"and": [
                            {"field": "status", "op": "=", "value": "overdue"},
                            {"field": "due_date", "op": "in_last", "value": [12, "month"]}]}}}},
    {"field": "balance", "op": "<", "value": {"formula": "0.5 * credit_limit"}},
]}

HIGH_RISK = {"and": [
    {"field": "rating", "op": "=", "value": "C"},
    {"exists": {"form": "installment", "link": "customer",
                "where": {"and": [{"field": "status", "op": "=", "value": "overdue"},
                                  {"field": "due_date", "op": "in_period", "value": "month"}]}}},
]}


def segment_doc(key: str = "upsell", condition: dict[str, Any] | None = None,
                **extra: Any) -> dict[str, Any]:
    return {"key": key, "label": label("提额营销池", "Upsell pool"), "form": "customer",
            "condition": condition or UPSELL, "schedule": {"cron": "0 2 * * *"}, **extra}


def publish_forms(session: Session) -> CompiledSchema:
    store = MetadataStore(session, None)
    for doc in (customer_form(), installment_form()):
        store.create("forms", doc)
        publish_form(session, None, doc["key"], confirm=True)
    return load_compiled_schema(session)


def publish(session: Session, doc: dict[str, Any]) -> Any:
    store = MetadataStore(session, None)
    try:
        store.save_draft("segments", doc["key"], doc)
    except NotFound:
        store.create("segments", doc)
    return publish_segment(session, None, doc["key"], clock=clock)


def add_customer(session: Session, schema: CompiledSchema, name: str, rating: str | None,
                 balance: Any, limit: Any, owner: int | None = None) -> int:
    table = schema["customer"].table
    return int(session.execute(insert(table).values(
        name=name, rating=rating, balance=balance, credit_limit=limit, owner_id=owner,
        created_at=NOW, updated_at=NOW, version=1).returning(table.c.id)).scalar_one())


def add_installment(session: Session, schema: CompiledSchema, customer: int, due: date | None,
                    status: str, period: int = 1) -> int:
    table = schema["installment"].table
    return int(session.execute(insert(table).values(
        customer=customer, period_no=period, due_date=due, status=status,
        created_at=NOW, updated_at=NOW, version=1).returning(table.c.id)).scalar_one())


def crafted(session: Session, schema: CompiledSchema) -> dict[str, int]:
    """Customers around every edge of the upsell condition; the comment says who is in."""
    ids: dict[str, int] = {}

    def cust(name: str, rating: str | None, balance: Any, limit: Any) -> int:
        ids[name] = add_customer(session, schema, name, rating, balance, limit)
        return ids[name]

    cust("plain", "A", 100, 1000)                                   # in
    cust("high_balance", "A", 600, 1000)                            # out: 600 >= 500
    add_installment(session, schema, cust("recent_overdue", "A", 100, 1000),
                    date(2026, 3, 1), "overdue")                    # out: overdue 9 months ago
    add_installment(session, schema, cust("old_overdue", "A", 100, 1000),
                    date(2025, 10, 1), "overdue")                   # in: 14 months ago
    add_installment(session, schema, cust("paid", "A", 100, 1000),
                    date(2026, 5, 1), "paid")                       # in: paid, not overdue
    cust("rating_b", "B", 100, 1000)                                # out
    cust("no_balance", "A", None, 1000)                             # out: NULL < x is unknown
    cust("no_limit", "A", 100, None)                                # out: x < NULL is unknown
    cust("no_rating", None, 100, 1000)                              # out
    add_installment(session, schema, cust("undated_overdue", "A", 100, 1000),
                    None, "overdue")                                # in: no date, not "in last"
    cust("just_under", "A", Decimal("499.99"), 1000)                # in
    cust("boundary", "A", 500, 1000)                                # out: 500 < 500 is false
    return ids


UPSELL_IN = {"plain", "old_overdue", "paid", "undated_overdue", "just_under"}


@pytest.fixture
def pools(engine: Engine) -> Iterator[tuple[sessionmaker, CompiledSchema, dict[str, int]]]:
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as session:
        schema = publish_forms(session)
        ids = crafted(session, schema)
        publish(session, segment_doc())
    yield sessions, schema, ids


def members(session: Session, key: str = "upsell") -> set[int]:
    m = db.segment_member
    return set(session.execute(select(m.c.record_id).where(m.c.segment_key == key)).scalars())


def history(session: Session, key: str = "upsell") -> list[Any]:
    h = db.segment_history
    return session.execute(select(h).where(h.c.segment_key == key).order_by(h.c.id)).all()


def counts(session: Session, key: str = "upsell") -> list[Any]:
    c = db.segment_count
    return session.execute(select(c).where(c.c.segment_key == key).order_by(c.c.day)).all()


def names(ids: dict[str, int], which: set[int]) -> set[str]:
    by_id = {v: k for k, v in ids.items()}
    return {by_id[i] for i in which}


# --- the condition, computed -------------------------------------------------------------


def test_upsell_pool_on_crafted_data(pools) -> None:
    sessions, schema, ids = pools
    with sessions.begin() as session:
        report = recompute_segment(session, "upsell", clock=clock, schema=schema)
    assert (report.entered, report.left, report.members) == (5, 0, 5)
    with sessions() as session:
        assert names(ids, members(session)) == UPSELL_IN
        # the Python predicate, record by record, agrees with the set computation
        context = ConditionContext.for_form(condition_schema(schema), "customer", now=NOW)
        predicate = compile_predicate(UPSELL, context)
        table = schema["customer"].table
        related = SqlRelatedRows(session, condition_schema(schema))
        rows = session.execute(select(table)).mappings().all()
        assert {r["id"] for r in rows if predicate(dict(r), related=related)} \
            == members(session)
        entries = history(session)
        assert {(e.record_id, e.event, e.version, e.run_key) for e in entries} \
            == {(ids[n], "entered", 1, report.run_key) for n in UPSELL_IN}
        (row,) = counts(session)
        assert (row.day, row.members, row.entered, row.left) == (date(2026, 11, 28), 5, 5, 0)


def test_high_risk_pool(pools) -> None:
    sessions, schema, ids = pools
    with sessions.begin() as session:
        risky = add_customer(session, schema, "risky", "C", 100, 1000)
        add_installment(session, schema, risky, date(2026, 11, 3), "overdue")
        old = add_customer(session, schema, "risky_last_month", "C", 100, 1000)
        add_installment(session, schema, old, date(2026, 10, 30), "overdue")
        calm = add_customer(session, schema, "calm", "C", 100, 1000)
        add_installment(session, schema, calm, date(2026, 11, 3), "paid")
        publish(session, segment_doc("high_risk", HIGH_RISK))
        report = recompute_segment(session, "high_risk", clock=clock, schema=schema)
    assert report.entered == 1
    with sessions() as session:
        assert members(session, "high_risk") == {risky}


def test_recompute_is_idempotent_and_moves_are_recorded(pools) -> None:
    sessions, schema, ids = pools
    with sessions.begin() as session:
        first = recompute_segment(session, "upsell", clock=clock, schema=schema)
    with sessions.begin() as session:
        again = recompute_segment(session, "upsell", clock=clock, schema=schema)
        assert (again.entered, again.left, again.members) == (0, 0, 5)
        assert len(history(session)) == 5
    table = schema["customer"].table
    with sessions.begin() as session:
        session.execute(update(table).where(table.c.id == ids["high_balance"])
                        .values(balance=100))  # enters
        session.execute(update(table).where(table.c.id == ids["plain"])
                        .values(rating="B"))  # leaves
        installments = schema["installment"].table
        session.execute(installments.delete().where(installments.c.customer == ids["paid"]))
        session.execute(table.delete().where(table.c.id == ids["paid"]))  # deleted: leaves
    with sessions.begin() as session:
        moved = recompute_segment(session, "upsell", clock=clock, schema=schema)
    assert (moved.entered, moved.left, moved.members) == (1, 2, 4)
    assert moved.run_key != first.run_key
    with sessions() as session:
        assert names(ids, members(session)) == UPSELL_IN - {"plain", "paid"} | {"high_balance"}
        last = [e for e in history(session) if e.run_key == moved.run_key]
        assert sorted((e.event, e.record_id) for e in last) == sorted(
            [("entered", ids["high_balance"]), ("left", ids["plain"]), ("left", ids["paid"])])
        (row,) = counts(session)  # the same day: one row, moves added up
        assert (row.members, row.entered, row.left) == (4, 6, 2)
    tomorrow = NOW + timedelta(days=1)
    with sessions.begin() as session:
        later = recompute_segment(session, "upsell", clock=lambda: tomorrow, schema=schema)
    assert (later.entered, later.left) == (0, 0)
    with sessions() as session:
        rows = counts(session)
        assert [(r.day, r.members, r.entered, r.left) for r in rows] == [
            (date(2026, 11, 28), 4, 6, 2), (date(2026, 11, 29), 4, 0, 0)]


def test_relative_dates_follow_the_clock(pools) -> None:
    """A year later the overdue of March 2026 is out of the 12-month window."""
    sessions, schema, ids = pools
    with sessions.begin() as session:
        recompute_segment(session, "upsell", clock=clock, schema=schema)
        report = recompute_segment(session, "upsell", clock=lambda: datetime(
            2027, 3, 10, tzinfo=UTC), schema=schema)
        assert report.entered == 1 and names(ids, members(session)) == UPSELL_IN | {
            "recent_overdue"}


# --- the record-change path ----------------------------------------------------------------


def _system(session: Session, schema: CompiledSchema) -> RecordService:
    return RecordService(session, schema, Actor.system(),
                         FieldCipher.from_key_string(generate_key_string()), clock)


def _last_event(session: Session) -> Any:
    (event_id, _), *_ = reversed(take_emitted(session))
    return load_event(session, event_id)


def test_record_changes_recompute_only_the_affected_customer(pools, engine: Engine) -> None:
    sessions, schema, ids = pools
    with sessions.begin() as session:
        recompute_segment(session, "upsell", clock=clock, schema=schema)
    customer = schema["customer"].table
    with sessions.begin() as session:
        # changed behind the events' back: only a full recompute would see it
        session.execute(update(customer).where(customer.c.id == ids["high_balance"])
                        .values(balance=100))
    with sessions.begin() as session:
        records = _system(session, schema)
        # a new overdue installment of "plain" this month: plain leaves
        records.create("installment", {"customer": ids["plain"], "period_no": 2,
                                       "due_date": "2026-11-02", "status": "overdue"})
        event = _last_event(session)
        with counting_statements(engine) as seen:
            (report,) = apply_record_change(session, event, schema=schema, clock=clock)
        assert (report.entered, report.left, report.partial) == (0, 1, True)
        assert len(seen) <= 8, seen
    with sessions() as session:
        assert ids["plain"] not in members(session)
        assert ids["high_balance"] not in members(session)  # untouched by the event path
    with sessions.begin() as session:
        records = _system(session, schema)
        # the customer itself changes: back under half the line... but still overdue
        records.update("customer", ids["boundary"], {"balance": "499"})
        (report,) = apply_record_change(session, _last_event(session), schema=schema,
                                        clock=clock)
        assert (report.entered, report.left) == (1, 0)
        # the overdue installment is paid: plain enters again, a new entry of its own
        table = schema["installment"].table
        overdue_id = session.execute(select(table.c.id).where(
            table.c.customer == ids["plain"])).scalar_one()
        records.update("installment", overdue_id, {"status": "paid"})
        (report,) = apply_record_change(session, _last_event(session), schema=schema,
                                        clock=clock)
        assert (report.entered, report.left) == (1, 0)
    with sessions() as session:
        plain = [(e.event, e.run_key) for e in history(session) if e.record_id == ids["plain"]]
        assert [e for e, _ in plain] == ["entered", "left", "entered"]
        assert len({run for _, run in plain}) == 3  # each move its own run (and cause)
        (row,) = counts(session)
        assert (row.members, row.entered, row.left) == (6, 7, 1)


def test_moved_and_deleted_installments_affect_both_customers(pools) -> None:
    sessions, schema, ids = pools
    with sessions.begin() as session:
        recompute_segment(session, "upsell", clock=clock, schema=schema)
        records = _system(session, schema)
        table = schema["installment"].table
        overdue = session.execute(select(table.c.id).where(
            table.c.customer == ids["recent_overdue"])).scalar_one()
        # the overdue installment was booked on the wrong customer: move it to "plain"
        records.update("installment", overdue, {"customer": ids["plain"]})
        (report,) = apply_record_change(session, _last_event(session), schema=schema,
                                        clock=clock)
        assert (report.entered, report.left) == (1, 1)
        assert names(ids, members(session)) == UPSELL_IN - {"plain"} | {"recent_overdue"}
        records.delete("installment", overdue)
        (report,) = apply_record_change(session, _last_event(session), schema=schema,
                                        clock=clock)
        assert (report.entered, report.left) == (1, 0)
        records.delete("customer", ids["plain"])
        (report,) = apply_record_change(session, _last_event(session), schema=schema,
                                        clock=clock)
        assert (report.entered, report.left) == (0, 1)
        other = _system(session, schema).create("customer", {"name": "x"})
        assert apply_record_change(session, _last_event(session), schema=schema,
                                   clock=clock)[0].entered == 0
        assert other["id"] not in members(session)


def test_a_change_of_the_referenced_record_moves_the_records_that_look_it_up(pools) -> None:
    """An installment segment on ``customer.rating``: rating a customer C brings in that
    customer's installments (and only theirs) through the record-change path."""
    sessions, schema, ids = pools
    condition = {"and": [{"field": "customer.rating", "op": "=", "value": "C"},
                         {"field": "status", "op": "=", "value": "overdue"}]}
    with sessions.begin() as session:
        publish(session, {**segment_doc("c_overdue", condition), "form": "installment"})
        recompute_segment(session, "c_overdue", clock=clock, schema=schema)
        before = members(session, "c_overdue")
        mine = add_installment(session, schema, ids["plain"], date(2026, 11, 1), "overdue")
        recompute_segment(session, "c_overdue", clock=clock, schema=schema)
        assert members(session, "c_overdue") == before
        _system(session, schema).update("customer", ids["plain"], {"rating": "C"})
        reports = apply_record_change(session, _last_event(session), schema=schema,
                                      clock=clock)
        moved = {r.segment: (r.entered, r.left) for r in reports}
        assert moved["c_overdue"] == (1, 0)
        assert members(session, "c_overdue") == before | {mine}


def test_related_paths() -> None:
    from lendbase.forms.model import check_form

    forms = {f.key: f for f in map(check_form, [customer_form(), installment_form()])}
    nested = {"and": [
        {"exists": {"form": "loan", "link": "customer", "where": {
            "sum": {"form": "repayment", "link": "loan", "field": "amount"},
            "op": ">", "value": 1}}},
        {"not": {"count": {"form": "installment", "link": "customer"}, "op": "=", "value": 0}},
        {"exists": {"form": "customer", "link": "contacts"}},
    ]}
    assert related_paths(nested, "customer", forms) == [
        (Hop("loan", "customer"),), (Hop("loan", "customer"), Hop("repayment", "loan")),
        (Hop("installment", "customer"),), (Hop("customer", "contacts"),)]
    forms["customer"] = check_form({**customer_form(), "fields": [
        *customer_form()["fields"],
        {"key": "contacts", "type": "subtable", "label": label("联系人", "Contacts"),
         "fields": [{"key": "name", "type": "text", "label": label("姓名", "Name")}]}]})
    assert (Hop("customer", "contacts"),) not in related_paths(nested, "customer", forms)


# --- scale: a handful of statements --------------------------------------------------------


def test_recompute_is_a_handful_of_statements(engine: Engine) -> None:
    """3000 customers and 3000 installments: the full recompute is 6 statements, whatever the
    number of rows; the second run (nothing moved) 5."""
    sessions = sessionmaker(engine, expire_on_commit=False)
    n = 3000
    with sessions.begin() as session:
        schema = publish_forms(session)
        publish(session, segment_doc())
        customers = schema["customer"].table
        session.execute(insert(customers), [
            {"name": f"c{i}", "rating": "ABC"[i % 3], "balance": i % 1000, "credit_limit": 1000,
             "created_at": NOW, "updated_at": NOW, "version": 1} for i in range(n)])
        first_id = session.execute(select(func.min(customers.c.id))).scalar_one()
        session.execute(insert(schema["installment"].table), [
            {"customer": first_id + i, "period_no": 1, "due_date": date(2026, 6, 1),
             "status": "overdue" if i % 4 == 0 else "paid", "created_at": NOW,
             "updated_at": NOW, "version": 1} for i in range(n)])
    expected = len([i for i in range(n) if i % 3 == 0 and i % 4 != 0 and i % 1000 < 500])
    with sessions.begin() as session, counting_statements(engine) as seen:
        report = recompute_segment(session, "upsell", clock=clock, schema=schema)
    statements = [s for s in seen if s != "BEGIN"]  # SQLite's explicit BEGIN
    assert report.entered == expected == report.members
    # the read of the published version, the counts upsert, history entered / left, the
    # members insert, the counts update
    assert len(statements) == 6, statements
    assert all("lb_segment" in s or "lb_meta_version" in s for s in statements)
    with sessions.begin() as session, counting_statements(engine) as seen:
        assert recompute_segment(session, "upsell", clock=clock, schema=schema).entered == 0
    # version, counts upsert, entered, left, read the count
    assert len([s for s in seen if s != "BEGIN"]) == 5


# --- simulation ----------------------------------------------------------------------------


def _table_sizes(session: Session) -> tuple[int, ...]:
    return tuple(session.execute(select(func.count()).select_from(t)).scalar_one()
                 for t in (db.segment_member, db.segment_history, db.segment_count,
                           db.job_run, db.meta_version))


def test_simulation_predicts_the_next_recompute_and_writes_nothing(pools) -> None:
    sessions, schema, ids = pools
    with sessions.begin() as session:
        recompute_segment(session, "upsell", clock=clock, schema=schema)
    # a draft that widens the pool to B ratings, unsaved
    draft = segment_doc(condition={"and": [
        {"field": "rating", "op": "in", "value": ["A", "B"]}, *UPSELL["and"][1:]]})
    table = schema["customer"].table
    with sessions.begin() as session:
        session.execute(update(table).where(table.c.id == ids["plain"]).values(balance=900))
    with sessions() as session:
        before = _table_sizes(session)
        sim = simulate_segment(session, draft, schema=schema, now=NOW, sample=2)
        assert _table_sizes(session) == before
        assert not session.new and not session.dirty
    assert (sim.members, sim.entering, sim.leaving, sim.current_members) == (5, 1, 1, 5)
    assert [s.title for s in sim.sample_entering] == ["rating_b"]
    assert [s.title for s in sim.sample_leaving] == ["plain"]
    assert len(sim.sample_members) == 2
    # publish the draft: the recompute does exactly what the simulation said
    with sessions.begin() as session:
        publish(session, draft)
        report = recompute_segment(session, "upsell", clock=clock, schema=schema)
        run = [e for e in history(session) if e.run_key == report.run_key]
    assert {(e.event, e.record_id) for e in run} == {("entered", ids["rating_b"]),
                                                     ("left", ids["plain"])}
    assert report.members == sim.members


def test_simulation_as_of_a_past_day(pools) -> None:
    sessions, schema, ids = pools
    with sessions() as session:
        sim = simulate_segment(session, None, key="upsell", schema=schema, now=NOW,
                               as_of=date(2026, 2, 1))
    # on 1 February 2026 the March overdue was still to come, the October 2025 one recent
    assert sim.past and sim.as_of.date() == date(2026, 2, 1)
    assert sim.members == 5 and sim.current_members is None
    assert {s.title for s in sim.sample_members} == UPSELL_IN - {"old_overdue"} | {
        "recent_overdue"}
    assert "today's" in sim.to_dict("en")["note"]


# --- publishing ----------------------------------------------------------------------------


def test_publish_refuses_what_does_not_bind(pools) -> None:
    sessions, schema, _ = pools
    with sessions.begin() as session:
        bad = segment_doc("broken", {"and": [
            {"field": "rating", "op": "=", "value": "A"},
            {"field": "nope", "op": "=", "value": 1},
            {"not": {"exists": {"form": "installment", "link": "owner"}}}]})
        MetadataStore(session, None).create("segments", bad)
        with pytest.raises(MetadataError) as refused:
            publish_segment(session, None, "broken", clock=clock)
        assert set(refused.value.errors) == {"/condition/and/1", "/condition/and/2/not"}
        assert "unknown field 'nope'" in refused.value.errors["/condition/and/1"][0]
        MetadataStore(session, None).save_draft("segments", "broken", {**bad, "form": "loan"})
        with pytest.raises(MetadataError) as refused:
            publish_segment(session, None, "broken", clock=clock)
        assert list(refused.value.errors) == ["/form"]
        with pytest.raises(MetadataError) as invalid:
            MetadataStore(session, None).save_draft(
                "segments", "broken", {**bad, "schedule": {"cron": "every day"}})
        assert "/schedule/cron" in invalid.value.errors


def test_publish_schedules_and_enqueues_the_first_recompute(pools, engine: Engine) -> None:
    sessions, schema, ids = pools
    with sessions() as session:
        schedule = get_schedule(session, "segment:upsell")
        assert (schedule.cron, schedule.timezone, schedule.job) == (
            "0 2 * * *", "Asia/Shanghai", "lendbase.segments.jobs.recompute_job")
        assert schedule.next_run_at == datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
        run_id = session.execute(select(db.job_run.c.id).where(
            db.job_run.c.function == "lendbase.segments.jobs.recompute_job")).scalar_one()
    runtime = JobRuntime(sessions, clock=clock)
    assert runtime.run_queued() == 1
    with sessions() as session:
        assert get_run(session, run_id).status is JobStatus.SUCCEEDED
        assert names(ids, members(session)) == UPSELL_IN
    with sessions.begin() as session:
        again = publish_segment(session, None, "upsell", clock=clock)
        assert again.unchanged and again.recompute_run is None
        dry = publish_segment(session, None, "upsell", dry_run=True, clock=clock)
        assert dry.to_dict()["simulation"]["members"] == 5
    doc = load_segment(segment_doc())
    assert doc.schedule.enabled and doc.on_enter == ()


# --- actions (the rule engine's) ------------------------------------------------------------

FOLLOW_UP = {"type": "create_task", "title": "提额营销：联系客户", "kind": "follow_up",
             "due_in_days": 3, "assignee": {"rule": "field", "field": "owner_id"}}
LEFT_ALERT = {"type": "raise_alert", "title": "客户移出提额池", "severity": "info"}


def _tasks(session: Session) -> list[Any]:
    t = db.task
    return session.execute(select(t.c.record_id, t.c.cause_key, t.c.created_by_rule)
                           .order_by(t.c.id)).all()


def test_entering_and_leaving_run_the_actions_once_per_entry(pools) -> None:
    sessions, schema, ids = pools
    with sessions.begin() as session:
        publish(session, segment_doc(on_enter=[FOLLOW_UP], on_leave=[LEFT_ALERT]))
        sim = simulate_segment(session, None, key="upsell", schema=schema, now=NOW)
        (outcome,) = sim.to_dict()["enter_actions"]["actions"]
        assert (outcome["type"], outcome["affected"]) == ("create_task", 5)
        assert not _tasks(session)  # the dry run wrote nothing
        first = recompute_segment(session, "upsell", clock=clock, schema=schema)
        assert first.enter_actions.affected == [5]
        tasks = _tasks(session)
        assert {r.record_id for r in tasks} == {ids[n] for n in UPSELL_IN}
        assert {r.cause_key for r in tasks} == {
            f"segment:upsell:enter:{first.run_key}:{ids[n]}:0" for n in UPSELL_IN}
        assert {r.created_by_rule for r in tasks} == {"segment:upsell"}
        assert recompute_segment(session, "upsell", clock=clock, schema=schema).entered == 0
        assert len(_tasks(session)) == 5
        table = schema["customer"].table
        session.execute(update(table).where(table.c.id == ids["plain"]).values(rating="B"))
        left = recompute_segment(session, "upsell", clock=clock, schema=schema)
        assert left.leave_actions.affected == [1]
        alert = session.execute(select(db.alert.c.record_id, db.alert.c.cause_key)).one()
        assert alert == (ids["plain"], f"segment:upsell:leave:{left.run_key}:{ids['plain']}:0")
        session.execute(update(table).where(table.c.id == ids["plain"]).values(rating="A"))
        back = recompute_segment(session, "upsell", clock=clock, schema=schema)
        assert back.entered == 1
        plain_tasks = [r for r in _tasks(session) if r.record_id == ids["plain"]]
        assert len(plain_tasks) == 2  # the new entry made a new task
        assert back.run_key in plain_tasks[-1].cause_key


def test_actions_are_checked_against_the_catalogues_at_publish(pools) -> None:
    sessions, schema, _ = pools
    with sessions.begin() as session:
        store = MetadataStore(session, None)
        with pytest.raises(MetadataError) as invalid:
            store.save_draft("segments", "upsell", segment_doc(on_enter=[{"type": "explode"}]))
        assert list(invalid.value.errors) == ["/on_enter/0/type"]
        store.save_draft("segments", "upsell", segment_doc(
            on_enter=[{"type": "add_tag", "tag": "no_such_tag"}]))
        with pytest.raises(MetadataError) as refused:
            publish_segment(session, None, "upsell", clock=clock)
        assert list(refused.value.errors) == ["/on_enter/0/tag"]


# --- the members as a list ----------------------------------------------------------------


def test_members_list_applies_row_scope_hidden_fields_and_masking(pools) -> None:
    from lendbase.segments import MemberListService

    sessions, schema, ids = pools
    cipher = FieldCipher.from_key_string(generate_key_string())
    table = schema["customer"].table
    with sessions.begin() as session:
        records = RecordService(session, schema, Actor.system(), cipher, clock)
        records.update("customer", ids["plain"], {"id_number": "11010519491231002X"})
        session.execute(update(table).where(table.c.id.in_([ids["plain"], ids["paid"],
                                                            ids["rating_b"]]))
                        .values(owner_id=7))
        recompute_segment(session, "upsell", clock=clock, schema=schema)
    segment = load_segment(segment_doc())
    manager = Actor(7, "am", frozenset({"account_manager"}))
    analyst = Actor(8, "an", frozenset({"analyst"}))
    with sessions() as session:
        own = MemberListService(session, schema, manager, cipher, segment, clock)
        page = own.list_page("customer", order_by=["name"])
        assert [r["name"] for r in page.items] == ["paid", "plain"]  # own members only
        assert page.items[1]["id_number"] == "110105********002X"
        wide = MemberListService(session, schema, analyst, cipher, segment, clock)
        page = wide.list_page("customer", where={"field": "name", "op": "starts_with",
                                                 "value": "p"}, order_by=["name"])
        assert [r["name"] for r in page.items] == ["paid", "plain"]
        assert "balance" not in page.items[0]
        # the lists of other forms stay whole
        system = MemberListService(session, schema, Actor.system(), cipher, segment, clock)
        assert len(system.list_page("installment").items) == 4
        assert len(system.list_page("customer").items) == 5
