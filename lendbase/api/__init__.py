"""The REST API under /api/v1 with its OpenAPI 3 document at /api/openapi.json."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api


class LendBaseJSONProvider(DefaultJSONProvider):
    """Exact decimals as strings, dates and datetimes in ISO 8601."""

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            return str(o)
        if isinstance(o, (datetime, date)):
            return o.isoformat()
        return DefaultJSONProvider.default(o)

    ensure_ascii = False


class LendBaseApi(Api):
    def _register_error_handlers(self) -> None:
        """Errors are dispatched by ``lendbase.errors_http`` for the API and pages alike."""


def init_api(app: Flask) -> Api:
    app.json_provider_class = LendBaseJSONProvider
    app.json = LendBaseJSONProvider(app)
    api = LendBaseApi(app, spec_kwargs={
        "info": {"description": "LendBase REST API. Authenticate with POST /api/v1/auth/token "
                                "and send 'Authorization: Bearer <token>'."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    })
    from lendbase.api import auth_views, files, lookup, meta, org, records

    for module in (auth_views, meta, lookup, records, org, files):
        api.register_blueprint(module.blp)
    return api
