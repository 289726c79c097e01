"""The ``lendbase`` command (a Flask CLI group): init, app install/export, user create, run,
worker, scheduler, schedule list/set/delete, demo."""

from __future__ import annotations

import secrets
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from lendbase.errors import ConfigError, LendBaseError, MetadataError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _state():  # type: ignore[no-untyped-def]
    return current_app.extensions["lendbase"]


def _fail(error: LendBaseError) -> None:
    click.secho(f"error: {error.message}", fg="red", err=True)
    if isinstance(error, MetadataError):
        for pointer, messages in error.errors.items():
            for text in messages:
                click.echo(f"  {pointer or '/'}: {text}", err=True)
    fields = getattr(error, "fields", None)
    if fields:
        for key, messages in fields.items():
            click.echo(f"  {key}: {'; '.join(messages)}", err=True)
    plan = getattr(error, "plan", None)
    if plan is not None and hasattr(plan, "to_dict"):
        click.echo(f"  plan: {plan.to_dict()}", err=True)
    sys.exit(1)


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database."""
    from lendbase.migrate import upgrade_database

    state = _state()
    state.settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(state.engine)
    click.echo(f"database ready: {state.engine.url.render_as_string(hide_password=True)}")


app_group = click.Group("app", help="Install and export apps (folders of metadata).")


@app_group.command("install")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--demo", is_flag=True, help="Also generate the app's demo data.")
@click.option("--confirm", is_flag=True, help="Confirm risky schema changes of an upgrade.")
@click.option("--seed", default=2026, show_default=True, help="Seed for --demo.")
@click.option("--customers", default=2000, show_default=True, help="Customers for --demo.")
@with_appcontext
def app_install(path: Path, demo: bool, confirm: bool, seed: int, customers: int) -> None:
    """Install (or upgrade) the app in PATH."""
    from lendbase.meta.apps import install_app

    state = _state()
    try:
        with state.sessions.begin() as session:
            report = install_app(session, path, None, confirm=confirm, progress=click.echo)
    except LendBaseError as error:
        _fail(error)
    click.echo(f"app {report.app_key}: {len(report.published)} form(s) published, "
               f"{len(report.unchanged)} unchanged")
    state.registry.invalidate()
    if demo:
        _run_demo(seed, customers)


@app_group.command("export")
@click.argument("key")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def app_export(key: str, path: Path) -> None:
    """Write installed app KEY to the folder PATH."""
    from lendbase.meta.apps import export_app

    try:
        with _state().sessions.begin() as session:
            written = export_app(session, key, path)
    except LendBaseError as error:
        _fail(error)
    click.echo(f"wrote {len(written)} file(s) to {path}")


user_group = click.Group("user", help="Manage users.")


@user_group.command("create")
@click.option("--username", required=True)
@click.option("--password", help="Omit to generate one (printed once).")
@click.option("--role", "roles", multiple=True, required=True, help="Repeat for more roles.")
@click.option("--name", "display_name", help="Display name.")
@click.option("--if-missing", is_flag=True, help="Do nothing if the user exists.")
@with_appcontext
def user_create(username: str, password: str | None, roles: tuple[str, ...],
                display_name: str | None, if_missing: bool) -> None:
    """Create a user with one or more roles."""
    from sqlalchemy import select

    from lendbase import db
    from lendbase.auth.users import create_user, ensure_role
    from lendbase.changelog import log_change, subject_for

    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        with _state().sessions.begin() as session:
            exists = session.execute(select(db.user.c.id)
                                     .where(db.user.c.username == username)).first()
            if exists and if_missing:
                click.echo(f"user {username} exists; unchanged")
                return
            if "admin" in roles:
                ensure_role(session, "admin", {"zh": "管理员", "en": "Administrator"}, True)
            user_id = create_user(session, username, password, roles, display_name)
            log_change(session, actor_id=None, subject=subject_for("org", "user", user_id),
                       action="create", detail={"after": {"username": username,
                                                          "roles": sorted(roles)},
                                                "via": "lendbase user create"})
    except LendBaseError as error:
        _fail(error)
    click.echo(f"user {username} created with role(s) {', '.join(roles)}"
               + (f"; password: {password}" if generated else ""))


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--threads", default=8, show_default=True)
@with_appcontext
def run_command(host: str, port: int, threads: int) -> None:
    """Serve the web UI and API (waitress); without REDIS_URL also run the background jobs."""
    from waitress import serve

    from lendbase.jobs import BackgroundLoop, runtime_of

    runtime = runtime_of(current_app)
    loop = None
    if runtime.inline:
        click.echo("REDIS_URL is not set: background jobs and schedules run in this process")
        loop = BackgroundLoop(runtime, interval=1.0, run_jobs=True)
        loop.start()
    click.echo(f"LendBase on http://{host}:{port}/")
    try:
        serve(current_app._get_current_object(), host=host, port=port, threads=threads)
    finally:
        if loop is not None:
            loop.stop()


def _redis_required(command: str) -> None:
    if not _state().settings.redis_url:
        _fail(ConfigError(f"REDIS_URL is not set; set it to redis://host:6379/0 to run "
                          f"`lendbase {command}`, or run without it (jobs and schedules then "
                          "run inside `lendbase run`)"))


def _loop_runtime(queue: str):  # type: ignore[no-untyped-def]
    """A runtime on an engine of its own for the scheduler thread: the RQ work horses fork
    from this process and must never inherit a pool another thread is using."""
    from sqlalchemy.orm import sessionmaker

    from lendbase.db import make_engine
    from lendbase.jobs import JobRuntime, runtime_of

    base = runtime_of(current_app)
    engine = make_engine(_state().settings.database_url)
    runtime = JobRuntime(sessionmaker(engine, expire_on_commit=False),
                         redis_url=base.redis_url, queue_name=queue,
                         subscribers=base.subscribers, clock=base.clock,
                         retry=base.retry_policy)
    runtime.install()
    return runtime


@click.command("worker")
@click.option("--queue", "queues", multiple=True, default=("default",), show_default=True)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="Also fire schedules and sweep the outbox in a thread of this process.")
@click.option("--interval", default=2.0, show_default=True,
              help="Seconds between two scheduler / sweeper rounds.")
@with_appcontext
def worker_command(queues: tuple[str, ...], burst: bool, scheduler: bool,
                   interval: float) -> None:
    """Run an RQ worker (needs REDIS_URL), with the scheduler and outbox sweeper."""
    _redis_required("worker")
    from redis import Redis
    from rq import Queue, Worker

    from lendbase.jobs import EXTENSION, BackgroundLoop, JobRuntime, runtime_of
    from lendbase.jobs.worker import bind, fork_safe_worker_class

    runtime = runtime_of(current_app)
    if queues[0] != runtime.queue_name:  # follow-up jobs of this worker go to its own queue
        runtime.uninstall()
        runtime = JobRuntime(runtime.sessions, redis_url=runtime.redis_url,
                             queue_name=queues[0], subscribers=runtime.subscribers,
                             clock=runtime.clock, retry=runtime.retry_policy)
        runtime.install()
        current_app.extensions[EXTENSION] = runtime
    bind(runtime)
    loop = None
    worker_class: type = Worker
    if scheduler:
        fork_lock = threading.Lock()
        worker_class = fork_safe_worker_class(fork_lock)
        loop = BackgroundLoop(_loop_runtime(queues[0]), interval=interval, run_jobs=False,
                              name="lendbase-scheduler", guard=fork_lock)
        loop.start()
    connection = Redis.from_url(_state().settings.redis_url)
    try:
        worker_class([Queue(q, connection=connection) for q in queues],
                     connection=connection).work(burst=burst)
    finally:
        if loop is not None:
            loop.stop()


@click.command("scheduler")
@click.option("--queue", default="default", show_default=True)
@click.option("--interval", default=2.0, show_default=True,
              help="Seconds between two rounds.")
@click.option("--once", is_flag=True, help="Run one round and exit.")
@with_appcontext
def scheduler_command(queue: str, interval: float, once: bool) -> None:
    """Fire due schedules and sweep the outbox (pending events, retries, dead workers' jobs).
    Without REDIS_URL it also runs the jobs, like `lendbase run` does."""
    import logging

    from lendbase.jobs import BackgroundLoop

    runtime = _loop_runtime(queue)
    loop = BackgroundLoop(runtime, interval=interval, name="lendbase-scheduler")
    if once:
        ran = loop.run_once()
        click.echo(f"one round done; {ran} job attempt(s) ran here")
        return
    logging.basicConfig(level=logging.INFO)
    click.echo(f"scheduler every {interval}s" + (" (running jobs in-process: REDIS_URL is not "
                                                  "set)" if runtime.inline else ""))
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        click.echo("stopped")


schedule_group = click.Group("schedule", help="Cron schedules of background jobs.")


@schedule_group.command("list")
@with_appcontext
def schedule_list() -> None:
    """Show every schedule with its next run (UTC)."""
    from lendbase.jobs import list_schedules

    with _state().sessions() as session:
        schedules = list_schedules(session)
    for s in schedules:
        state = "enabled" if s.enabled else "disabled"
        next_run = s.next_run_at.isoformat() if s.next_run_at else "-"
        click.echo(f"{s.key}\t{s.cron}\t{s.timezone}\t{s.job}\t{state}\tnext {next_run}")
    if not schedules:
        click.echo("no schedule")


@schedule_group.command("set")
@click.argument("key")
@click.option("--cron", required=True, help="Five fields, e.g. '0 9 * * 1-5'.")
@click.option("--job", required=True, help="Dotted path of the job function.")
@click.option("--args", "args_json", default="{}", show_default=True,
              help="Keyword arguments of the job, as a JSON object.")
@click.option("--timezone", default="Asia/Shanghai", show_default=True)
@click.option("--disable", is_flag=True, help="Keep the schedule but do not run it.")
@with_appcontext
def schedule_set(key: str, cron: str, job: str, args_json: str, timezone: str,
                 disable: bool) -> None:
    """Create or change schedule KEY."""
    import json

    from lendbase.errors import ValidationFailed
    from lendbase.jobs import runtime_of, save_schedule

    try:
        args = json.loads(args_json)
        if not isinstance(args, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        _fail(ValidationFailed({"args": [f"--args must be a JSON object ({exc})"]}))
    try:
        with _state().sessions.begin() as session:
            saved = save_schedule(session, key, cron, job, args, timezone=timezone,
                                  enabled=not disable, now=runtime_of(current_app).clock())
    except LendBaseError as error:
        _fail(error)
    click.echo(f"schedule {saved.key} saved; next run "
               f"{saved.next_run_at.isoformat() if saved.next_run_at else '-'} (UTC)")


@schedule_group.command("run")
@click.argument("key")
@click.option("--args", "args_json", default=None,
              help="Keyword arguments instead of the schedule's, as a JSON object, e.g. "
                   "'{\"business_date\": \"2026-03-15\"}'.")
@with_appcontext
def schedule_run(key: str, args_json: str | None) -> None:
    """Run the job of schedule KEY now, once (its next scheduled run is unchanged).

    With Redis the run is queued for the workers; without, it runs here and the command
    waits for it and for what it queued in turn."""
    import json

    from lendbase.errors import ValidationFailed
    from lendbase.jobs import enqueue, get_run, get_schedule, runtime_of

    runtime = runtime_of(current_app)
    try:
        with _state().sessions.begin() as session:
            schedule = get_schedule(session, key)
            args = schedule.args if args_json is None else json.loads(args_json)
            if not isinstance(args, dict):
                raise ValidationFailed({"args": ["--args must be a JSON object"]})
            run_id = enqueue(session, schedule.job, kwargs=args, summary=f"{key} (by hand)",
                             now=runtime.clock())
    except ValueError as exc:  # bad JSON
        _fail(ValidationFailed({"args": [f"--args must be a JSON object ({exc})"]}))
    except LendBaseError as error:
        _fail(error)
    if not runtime.inline:
        click.echo(f"job run {run_id} queued for the workers ({schedule.job})")
        return
    runtime.run_until_idle()
    with _state().sessions() as session:
        run = get_run(session, run_id)
    status = getattr(run.status, "value", run.status)
    click.echo(f"job run {run_id} {status}: {schedule.job}"
               + (f" — {run.error}" if run.error else ""))
    if status != "succeeded":
        raise SystemExit(1)


@schedule_group.command("delete")
@click.argument("key")
@with_appcontext
def schedule_delete(key: str) -> None:
    """Delete schedule KEY (its past runs stay on the jobs page)."""
    from lendbase.jobs import delete_schedule

    with _state().sessions.begin() as session:
        delete_schedule(session, key)
    click.echo(f"schedule {key} deleted")


def _run_demo(seed: int, customers: int) -> None:
    from apps.credit_template.demo import generate_demo
    from lendbase.events.outbox import last_event_id, settle_as_history

    state = _state()
    with state.sessions.begin() as session:
        schema = state.registry.schema(session)
        before = last_event_id(session)
        summary = generate_demo(session, schema, state.cipher, seed=seed, customers=customers,
                                progress=click.echo, upload_dir=state.settings.upload_dir)
        # The portfolio is history: its creation events are not replayed through rules,
        # pools and SOP tasks (58,000 of them kept SQLite busy for minutes after start.sh);
        # scheduled scans and recomputes pick the data up set-based instead.
        settled = settle_as_history(session, before, datetime.now(UTC))
    click.echo(f"demo data: {summary}; {settled} creation events recorded as history")
    with state.sessions.begin() as session:
        tagged = _apply_tag_rules(session)
    if tagged:
        click.echo(f"tags of the portfolio set by {len(tagged)} rule(s): {', '.join(tagged)}")


def _apply_tag_rules(session: Any) -> list[str]:
    """Run once, set-based, every enabled rule whose actions only add or remove tags: tags
    are derived from the data, so the portfolio gets the ratings and behaviour tags its rules
    would have set had they seen it being entered (rules that create tasks, alerts or messages
    are not replayed)."""
    from lendbase.rules import run_rule
    from lendbase.rules.registry import runtime_for

    done = []
    for key, published in sorted(runtime_for(session).rules.rules(session).items()):
        rule = published.rule
        if rule.enabled and rule.actions and all(
                a.type.value in ("add_tag", "remove_tag") for a in rule.actions):
            run_rule(session, key, trigger="manual")
            done.append(key)
    return done


@click.command("demo")
@click.option("--seed", default=2026, show_default=True)
@click.option("--customers", default=2000, show_default=True)
@with_appcontext
def demo_command(seed: int, customers: int) -> None:
    """Generate the credit template's demo portfolio (reproducible for a seed)."""
    _run_demo(seed, customers)


def register_cli(app: Flask) -> None:
    for command in (init_command, app_group, user_group, run_command, worker_command,
                    scheduler_command, schedule_group, demo_command):
        app.cli.add_command(command)


def _create_app() -> Flask:
    from lendbase.app import create_app

    try:
        return create_app()
    except ConfigError as error:
        click.secho(f"error: {error.message}", fg="red", err=True)
        sys.exit(2)


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False)
def main() -> None:
    """LendBase: the low-code platform for credit companies."""
