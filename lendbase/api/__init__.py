"""The REST API under /api/v1 with its OpenAPI 3 document at /api/openapi.json."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, abort, request
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api

from lendbase.api.schemas import ApiError

#: JSON bodies nested deeper than this are refused (no request of ours nests beyond ~25).
MAX_JSON_DEPTH = 64
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class JSONInputError(ValueError):
    """A JSON document that parses but must not be used (too deep, lone surrogates)."""


def check_json(value: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise ``JSONInputError`` for nesting beyond ``max_depth`` or a string (or key) holding a
    lone UTF-16 surrogate such as ``"\\ud800"`` (not encodable; PostgreSQL and UTF-8 refuse it).
    Iterative, so it cannot overflow the stack itself."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, str):
            if _SURROGATE.search(current):
                raise JSONInputError(
                    "a string in the JSON body contains a lone UTF-16 surrogate (e.g. \\ud800); "
                    "send valid Unicode text")
            continue
        if not isinstance(current, (dict, list)):
            continue
        if depth > max_depth:
            raise JSONInputError(f"the JSON body is nested more than {max_depth} levels deep; "
                                 "flatten it")
        if isinstance(current, dict):
            stack.extend((k, depth) for k in current)
            stack.extend((v, depth + 1) for v in current.values())
        else:
            stack.extend((v, depth + 1) for v in current)


def loads_checked(data: str | bytes, **kwargs: Any) -> Any:
    """``json.loads`` that raises ``JSONInputError`` (a ``ValueError``) instead of
    ``RecursionError``, and for what ``check_json`` refuses."""
    try:
        value = json.loads(data, **kwargs)
    except RecursionError:
        raise JSONInputError(f"the JSON body is nested more than {MAX_JSON_DEPTH} levels "
                             "deep; flatten it") from None
    check_json(value)
    return value


class LendBaseJSONProvider(DefaultJSONProvider):
    """Exact decimals as strings, dates and datetimes in ISO 8601.

    Loading refuses documents too deep to handle (``RecursionError`` in the parser, or beyond
    ``MAX_JSON_DEPTH``) and strings with lone surrogates, as a ``ValueError`` (``JSONInputError``)
    that Flask answers with 400 instead of a 500.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_checked(s, **kwargs)

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            return str(o)
        if isinstance(o, (datetime, date)):
            return o.isoformat()
        return DefaultJSONProvider.default(o)

    ensure_ascii = False


class LendBaseApi(Api):
    #: The OpenAPI document describes our real error body (``lendbase.api.errors``):
    #: ``{"error": {"code", "message", "fields"}}`` for every status and the default response.
    ERROR_SCHEMA = ApiError
    DEFAULT_ERROR_RESPONSE_NAME = "DEFAULT_ERROR"

    def _register_error_handlers(self) -> None:
        """Errors are dispatched by ``lendbase.errors_http`` for the API and pages alike."""


def _check_json_body() -> None:
    """Parse an API request's JSON body once with the guarded loader, before webargs (which
    uses the stdlib parser) or a view sees it: too deep or lone surrogates -> 400."""
    if not request.path.startswith("/api/") or not request.is_json:
        return
    data = request.get_data(cache=True)
    if not data:
        return
    try:
        loads_checked(data)
    except JSONInputError as exc:
        abort(400, description=str(exc))
    except ValueError:
        return  # malformed JSON: webargs / the view answer it as before


def init_api(app: Flask) -> Api:
    app.json_provider_class = LendBaseJSONProvider
    app.json = LendBaseJSONProvider(app)
    app.before_request(_check_json_body)
    api = LendBaseApi(app, spec_kwargs={
        "info": {"description": "LendBase REST API. Authenticate with POST /api/v1/auth/token "
                                "and send 'Authorization: Bearer <token>'."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    })
    from lendbase.api import (
        auth_views,
        files,
        jobs,
        lookup,
        meta,
        org,
        records,
        rules,
        segments,
        work,
    )

    for module in (auth_views, meta, lookup, records, org, files, jobs, work, segments, rules):
        api.register_blueprint(module.blp)
    from lendbase.api import lifecycle

    api.register_blueprint(lifecycle.blp)
    return api
