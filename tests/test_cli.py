"""The lendbase command: init, app install (twice changes nothing), export, user create."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lendbase import db
from lendbase.app import create_app
from lendbase.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "apps" / "credit_template"


@pytest.fixture
def app(tmp_path):
    return create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path / "var")}))


def run(app, *args: str):  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(args=list(args))
    return result


def counts(app) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with app.extensions["lendbase"].sessions() as session:
        return tuple(session.execute(select(func.count()).select_from(t)).scalar()
                     for t in (db.meta_version, db.audit, db.app_install))


def test_install_twice_changes_nothing_and_export_round_trips(app, tmp_path) -> None:
    assert run(app, "init").exit_code == 0
    first = run(app, "app", "install", str(TEMPLATE))
    assert first.exit_code == 0, first.output
    assert "16 form(s) published, 0 unchanged" in first.output
    before = counts(app)
    second = run(app, "app", "install", str(TEMPLATE))
    assert "0 form(s) published, 16 unchanged" in second.output
    assert counts(app) == before
    out = tmp_path / "exported"
    exported = run(app, "app", "export", "credit_template", str(out))
    assert exported.exit_code == 0, exported.output
    manifest = json.loads((out / "app.json").read_text("utf-8"))
    assert manifest["forms"] == json.loads((TEMPLATE / "app.json").read_text("utf-8"))["forms"]
    for key in manifest["forms"]:
        original = json.loads((TEMPLATE / "forms" / f"{key}.json").read_text("utf-8"))
        assert json.loads((out / "forms" / f"{key}.json").read_text("utf-8")) == original
    # the exported folder installs as the same app: nothing changes
    again = run(app, "app", "install", str(out))
    assert "0 form(s) published, 16 unchanged" in again.output


def test_bad_app_folder_is_reported_not_crashed(app, tmp_path) -> None:
    run(app, "init")
    folder = tmp_path / "broken"
    (folder / "forms").mkdir(parents=True)
    (folder / "app.json").write_text(json.dumps({"key": "x", "label": {"zh": "x", "en": "x"},
                                                 "version": "1", "forms": ["f"]}))
    (folder / "forms" / "f.json").write_text(json.dumps(
        {"key": "f", "label": {"zh": "x"}, "fields": [{"key": "a", "type": "text"}]}))
    result = run(app, "app", "install", str(folder))
    assert result.exit_code == 1
    assert "/label: 'en' is required" in result.output
    assert "/fields/0: 'label' is required" in result.output
    with app.extensions["lendbase"].sessions() as session:
        assert session.execute(select(func.count()).select_from(db.meta_draft)).scalar() == 0


def test_user_create(app) -> None:
    run(app, "init")
    created = run(app, "user", "create", "--username", "boss", "--role", "admin")
    assert created.exit_code == 0 and "password: " in created.output
    with app.extensions["lendbase"].sessions() as session:
        logged = session.execute(select(db.change_log.c.action, db.change_log.c.detail)).one()
    assert logged.action == "create" and logged.detail["after"]["username"] == "boss"
    assert created.output.split("password: ")[1].strip() not in str(logged.detail)
    again = run(app, "user", "create", "--username", "boss", "--role", "admin")
    assert again.exit_code == 1 and "already exists" in again.output
    quiet = run(app, "user", "create", "--username", "boss", "--role", "admin", "--if-missing")
    assert quiet.exit_code == 0
    weak = run(app, "user", "create", "--username", "x", "--password", "123", "--role", "admin")
    assert weak.exit_code == 1 and "password" in weak.output


def test_worker_without_redis_says_how_to_fix(app) -> None:
    result = run(app, "worker")
    assert result.exit_code == 1
    assert "REDIS_URL is not set" in result.output


def test_demo_data_is_history_not_a_burst_of_events(app) -> None:
    """start.sh installs the demo; its creation events must not queue tens of thousands of
    jobs (on SQLite they kept the database locked and sign-in failing for minutes)."""
    assert run(app, "init").exit_code == 0
    installed = run(app, "app", "install", str(TEMPLATE), "--demo", "--customers", "6")
    assert installed.exit_code == 0, installed.output
    assert "creation events recorded as history" in installed.output
    with app.extensions["lendbase"].sessions() as session:
        outbox = db.outbox
        demo_pending = session.execute(select(func.count()).select_from(outbox).where(
            outbox.c.status == "pending", outbox.c.form_key.in_(["customer", "loan"]))).scalar()
        demo_events = session.execute(select(func.count()).select_from(outbox).where(
            outbox.c.form_key.in_(["customer", "loan"]))).scalar()
        runs = session.execute(select(func.count()).select_from(db.job_run)).scalar()
    assert demo_pending == 0 and demo_events >= 6  # each customer and loan wrote one
    # none of them became a job (what the install itself seeds may: a handful, not thousands)
    assert runs < demo_events, (runs, demo_events)


def test_schedule_run_runs_a_schedules_job_now(app) -> None:
    """The template's nightly DPD job, run by hand for a given business date; a schedule that
    does not exist or bad arguments are reported, not crashed."""
    assert run(app, "init").exit_code == 0
    assert run(app, "app", "install", str(TEMPLATE)).exit_code == 0
    done = run(app, "schedule", "run", "credit_template.delinquency",
               "--args", '{"business_date": "2026-03-15"}')
    assert done.exit_code == 0, done.output
    assert "succeeded: apps.credit_template.delinquency.delinquency_job" in done.output
    with app.extensions["lendbase"].sessions() as session:
        by_hand = session.execute(select(db.job_run.c.status).where(
            db.job_run.c.summary == "credit_template.delinquency (by hand)")).scalars().all()
    assert by_hand == ["succeeded"]
    missing = run(app, "schedule", "run", "nope")
    assert missing.exit_code == 1 and "no schedule 'nope'" in missing.output
    bad = run(app, "schedule", "run", "credit_template.delinquency", "--args", "[1]")
    assert bad.exit_code == 1 and "--args must be a JSON object" in bad.output
