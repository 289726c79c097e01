"""SQL constructs of the set-based field changes: the audit trail's ``{field: [before, after]}``
built inside the database, one row per changed record, with the dialects' own JSON functions.

``audit_changes`` keeps only the fields that changed in that row (PostgreSQL:
``jsonb_strip_nulls``; SQLite: ``json_patch('{}', ...)``, which drops null members). Values are
written as ``lendbase.records.audit.jsonable`` writes them: exact decimals and dates as text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, cast, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from lendbase import db


class audit_changes(FunctionElement[Any]):  # noqa: N801 - a SQL function, named like one
    """``{key: [before, after], ...}`` for the entries whose ``changed`` is true. Clauses are
    flat quadruples (key, before, after, changed)."""

    type = db.JsonType
    name = "audit_changes"
    inherit_cache = True


class decimal_text(FunctionElement[str]):  # noqa: N801
    """An exact number as text with ``scale`` decimals ("1234.50")."""

    type = String()
    name = "decimal_text"
    inherit_cache = True


class date_text(FunctionElement[str]):  # noqa: N801
    type = String()
    name = "date_text"
    inherit_cache = True


class datetime_text(FunctionElement[str]):  # noqa: N801
    """A UTC instant in ISO 8601 ("2026-11-28T09:00:00+00:00")."""

    type = String()
    name = "datetime_text"
    inherit_cache = True


class json_bool(FunctionElement[Any]):  # noqa: N801
    """A yes/no as a JSON true / false (NULL stays NULL)."""

    type = db.JsonType
    name = "json_bool"
    inherit_cache = True


def _quads(element: FunctionElement[Any], compiler: Any, **kw: Any) -> list[list[str]]:
    parts = [compiler.process(c, **kw) for c in element.clauses]
    return [parts[i:i + 4] for i in range(0, len(parts), 4)]


@compiles(audit_changes, "postgresql")
def _changes_pg(element: audit_changes, compiler: Any, **kw: Any) -> str:
    pairs = ", ".join(f"{k}, CASE WHEN {c} THEN jsonb_build_array({b}, {a}) END"
                      for k, b, a, c in _quads(element, compiler, **kw))
    return f"jsonb_strip_nulls(jsonb_build_object({pairs}))"


@compiles(audit_changes, "sqlite")
def _changes_sqlite(element: audit_changes, compiler: Any, **kw: Any) -> str:
    pairs = ", ".join(f"{k}, CASE WHEN {c} THEN json_array({b}, {a}) END"
                      for k, b, a, c in _quads(element, compiler, **kw))
    return f"json_patch('{{}}', json_object({pairs}))"


def _args(element: FunctionElement[Any], compiler: Any, **kw: Any) -> list[str]:
    return [compiler.process(c, **kw) for c in element.clauses]


@compiles(decimal_text, "postgresql")
def _decimal_pg(element: decimal_text, compiler: Any, **kw: Any) -> str:
    value, scale = _args(element, compiler, **kw)
    return f"CAST(ROUND(CAST({value} AS NUMERIC), {scale}) AS TEXT)"


@compiles(decimal_text, "sqlite")
def _decimal_sqlite(element: decimal_text, compiler: Any, **kw: Any) -> str:
    value, scale = _args(element, compiler, **kw)
    return f"CASE WHEN {value} IS NULL THEN NULL ELSE printf('%.' || {scale} || 'f', {value}) END"


@compiles(date_text, "postgresql")
def _date_pg(element: date_text, compiler: Any, **kw: Any) -> str:
    (value,) = _args(element, compiler, **kw)
    return f"to_char({value}, 'YYYY-MM-DD')"


@compiles(date_text, "sqlite")
def _date_sqlite(element: date_text, compiler: Any, **kw: Any) -> str:
    (value,) = _args(element, compiler, **kw)
    return f"date({value})"


@compiles(datetime_text, "postgresql")
def _datetime_pg(element: datetime_text, compiler: Any, **kw: Any) -> str:
    (value,) = _args(element, compiler, **kw)
    return (f"to_char({value} AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')")


@compiles(datetime_text, "sqlite")
def _datetime_sqlite(element: datetime_text, compiler: Any, **kw: Any) -> str:
    (value,) = _args(element, compiler, **kw)
    return f"strftime('%Y-%m-%dT%H:%M:%S+00:00', {value})"


@compiles(json_bool, "postgresql")
def _bool_pg(element: json_bool, compiler: Any, **kw: Any) -> str:
    (value,) = _args(element, compiler, **kw)
    return f"to_jsonb({value})"


@compiles(json_bool, "sqlite")
def _bool_sqlite(element: json_bool, compiler: Any, **kw: Any) -> str:
    (value,) = _args(element, compiler, **kw)
    return (f"CASE WHEN {value} IS NULL THEN NULL WHEN {value} THEN json('true') "
            "ELSE json('false') END")


def audit_value(expr: ColumnElement[Any], field_type: str, decimals: int | None) -> Any:
    """``expr`` as the audit trail stores a value of ``field_type``."""
    if field_type in {"decimal", "money", "percent"}:
        scale = decimals if decimals is not None else (4 if field_type == "percent" else 2)
        return decimal_text(expr, literal(scale))
    if field_type == "date":
        return date_text(expr)
    if field_type == "datetime":
        return datetime_text(expr)
    if field_type == "boolean":
        return json_bool(expr)
    return expr


def key_literal(key: str) -> ColumnElement[str]:
    """A JSON member name as typed text (PostgreSQL must know a parameter's type)."""
    return cast(literal(key), String())


__all__ = ["audit_changes", "audit_value", "key_literal"]
