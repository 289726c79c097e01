"""The transactional outbox on SQLite and PostgreSQL: a record change writes its event in the
same transaction (one INSERT), dispatch happens after commit and never after a rollback, a
Redis outage loses nothing, and a worker killed mid-stream leaves every event processed exactly
once (the issue's done-when)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import sessionmaker

from lendbase import db
from lendbase.auth.users import create_user, ensure_role, load_actor
from lendbase.events import (
    Backlog,
    Event,
    EventType,
    OutboxStatus,
    backlog,
    claim_pending,
    emit,
    load_event,
)
from lendbase.forms.compile import compile_schema
from lendbase.forms.model import check_form
from lendbase.jobs import JobRuntime, JobStatus
from lendbase.jobs.runs import PushItem
from lendbase.records.service import RecordService
from lendbase.security import FieldCipher, generate_key_string
from tests.outbox_support import (
    DEAD_REDIS_URL,
    REDIS_URL,
    WorkerProcess,
    count,
    database_url,
    effect,
    effects,
    effects_metadata,
    rq_queue,
    wait_for,
)
from tests.sample_forms import person_form

CIPHER = FieldCipher.from_key_string(generate_key_string())
VALID_ID = "11010519491231002X"
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
HANDLER = "tests.outbox_support.record_effect"
#: The event whose handler blocks (the first time) until its worker is killed.
BLOCKED = 25


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker:
    effects_metadata.create_all(engine)
    return sessionmaker(engine, expire_on_commit=False)


def outbox_rows(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(db.outbox).order_by(db.outbox.c.id))
                .mappings()]


def runs_by_status(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(db.job_run.c.status, func.count())
                            .group_by(db.job_run.c.status)).all()
    return {status: n for status, n in rows}


# --- (a) one event per change, in the caller's transaction ---------------------------------------


def test_record_changes_write_one_outbox_row_each_in_the_same_transaction(
        engine: Engine, sessions: sessionmaker) -> None:
    schema = compile_schema([(check_form(person_form()), (), "p", 1)])
    schema.metadata.create_all(engine)
    with sessions.begin() as session:
        ensure_role(session, "admin", superuser=True)
        admin = load_actor(session, create_user(session, "admin", "admin-pass-1", ["admin"]))
    runtime = JobRuntime(sessions, clock=lambda: NOW)
    runtime.subscribers.subscribe(EventType.RECORD_UPDATED, HANDLER)
    committed: list[tuple[list, list]] = []
    runtime.after_commit = lambda emitted, enqueued: committed.append(  # type: ignore[method-assign]
        (list(emitted), list(enqueued)))
    runtime.install()
    outbox_inserts: list[str] = []

    def count_outbox_inserts(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO LB_OUTBOX"):
            outbox_inserts.append(statement)

    event.listen(engine, "before_cursor_execute", count_outbox_inserts)
    try:
        with sessions.begin() as session:
            service = RecordService(session, schema, admin, CIPHER, clock=lambda: NOW)
            person = service.create("person", {
                "name": "张三", "kind": "individual", "id_number": VALID_ID,
                "income": "8000.50", "contacts": [{"name": "李四", "phone": "13812345678"}]})
            assert committed == []  # nothing is dispatched before the commit
        assert len(outbox_inserts) == 1  # one INSERT for the change, nothing else
        ((created,),) = [c[0] for c in committed]
        with sessions.begin() as session:
            service = RecordService(session, schema, admin, CIPHER, clock=lambda: NOW)
            service.update("person", person["id"], {"income": "9000", "name": "张三丰"})
            service.update("person", person["id"], {"income": "9000"})  # no change, no event
        with sessions.begin() as session:
            RecordService(session, schema, admin, CIPHER, clock=lambda: NOW) \
                .delete("person", person["id"])
        with sessions() as session:  # rolled back: no row, nothing dispatched
            service = RecordService(session, schema, admin, CIPHER, clock=lambda: NOW)
            service.create("person", {"name": "王五", "kind": "enterprise"})
            session.rollback()
            session.commit()  # an empty commit after the rollback dispatches nothing either
    finally:
        event.remove(engine, "before_cursor_execute", count_outbox_inserts)
    rows = outbox_rows(engine)
    assert [(r["type"], r["record_id"]) for r in rows] == [
        ("record.created", person["id"]), ("record.updated", person["id"]),
        ("record.deleted", person["id"])]
    assert len(outbox_inserts) == 4  # three committed, one rolled back with its record
    assert [len(c[0]) for c in committed] == [1, 1, 1]
    assert created == (rows[0]["id"], "record.created")
    create_data, update_data, delete_data = (r["data"] for r in rows)
    assert {"name", "kind", "id_number", "income", "contacts"} <= set(create_data["changed"])
    assert create_data["after"]["id_number"] != VALID_ID  # masked, as the audit trail keeps it
    assert create_data["after"]["income"] == "8000.50"
    assert "contacts" not in create_data["after"]  # sub-table rows are not copied
    assert "before" not in create_data
    assert sorted(update_data["changed"]) == ["income", "name"]
    assert update_data["before"] == {"name": "张三", "income": "8000.50"}
    assert update_data["after"] == {"name": "张三丰", "income": "9000.00"}
    assert "changed" not in delete_data and delete_data["before"]["name"] == "张三丰"
    assert {r["actor_id"] for r in rows} == {admin.user_id}
    assert all(r["status"] == OutboxStatus.PENDING.value for r in rows)
    assert count(engine, db.job_run) == 0
    # the "field changed" trigger filters on the event itself, without reloading the record
    with sessions() as session:
        updated = load_event(session, rows[1]["id"])
    assert updated is not None and updated.touched("income") and not updated.touched("kind")
    assert updated.before["income"] == "8000.50" and updated.after["income"] == "9000.00"


def test_dispatch_after_commit_claims_each_event_once_and_never_a_rolled_back_one(
        engine: Engine, sessions: sessionmaker) -> None:
    runtime = JobRuntime(sessions, clock=lambda: NOW)
    runtime.subscribers.subscribe(EventType.RECORD_CREATED, HANDLER)
    runtime.install()
    woken: list[int] = []
    runtime.set_notify(lambda: woken.append(1))
    with sessions.begin() as session:
        first = emit(session, Event(EventType.RECORD_CREATED, form="loan", record_id=1))
        emit(session, Event(EventType.RECORD_UPDATED, form="loan", record_id=1))  # no handler
    assert first.id is not None and woken == [1]  # in-process: the runner is woken up
    with sessions() as session:
        emit(session, Event(EventType.RECORD_CREATED, form="loan", record_id=2))
        session.rollback()
    assert woken == [1]
    with sessions() as session:
        assert backlog(session).pending == 2
    claimed, items = runtime.dispatch(ids=[first.id])
    assert claimed == 1 and len(items) == 1
    assert runtime.dispatch(ids=[first.id]) == (0, [])  # a double dispatch claims nothing
    report = runtime.sweep()  # the unsubscribed event is marked dispatched without a run
    assert (report.dispatched, report.created) == (1, 0)
    with sessions() as session:
        assert backlog(session) == Backlog(0, None)
    assert runs_by_status(engine) == {"queued": 1}
    runtime.run_until_idle()
    assert effects(engine) == [first.id]
    assert runs_by_status(engine) == {"succeeded": 1}


@pytest.mark.postgres
def test_concurrent_dispatchers_claim_every_pending_row_exactly_once(pg_engine: Engine) -> None:
    sessions = sessionmaker(pg_engine, expire_on_commit=False)
    with sessions.begin() as session:
        session.execute(db.outbox.insert(), [
            {**Event(EventType.RECORD_CREATED, form="loan", record_id=i,
                     occurred_at=NOW).to_row(), "status": "pending"} for i in range(1200)])
    claimed: list[list[int]] = [[], [], []]
    barrier = threading.Barrier(3)

    def dispatcher(index: int) -> None:
        barrier.wait()
        while True:
            with sessions.begin() as session:
                got = claim_pending(session, NOW, older_than=NOW + timedelta(1), limit=100)
            if not got:
                return
            claimed[index] += [e.id for e in got]

    threads = [threading.Thread(target=dispatcher, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = claimed[0] + claimed[1] + claimed[2]
    assert len(everything) == 1200 and len(set(everything)) == 1200
    assert sum(1 for c in claimed if c) >= 2  # SKIP LOCKED let them work side by side


def test_the_migration_creates_the_tables_as_declared(tmp_path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from lendbase.migrate import upgrade_database

    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade_database(engine)
    mine = {"lb_outbox", "lb_event_handled", "lb_job_run", "lb_schedule"}
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "include_object": lambda obj, name, type_, *_: name in mine if type_ == "table"
            else getattr(getattr(obj, "table", None), "name", None) in mine})
        assert compare_metadata(context, db.platform_metadata) == []
        indexes = {r[0] for r in conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name LIKE 'ix_lb_outbox%' "
            "OR name LIKE 'ix_lb_job_run%'")}
    assert "CREATE INDEX ix_lb_outbox_pending ON lb_outbox (id) WHERE status = 'pending'" \
        in indexes
    engine.dispose()


# --- (b) Redis down at dispatch: nothing lost -----------------------------------------------------


def _emit_batch(sessions: sessionmaker, n: int, **payload: object) -> list[int]:
    with sessions.begin() as session:
        return [emit(session, Event(EventType.RECORD_CREATED, form="loan", record_id=i,
                                    payload=payload, occurred_at=NOW)).id  # type: ignore[misc]
                for i in range(n)]


@pytest.mark.redis
def test_redis_down_at_dispatch_loses_nothing_and_a_real_worker_runs_each_once(
        engine: Engine, sessions: sessionmaker, tmp_path) -> None:
    queue_name = f"t-{uuid.uuid4().hex[:10]}"
    down = JobRuntime(sessions, redis_url=DEAD_REDIS_URL, queue_name=queue_name,
                      clock=lambda: NOW)
    down.subscribers.subscribe(EventType.RECORD_CREATED, HANDLER)
    down.install()
    ids = _emit_batch(sessions, 6) + _emit_batch(sessions, 4)
    with sessions() as session:  # an event whose transaction rolls back never exists
        emit(session, Event(EventType.RECORD_CREATED, form="loan", record_id=99))
        session.rollback()
    down.sweep()  # the sweeper cannot push either
    down.uninstall()
    with engine.connect() as conn:
        runs = conn.execute(select(db.job_run.c.status, db.job_run.c.pushed_at,
                                   db.job_run.c.outbox_id)).all()
    assert sorted(r.outbox_id for r in runs) == ids  # every event has its run...
    assert {(r.status, r.pushed_at) for r in runs} == {("queued", None)}  # ...waiting for Redis
    assert count(engine, db.outbox) == 10 and effects(engine) == []

    with rq_queue(queue_name) as queue:
        later = NOW + timedelta(seconds=10)
        up = JobRuntime(sessions, redis_url=REDIS_URL, queue_name=queue_name,
                        subscribers=down.subscribers, clock=lambda: later)
        report = up.sweep()
        assert report.pushed == 10 and queue.count == 10
        assert up.sweep().pushed == 0  # pushed now: not pushed again
        again = [PushItem(i, 0, 300) for i in range(1, 11)]
        assert up.push(again) == 0 and queue.count == 10  # a double push queues nothing
        worker = WorkerProcess(database_url(engine), queue_name, tmp_path, burst=True)
        assert worker.wait(60) == 0, worker.output()
        assert "Traceback" not in worker.output(), worker.output()
    assert sorted(effects(engine)) == ids  # each event's handler ran exactly once
    assert runs_by_status(engine) == {"succeeded": 10}
    assert count(engine, db.event_handled) == 10


# --- (c) the done-when: SIGKILL the worker mid-stream ---------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
def test_killing_the_worker_mid_stream_leaves_every_event_processed_exactly_once(
        pg_engine: Engine, tmp_path) -> None:
    effects_metadata.create_all(pg_engine)
    sessions = sessionmaker(pg_engine, expire_on_commit=False)
    queue_name = f"t-{uuid.uuid4().hex[:10]}"
    marker = tmp_path / "blocked"
    workers: list[WorkerProcess] = []
    with rq_queue(queue_name) as queue:
        runtime = JobRuntime(sessions, redis_url=REDIS_URL, queue_name=queue_name,
                             event_timeout=3)
        runtime.subscribers.subscribe(EventType.RECORD_CREATED, HANDLER)
        runtime.install()
        ids: list[int] = []
        for batch in range(4):  # 200 events in four commits, pushed after each commit
            with sessions.begin() as session:
                for i in range(50):
                    n = batch * 50 + i
                    payload = {"block": str(marker)} if n == BLOCKED else {"sleep": 0.002}
                    ids.append(emit(session, Event(EventType.RECORD_CREATED, form="loan",
                                                   record_id=n, payload=payload)).id)
        assert queue.count == 200
        try:
            workers.append(WorkerProcess(database_url(pg_engine), queue_name, tmp_path))
            wait_for(marker.exists, 60, "the worker to reach the blocking event")
            workers[0].kill()  # mid-transaction: the blocked handler's effect never commits
            blocked = ids[BLOCKED]
            with pg_engine.connect() as conn:
                status = conn.execute(select(db.job_run.c.status).where(
                    db.job_run.c.outbox_id == blocked)).scalar_one()
            done_before = len(effects(pg_engine))
            assert status == JobStatus.RUNNING.value and blocked not in effects(pg_engine)
            assert 0 < done_before < 200
            # new workers; their sweepers re-queue the dead worker's run once its lease ends
            workers += [WorkerProcess(database_url(pg_engine), queue_name, tmp_path)
                        for _ in range(3)]
            wait_for(lambda: runs_by_status(pg_engine) == {"succeeded": 200}, 60,
                     "every run to succeed")
        finally:
            for worker in workers:
                worker.kill()
    done = effects(pg_engine)
    assert len(done) == 200 and sorted(done) == sorted(ids)  # exactly once each
    assert count(pg_engine, db.event_handled) == 200
    with pg_engine.connect() as conn:
        attempts = conn.execute(select(db.job_run.c.attempts).where(
            db.job_run.c.outbox_id == ids[BLOCKED])).scalar_one()
    assert attempts == 2  # the killed attempt, then the one that finished
    assert count(pg_engine, effect, effect.c.event_id == ids[BLOCKED]) == 1
