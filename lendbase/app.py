"""The Flask application factory and the per-app LendBase state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from werkzeug.routing import IntegerConverter, Map, ValidationError

from lendbase.config import Settings, load_settings
from lendbase.db import make_engine
from lendbase.errors import ValidationFailed
from lendbase.forms.registry import FormRegistry
from lendbase.security import FieldCipher

#: Ids are 1..2^63-1 everywhere (BIGINT on PostgreSQL, INTEGER on SQLite); a larger one must
#: never reach the database, where it is an OverflowError (a 500) instead of a 404 or 422.
MAX_ID = 9223372036854775807
_MAX_ID_DIGITS = len(str(MAX_ID))


def valid_id(value: Any) -> bool:
    """Whether ``value`` is an int id the database can hold (bools are not ids)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def parse_id(text: str | None) -> int | None:
    """The id written in ``text`` (ASCII digits only, in range), else None. Never calls
    ``int()`` on thousands of digits or on characters like "²" that ``isdigit`` accepts."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_ID_DIGITS:
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def check_ids(values: Mapping[str, Any], *keys: str) -> None:
    """ValidationFailed (422) naming every ``keys`` entry of ``values`` that holds an
    integer out of the id range (None and absent keys pass)."""
    errors = {key: [f"must be an id between 1 and {MAX_ID}"] for key in keys
              if values.get(key) is not None and not valid_id(values[key])}
    if errors:
        raise ValidationFailed(errors)


class IdConverter(IntegerConverter):
    """``<int:...>`` for the whole app: at most ``MAX_ID`` (unless a rule sets ``max``), ASCII
    digits only, so an out-of-range id in a path is a 404 and never reaches the database."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = MAX_ID, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)

    def to_python(self, value: str) -> Any:
        if not value.isascii() or len(value) > _MAX_ID_DIGITS + 1:
            raise ValidationError()
        return super().to_python(value)


@dataclass
class LendBase:
    """Everything a process shares: settings, engine, session factory, compiled forms."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker
    registry: FormRegistry
    cipher: FieldCipher

    @classmethod
    def from_settings(cls, settings: Settings) -> LendBase:
        engine = make_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessionmaker(engine, expire_on_commit=False),
            registry=FormRegistry(),
            cipher=FieldCipher.from_key_string(settings.field_key, *settings.old_field_keys),
        )


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    settings = settings or load_settings()
    app = Flask("lendbase", static_folder=None)
    app.url_map.converters["int"] = IdConverter  # before any rule is added
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # a body may carry the largest file a field accepts, plus the other fields
        MAX_CONTENT_LENGTH=max(settings.upload_ceiling_bytes, settings.upload_max_bytes)
        + 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        API_TITLE="LendBase API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    app.config.update(overrides)
    app.extensions["lendbase"] = LendBase.from_settings(settings)
    from lendbase.jobs import EXTENSION, JobRuntime

    # dispatch after commit hooks into the app's sessions; `lendbase run` / `worker` start loops
    app.extensions[EXTENSION] = JobRuntime(app.extensions["lendbase"].sessions,
                                           redis_url=settings.redis_url)
    app.extensions[EXTENSION].install()

    from lendbase.web.context import init_request_context

    init_request_context(app)
    from lendbase.api import init_api

    init_api(app)
    from lendbase.web import init_web

    init_web(app)
    from lendbase.http_errors import register_error_dispatch

    register_error_dispatch(app)  # after the blueprints, so it is the one that answers
    from lendbase.cli import register_cli

    register_cli(app)
    return app


def lendbase_state(app: Flask) -> LendBase:
    return app.extensions["lendbase"]
