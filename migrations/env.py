"""Alembic environment for the platform's own tables (form tables are managed by the form
publisher, never by these migrations)."""

from __future__ import annotations

from alembic import context

from lendbase.db import make_engine, platform_metadata

config = context.config
target_metadata = platform_metadata


def _include(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # Only lb_* tables belong to these migrations; f_* tables come from published forms.
    if type_ == "table":
        return name.startswith("lb_")
    return True


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          include_object=_include, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          include_object=_include, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
