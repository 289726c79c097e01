"""The one table from error codes to HTTP statuses, and the API's error shape:
``{"error": {"code", "message", "fields": {field: [messages]}}}``."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

from lendbase import errors

STATUS_BY_ERROR: dict[type[errors.LendBaseError], int] = {
    errors.ValidationFailed: 422,
    errors.MetadataError: 422,
    errors.CompileError: 422,
    errors.MigrationRefused: 409,
    errors.Conflict: 409,
    errors.NotFound: 404,
    errors.PermissionDenied: 403,
    errors.NotAuthenticated: 401,
    errors.ConfigError: 500,
    errors.FlowError: 422,
}


def status_for(error: errors.LendBaseError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 400


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None,
               **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    body.update({k: v for k, v in extra.items() if v is not None})
    return {"error": body}


def lendbase_error_response(error: errors.LendBaseError) -> tuple[Response, int]:
    fields: dict[str, list[str]] | None = None
    extra: dict[str, Any] = {}
    if isinstance(error, errors.ValidationFailed):
        fields = error.fields
    elif isinstance(error, errors.MetadataError):
        fields = error.errors
    elif isinstance(error, errors.MigrationRefused):
        plan = error.plan
        extra["plan"] = plan.to_dict(error.lang) if hasattr(plan, "to_dict") else plan
    status = status_for(error)
    response = jsonify(error_body(error.code, error.message, fields, **extra))
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="lendbase"'
    return response, status


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs nests errors by location and field: {"json": {"limit": ["..."]}}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = str(key) if key not in {"json", "query", "form", "headers", "files"} else ""
            path = f"{prefix}.{name}" if prefix and name else (name or prefix)
            for k, v in _flatten(value, path).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_"] = list(messages)
    elif isinstance(messages, list):
        for i, item in enumerate(messages):
            out.update(_flatten(item, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix or "_"] = [str(messages)]
    return out


def http_error_response(error: HTTPException) -> tuple[Response, int]:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    fields = _flatten(data["messages"]) if "messages" in data else None
    code = {400: "bad_request", 401: "not_authenticated", 403: "permission_denied",
            404: "not_found", 405: "method_not_allowed", 409: "conflict",
            413: "too_large", 415: "unsupported_media_type", 422: "validation_failed",
            428: "precondition_required"}.get(status, "error" if status < 500 else
                                               "internal_error")
    message = data.get("message") or error.description or error.name
    if fields and status == 422:
        message = f"{len(fields)} field(s) need attention: {', '.join(sorted(fields))}"
    response = jsonify(error_body(code, message, fields))
    for key, value in (data.get("headers") or {}).items():
        response.headers[key] = value
    return response, status
