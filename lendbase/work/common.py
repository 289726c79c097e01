"""What the work services share: the clock, who did it (a person or a rule), idempotent
inserts through the dialects' ``ON CONFLICT DO NOTHING``, and set-based id sources."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Insert, Select, Table, literal, null, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from lendbase.errors import ValidationFailed

Clock = Callable[[], datetime]

#: The dialects' own INSERT constructs; both spell ``ON CONFLICT (...) DO NOTHING`` alike.
_INSERTS: dict[str, Callable[[Table], Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}
MAX_KEY = 200  # cause keys
MAX_RULE_KEY = 100


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything is stored in UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def insert_ignoring_conflicts(session: Session, table: Table, *columns: str) -> Insert:
    """``INSERT ... ON CONFLICT (columns) DO NOTHING`` for the session's database: the unique
    constraint decides, so concurrent callers never create a second row for one key."""
    dialect = session.get_bind().dialect.name
    try:
        factory = _INSERTS[dialect]
    except KeyError:
        raise NotImplementedError(f"no idempotent insert for the {dialect!r} database; "
                                  "LendBase runs on PostgreSQL and SQLite") from None
    stmt: Insert = factory(table).on_conflict_do_nothing(index_elements=list(columns))
    return stmt


def execute_counting(session: Session, stmt: Any) -> int:
    """Run a DML statement and return how many rows it wrote. ``preserve_rowcount``: without
    it SQLAlchemy closes an INSERT's cursor before the count is read (psycopg then says -1)."""
    result = session.execute(stmt, execution_options={"preserve_rowcount": True})
    return max(int(result.rowcount or 0), 0)  # type: ignore[attr-defined]


def value(v: Any, type_: TypeEngine[Any]) -> ColumnElement[Any]:
    """A constant for an ``INSERT ... SELECT`` column list: a typed bound value, or NULL."""
    return null() if v is None else literal(v, type_)


def id_source(ids: Select[Any]) -> ColumnElement[Any]:
    """The one column of ``ids`` (a SELECT of record ids, e.g. a segment's members) as a
    DISTINCT subquery column, so a record listed twice is still acted on once."""
    columns = list(ids.selected_columns)
    if len(columns) != 1:
        raise ValidationFailed({"ids": [f"the record-id query selects {len(columns)} columns; "
                                        "select exactly one (the record id)"]})
    sub = ids.distinct().subquery("ids")
    return list(sub.c)[0]


def select_ids(ids: Select[Any]) -> Select[Any]:
    """``SELECT DISTINCT id FROM (ids)``: the ids as a subquery for ``IN (...)``."""
    return select(id_source(ids))


def all_checked(*checks: Callable[[], Any]) -> list[Any]:
    """Run every check and return their results; when some fail, one ``ValidationFailed``
    naming every failing field at once."""
    errors: dict[str, list[str]] = {}
    results: list[Any] = []
    for check in checks:
        try:
            results.append(check())
        except ValidationFailed as exc:
            for key, messages in exc.fields.items():
                errors.setdefault(key, []).extend(messages)
            results.append(None)
    if errors:
        raise ValidationFailed(errors)
    return results


def check_cause_key(cause_key: str | None) -> str | None:
    if cause_key is None:
        return None
    if not isinstance(cause_key, str) or not cause_key.strip() or len(cause_key) > MAX_KEY:
        raise ValidationFailed({"cause_key": [
            f"use a non-empty text of at most {MAX_KEY} characters naming the cause, e.g. "
            "'rule:upsell_followup:customer:17:2026-11'"]})
    return cause_key


def split_cause_pattern(pattern: str) -> tuple[str, str]:
    """``"rule:x:customer:{id}:2026-11"`` -> ``("rule:x:customer:", ":2026-11")``: the cause
    key of each record in a bulk action is prefix + record id + suffix."""
    if not isinstance(pattern, str) or pattern.count("{id}") != 1:
        raise ValidationFailed({"cause_pattern": [
            "write the cause key with one '{id}' where the record id goes, e.g. "
            "'rule:upsell_followup:customer:{id}:2026-11'"]})
    prefix, suffix = pattern.split("{id}")
    if len(prefix) + len(suffix) + 19 > MAX_KEY:
        raise ValidationFailed({"cause_pattern": [
            f"too long: a cause key holds at most {MAX_KEY} characters with the id"]})
    return prefix, suffix


def cause_key_for(pattern: str, record_id: int) -> str:
    """The cause key a bulk action gives ``record_id`` (the same text the SQL builds)."""
    prefix, suffix = split_cause_pattern(pattern)
    return f"{prefix}{record_id}{suffix}"


def check_rule_key(rule: str | None) -> str | None:
    if rule is not None and (not isinstance(rule, str) or not rule or len(rule) > MAX_RULE_KEY):
        raise ValidationFailed({"rule": [f"a rule key is 1-{MAX_RULE_KEY} characters"]})
    return rule
