"""The run log of rules (``lb_rule_run``): one small row per run, written in the run's own
transaction, read by the rules page and ``GET /api/v1/rules/<key>/runs``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import ValidationFailed
from lendbase.events.model import as_utc

r = db.rule_run
MAX_PAGE = 200
#: How much of an error a run keeps.
MAX_ERROR = 4000


class RunStatus(StrEnum):
    SUCCEEDED = "succeeded"  # the actions ran (or nothing matched)
    FAILED = "failed"  # the rule could not run (its error says why); nothing was changed


@dataclass(frozen=True)
class RuleRun:
    id: int
    rule_key: str
    rule_version: int
    trigger: str
    event_id: int | None
    record_id: int | None
    cause: str
    status: RunStatus
    matched: int | None
    actions: list[dict[str, Any]]
    error: str | None
    started_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> RuleRun:
        return cls(int(row.id), row.rule_key, int(row.rule_version), row.trigger, row.event_id,
                   row.record_id, row.cause, RunStatus(row.status), row.matched,
                   list(row.actions or []), row.error,
                   as_utc(row.started_at) or row.started_at, as_utc(row.finished_at))

    @property
    def affected(self) -> int:
        return sum(int(a.get("affected", 0)) for a in self.actions)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["status"] = self.status.value
        return out


def write_run(session: Session, *, rule_key: str, rule_version: int, trigger: str,
              cause: str, started_at: datetime, finished_at: datetime,
              status: RunStatus, matched: int | None = None,
              actions: Sequence[dict[str, Any]] = (), error: str | None = None,
              event_id: int | None = None, record_id: int | None = None) -> int:
    if error is not None and len(error) > MAX_ERROR:
        error = error[:MAX_ERROR - 3] + "..."
    return int(session.execute(insert(r).values(
        rule_key=rule_key, rule_version=rule_version, trigger=trigger[:32], event_id=event_id,
        record_id=record_id, cause=cause[:200], status=status.value, matched=matched,
        actions=list(actions), error=error, started_at=started_at, finished_at=finished_at,
    ).returning(r.c.id)).scalar_one())


def list_runs(session: Session, rule_key: str, *, limit: int = 50,
              before: int | None = None) -> tuple[list[RuleRun], int | None]:
    """The rule's runs, newest first, keyset paged: (runs, the ``before`` of the next page)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed({"limit": [f"must be between 1 and {MAX_PAGE}"]})
    query = select(r).where(r.c.rule_key == rule_key)
    if before is not None:
        query = query.where(r.c.id < before)
    rows = session.execute(query.order_by(r.c.id.desc()).limit(limit + 1)).all()
    runs = [RuleRun.from_row(row) for row in rows[:limit]]
    return runs, (runs[-1].id if len(rows) > limit and runs else None)


def last_runs(session: Session, rule_keys: Iterable[str]) -> dict[str, RuleRun]:
    """The latest run of each rule (one query)."""
    keys = list(rule_keys)
    if not keys:
        return {}
    latest = select(func.max(r.c.id)).where(r.c.rule_key.in_(keys)).group_by(r.c.rule_key)
    rows = session.execute(select(r).where(r.c.id.in_(latest))).all()
    return {row.rule_key: RuleRun.from_row(row) for row in rows}


__all__ = ["RuleRun", "RunStatus", "last_runs", "list_runs", "write_run"]
