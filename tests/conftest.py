"""Shared fixtures. SQLite runs everywhere; PostgreSQL tests carry the ``postgres`` marker and
each get a schema of their own on the real server, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from lendbase import db

PG_URL = os.environ.get("LENDBASE_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_engine_with_schema() -> Iterator[Engine]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = db.make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = db.make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema},public"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[Engine]:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    db.platform_metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    for engine in _pg_engine_with_schema():
        db.platform_metadata.create_all(engine)
        yield engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request) -> Engine:
    """Both databases: every test using it runs on SQLite and on PostgreSQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with sessionmaker(engine)() as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Debian's Chromium through Playwright, one per browser-test module."""
    from tests.browser_support import chromium

    with chromium() as instance:
        yield instance
