"""The rule engine: rules triggered by record changes through ``RecordService`` and the
in-process job runtime act once per cause even when an event is delivered twice; field and
stage triggers fire only on their change; a scheduled rule over 20,000 loans is a bounded
number of statements; external events; a rule that no longer fits logs its error and changes
nothing; the run log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select, text

from lendbase import db
from lendbase.events import Event, EventType, emit
from lendbase.events.delivery import deliver
from lendbase.jobs import JobRuntime, get_schedule
from lendbase.rules import list_runs, run_rule
from lendbase.rules.engine import HANDLER, SUBSCRIBED
from lendbase.rules.runs import RunStatus
from tests.test_rule_actions import T0, World, make_world
from tests.work_fixtures import counting_statements


@pytest.fixture
def world(engine: Engine) -> World:
    return make_world(engine)


@pytest.fixture
def jobs(world: World) -> JobRuntime:
    runtime = JobRuntime(world.sessions, clock=world.clock)
    runtime.subscribers.subscribe_many(SUBSCRIBED, HANDLER)
    return runtime


def rule(key: str, trigger: dict[str, Any], actions: list[dict[str, Any]], **extra: Any
         ) -> dict[str, Any]:
    return {"key": key, "label": {"zh": key, "en": key}, "form": "loan", "trigger": trigger,
            "actions": actions, **extra}


def count(world: World, table: Any, *where: Any) -> int:
    with world.sessions() as session:
        return int(session.execute(select(func.count()).select_from(table).where(*where))
                   .scalar_one())


def create_loan(world: World, **values: Any) -> int:
    with world.sessions.begin() as session:
        return int(world.records(session).create("loan", {"name": "贷款", **values})["id"])


def update_loan(world: World, loan_id: int, **values: Any) -> None:
    with world.sessions.begin() as session:
        world.records(session).update("loan", loan_id, values)


ACTIONS = [
    {"type": "add_tag", "tag": "overdue_flag"},
    {"type": "create_task", "title": "逾期催收", "kind": "phone_collection", "due_in_days": 1,
     "assignee": {"rule": "field", "field": "manager"}},
    {"type": "raise_alert", "title": "新逾期", "severity": "high"},
]


def test_an_update_runs_the_rule_in_sql_and_acts_once_per_cause_even_when_redelivered(
        world: World, jobs: JobRuntime) -> None:
    # overdue and no payment at all (a related-record aggregate, evaluated in SQL)
    world.publish_rule(rule("overdue_unpaid", {"type": "record_updated"}, ACTIONS, condition={
        "and": [{"field": "status", "op": "=", "value": "overdue"},
                {"count": {"form": "payment", "link": "loan"}, "op": "=", "value": 0}]}))
    unpaid = create_loan(world, name="张三", status="current", manager=world.users["am1"])
    paid = create_loan(world, name="李四", status="current", manager=world.users["am1"])
    with world.sessions.begin() as session:
        world.records(session).create("payment", {"loan": paid, "amount": "100",
                                                   "paid_on": "2026-11-20"})
    jobs.run_until_idle()  # the creations trigger nothing (the rule watches updates)
    assert count(world, db.rule_run) == 0
    update_loan(world, unpaid, status="overdue")
    update_loan(world, paid, status="overdue")
    jobs.run_until_idle()
    assert count(world, db.task) == 1 and count(world, db.alert) == 1
    assert count(world, db.record_tag) == 1
    with world.sessions() as session:
        task = session.execute(select(db.task)).one()
        assert (task.record_id, task.assignee_id, task.cause_key, task.created_by_rule) == (
            unpaid, world.users["am1"], f"rule:overdue_unpaid:{unpaid}:1", "rule:overdue_unpaid")
        runs, _ = list_runs(session, "overdue_unpaid")
        assert [(r.record_id, r.matched, r.trigger) for r in runs] == [
            (paid, 0, "record.updated"), (unpaid, 1, "record.updated")]
        assert [a["affected"] for a in runs[1].actions] == [1, 1, 1]
        assert runs[1].actions[1]["sample"] == [unpaid] and runs[1].rule_version == 1
        event_id = runs[1].event_id
    # the same event delivered again (its "handled" mark lost): nothing new is created
    with world.sessions.begin() as session:
        session.execute(delete(db.event_handled))
    report = deliver(world.sessions, event_id, [HANDLER], world.clock)
    assert report.ran == [HANDLER] and not report.failures
    assert count(world, db.task) == 1 and count(world, db.alert) == 1
    assert count(world, db.record_tag) == 1
    # another change of the same record: the rule runs again, the cause is the same
    update_loan(world, unpaid, note="客户承诺月底还款")
    jobs.run_until_idle()
    assert count(world, db.task) == 1 and count(world, db.alert) == 1
    with world.sessions() as session:
        runs, _ = list_runs(session, "overdue_unpaid")
    assert len(runs) == 4 and [a["affected"] for a in runs[0].actions] == [0, 0, 0]


def test_field_and_stage_triggers_fire_only_on_their_change(
        world: World, jobs: JobRuntime) -> None:
    world.publish_rule(rule("status_watch", {"type": "field_changed", "fields": ["status"]},
                            [{"type": "raise_alert", "title": "状态变化"}], once="every_time"))
    world.publish_rule(rule("to_repaying", {"type": "stage_changed", "field": "stage",
                                            "from": ["approved"], "to": ["repaying"]},
                            [{"type": "create_task", "title": "放款后回访"}]))
    loan = create_loan(world, status="current", stage="lead")
    update_loan(world, loan, note="备注", amount="5000")
    update_loan(world, loan, stage="approved")
    jobs.run_until_idle()
    assert count(world, db.alert) == 0 and count(world, db.task) == 0
    assert count(world, db.rule_run) == 0  # no trigger matched: no run at all
    update_loan(world, loan, status="overdue")
    update_loan(world, loan, stage="repaying")
    jobs.run_until_idle()
    assert count(world, db.alert) == 1 and count(world, db.task) == 1
    update_loan(world, loan, status="current")  # every time: a second alert
    update_loan(world, loan, stage="approved")  # repaying -> approved: not this rule's move
    jobs.run_until_idle()
    assert count(world, db.alert) == 2 and count(world, db.task) == 1


def test_a_field_trigger_with_on_create_also_fires_for_new_records_that_fill_it(
        world: World, jobs: JobRuntime) -> None:
    world.publish_rule(rule("rating_watch", {"type": "field_changed", "fields": ["rating"],
                                             "on_create": True},
                            [{"type": "raise_alert", "title": "评级"}], once="every_time"))
    create_loan(world, status="current")  # rating left empty: not "filled in"
    jobs.run_until_idle()
    assert count(world, db.alert) == 0
    loan = create_loan(world, status="current", rating="A")
    jobs.run_until_idle()
    assert count(world, db.alert) == 1
    update_loan(world, loan, note="x")
    update_loan(world, loan, rating="B")
    jobs.run_until_idle()
    assert count(world, db.alert) == 2


def test_a_scheduled_rule_over_20000_loans_is_set_based(world: World, jobs: JobRuntime) -> None:
    world.add_loans(20_000)
    world.publish_rule(rule(
        "big_loans", {"type": "schedule", "cron": "0 9 * * *", "timezone": "Asia/Shanghai"},
        [*ACTIONS, {"type": "set_field", "field": "watched", "value": True}],
        condition={"field": "amount", "op": ">=", "value": 10_000_000}, once="month"))
    with world.sessions() as session:
        schedule = get_schedule(session, "rule:big_loans")
    assert schedule.next_run_at == T0 + timedelta(days=1)  # 09:00 Shanghai tomorrow
    assert schedule.job == "lendbase.rules.engine.run_rule_job" and schedule.enabled
    world.clock.advance(days=1, minutes=1)
    assert jobs.tick().scheduled == 1  # the schedule came due: one job run
    with counting_statements(world.engine) as seen:
        assert jobs.run_queued() == 1  # the job: claim, the rule's run, success
    matching = 20_000 - 10_000 + 1
    assert count(world, db.task) == matching and count(world, db.alert) == matching
    assert count(world, db.record_tag) == matching
    assert count(world, db.audit) == matching
    print(f"\nscheduled run over 20,000 loans ({matching} matching, 4 actions): "
          f"{len(seen)} statements, job bookkeeping included")
    assert len(seen) < 40, seen
    with world.sessions() as session:
        (last,), _ = list_runs(session, "big_loans", limit=1)
    assert (last.trigger, last.matched, last.status) == ("schedule", matching,
                                                         RunStatus.SUCCEEDED)
    assert last.cause == "rule:big_loans:2026-11"
    assert [a["affected"] for a in last.actions] == [matching] * 4
    # the next day, same month: nothing new. (PostgreSQL plans the anti-joins with table
    # statistics; autovacuum gathers them after a bulk write, here ANALYZE does it at once.)
    if world.engine.dialect.name == "postgresql":
        with world.engine.begin() as conn:
            conn.execute(text("ANALYZE f_loan, lb_record_tag, lb_tag_history, lb_task, lb_alert"))
    world.clock.advance(days=1)
    jobs.run_until_idle()
    assert count(world, db.task) == matching
    with world.sessions() as session:
        runs, _ = list_runs(session, "big_loans")
    assert len(runs) == 2 and [a["affected"] for a in runs[0].actions] == [0, 0, 0, 0]


def test_publishing_keeps_the_schedule_in_step_and_external_events_run_rules(
        world: World, jobs: JobRuntime) -> None:
    doc = rule("nightly", {"type": "schedule", "cron": "30 2 * * *"},
               [{"type": "add_tag", "tag": "vip"}])
    world.publish_rule(doc)
    world.publish_rule({**doc, "enabled": False})
    with world.sessions() as session:
        assert not get_schedule(session, "rule:nightly").enabled
    world.publish_rule({**doc, "trigger": {"type": "external", "event": "bureau.report_ready"}})
    with world.sessions() as session:
        assert session.execute(select(db.schedule)).first() is None
    first, second = create_loan(world), create_loan(world)
    with world.sessions.begin() as session:
        emit(session, Event(EventType.EXTERNAL, name="bureau.report_ready", form="loan",
                            record_id=second, occurred_at=world.clock()))
        emit(session, Event(EventType.EXTERNAL, name="other.event", form="loan",
                            record_id=first, occurred_at=world.clock()))
    jobs.run_until_idle()
    with world.sessions() as session:
        tagged = session.execute(select(db.record_tag.c.record_id)).scalars().all()
        runs, _ = list_runs(session, "nightly")
    assert tagged == [second]
    assert [(r.trigger, r.record_id) for r in runs] == [("external:bureau.report_ready",
                                                         second)]
    # an external event naming no record runs the rule for every matching record
    with world.sessions.begin() as session:
        emit(session, Event(EventType.EXTERNAL, name="bureau.report_ready",
                            occurred_at=world.clock()))
    jobs.run_until_idle()
    assert count(world, db.record_tag) == 2


def test_a_rule_that_no_longer_fits_logs_its_error_and_changes_nothing(world: World) -> None:
    world.add_loans(3)
    world.publish_rule(rule("flagger", {"type": "schedule", "cron": "0 1 * * *"}, [
        {"type": "create_task", "title": "复核"}, {"type": "add_tag", "tag": "vip"}]))
    with world.sessions.begin() as session:  # the tag goes away behind the rule's back
        session.execute(delete(db.tag).where(db.tag.c.key == "vip"))
    with world.sessions.begin() as session:
        failed = run_rule(session, "flagger")
    assert failed.status is RunStatus.FAILED and "no tag 'vip'" in (failed.error or "")
    assert "/actions/1/tag" in (failed.error or "")
    assert count(world, db.task) == 0  # the task action was rolled back with the rule
    with world.sessions() as session:
        runs, _ = list_runs(session, "flagger")
    assert [(r.status, r.trigger) for r in runs] == [(RunStatus.FAILED, "manual")]


def test_run_rule_is_one_set_based_select_for_the_manual_run(world: World) -> None:
    world.add_loans(50)
    world.publish_rule(rule("manual", {"type": "schedule", "cron": "0 1 * * *"},
                            [{"type": "raise_alert", "title": "大额"}],
                            condition={"field": "amount", "op": ">", "value": 40_000},
                            once="every_time"))
    with world.sessions.begin() as session:
        first = run_rule(session, "manual", at=datetime(2026, 11, 1, tzinfo=UTC),
                         run_token="r1")
        second = run_rule(session, "manual", run_token="r2")
    assert first.matched == second.matched == 10
    assert first.cause == "rule:manual:r1" and first.actions[0]["affected"] == 10
    assert second.actions[0]["affected"] == 10  # every time: a new cause per run
    assert count(world, db.alert) == 20
