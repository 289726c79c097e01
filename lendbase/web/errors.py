"""Error pages (400, 403, 404, 405, 409, 413, 500) that look like the rest of the product.

Page blueprints get their handlers at blueprint level, so they never change what the JSON API
answers; everything else goes through the app-wide dispatcher (``lendbase.http_errors``), which
calls ``render_error_page`` for pages.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from lendbase.errors import (
    Conflict,
    LendBaseError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from lendbase.web.i18n import translate


def is_api_path() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def wants_json() -> bool:
    """Requests made by our scripts (fetch) or asking for JSON get JSON errors, not pages."""
    if request.path.startswith("/regions"):
        return True
    if request.headers.get("X-Requested-With") == "fetch":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes.accept_html


def json_error(code: str, message: str, status: int,
               fields: dict[str, list[str]] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    response = jsonify({"error": body})
    response.status_code = status
    return response


def error_page(status: int, title: str, body: str, *, detail: str | None = None,
               actions: list[tuple[str, str]] | None = None,
               template: str = "error.html", **extra: Any) -> tuple[str, int]:
    """Render the product's error page; ``actions`` are (label, url) buttons."""
    # A server error may come from the database itself: the page then skips the navigation.
    extra.setdefault("minimal", status >= 500)
    return render_template(template, status=status, title=title, body=body, detail=detail,
                           actions=actions or [], **extra), status


_KNOWN = {f"error_{c}_title" for c in (400, 403, 404, 405, 409, 413, 500)}


def _standard_page(status: int, detail: str | None = None) -> tuple[str, int] | Response:
    if wants_json():
        return json_error(f"http_{status}", detail or translate(f"error_{status}_title"), status)
    key = status if f"error_{status}_title" in _KNOWN else 400 if status < 500 else 500
    return error_page(status, translate(f"error_{key}_title"), translate(f"error_{key}_body"),
                      detail=detail)


# --- handlers for page blueprints ----------------------------------------------------------


def _on_domain_error(exc: LendBaseError) -> Any:
    if isinstance(exc, NotFound):
        status, code = 404, "not_found"
    elif isinstance(exc, PermissionDenied):
        status, code = 403, "permission_denied"
    elif isinstance(exc, Conflict):
        status, code = 409, "conflict"
    elif isinstance(exc, NotAuthenticated):
        status, code = 401, "not_authenticated"
    elif isinstance(exc, ValidationFailed):
        status, code = 400, "validation_failed"
    else:
        status, code = 400, exc.code
    if wants_json():
        fields = exc.fields if isinstance(exc, ValidationFailed) else None
        return json_error(code, exc.message, status, fields)
    if status == 401:
        return redirect(url_for("account.login"))
    if status == 409:
        return error_page(409, translate("error_409_title"), translate("error_409_generic"),
                          detail=exc.message)
    detail = None
    if isinstance(exc, ValidationFailed):
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
    elif status == 403:
        detail = exc.message
    return _standard_page(status, detail)


def _on_csrf_error(exc: CSRFError) -> Any:
    if wants_json():
        return json_error("csrf_failed", exc.description or "CSRF token missing", 400)
    return error_page(400, translate("error_csrf_title"), translate("error_csrf_body"),
                      actions=[(translate("go_back"), request.referrer or "/")])


def _on_http_error(exc: HTTPException) -> Any:
    if exc.code is None or exc.code < 400:
        return exc
    if exc.code == 401:
        return exc
    return _standard_page(exc.code)


def _on_unexpected(exc: Exception) -> Any:
    if isinstance(exc, HTTPException):
        return _on_http_error(exc)
    if current_app.config.get("PROPAGATE_EXCEPTIONS"):
        raise exc
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return _standard_page(500)


def _on_internal_error(exc: HTTPException) -> Any:
    original = getattr(exc, "original_exception", None)
    if original is not None:
        current_app.logger.error("unhandled error on %s %s", request.method, request.path,
                                 exc_info=original)
    return _standard_page(500)


def register_page_error_handlers(bp: Blueprint) -> None:
    """Our pages' error handling, scoped to one page blueprint."""
    bp.register_error_handler(LendBaseError, _on_domain_error)
    bp.register_error_handler(CSRFError, _on_csrf_error)
    for code in (400, 403, 404, 405, 413):
        bp.register_error_handler(code, _on_http_error)
    bp.register_error_handler(500, _on_internal_error)
    bp.register_error_handler(Exception, _on_unexpected)


# --- the app-wide dispatcher's page renderer ----------------------------------------------


def render_error_page(status: int, code: str, message: str) -> tuple[str, int]:
    """The page ``lendbase.http_errors`` shows for errors outside our page blueprints (an
    unknown URL, say). Werkzeug's English descriptions are not shown; our own errors' messages
    are, as details."""
    key = status if f"error_{status}_title" in _KNOWN else 400 if status < 500 else 500
    detail = None if code in {"http_error", "internal_error"} else message
    return error_page(status, translate(f"error_{key}_title"), translate(f"error_{key}_body"),
                      detail=detail)
