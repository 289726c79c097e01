"""Tasks: a title, an assignee, a due date and a status, linked to a record; comments, a log of
status changes and reassignments, and the "my tasks" inbox (overdue first).

Idempotency: a task made for a cause (a rule run for one record in one period) carries a
``cause_key`` that is UNIQUE in the table. ``create`` inserts with ``ON CONFLICT (cause_key) DO
NOTHING`` and, when nothing was inserted, returns the task that holds the key, so the same cause
never makes two tasks, even when two workers act at the same moment. ``bulk_create`` does the
same for thousands of records in one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lendbase.forms.compile import CompiledForm, CompiledSchema
from lendbase.records.permissions import Actor
from lendbase.work.access import RecordAccess
from lendbase.work.assignment import AssigneeRule, DbOrg, OrgView, SqlContext
from lendbase.work.common import (
    Clock,
    all_checked,
    as_utc,
    check_cause_key,
    check_rule_key,
    execute_counting,
    insert_ignoring_conflicts,
    select_ids,
    split_cause_pattern,
    utcnow,
    value,
)

MAX_TITLE = 200
MAX_TEXT = 10_000
MAX_PAGE = 200


class TaskStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class TaskKind(StrEnum):
    FOLLOW_UP = "follow_up"
    PHONE_COLLECTION = "phone_collection"
    ESCALATION = "escalation"
    SOP = "sop"
    REVIEW = "review"
    OTHER = "other"


class TaskPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TaskEventKind(StrEnum):
    STATUS = "status"
    REASSIGNED = "reassigned"
    UPDATED = "updated"


class TaskView(StrEnum):
    """The inbox tabs: open (open and in progress) or closed (done and cancelled)."""

    OPEN = "open"
    DONE = "done"


OPEN_STATUSES = (TaskStatus.OPEN.value, TaskStatus.IN_PROGRESS.value)
CLOSED_STATUSES = (TaskStatus.DONE.value, TaskStatus.CANCELLED.value)

#: Allowed status changes; a closed task can be reopened.
TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.OPEN: frozenset({TaskStatus.IN_PROGRESS, TaskStatus.DONE, TaskStatus.CANCELLED}),
    TaskStatus.IN_PROGRESS: frozenset({TaskStatus.OPEN, TaskStatus.DONE, TaskStatus.CANCELLED}),
    TaskStatus.DONE: frozenset({TaskStatus.OPEN}),
    TaskStatus.CANCELLED: frozenset({TaskStatus.OPEN}),
}


def _enum(cls: type[StrEnum], raw: Any, name: str, errors: dict[str, list[str]]) -> Any:
    try:
        return cls(raw)
    except ValueError:
        errors.setdefault(name, []).append(
            f"{raw!r} is not a {name}; use one of {', '.join(m.value for m in cls)}")
        return None


@dataclass(frozen=True)
class TaskSpec:
    """What a task action creates (by hand, or once per record by a rule)."""

    title: str
    kind: TaskKind | str = TaskKind.FOLLOW_UP
    description: str | None = None
    priority: TaskPriority | str = TaskPriority.NORMAL
    due_at: datetime | None = None
    assignee: AssigneeRule | None = None
    assignee_id: int | None = None  # a person chose the assignee
    payload: Mapping[str, Any] = field(default_factory=dict)

    def checked(self) -> TaskSpec:
        """The spec with its enums parsed; ValidationFailed naming every bad part."""
        errors: dict[str, list[str]] = {}
        if not isinstance(self.title, str) or not self.title.strip() \
                or len(self.title) > MAX_TITLE:
            errors["title"] = [f"write a title of 1-{MAX_TITLE} characters"]
        if self.description is not None and (not isinstance(self.description, str)
                                             or len(self.description) > MAX_TEXT):
            errors["description"] = [f"write at most {MAX_TEXT} characters"]
        kind = _enum(TaskKind, self.kind, "kind", errors)
        priority = _enum(TaskPriority, self.priority, "priority", errors)
        if self.due_at is not None and (not isinstance(self.due_at, datetime)
                                        or self.due_at.tzinfo is None):
            errors["due_at"] = ["give the due time with its time zone, e.g. "
                                "2026-12-01T18:00:00+08:00"]
        if not isinstance(self.payload, Mapping):
            errors["payload"] = ["the payload is a JSON object"]
        if self.assignee is not None and self.assignee_id is not None:
            errors["assignee"] = ["give an assignee rule or an assignee, not both"]
        if errors:
            raise ValidationFailed(errors)
        return TaskSpec(self.title.strip(), kind, self.description, priority, self.due_at,
                        self.assignee, self.assignee_id, dict(self.payload))


@dataclass(frozen=True)
class Task:
    id: int
    title: str
    description: str | None
    kind: str
    status: TaskStatus
    priority: str
    form_key: str | None
    record_id: int | None
    assignee_id: int | None
    due_at: datetime | None
    payload: dict[str, Any]
    cause_key: str | None
    created_by: int | None
    created_by_rule: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    version: int

    @property
    def is_open(self) -> bool:
        return self.status.value in OPEN_STATUSES

    def is_overdue(self, now: datetime) -> bool:
        return self.is_open and self.due_at is not None and self.due_at < now

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["status"] = self.status.value
        if now is not None:
            out["overdue"] = self.is_overdue(now)
        return out


@dataclass(frozen=True)
class TaskComment:
    id: int
    task_id: int
    author_id: int | None
    at: datetime
    body: str


@dataclass(frozen=True)
class TaskEvent:
    id: int
    task_id: int
    kind: str
    at: datetime
    actor_id: int | None
    rule_key: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class TaskPage:
    items: list[Task]
    next_cursor: str | None


def _task(row: Any) -> Task:
    return Task(
        id=int(row.id), title=row.title, description=row.description, kind=row.kind,
        status=TaskStatus(row.status), priority=row.priority, form_key=row.form_key,
        record_id=row.record_id, assignee_id=row.assignee_id, due_at=as_utc(row.due_at),
        payload=dict(row.payload or {}), cause_key=row.cause_key, created_by=row.created_by,
        created_by_rule=row.created_by_rule, created_at=as_utc(row.created_at) or row.created_at,
        updated_at=as_utc(row.updated_at) or row.updated_at,
        completed_at=as_utc(row.completed_at), version=int(row.version))


def _encode(values: list[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, size: int) -> list[Any]:
    try:
        if len(cursor) > 200:
            raise ValueError
        values = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4))
                                                    .encode()))
        if not isinstance(values, list) or len(values) != size:
            raise ValueError
        return values
    except (ValueError, TypeError):
        raise ValidationFailed({"after": ["this page cursor is not valid; start from the "
                                          "first page"]}) from None


def _take_turns(session: Session, role: str, count: int) -> int:
    """Reserve ``count`` round-robin turns of ``role``; the first one's number."""
    name = f"task.round_robin:{role}"
    seq = db.sequence

    def bump() -> int | None:
        return session.execute(update(seq).where(seq.c.name == name)
                               .values(value=seq.c.value + count)
                               .returning(seq.c.value)).scalar()

    new = bump()
    if new is None:
        try:
            with session.begin_nested():
                session.execute(insert(seq).values(name=name, value=count))
            new = count
        except IntegrityError:  # created meanwhile by another transaction
            new = bump()
    return int(new or 0) - count


class TaskService:
    """Tasks for one actor. People see the tasks assigned to them or created by them and the
    tasks of records they may read; assignee, creator or a superuser may change a task."""

    def __init__(self, session: Session, actor: Actor, clock: Clock = utcnow, *,
                 schema: CompiledSchema | None = None, org: OrgView | None = None) -> None:
        self.session = session
        self.actor = actor
        self.clock = clock
        self.schema = schema
        self.records = RecordAccess(session, actor, schema)
        self.org: OrgView = org or DbOrg(session)

    # --- creating ---------------------------------------------------------------------------
    def create(self, spec: TaskSpec, *, form_key: str | None = None,
               record_id: int | None = None, record: Mapping[str, Any] | None = None,
               cause_key: str | None = None, rule: str | None = None) -> tuple[Task, bool]:
        """Create a task (or return the one ``cause_key`` already made): (task, created).

        ``record`` holds the linked record's values for the assignee rule (``owner_id`` and
        user fields); when absent they are read from the form's table.
        """
        spec, _, cause_key = all_checked(spec.checked, lambda: check_rule_key(rule),
                                         lambda: check_cause_key(cause_key))
        if (form_key is None) != (record_id is None):
            raise ValidationFailed({"record": ["give both form_key and record_id, or neither"]})
        if rule is not None and not self.actor.superuser:
            raise PermissionDenied("only the system may act on behalf of a rule")
        if form_key is not None and record_id is not None:
            self.records.require_readable(form_key, record_id)
        if cause_key is not None:
            existing = self._by_cause(cause_key)
            if existing is not None:
                return existing, False
        assignee = self._assignee(spec, form_key, record_id, record)
        now = self.clock()
        values = {
            "title": spec.title, "description": spec.description, "kind": str(spec.kind),
            "status": TaskStatus.OPEN.value, "priority": str(spec.priority),
            "form_key": form_key, "record_id": record_id, "assignee_id": assignee,
            "due_at": spec.due_at, "payload": dict(spec.payload), "cause_key": cause_key,
            "created_by": self.actor.user_id, "created_by_rule": rule, "created_at": now,
            "updated_at": now, "version": 1,
        }
        if cause_key is None:
            new_id = self.session.execute(
                insert(db.task).values(**values).returning(db.task.c.id)).scalar_one()
        else:
            new_id = self.session.execute(
                insert_ignoring_conflicts(self.session, db.task, "cause_key")
                .values(**values).returning(db.task.c.id)).scalar()
            if new_id is None:  # another transaction made it first
                found = self._by_cause(cause_key)
                assert found is not None
                return found, False
        return self._load(int(new_id)), True

    def _by_cause(self, cause_key: str) -> Task | None:
        row = self.session.execute(select(db.task).where(db.task.c.cause_key == cause_key)).first()
        return _task(row) if row is not None else None

    def _assignee(self, spec: TaskSpec, form_key: str | None, record_id: int | None,
                  record: Mapping[str, Any] | None) -> int | None:
        if spec.assignee_id is not None:
            if not (isinstance(spec.assignee_id, int) and self.org.is_active(spec.assignee_id)):
                raise ValidationFailed({"assignee_id": [
                    f"no active user {spec.assignee_id!r}; choose an active user"]})
            return spec.assignee_id
        if spec.assignee is None:
            return None
        if record is None and form_key is not None and record_id is not None:
            record = self._record_values(form_key, record_id)
        return spec.assignee.resolve(record or {}, self.org,
                                     lambda role: _take_turns(self.session, role, 1))

    def _record_values(self, form_key: str, record_id: int) -> Mapping[str, Any]:
        if self.schema is None or form_key not in self.schema.forms:
            return {}
        table = self.schema[form_key].table
        row = self.session.execute(select(table).where(table.c.id == record_id)).mappings().first()
        return dict(row) if row is not None else {}

    def bulk_create(self, spec: TaskSpec, form: CompiledForm, ids: Select[Any],
                    cause_pattern: str, *, rule: str | None = None) -> int:
        """One task per record whose id ``ids`` selects, in one ``INSERT ... SELECT ... ON
        CONFLICT (cause_key) DO NOTHING``; the cause key of each is ``cause_pattern`` with the
        record id in place of ``{id}``. Records that already have their task are skipped.
        Returns how many tasks were created. For the system (rules, segments) only."""
        spec = spec.checked()
        check_rule_key(rule)
        if not self.actor.superuser:
            raise PermissionDenied("bulk task creation is for rules and segments (the system)")
        prefix, suffix = split_cause_pattern(cause_pattern)
        t = form.table
        where = t.c.id.in_(select_ids(ids))
        assignee: ColumnElement[Any] = value(spec.assignee_id, db.IdType)
        if spec.assignee is not None:
            roles = spec.assignee.roles()
            bases: dict[str, int] = {}
            if roles:
                count = int(self.session.execute(
                    select(func.count()).select_from(t).where(where)).scalar_one())
                bases = {role: _take_turns(self.session, role, count) for role in set(roles)}
            position = func.row_number().over(order_by=t.c.id) - 1
            assignee = spec.assignee.to_sql(SqlContext(t, position, self.org, bases))
        now = literal(self.clock(), DateTime(timezone=True))
        cause = (literal(prefix, String(200)) + cast(t.c.id, String(20))
                 + literal(suffix, String(200)))
        columns = {
            "title": literal(spec.title, String(200)),
            "description": value(spec.description, Text()),
            "kind": literal(str(spec.kind), String(32)),
            "status": literal(TaskStatus.OPEN.value, String(16)),
            "priority": literal(str(spec.priority), String(16)),
            "form_key": literal(form.key, String(64)), "record_id": t.c.id,
            "assignee_id": assignee, "due_at": value(spec.due_at, DateTime(timezone=True)),
            "payload": literal(dict(spec.payload), db.JsonType), "cause_key": cause,
            "created_by": value(self.actor.user_id, db.IdType),
            "created_by_rule": value(rule, String(100)), "created_at": now, "updated_at": now,
            "version": literal(1, Integer()),
        }
        stmt = insert_ignoring_conflicts(self.session, db.task, "cause_key").from_select(
            list(columns), select(*columns.values()).where(where))
        return execute_counting(self.session, stmt)

    # --- reading ----------------------------------------------------------------------------
    def _load(self, task_id: int) -> Task:
        row = self.session.execute(select(db.task).where(db.task.c.id == task_id)).first()
        if row is None:
            raise NotFound(f"task {task_id} not found")
        return _task(row)

    def _involved(self, task: Task) -> bool:
        uid = self.actor.user_id
        return self.actor.superuser or (uid is not None and uid in {task.assignee_id,
                                                                     task.created_by})

    def get(self, task_id: int) -> Task:
        """The task, for its assignee, its creator, a superuser or anyone who may read the
        linked record; 404 for everyone else."""
        task = self._load(task_id)
        if self._involved(task):
            return task
        if task.form_key is not None and task.record_id is not None \
                and self.records.can_read(task.form_key, task.record_id):
            return task
        raise NotFound(f"task {task_id} not found")

    def _for_change(self, task_id: int, expected_version: int | None) -> Task:
        task = self.get(task_id)
        if not self._involved(task):
            raise PermissionDenied("only the assignee, the creator or an administrator may "
                                   "change this task")
        if expected_version is not None and expected_version != task.version:
            raise Conflict(f"task {task_id} was changed meanwhile (now version {task.version}, "
                           f"you had {expected_version}); reload it and try again")
        return task

    def for_record(self, form_key: str, record_id: int, *,
                   include_closed: bool = False, limit: int = 100) -> list[Task]:
        self.records.require_readable(form_key, record_id)
        query = select(db.task).where(db.task.c.form_key == form_key,
                                      db.task.c.record_id == record_id)
        if not include_closed:
            query = query.where(db.task.c.status.in_(OPEN_STATUSES))
        rows = self.session.execute(query.order_by(
            case((db.task.c.due_at.is_(None), 1), else_=0), db.task.c.due_at,
            db.task.c.id).limit(limit)).all()
        return [_task(r) for r in rows]

    def my_tasks(self, user_id: int | None = None, *, view: TaskView | str = TaskView.OPEN,
                 after: str | None = None, limit: int = 50) -> TaskPage:
        """The inbox of ``user_id`` (default: the actor), keyset-paged.

        Open tasks come by due time, earliest first, so overdue ones (due before now) lead,
        then those due soon, then those without a due time; closed tasks come newest first.
        Only the user themselves or a superuser may read someone's inbox.
        """
        user_id = self.actor.user_id if user_id is None else user_id
        if user_id is None:
            raise ValidationFailed({"user_id": ["give the user whose tasks to list"]})
        if user_id != self.actor.user_id and not self.actor.superuser:
            raise PermissionDenied("you may only list your own tasks")
        errors: dict[str, list[str]] = {}
        view = _enum(TaskView, view, "view", errors)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            errors["limit"] = [f"must be between 1 and {MAX_PAGE}"]
        if errors:
            raise ValidationFailed(errors)
        t = db.task
        query = select(t).where(t.c.assignee_id == user_id)
        if view is TaskView.OPEN:
            query = query.where(t.c.status.in_(OPEN_STATUSES))
            no_due = case((t.c.due_at.is_(None), 1), else_=0)
            if after:
                query = query.where(self._after_open(after))
            query = query.order_by(no_due, t.c.due_at, t.c.id)
        else:
            query = query.where(t.c.status.in_(CLOSED_STATUSES))
            if after:
                at, last = self._cursor_at(after)
                query = query.where(or_(t.c.completed_at < at,
                                        and_(t.c.completed_at == at, t.c.id < last)))
            query = query.order_by(t.c.completed_at.desc(), t.c.id.desc())
        rows = self.session.execute(query.limit(limit + 1)).all()
        items = [_task(r) for r in rows[:limit]]
        cursor = None
        if len(rows) > limit and items:
            last_task = items[-1]
            cursor = (_encode([last_task.due_at is None, last_task.due_at, last_task.id])
                      if view is TaskView.OPEN
                      else _encode([last_task.completed_at, last_task.id]))
        return TaskPage(items, cursor)

    def _after_open(self, cursor: str) -> ColumnElement[bool]:
        no_due, due, last = _decode(cursor, 3)
        t = db.task
        if not isinstance(no_due, bool) or not isinstance(last, int):
            raise ValidationFailed({"after": ["this page cursor is not valid"]})
        if no_due:
            return and_(t.c.due_at.is_(None), t.c.id > last)
        at = self._parse_at(due)
        return or_(t.c.due_at > at, and_(t.c.due_at == at, t.c.id > last), t.c.due_at.is_(None))

    def _cursor_at(self, cursor: str) -> tuple[datetime, int]:
        at, last = _decode(cursor, 2)
        if not isinstance(last, int):
            raise ValidationFailed({"after": ["this page cursor is not valid"]})
        return self._parse_at(at), last

    @staticmethod
    def _parse_at(raw: Any) -> datetime:
        try:
            parsed = datetime.fromisoformat(raw)
        except (TypeError, ValueError):
            raise ValidationFailed({"after": ["this page cursor is not valid"]}) from None
        return as_utc(parsed) or parsed

    def overdue_count(self, user_id: int) -> int:
        """Open tasks of ``user_id`` past their due time (the navbar badge): one index range
        scan over (assignee, status, due_at)."""
        t = db.task
        return int(self.session.execute(
            select(func.count()).select_from(t).where(
                t.c.assignee_id == user_id, t.c.status.in_(OPEN_STATUSES),
                t.c.due_at < self.clock())).scalar_one())

    def comments(self, task_id: int) -> list[TaskComment]:
        self.get(task_id)
        c = db.task_comment
        rows = self.session.execute(select(c).where(c.c.task_id == task_id)
                                    .order_by(c.c.id)).all()
        return [TaskComment(r.id, r.task_id, r.author_id, as_utc(r.at) or r.at, r.body)
                for r in rows]

    def events(self, task_id: int) -> list[TaskEvent]:
        self.get(task_id)
        e = db.task_event
        rows = self.session.execute(select(e).where(e.c.task_id == task_id)
                                    .order_by(e.c.id)).all()
        return [TaskEvent(r.id, r.task_id, r.kind, as_utc(r.at) or r.at, r.actor_id,
                          r.rule_key, dict(r.detail or {})) for r in rows]

    # --- changing ---------------------------------------------------------------------------
    def _log(self, task_id: int, kind: TaskEventKind, detail: dict[str, Any],
             rule: str | None = None) -> None:
        self.session.execute(insert(db.task_event).values(
            task_id=task_id, kind=kind.value, at=self.clock(), actor_id=self.actor.user_id,
            rule_key=rule, detail=detail))

    def _write(self, task: Task, values: dict[str, Any]) -> Task:
        count = self.session.execute(
            update(db.task).where(db.task.c.id == task.id, db.task.c.version == task.version)
            .values(**values, updated_at=self.clock(), version=task.version + 1)).rowcount  # type: ignore[attr-defined]
        if count != 1:
            raise Conflict(f"task {task.id} was changed meanwhile; reload it and try again")
        return self._load(task.id)

    def set_status(self, task_id: int, status: TaskStatus | str, *,
                   expected_version: int | None = None) -> Task:
        errors: dict[str, list[str]] = {}
        new = _enum(TaskStatus, status, "status", errors)
        if errors:
            raise ValidationFailed(errors)
        task = self._for_change(task_id, expected_version)
        if new == task.status:
            return task
        if new not in TRANSITIONS[task.status]:
            raise ValidationFailed({"status": [
                f"a {task.status.value} task cannot become {new.value}; allowed: "
                f"{', '.join(sorted(s.value for s in TRANSITIONS[task.status]))}"]})
        closing = new.value in CLOSED_STATUSES
        updated = self._write(task, {"status": new.value,
                                     "completed_at": self.clock() if closing else None})
        self._log(task_id, TaskEventKind.STATUS, {"from": task.status.value, "to": new.value})
        return updated

    def update(self, task_id: int, changes: Mapping[str, Any], *,
               expected_version: int | None = None) -> Task:
        """Change title, description, due_at, priority and/or status (the PATCH body)."""
        allowed = {"title", "description", "due_at", "priority", "status"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            hint = f"cannot be changed here; change {', '.join(sorted(allowed))}"
            raise ValidationFailed({k: [hint] for k in unknown})
        task = self._for_change(task_id, expected_version)
        merged = TaskSpec(title=changes.get("title", task.title),
                          description=changes.get("description", task.description),
                          priority=changes.get("priority", task.priority),
                          due_at=changes.get("due_at", task.due_at), kind=task.kind).checked()
        values = {k: v for k, v in {"title": merged.title, "description": merged.description,
                                    "priority": str(merged.priority),
                                    "due_at": merged.due_at}.items()
                  if k in changes and v != getattr(task, k)}
        if values:
            before = {k: getattr(task, k) for k in values}
            task = self._write(task, values)
            self._log(task_id, TaskEventKind.UPDATED, {
                k: [_jsonable(before[k]), _jsonable(v)] for k, v in values.items()})
        if "status" in changes:
            task = self.set_status(task_id, changes["status"])
        return task

    def comment(self, task_id: int, body: str) -> TaskComment:
        """Add a comment; whoever may see the task may comment on it."""
        if not isinstance(body, str) or not body.strip() or len(body) > MAX_TEXT:
            raise ValidationFailed({"body": [f"write a comment of 1-{MAX_TEXT} characters"]})
        self.get(task_id)
        now = self.clock()
        new_id = self.session.execute(insert(db.task_comment).values(
            task_id=task_id, author_id=self.actor.user_id, at=now, body=body.strip())
            .returning(db.task_comment.c.id)).scalar_one()
        return TaskComment(int(new_id), task_id, self.actor.user_id, now, body.strip())

    def reassign(self, task_id: int, to_user_id: int, *, reason: str | None = None,
                 expected_version: int | None = None, rule: str | None = None) -> Task:
        """Give the task to another active user; logged with from, to and the reason."""
        if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
            raise ValidationFailed({"reason": ["write the reason in at most 500 characters"]})
        if not isinstance(to_user_id, int) or isinstance(to_user_id, bool) \
                or not self.org.is_active(to_user_id):
            raise ValidationFailed({"assignee_id": [
                f"no active user {to_user_id!r}; choose an active user"]})
        task = self._for_change(task_id, expected_version)
        if task.assignee_id == to_user_id:
            return task
        updated = self._write(task, {"assignee_id": to_user_id})
        self._log(task_id, TaskEventKind.REASSIGNED,
                  {"from": task.assignee_id, "to": to_user_id,
                   "reason": (reason or "").strip() or None}, rule)
        return updated


def _jsonable(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else v

