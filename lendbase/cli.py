"""The ``lendbase`` command (a Flask CLI group): init, app install/export, user create, run,
worker, demo."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

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
    """Serve the web UI and API (waitress)."""
    from waitress import serve

    state = _state()
    if state.settings.redis_url is None:
        click.echo("REDIS_URL is not set: background jobs run in this process")
    click.echo(f"LendBase on http://{host}:{port}/")
    serve(current_app._get_current_object(), host=host, port=port, threads=threads)


@click.command("worker")
@click.option("--queue", "queues", multiple=True, default=("default",), show_default=True)
@with_appcontext
def worker_command(queues: tuple[str, ...]) -> None:
    """Run an RQ worker (needs REDIS_URL)."""
    state = _state()
    if not state.settings.redis_url:
        _fail(ConfigError("REDIS_URL is not set; set it to redis://host:6379/0 to run workers, "
                          "or run without workers (jobs then run inside `lendbase run`)"))
    from redis import Redis
    from rq import Queue, Worker

    connection = Redis.from_url(state.settings.redis_url)
    Worker([Queue(q, connection=connection) for q in queues], connection=connection).work()


def _run_demo(seed: int, customers: int) -> None:
    from apps.credit_template.demo import generate_demo

    state = _state()
    with state.sessions.begin() as session:
        schema = state.registry.schema(session)
        summary = generate_demo(session, schema, state.cipher, seed=seed, customers=customers,
                                progress=click.echo, upload_dir=state.settings.upload_dir)
    click.echo(f"demo data: {summary}")


@click.command("demo")
@click.option("--seed", default=2026, show_default=True)
@click.option("--customers", default=2000, show_default=True)
@with_appcontext
def demo_command(seed: int, customers: int) -> None:
    """Generate the credit template's demo portfolio (reproducible for a seed)."""
    _run_demo(seed, customers)


def register_cli(app: Flask) -> None:
    for command in (init_command, app_group, user_group, run_command, worker_command,
                    demo_command):
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
