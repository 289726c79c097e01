"""Per-request database session and actor. The request boundary owns the transaction: it
commits when the response is a success and rolls back otherwise."""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request
from sqlalchemy.orm import Session

from lendbase.db import IMMEDIATE
from lendbase.forms.compile import CompiledSchema
from lendbase.records.permissions import Actor
from lendbase.records.service import RecordService

#: Requests that never write (their session begins a plain, deferred transaction).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def state():  # type: ignore[no-untyped-def]
    return current_app.extensions["lendbase"]


def db_session() -> Session:
    if "db" not in g:
        g.db = state().sessions()
        if request.method not in SAFE_METHODS:
            # a request that may write holds SQLite's write lock from its first statement, so
            # a background job committing meanwhile makes it wait instead of fail (a 500)
            g.db.connection(execution_options={IMMEDIATE: True})
    return g.db


def compiled_schema() -> CompiledSchema:
    """The published forms, checked against the metadata generation once per request (the
    navigation, the view and the services all ask)."""
    if "lb_schema" not in g:
        g.lb_schema = state().registry.schema(db_session())
    return g.lb_schema


def current_actor() -> Actor | None:
    return g.get("actor")


def record_service(actor: Actor) -> RecordService:
    return RecordService(db_session(), compiled_schema(), actor, state().cipher)


def keep_changes() -> None:
    """Commit even though the response is an error (e.g. a failed-login counter)."""
    g.commit_anyway = True


def init_request_context(app: Flask) -> None:
    @app.after_request
    def _commit(response: Response) -> Response:
        session = g.get("db")
        if session is not None:
            if response.status_code < 400 or g.get("commit_anyway"):
                session.commit()
            else:
                session.rollback()
        return response

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            session.close()
