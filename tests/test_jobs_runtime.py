"""The job runtime: retries with back-off, failures kept with their error and retried from the
API, workers that died, cron schedules fired once per due time by competing schedulers, the
in-process mode without Redis, and the administrators' jobs page."""

from __future__ import annotations

import dataclasses
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import sessionmaker

from lendbase import db
from lendbase.app import create_app
from lendbase.auth.users import create_user, ensure_role
from lendbase.config import load_settings
from lendbase.errors import ValidationFailed
from lendbase.events import Event, EventType, emit
from lendbase.jobs import (
    EXTENSION,
    BackgroundLoop,
    JobKind,
    JobRuntime,
    JobStatus,
    RetryPolicy,
    enqueue,
    get_run,
    next_due,
    runtime_of,
    save_schedule,
)
from lendbase.jobs import runs as job_runs
from lendbase.jobs.runs import ABANDONED
from tests import outbox_support as support
from tests.outbox_support import effects, effects_metadata, wait_for

PASSWORD = "secret-pass-1"
T0 = datetime(2026, 11, 28, 10, 0, 30, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker:
    effects_metadata.create_all(engine)
    support.ATTEMPTS.clear()
    return sessionmaker(engine, expire_on_commit=False)


def run_of(engine: Engine, outbox_id: int):  # type: ignore[no-untyped-def]
    with sessionmaker(engine)() as session:
        run_id = session.execute(select(db.job_run.c.id).where(
            db.job_run.c.outbox_id == outbox_id)).scalar_one()
        return get_run(session, run_id)


# --- (d) retries with back-off --------------------------------------------------------------------


def test_a_failing_handler_is_retried_with_back_off_and_does_not_block_the_others(
        engine: Engine, sessions: sessionmaker, clock: Clock) -> None:
    runtime = JobRuntime(sessions, clock=clock, retry=RetryPolicy((10, 60)))
    runtime.subscribers.subscribe(EventType.RECORD_CREATED, "tests.outbox_support.flaky")
    runtime.subscribers.subscribe(EventType.RECORD_CREATED, "tests.outbox_support.second_effect")
    runtime.install()
    with sessions.begin() as session:
        event = emit(session, Event(EventType.RECORD_CREATED, form="loan", record_id=7,
                                    payload={"fail_times": 2}))
    runtime.run_until_idle()
    run = run_of(engine, event.id)  # type: ignore[arg-type]
    assert (run.status, run.attempts) == (JobStatus.RETRYING, 1)
    assert run.next_retry_at == T0 + timedelta(seconds=10)
    assert run.error_head == "[tests.outbox_support.flaky] RuntimeError: flaky handler fails " \
                             "on attempt 1"
    assert effects(engine, "second") == [event.id]  # the other handler is done
    assert effects(engine, "flaky") == []  # the failed one's writes were rolled back
    assert runtime.run_until_idle() == 0  # nothing before the back-off is over
    clock.advance(seconds=10)
    runtime.run_until_idle()
    run = run_of(engine, event.id)  # type: ignore[arg-type]
    assert (run.status, run.attempts) == (JobStatus.RETRYING, 2)
    assert run.next_retry_at == clock.now + timedelta(seconds=60)
    clock.advance(seconds=60)
    runtime.run_until_idle()
    run = run_of(engine, event.id)  # type: ignore[arg-type]
    assert (run.status, run.attempts, run.error) == (JobStatus.SUCCEEDED, 3, None)
    assert effects(engine, "flaky") == [event.id] and effects(engine, "second") == [event.id]
    assert support.ATTEMPTS[f"flaky-{event.id}"] == 3


def test_a_run_whose_worker_died_is_queued_again_or_failed_on_its_last_attempt(
        engine: Engine, sessions: sessionmaker, clock: Clock) -> None:
    runtime = JobRuntime(sessions, clock=clock)
    with sessions.begin() as session:
        again = enqueue(session, "tests.outbox_support.scheduled_job", kwargs={"label": "a"},
                        timeout=20, now=clock())
        last = enqueue(session, "tests.outbox_support.scheduled_job", kwargs={"label": "b"},
                       timeout=20, max_attempts=1, now=clock())
        for run_id in (again, last):  # a worker claims both, then dies
            assert job_runs.claim_run(session, run_id, 0, 20, clock()) is not None
    clock.advance(seconds=25)
    assert runtime.sweep().recovered == 0  # 20 s timeout + 10 s grace: not yet
    clock.advance(seconds=6)
    report = runtime.sweep()
    assert (report.recovered, report.abandoned) == (1, 1)
    with sessions() as session:
        queued, failed = get_run(session, again), get_run(session, last)
    assert (queued.status, queued.attempts, queued.error) == (JobStatus.QUEUED, 1, ABANDONED)
    assert (failed.status, failed.error) == (JobStatus.FAILED, ABANDONED)
    assert runtime.execute(again, 0, 20) is None  # the dead attempt's push is stale
    assert runtime.execute(again, 1, 20) is JobStatus.SUCCEEDED
    assert effects(engine, "sched:a") == [-1]


@pytest.mark.redis
def test_rq_mode_retries_push_a_new_attempt_after_the_back_off(
        engine: Engine, sessions: sessionmaker, clock: Clock) -> None:
    from rq import SimpleWorker

    from lendbase.jobs.worker import bind

    queue_name = f"t-{uuid.uuid4().hex[:10]}"
    runtime = JobRuntime(sessions, redis_url=support.REDIS_URL, queue_name=queue_name,
                         clock=clock, retry=RetryPolicy((30,)))
    runtime.subscribers.subscribe(EventType.RECORD_UPDATED, "tests.outbox_support.flaky")
    runtime.install()
    bind(runtime)
    try:
        with support.rq_queue(queue_name) as queue:
            with sessions.begin() as session:
                event = emit(session, Event(EventType.RECORD_UPDATED, form="loan",
                                            record_id=3, payload={"fail_times": 1}))
            assert queue.count == 1  # pushed by the commit hook
            run = run_of(engine, event.id)  # type: ignore[arg-type]
            assert queue.job_ids == [runtime.pusher.job_id(run.id, 0)]  # type: ignore[union-attr]
            SimpleWorker([queue], connection=queue.connection).work(burst=True)
            assert run_of(engine, event.id).status is JobStatus.RETRYING  # type: ignore[arg-type]
            assert runtime.sweep().pushed == 0 and queue.count == 0
            clock.advance(seconds=30)
            assert runtime.sweep().pushed == 1
            assert queue.job_ids == [runtime.pusher.job_id(run.id, 1)]  # type: ignore[union-attr]
            SimpleWorker([queue], connection=queue.connection).work(burst=True)
    finally:
        bind(None)
    run = run_of(engine, event.id)  # type: ignore[arg-type]
    assert (run.status, run.attempts) == (JobStatus.SUCCEEDED, 2)
    assert effects(engine, "flaky") == [event.id]


# --- (e) cron schedules, two competing schedulers -------------------------------------------------


def test_cron_fires_once_per_due_time_with_two_competing_scheduler_loops(
        engine: Engine, sessions: sessionmaker, clock: Clock) -> None:
    other_engine = db.make_engine(support.database_url(engine))
    try:
        first = JobRuntime(sessions, clock=clock)
        second = JobRuntime(sessionmaker(other_engine, expire_on_commit=False), clock=clock)
        with sessions.begin() as session:
            saved = save_schedule(session, "every-minute", "* * * * *",
                                  "tests.outbox_support.scheduled_job", {"label": "m"},
                                  now=clock())
        assert saved.next_run_at == datetime(2026, 11, 28, 10, 1, tzinfo=UTC)
        fired: list[int] = []
        for minute in range(1, 7):
            clock.now = datetime(2026, 11, 28, 10, minute, 5, tzinfo=UTC)
            barrier = threading.Barrier(2)
            got: list[int] = [0, 0]

            def tick(index: int, runtime: JobRuntime, barrier: threading.Barrier = barrier,
                     got: list[int] = got) -> None:
                barrier.wait()
                got[index] = len(runtime.fire_schedules())

            threads = [threading.Thread(target=tick, args=(i, r))
                       for i, r in enumerate((first, second))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            fired.append(sum(got))
        assert fired == [1] * 6  # exactly one of the two fired each due time
        with sessions() as session:
            due = session.execute(select(db.job_run.c.due_at).where(
                db.job_run.c.kind == JobKind.SCHEDULE.value).order_by(db.job_run.c.id)
            ).scalars().all()
        assert [d.replace(tzinfo=UTC).minute for d in due] == [1, 2, 3, 4, 5, 6]
        first.run_until_idle()
        assert effects(engine, "sched:m") == [1, 2, 3, 4, 5, 6]
        clock.advance(minutes=30)  # the scheduler was down: missed runs are coalesced
        assert len(first.fire_schedules()) == 1 and second.fire_schedules() == []
        with sessions() as session:
            schedule = session.execute(select(db.schedule)).mappings().one()
        assert schedule["next_run_at"].replace(tzinfo=UTC) == datetime(2026, 11, 28, 10, 37,
                                                                        tzinfo=UTC)
    finally:
        other_engine.dispose()


def test_schedules_are_checked_and_read_in_their_time_zone(sessions: sessionmaker) -> None:
    assert next_due("0 9 * * *", "Asia/Shanghai", datetime(2026, 11, 28, 0, 30, tzinfo=UTC)) \
        == datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    with sessions.begin() as session, pytest.raises(ValidationFailed) as refused:
        save_schedule(session, "bad", "every day", "tests.outbox_support.nothing",
                      timezone="Mars/Olympus", now=T0)
    assert set(refused.value.fields) == {"cron", "timezone", "job"}
    assert "'0 9 * * 1-5'" in refused.value.fields["cron"][0]


# --- (f) in-process mode: no Redis at all ---------------------------------------------------------


def _published_app(tmp_path):  # type: ignore[no-untyped-def]
    from lendbase.forms.publish import publish_form
    from lendbase.meta.store import MetadataStore
    from lendbase.migrate import upgrade_database
    from tests.sample_forms import person_form

    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path / "var")}), TESTING=True)
    state = app.extensions["lendbase"]
    upgrade_database(state.engine)  # migration 0003 creates the outbox and job tables
    effects_metadata.create_all(state.engine)
    with state.sessions.begin() as session:
        ensure_role(session, "admin", superuser=True)
        create_user(session, "admin", "admin-pass-1", ["admin"])
        MetadataStore(session, None).create("forms", person_form())
        publish_form(session, None, "person", dry_run=False, confirm=True, backfill=None,
                     note=None)
    return app


def test_in_process_mode_runs_events_and_schedules_without_redis(tmp_path) -> None:
    support.ATTEMPTS.clear()
    app = _published_app(tmp_path)
    runtime = runtime_of(app)
    assert runtime.inline and runtime.pusher is None  # no REDIS_URL: nothing talks to Redis
    runtime.subscribers.subscribe(EventType.RECORD_CREATED, "tests.outbox_support.record_effect")
    engine = app.extensions["lendbase"].engine
    loop = BackgroundLoop(runtime, interval=0.2)  # what `lendbase run` starts
    loop.start()
    try:
        client = app.test_client()
        token = client.post("/api/v1/auth/token", json={"username": "admin",
                                                        "password": "admin-pass-1"}).json
        created = client.post("/api/v1/records/person",
                              headers={"Authorization": f"Bearer {token['token']}"},
                              json={"name": "张三", "kind": "enterprise"})
        assert created.status_code == 201
        wait_for(lambda: len(effects(engine, "record")) == 1, 10, "the event's handler")
        with app.extensions["lendbase"].sessions.begin() as session:
            save_schedule(session, "demo", "* * * * *", "tests.outbox_support.scheduled_job",
                          {"label": "inline"}, now=datetime.now(UTC) - timedelta(minutes=2))
        loop.notify()
        wait_for(lambda: len(effects(engine, "sched:inline")) == 1, 10, "the scheduled job")
    finally:
        loop.stop()
    with app.extensions["lendbase"].sessions() as session:
        runs, _ = job_runs.list_runs(session)
    assert {(r.kind, r.status) for r in runs} == {(JobKind.EVENT, JobStatus.SUCCEEDED),
                                                  (JobKind.SCHEDULE, JobStatus.SUCCEEDED)}
    # `lendbase scheduler --once` does the same round from the command line
    with app.extensions["lendbase"].sessions.begin() as session:
        save_schedule(session, "cli", "* * * * *", "tests.outbox_support.scheduled_job",
                      {"label": "cli"}, now=datetime.now(UTC) - timedelta(minutes=2))
    cli = app.test_cli_runner()
    result = cli.invoke(args=["scheduler", "--once"])
    assert result.exit_code == 0 and "job attempt(s) ran here" in result.output, result.output
    assert len(effects(engine, "sched:cli")) == 1
    saved = cli.invoke(args=["schedule", "set", "nightly", "--cron", "30 2 * * *", "--job",
                             "tests.outbox_support.scheduled_job", "--args", '{"label": "n"}'])
    assert saved.exit_code == 0 and "schedule nightly saved; next run" in saved.output
    listed = cli.invoke(args=["schedule", "list"]).output
    assert "nightly\t30 2 * * *\tAsia/Shanghai\ttests.outbox_support.scheduled_job" in listed
    bad = cli.invoke(args=["schedule", "set", "x", "--cron", "soon", "--job", "a.b"])
    assert bad.exit_code == 1 and "is not a cron expression" in bad.output


# --- the API: failed runs, their error, retry -----------------------------------------------------


def test_a_permanent_failure_is_shown_with_its_error_and_retried_from_the_api(
        tmp_path, clock: Clock) -> None:
    support.ATTEMPTS.clear()
    app = _published_app(tmp_path)
    state = app.extensions["lendbase"]
    with state.sessions.begin() as session:
        ensure_role(session, "manager")
        create_user(session, "am1", "manager-pass-1", ["manager"])
    runtime_of(app).uninstall()
    runtime = JobRuntime(state.sessions, clock=clock, retry=RetryPolicy((10,)),
                         event_max_attempts=2)
    runtime.subscribers.subscribe(EventType.EXTERNAL, "tests.outbox_support.broken")
    runtime.install()
    app.extensions[EXTENSION] = runtime
    client = app.test_client()

    def auth(username: str, password: str) -> dict[str, str]:
        token = client.post("/api/v1/auth/token",
                            json={"username": username, "password": password}).json["token"]
        return {"Authorization": f"Bearer {token}"}

    admin, manager = auth("admin", "admin-pass-1"), auth("am1", "manager-pass-1")
    posted = client.post("/api/v1/events", headers=admin,
                         json={"name": "bureau.report_ready", "payload": {"report": 9}})
    assert posted.status_code == 202 and posted.json["type"] == "external"
    assert client.post("/api/v1/events", headers=manager,
                       json={"name": "x"}).status_code == 403
    runtime.run_until_idle()
    clock.advance(seconds=10)
    runtime.run_until_idle()
    failed = client.get("/api/v1/jobs?status=failed", headers=admin)
    assert failed.status_code == 200
    (item,) = failed.json["items"]
    assert (item["status"], item["attempts"], item["max_attempts"]) == ("failed", 2, 2)
    assert item["error"].startswith("[tests.outbox_support.broken] ValueError: the bureau "
                                    "answered 503")
    assert item["outbox_id"] == posted.json["id"] and failed.json["next_before"] is None
    assert client.get("/api/v1/jobs", headers=manager).status_code == 403
    assert client.post(f"/api/v1/jobs/{item['id']}/retry", headers=manager).status_code == 403
    retried = client.post(f"/api/v1/jobs/{item['id']}/retry", headers=admin)
    assert retried.status_code == 200
    assert (retried.json["status"], retried.json["max_attempts"]) == ("queued", 3)
    again = client.post(f"/api/v1/jobs/{item['id']}/retry", headers=admin)
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"
    assert client.post("/api/v1/jobs/987654/retry", headers=admin).status_code == 404
    support.ATTEMPTS["broken-fixed"] = 1  # the bureau is back
    runtime.run_until_idle()
    done = client.get(f"/api/v1/jobs/{item['id']}", headers=admin).json
    assert (done["status"], done["attempts"], done["error"]) == ("succeeded", 3, None)
    assert len(effects(state.engine, "broken")) == 1
    overview = client.get("/api/v1/jobs/overview", headers=admin).json
    assert overview["mode"] == "in-process" and overview["counts"]["succeeded"] == 1
    assert overview["outbox_pending"] == 0
    spec = client.get("/api/openapi.json").json
    assert {"/api/v1/jobs", "/api/v1/jobs/{run_id}/retry", "/api/v1/events"} <= set(spec["paths"])


# --- (g) the jobs page ----------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path, engine: Engine, clock: Clock):  # type: ignore[no-untyped-def]
    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path / "var")}))
    app.config["TESTING"] = True
    state = app.extensions["lendbase"]
    state.engine.dispose()
    state = dataclasses.replace(state, engine=engine,
                                sessions=sessionmaker(engine, expire_on_commit=False))
    app.extensions["lendbase"] = state
    runtime = JobRuntime(state.sessions, clock=clock)
    runtime.install()
    app.extensions[EXTENSION] = runtime
    with state.sessions.begin() as session:
        ensure_role(session, "admin", {"zh": "管理员", "en": "Administrator"}, superuser=True)
        ensure_role(session, "account_manager", {"zh": "客户经理", "en": "Account manager"})
        create_user(session, "admin", PASSWORD, ["admin"], display_name="管理员")
        create_user(session, "am1", PASSWORD, ["account_manager"], display_name="王经理")
    return app


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login")
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302


def _seed(app, clock: Clock) -> dict[str, int]:  # type: ignore[no-untyped-def]
    sessions = app.extensions["lendbase"].sessions
    with sessions.begin() as session:
        event = emit(session, Event(EventType.RECORD_UPDATED, form="loan", record_id=42,
                                    changed=("amount",)))
        emit(session, Event(EventType.RECORD_CREATED, form="loan", record_id=43))  # pending
        failed, done, queued = job_runs.insert_runs(session, [
            job_runs.run_values(kind=JobKind.EVENT, function="lendbase.events.deliver",
                                args=[event.id, []], summary="record.updated loan#42 [amount]",
                                now=clock(), pushed_at=None, max_attempts=3, timeout=60,
                                outbox_id=event.id),
            job_runs.run_values(kind=JobKind.SCHEDULE, function="apps.scan.daily",
                                now=clock(), pushed_at=None, max_attempts=3, timeout=60,
                                schedule_key="daily-scan", due_at=clock()),
            job_runs.run_values(kind=JobKind.TASK, function="apps.export.run", args=[5],
                                now=clock(), pushed_at=None, max_attempts=3, timeout=60)])
        session.execute(update(db.job_run).where(db.job_run.c.id == failed.run_id).values(
            status="failed", attempts=3, finished_at=clock(),
            error="RuntimeError: the bureau timed out\n  File \"rules.py\", line 12"))
        session.execute(update(db.job_run).where(db.job_run.c.id == done.run_id).values(
            status="succeeded", attempts=1, started_at=clock(), finished_at=clock()))
        save_schedule(session, "daily-scan", "0 9 * * *", "tests.outbox_support.scheduled_job",
                      timezone="Asia/Shanghai", now=clock())
    runtime_of(app).dispatch(ids=[event.id])  # dispatched; the second event stays pending
    return {"failed": failed.run_id, "done": done.run_id, "queued": queued.run_id}


def test_the_jobs_page_shows_runs_backlog_and_schedules_in_both_languages(
        site, clock: Clock) -> None:
    ids = _seed(site, clock)
    sessions = site.extensions["lendbase"].sessions
    with sessions.begin() as session:
        job_runs.insert_runs(session, [job_runs.run_values(
            kind=JobKind.TASK, function="apps.export.run", args=[i], now=clock(),
            pushed_at=None, max_attempts=1, timeout=60) for i in range(55)])
    client = site.test_client()
    login(client, "admin")
    assert 'id="admin-jobs-link"' in client.get("/").text
    page = client.get("/admin/jobs")
    assert page.status_code == 200 and "后台任务" in page.text
    html = page.text
    assert html.count("data-run=") == 50  # a page; the older runs are behind a keyset link
    page_two = client.get("/admin/jobs?status=failed").text
    row = page_two[page_two.index(f'data-run="{ids["failed"]}"'):]
    row = row[:row.index("</tr>")]
    assert page_two.count("data-run=") == 1
    assert "失败" in row and "RuntimeError: the bureau timed out" in row
    assert "<details" in row and "line 12" in row  # the traceback folds out
    assert f'/admin/jobs/{ids["failed"]}/retry' in row and "3 / 3" in row
    assert 'href="/f/loan/42"' in row  # the event's record
    assert f'/admin/jobs/{ids["done"]}/retry' not in html  # only failed runs offer a retry
    assert 'id="outbox-pending">1<' in html  # one event still waits for dispatch
    assert 'data-schedule="daily-scan"' in html and "0 9 * * *" in html
    assert "2026-11-29 09:00:00" in html  # its next run, in Beijing time
    queued = client.get("/admin/jobs?status=queued").text
    assert queued.count("data-run=") == 50 and f'data-run="{ids["queued"] + 55}"' in queued
    older = re.search(r'id="jobs-older" href="([^"]+)"', queued)
    assert older is not None
    rest = client.get(older.group(1).replace("&amp;", "&")).text
    assert rest.count("data-run=") == 6 and f'data-run="{ids["queued"]}"' in rest
    assert 'id="jobs-older"' not in rest
    client.get("/lang/en")
    english = client.get("/admin/jobs?status=failed").text
    assert "Background jobs" in english and "Retry" in english and "Schedules" in english
    assert "Failed" in english and "RuntimeError: the bureau timed out" in english


def test_the_retry_button_queues_a_failed_run_again_for_administrators_only(
        site, clock: Clock) -> None:
    ids = _seed(site, clock)
    url = f'/admin/jobs/{ids["failed"]}/retry'
    other = site.test_client()
    login(other, "am1")
    assert 'id="admin-jobs-link"' not in other.get("/").text
    refused = other.get("/admin/jobs")
    assert refused.status_code == 403 and "只有管理员可以查看和重试后台任务" in refused.text
    assert other.post(url, data={"csrf_token": csrf_token(other.get("/").text)}
                      ).status_code == 403
    client = site.test_client()
    login(client, "admin")
    page = client.get("/admin/jobs?status=failed")
    assert client.post(url).status_code == 400  # no CSRF token
    response = client.post(url, data={"csrf_token": csrf_token(page.text),
                                      "status": "failed"})
    assert response.status_code == 302 and response.location.endswith("/admin/jobs?status=failed")
    with site.extensions["lendbase"].sessions() as session:
        run = get_run(session, ids["failed"])
    assert (run.status, run.max_attempts) == (JobStatus.QUEUED, 4)
    follow = client.get("/admin/jobs?status=queued").text
    assert f"任务 {ids['failed']} 已重新排队" in follow
    conflict = client.post(url, data={"csrf_token": csrf_token(page.text)})
    assert conflict.status_code == 302  # refused with a message, not an error page
    assert "only a failed run can be retried" in client.get("/admin/jobs").text
