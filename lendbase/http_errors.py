"""One dispatcher for errors: JSON for /api/, product-styled pages for everything else."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import HTTPException, InternalServerError

from lendbase.api.errors import (
    error_body,
    http_error_response,
    lendbase_error_response,
    status_for,
)
from lendbase.errors import LendBaseError

log = logging.getLogger("lendbase")


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _page(status: int, code: str, message: str) -> Any:
    from lendbase.web.errors import render_error_page

    return render_error_page(status, code, message)


def register_error_dispatch(app: Flask) -> None:
    @app.errorhandler(LendBaseError)
    def _lendbase_error(error: LendBaseError) -> Any:
        if _wants_json():
            return lendbase_error_response(error)
        return _page(status_for(error), error.code, error.message)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Any:
        if _wants_json():
            return http_error_response(error)
        return _page(error.code or 500, "http_error", error.description or error.name)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            from flask import jsonify

            return jsonify(error_body("internal_error", "something went wrong on our side; "
                                      "the error was logged")), 500
        return _page(500, "internal_error", InternalServerError.description)
