"""The action executor shared by rules and segments: set-based, idempotent, with a dry run.

``apply_actions`` runs a list of action documents for every record whose id a SELECT returns
(``ids``: a subquery, never a list of ids in Python), so a scan over a million loans is a few
statements per action, whatever the number of records:

- ``add_tag`` / ``remove_tag``: ``TagService.bulk_add`` / ``bulk_remove`` (idempotent by tag);
- ``create_task``: ``TaskService.bulk_create``, one ``INSERT ... SELECT ... ON CONFLICT
  (cause_key) DO NOTHING``;
- ``raise_alert``: ``AlertService.bulk_raise``, the same;
- ``set_field``: one ``UPDATE`` of the form's table (version bumped) after one ``INSERT ...
  SELECT`` of the audit rows, for all the field changes of the list together
  (``lendbase.rules.fields``); they run after the other actions, so every action sees the same
  matching records;
- ``notify``: one query per chunk of records, then ``NotificationService.send`` per record
  (rendering is per record);
- ``webhook``: one ``lb_webhook_call`` row per record and cause (set based), and one job run per
  call that POSTs it, signed, with retries (``lendbase.rules.webhooks``).

Idempotency: each record's action has the cause key ``<cause>:<record id>:<action index>``
(``cause`` is the caller's prefix, e.g. ``rule:upsell_followup:2026-11``): a task, an alert, a
notification or a webhook call is never made twice for one cause.

``dry_run`` computes what WOULD change with set-based SELECTs (the records that would newly
gain the tag, whose task does not exist yet, whose field would change...) and writes nothing.
Real runs report the same counts (taken from the statements themselves) and a sample.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy import ColumnElement, Select, String, cast, exists, func, literal, select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.conditions import ConditionContext, ConditionSchema
from lendbase.errors import MetadataError
from lendbase.forms.compile import CompiledForm, CompiledSchema
from lendbase.forms.values import DEFAULT_TZ
from lendbase.meta.validate import pointer as json_pointer
from lendbase.records.permissions import Actor
from lendbase.rules.model import (
    Action,
    ActionType,
    CreateTask,
    Notify,
    RaiseAlert,
    SetField,
    TagAction,
    Webhook,
    action_errors,
    cause_pattern,
    load_action,
)
from lendbase.security import FieldCipher
from lendbase.work import (
    AlertService,
    Channel,
    Gate,
    TagService,
    TaskService,
    TaskSpec,
    parse_assignee,
)
from lendbase.work.common import select_ids, split_cause_pattern

Clock = Callable[[], datetime]
#: Records shown per action in a report.
SAMPLE_SIZE = 20


@dataclass(frozen=True)
class ActionEnv:
    """What some actions need besides the database: the field cipher (conditions on encrypted
    fields, the recipient of a notification), notification channels and gates, the business
    time zone. The rule engine passes the app's; ``None`` parts fall back to defaults."""

    cipher: FieldCipher | None = None
    channels: Mapping[str, Channel] | None = None
    gates: tuple[Gate, ...] = ()
    tz: tzinfo = DEFAULT_TZ


@dataclass(frozen=True)
class SampleRecord:
    id: int
    title: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title}


@dataclass(frozen=True)
class ActionOutcome:
    """What one action did (or, in a dry run, would do): how many records it affected and the
    first of them by id. ``detail`` adds what a count cannot say (notification statuses,
    records skipped for want of a recipient)."""

    index: int
    type: ActionType
    affected: int
    sample: tuple[SampleRecord, ...] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "type": self.type.value, "affected": self.affected,
                "sample": [s.to_dict() for s in self.sample], "detail": dict(self.detail)}

    def log_entry(self) -> dict[str, Any]:
        """The run log's entry: the count and the sampled ids."""
        entry: dict[str, Any] = {"type": self.type.value, "affected": self.affected,
                                 "sample": [s.id for s in self.sample]}
        if self.detail:
            entry["detail"] = dict(self.detail)
        return entry


@dataclass(frozen=True)
class ActionReport:
    form_key: str
    source: str
    cause: str
    dry_run: bool
    actions: tuple[ActionOutcome, ...]

    def outcome(self, index: int) -> ActionOutcome:
        return self.actions[index]

    @property
    def affected(self) -> list[int]:
        return [a.affected for a in self.actions]

    def to_dict(self) -> dict[str, Any]:
        return {"form": self.form_key, "source": self.source, "cause": self.cause,
                "dry_run": self.dry_run, "actions": [a.to_dict() for a in self.actions]}


# --- checking the documents -------------------------------------------------------------------


@cache
def _action_validator() -> Draft202012Validator:
    import json

    text = resources.files("lendbase.meta").joinpath("schemas/rule.schema.json").read_text(
        "utf-8")
    schema = json.loads(text)
    return Draft202012Validator({"$defs": schema["$defs"], "type": "array",
                                 "items": {"$ref": "#/$defs/action"}})


def parse_actions(actions: Sequence[Mapping[str, Any]], *,
                  pointer: str = "/actions") -> tuple[Action, ...]:
    """Action documents as dataclasses; ``MetadataError`` with every problem by JSON pointer
    (under ``pointer``) when one breaks the meta-schema or the semantic checks."""
    docs = [dict(doc) if isinstance(doc, Mapping) else doc for doc in actions]
    errors: dict[str, list[str]] = {}
    for error in _action_validator().iter_errors(docs):
        leaves = [e for e in (error.context or []) if not e.context] or [error]
        for leaf in leaves:
            errors.setdefault(pointer + json_pointer(leaf.absolute_path), []).append(
                leaf.message)
    if not errors:
        errors = action_errors(docs, pointer)
    if errors:
        raise MetadataError(f"{sum(map(len, errors.values()))} problem(s) in the actions",
                            errors)
    return tuple(load_action(i, doc) for i, doc in enumerate(docs))


def condition_context(schema: CompiledSchema, form_key: str, *, now: datetime,
                      cipher: FieldCipher | None = None, tz: tzinfo = DEFAULT_TZ,
                      conditions: ConditionSchema | None = None) -> ConditionContext:
    """The condition/formula context of ``form_key``'s records, clock ``now``; with
    ``cipher`` encrypted fields compare by their keyed hash."""
    lookup = None
    if cipher is not None:
        def lookup(scope: str, key: str, text: str) -> str:
            return cipher.keyed_hash(text, f"{scope}.{key}")
    return ConditionContext.for_form(conditions or ConditionSchema.from_compiled(schema),
                                     form_key, now=now, tz=tz, lookup_hash=lookup)


# --- set-based helpers ------------------------------------------------------------------------


class Target:
    """The records an action list runs over: a form's table and the ids SELECT."""

    def __init__(self, session: Session, cf: CompiledForm, ids: Select[Any],
                 sample_size: int) -> None:
        self.session = session
        self.cf = cf
        self.table = cf.table
        self.ids = ids
        self.sample_size = sample_size

    @property
    def within(self) -> ColumnElement[bool]:
        """The form's row is one of the ids (a fresh subquery each time it is used)."""
        return self.table.c.id.in_(select_ids(self.ids))

    def _title_column(self) -> Any:
        title = self.cf.form.title_field
        if title and self.cf.form.has_field(title):
            f = self.cf.form.field(title)
            if f.stored and not f.sensitive and title in self.table.c:
                return self.table.c[title]
        return None

    def count(self, clause: ColumnElement[bool]) -> int:
        return int(self.session.execute(
            select(func.count()).select_from(self.table).where(self.within, clause)
        ).scalar_one())

    def sample(self, clause: ColumnElement[bool]) -> tuple[SampleRecord, ...]:
        if self.sample_size <= 0:
            return ()
        return self.sample_rows(self.session.execute(
            self.sample_query().where(self.within, clause).order_by(self.table.c.id)
            .limit(self.sample_size)).all())

    def sample_query(self) -> Select[Any]:
        title = self._title_column()
        columns = [self.table.c.id] + ([title.label("title")] if title is not None else [])
        return select(*columns)

    @staticmethod
    def sample_rows(rows: Iterable[Any]) -> tuple[SampleRecord, ...]:
        out = []
        for row in rows:
            title = getattr(row, "title", None)
            out.append(SampleRecord(int(row.id), None if title is None else str(title)))
        return tuple(out)


def cause_column(pattern: str, id_column: ColumnElement[Any]) -> ColumnElement[str]:
    """The cause key of each record as SQL, exactly as the bulk services build it."""
    prefix, suffix = split_cause_pattern(pattern)
    return (literal(prefix, String(200)) + cast(id_column, String(20))
            + literal(suffix, String(200)))


def no_row_with_cause(table: Any, pattern: str, id_column: ColumnElement[Any],
                      *extra: ColumnElement[bool]) -> ColumnElement[bool]:
    """No row of ``table`` carries this record's cause key (the UNIQUE index answers)."""
    return ~exists().where(table.c.cause_key == cause_column(pattern, id_column), *extra)


@dataclass
class Run:
    """One call of ``apply_actions``: where, for whom, with which cause and clock."""

    session: Session
    target: Target
    form_key: str
    cause: str
    source: str
    clock: Clock
    now: datetime
    dry_run: bool
    env: ActionEnv
    context: ConditionContext
    system: Actor = field(default_factory=Actor.system)

    def pattern(self, action: Action) -> str:
        return cause_pattern(self.cause, action.index)


# --- tags, tasks, alerts ----------------------------------------------------------------------


def _tag_errors(session: Session, action: TagAction, ptr: str) -> list[str]:
    row = session.execute(select(db.tag.c.active).where(db.tag.c.key == action.tag)).first()
    if row is None:
        return [f"there is no tag {action.tag!r}; create it under Tags first or pick an "
                "existing one"]
    if action.adding and not row.active:
        return [f"tag {action.tag!r} is retired and cannot be added; pick an active tag"]
    return []


def _has_tag(run: Run, tag: str) -> ColumnElement[bool]:
    rt = db.record_tag
    return exists().where(rt.c.form_key == run.form_key, rt.c.tag_key == tag,
                          rt.c.record_id == run.target.table.c.id)


def _tag(run: Run, action: TagAction) -> ActionOutcome:
    changes = ~_has_tag(run, action.tag) if action.adding else _has_tag(run, action.tag)
    sample = run.target.sample(changes)
    if run.dry_run:
        return ActionOutcome(action.index, action.type, run.target.count(changes), sample)
    tags = TagService(run.session, run.system, run.clock)
    if action.adding:
        count = tags.bulk_add(run.form_key, action.tag, run.target.ids, reason=action.reason,
                              rule=run.source)
    else:
        count = tags.bulk_remove(run.form_key, action.tag, run.target.ids,
                                 reason=action.reason, rule=run.source)
    return ActionOutcome(action.index, action.type, count, sample)


def _task_errors(run: Run, action: CreateTask) -> list[str]:
    if action.assignee is None:
        return []
    fields = []
    pending = [action.assignee]
    while pending:
        doc = pending.pop()
        if isinstance(doc, list):
            pending.extend(doc)
        elif isinstance(doc, Mapping) and doc.get("rule") in {"field", "department_head"}:
            fields.append(doc.get("field", "owner_id"))
    problems = []
    for name in fields:
        f = run.target.cf.form.field(name) if run.target.cf.form.has_field(name) else None
        if name != "owner_id" and (f is None or f.type != "user"):
            users = [x.key for x in run.target.cf.form.fields if x.type == "user"]
            problems.append(f"{name!r} is not a user field of form {run.form_key!r}; use "
                            f"owner_id or one of: {', '.join(users) or '(none)'}")
    return problems


def _task(run: Run, action: CreateTask) -> ActionOutcome:
    pattern = run.pattern(action)
    new = no_row_with_cause(db.task, pattern, run.target.table.c.id)
    sample = run.target.sample(new)
    if run.dry_run:
        return ActionOutcome(action.index, action.type, run.target.count(new), sample)
    due = run.now + timedelta(days=action.due_in_days) if action.due_in_days is not None \
        else None
    spec = TaskSpec(action.title, kind=action.kind, description=action.description,
                    priority=action.priority, due_at=due,
                    assignee=parse_assignee(action.assignee) if action.assignee else None,
                    payload=dict(action.payload))
    count = TaskService(run.session, run.system, run.clock).bulk_create(
        spec, run.target.cf, run.target.ids, pattern, rule=run.source)
    return ActionOutcome(action.index, action.type, count, sample)


def _alert(run: Run, action: RaiseAlert) -> ActionOutcome:
    pattern = run.pattern(action)
    new = no_row_with_cause(db.alert, pattern, run.target.table.c.id)
    sample = run.target.sample(new)
    if run.dry_run:
        return ActionOutcome(action.index, action.type, run.target.count(new), sample)
    count = AlertService(run.session, run.system, run.clock).bulk_raise(
        run.form_key, run.target.ids, pattern, title=action.title, severity=action.severity,
        detail=dict(action.detail), rule=run.source)
    return ActionOutcome(action.index, action.type, count, sample)


# --- the executor -----------------------------------------------------------------------------


def _check(run: Run, actions: Sequence[Action], pointer: str) -> None:
    """Everything the published forms and the catalogues must hold for these actions."""
    from lendbase.rules.fields import set_field_errors
    from lendbase.rules.outbound import notify_errors

    errors: dict[str, list[str]] = {}
    for action in actions:
        ptr = f"{pointer}/{action.index}"
        found: dict[str, list[str]] = {}
        if isinstance(action, TagAction):
            found[f"{ptr}/tag"] = _tag_errors(run.session, action, ptr)
        elif isinstance(action, CreateTask):
            found[f"{ptr}/assignee"] = _task_errors(run, action)
        elif isinstance(action, SetField):
            found = set_field_errors(run, action, ptr)
        elif isinstance(action, Notify):
            found = notify_errors(run, action, ptr)
        for key, messages in found.items():
            if messages:
                errors.setdefault(key, []).extend(messages)
    if errors:
        raise MetadataError(f"{sum(map(len, errors.values()))} action(s) cannot run on form "
                            f"{run.form_key!r}", errors)


def apply_actions(session: Session, actions: Sequence[Mapping[str, Any]], *, form_key: str,
                  ids: Select[Any], cause: str, source: str, clock: Clock,
                  schema: CompiledSchema, dry_run: bool = False, env: ActionEnv | None = None,
                  sample: int = SAMPLE_SIZE, pointer: str = "/actions",
                  conditions: ConditionSchema | None = None) -> ActionReport:
    """Run ``actions`` (action documents of rule.schema.json) for the records of ``form_key``
    whose id ``ids`` selects; or, with ``dry_run``, report what they would change and write
    nothing. Never commits.

    ``cause`` is the idempotency prefix: each record's action has the cause key
    ``f"{cause}:{record_id}:{index}"``. ``source`` says who acts ("rule:<key>",
    "segment:<key>"); the work services record it. ``schema`` is the compiled schema of the
    published forms. Raises ``MetadataError`` (JSON pointers under ``pointer``) when an action
    does not fit the form or the catalogues (unknown field or tag, encrypted field...).
    """
    parsed = parse_actions(actions, pointer=pointer)
    cf = schema.forms.get(form_key)
    if cf is None:
        raise MetadataError(f"no published form {form_key!r}",
                            {"/form": [f"form {form_key!r} is not published; publish it first "
                                       "or pick a published form"]})
    env = env or ActionEnv()
    now = clock()
    context = condition_context(schema, form_key, now=now, cipher=env.cipher, tz=env.tz,
                                conditions=conditions)
    run = Run(session, Target(session, cf, ids, sample), form_key, cause, source, clock, now,
              dry_run, env, context)
    _check(run, parsed, pointer)
    from lendbase.rules.fields import apply_field_changes
    from lendbase.rules.outbound import notify, webhook

    outcomes: dict[int, ActionOutcome] = {}
    for action in parsed:
        if isinstance(action, TagAction):
            outcomes[action.index] = _tag(run, action)
        elif isinstance(action, CreateTask):
            outcomes[action.index] = _task(run, action)
        elif isinstance(action, RaiseAlert):
            outcomes[action.index] = _alert(run, action)
        elif isinstance(action, Notify):
            outcomes[action.index] = notify(run, action)
        elif isinstance(action, Webhook):
            outcomes[action.index] = webhook(run, action)
    # field changes last: the actions above see the records as they matched
    outcomes.update(apply_field_changes(run, [a for a in parsed if isinstance(a, SetField)]))
    return ActionReport(form_key, source, cause, dry_run,
                        tuple(outcomes[a.index] for a in parsed))


__all__ = [
    "SAMPLE_SIZE", "ActionEnv", "ActionOutcome", "ActionReport", "SampleRecord", "Target",
    "apply_actions", "cause_column", "condition_context", "no_row_with_cause", "parse_actions",
]
