"""The Flask application factory and the per-app LendBase state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from lendbase.config import Settings, load_settings
from lendbase.db import make_engine
from lendbase.forms.registry import FormRegistry
from lendbase.security import FieldCipher


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
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=settings.upload_max_bytes + 1024 * 1024,
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
