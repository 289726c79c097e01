"""Tasks on SQLite and PostgreSQL: idempotent creation by cause key (also from many threads at
once on PostgreSQL), assignee rules in Python and in SQL giving the same answer, set-based bulk
creation over thousands of records, the inbox (overdue first, keyset pages), status changes,
comments, reassignment history and who may see and change a task."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker

from lendbase import db
from lendbase.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lendbase.records.permissions import Actor
from lendbase.work import (
    DbOrg,
    DepartmentHead,
    FirstOf,
    FixedUser,
    RecordUser,
    RoundRobin,
    StaticOrg,
    TaskKind,
    TaskService,
    TaskSpec,
    TaskStatus,
    TaskView,
    cause_key_for,
    parse_assignee,
)
from tests.work_fixtures import NOW, add_clients, clock, counting_statements, make_org, make_schema


@pytest.fixture
def world(engine, session):
    schema = make_schema(engine)
    org = make_org(session)
    clients = add_clients(session, schema, 4, owner=org.ids["am1"], manager=org.ids["am2"])
    session.flush()
    return schema, org, clients


def tasks(session, schema, actor: Actor) -> TaskService:
    return TaskService(session, actor, clock, schema=schema)


def test_create_is_idempotent_by_cause_key(session, world) -> None:
    schema, org, (rid, *_) = world
    system = tasks(session, schema, Actor.system())
    spec = TaskSpec("跟进提额意向", kind=TaskKind.FOLLOW_UP, due_at=NOW + timedelta(days=3),
                    assignee=RecordUser("account_manager"), payload={"script": "upsell_v1"})
    key = f"rule:upsell_followup:client:{rid}:2026-11"
    first, created = system.create(spec, form_key="client", record_id=rid, cause_key=key,
                                   rule="upsell_followup")
    again, created_again = system.create(spec, form_key="client", record_id=rid,
                                         cause_key=key, rule="upsell_followup")
    assert created and not created_again and again.id == first.id
    assert first.assignee_id == org.ids["am2"] and first.payload == {"script": "upsell_v1"}
    assert first.created_by_rule == "upsell_followup" and first.status is TaskStatus.OPEN
    assert session.execute(select(func.count()).select_from(db.task)).scalar_one() == 1
    other, created = system.create(spec, form_key="client", record_id=rid)  # no cause: new
    assert created and other.id != first.id
    with pytest.raises(ValidationFailed) as info:
        system.create(TaskSpec("", kind="nap", priority="max"), cause_key="x" * 201)
    assert set(info.value.fields) == {"title", "kind", "priority", "cause_key"}


@pytest.mark.postgres
def test_concurrent_creation_makes_one_task(pg_engine) -> None:
    Session = sessionmaker(pg_engine)
    with Session.begin() as session:
        schema = make_schema(pg_engine)
        org = make_org(session)
        (rid,) = add_clients(session, schema, 1, owner=org.ids["am1"])
    barrier = threading.Barrier(8)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with Session.begin() as session:
                svc = TaskService(session, Actor.system(), clock, schema=schema)
                barrier.wait(timeout=10)
                task, created = svc.create(TaskSpec("催收电话", kind=TaskKind.PHONE_COLLECTION,
                                                    assignee=RoundRobin("collector")),
                                           form_key="client", record_id=rid,
                                           cause_key=f"rule:dpd7:client:{rid}:2026-11-28")
                results.append((task.id, created))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert len(results) == 8
    assert len({task_id for task_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with Session() as session:
        assert session.execute(select(func.count()).select_from(db.task)).scalar_one() == 1


def test_assignee_rules_in_python(session, world) -> None:
    _schema, org, _ = world
    ids = org.ids
    live = DbOrg(session)
    record = {"owner_id": ids["am1"], "account_manager": ids["am2"]}
    no_turn = lambda role: 0  # noqa: E731
    assert FixedUser(ids["viewer"]).resolve(record, live, no_turn) == ids["viewer"]
    assert FixedUser(ids["c3"]).resolve(record, live, no_turn) is None  # deactivated
    assert RecordUser().resolve(record, live, no_turn) == ids["am1"]
    assert RecordUser("account_manager").resolve(record, live, no_turn) == ids["am2"]
    assert RecordUser("account_manager").resolve({}, live, no_turn) is None
    assert DepartmentHead("account_manager").resolve(record, live, no_turn) == ids["head"]
    # the head's own escalation goes to the parent department's head
    assert DepartmentHead().resolve({"owner_id": ids["head"]}, live, no_turn) == ids["boss"]
    assert DepartmentHead().resolve({"owner_id": ids["c1"]}, live, no_turn) is None
    turns = iter(range(10))
    rr = RoundRobin("collector")
    picks = [rr.resolve(record, live, lambda role: next(turns)) for _ in range(4)]
    assert picks == [ids["c1"], ids["c2"], ids["c1"], ids["c2"]]  # c3 is inactive
    chain = FirstOf((RecordUser("account_manager"), rr))
    assert chain.resolve({}, live, lambda role: 1) == ids["c2"]
    static = StaticOrg(active=frozenset({1, 2, 3}), departments={2: 10}, heads={10: 3},
                       roles={"x": (2, 1)})
    assert DepartmentHead().resolve({"owner_id": 2}, static, no_turn) == 3
    assert RoundRobin("x").resolve({}, static, lambda role: 3) == 2
    assert parse_assignee([{"rule": "field", "field": "account_manager"},
                           {"rule": "round_robin", "role": "collector"}]) == FirstOf(
        (RecordUser("account_manager"), RoundRobin("collector")))
    assert parse_assignee({"rule": "department_head"}) == DepartmentHead("owner_id")
    assert parse_assignee({"rule": "user", "user_id": 7}) == FixedUser(7)
    with pytest.raises(ValidationFailed):
        parse_assignee({"rule": "astrology"})


@pytest.mark.parametrize("rule", [
    RecordUser("account_manager"), DepartmentHead("owner_id"), RoundRobin("collector"),
    FirstOf((RecordUser("account_manager"), DepartmentHead("account_manager"))),
    FixedUser(1)])
def test_bulk_assignee_sql_agrees_with_python(session, world, rule) -> None:
    schema, org, _ = world
    ids = org.ids
    table = schema["client"].table
    owners = [ids["am1"], ids["head"], ids["c1"], ids["am2"]]
    managers = [ids["am2"], None, ids["c3"], ids["boss"]]
    created = []
    for i, (owner, manager) in enumerate(zip(owners, managers, strict=True)):
        created += add_clients(session, schema, 1, owner=owner, manager=manager, start=50 + i)
    system = tasks(session, schema, Actor.system())
    start = session.execute(select(db.sequence.c.value).where(
        db.sequence.c.name == "task.round_robin:collector")).scalar() or 0
    count = system.bulk_create(TaskSpec("复核", assignee=rule), schema["client"],
                               select(table.c.id).where(table.c.id.in_(created)),
                               "test:{id}")
    assert count == 4
    got = dict(session.execute(select(db.task.c.record_id, db.task.c.assignee_id)).all())
    live = DbOrg(session)
    turn = iter(range(start, start + 10))
    for record_id in sorted(created):
        row = session.execute(select(table).where(table.c.id == record_id)).mappings().one()
        expected = rule.resolve(dict(row), live, lambda role: next(turn))
        assert got[record_id] == expected, (record_id, rule)


def test_bulk_create_is_set_based_and_idempotent(engine, session, world) -> None:
    schema, org, _ = world
    table = schema["client"].table
    add_clients(session, schema, 5000, owner=org.ids["am1"], manager=org.ids["am2"], start=100)
    session.flush()
    members = select(table.c.id).where(table.c.balance >= 400_000)
    expected = session.execute(select(func.count()).select_from(members.subquery())).scalar_one()
    system = tasks(session, schema, Actor.system())
    spec = TaskSpec("提额跟进", assignee=FirstOf((RecordUser("account_manager"),
                                                  RoundRobin("collector"))),
                    due_at=NOW + timedelta(days=7), payload={"segment": "upsell_pool"})
    pattern = "rule:upsell_followup:client:{id}:2026-11"
    with counting_statements(engine) as statements:
        created = system.bulk_create(spec, schema["client"], members, pattern,
                                     rule="upsell_followup")
    assert created == expected
    # count, reserve the round-robin turns (first time: a savepoint and an insert), the
    # collectors, the INSERT ... SELECT: a handful, whatever the number of records
    assert len(statements) <= 8, statements
    some = session.execute(members.limit(1)).scalar_one()
    task = session.execute(select(db.task).where(
        db.task.c.cause_key == cause_key_for(pattern, some))).one()
    assert task.assignee_id == org.ids["am2"] and task.record_id == some
    assert task.payload == {"segment": "upsell_pool"} and task.created_by_rule == "upsell_followup"
    with counting_statements(engine) as statements:
        assert system.bulk_create(spec, schema["client"], members, pattern) == 0
    assert len(statements) <= 4
    # a single create for the same cause finds the bulk-made task
    again, made = system.create(spec, form_key="client", record_id=some,
                                cause_key=cause_key_for(pattern, some))
    assert not made and again.id == task.id
    with pytest.raises(ValidationFailed):
        system.bulk_create(spec, schema["client"], members, "no placeholder")
    with pytest.raises(PermissionDenied):
        tasks(session, schema, org.actors["am1"]).bulk_create(spec, schema["client"],
                                                             members, pattern)


def test_inbox_puts_overdue_first_with_keyset_pages(session, world) -> None:
    schema, org, (rid, *_) = world
    system = tasks(session, schema, Actor.system())
    me = org.ids["am1"]
    offsets = [5, -3, None, 1, -10, 2, None, -1, 30]
    for i, days in enumerate(offsets):
        system.create(TaskSpec(f"任务{i}", assignee_id=me,
                               due_at=None if days is None else NOW + timedelta(days=days)),
                      form_key="client", record_id=rid)
    done, _ = system.create(TaskSpec("已完成", assignee_id=me, due_at=NOW - timedelta(days=99)))
    system.create(TaskSpec("别人的", assignee_id=org.ids["am2"], due_at=NOW - timedelta(days=50)))
    mine = tasks(session, schema, org.actors["am1"])
    mine.set_status(done.id, TaskStatus.DONE)
    seen, cursor = [], None
    while True:
        page = mine.my_tasks(after=cursor, limit=2)
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    expected_days = [-10, -3, -1, 1, 2, 5, 30, None, None]
    got = [None if t.due_at is None else (t.due_at - NOW).days for t in seen]
    assert got == expected_days
    assert [t.is_overdue(NOW) for t in seen[:4]] == [True, True, True, False]
    assert mine.overdue_count(me) == 3
    closed = mine.my_tasks(view=TaskView.DONE)
    assert [t.id for t in closed.items] == [done.id]
    with pytest.raises(PermissionDenied):
        mine.my_tasks(org.ids["am2"])
    with pytest.raises(ValidationFailed):
        mine.my_tasks(after="garbage!")
    assert tasks(session, schema, org.actors["admin"]).my_tasks(me).items[0].id == seen[0].id


def test_changes_comments_reassignment_and_rights(session, world) -> None:
    schema, org, (rid, *_) = world
    system = tasks(session, schema, Actor.system())
    task, _ = system.create(TaskSpec("电话回访", assignee_id=org.ids["am1"]),
                            form_key="client", record_id=rid)
    am1 = tasks(session, schema, org.actors["am1"])
    viewer = tasks(session, schema, org.actors["viewer"])
    outsider = tasks(session, schema, org.actors["outsider"])
    am2 = tasks(session, schema, org.actors["am2"])  # scope "own": cannot read am1's client
    with pytest.raises(NotFound):
        outsider.get(task.id)
    with pytest.raises(NotFound):
        am2.get(task.id)
    assert viewer.get(task.id).id == task.id  # may read the record, so sees its tasks
    with pytest.raises(PermissionDenied):
        viewer.set_status(task.id, TaskStatus.DONE)
    viewer.comment(task.id, "客户下午有空")
    started = am1.update(task.id, {"status": "in_progress", "priority": "high",
                                   "due_at": NOW + timedelta(hours=4)}, expected_version=1)
    assert started.status is TaskStatus.IN_PROGRESS and started.priority == "high"
    with pytest.raises(Conflict):
        am1.set_status(task.id, TaskStatus.DONE, expected_version=1)
    with pytest.raises(ValidationFailed):
        am1.update(task.id, {"assignee_id": 3})
    moved = am1.reassign(task.id, org.ids["c1"], reason="转催收")
    assert moved.assignee_id == org.ids["c1"]
    with pytest.raises(ValidationFailed):
        am1.reassign(task.id, org.ids["c3"])  # deactivated
    # am1 is no longer assignee nor creator: cannot change it, but still reads it (record)
    with pytest.raises(PermissionDenied):
        am1.set_status(task.id, TaskStatus.DONE)
    c1 = tasks(session, schema, org.actors["c1"])
    finished = c1.set_status(task.id, TaskStatus.DONE)
    assert finished.completed_at == NOW and not finished.is_open
    with pytest.raises(ValidationFailed):
        c1.set_status(task.id, TaskStatus.IN_PROGRESS)  # a done task is reopened first
    assert c1.set_status(task.id, TaskStatus.OPEN).completed_at is None
    assert [c.body for c in c1.comments(task.id)] == ["客户下午有空"]
    events = [(e.kind, e.detail) for e in c1.events(task.id)]
    assert ("reassigned", {"from": org.ids["am1"], "to": org.ids["c1"], "reason": "转催收"}) \
        in events
    assert [e[0] for e in events] == ["updated", "status", "reassigned", "status", "status"]
    assert [t.id for t in viewer.for_record("client", rid)] == [task.id]
    with pytest.raises(NotFound):
        outsider.for_record("client", rid)
    # a task without a record: only the people involved see it
    private, _ = am1.create(TaskSpec("整理材料", assignee_id=org.ids["am1"]))
    with pytest.raises(NotFound):
        viewer.get(private.id)
    session.execute(update(db.task).values(due_at=None))
