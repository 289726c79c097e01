"""Rule documents as frozen dataclasses, the checks JSON Schema cannot express, and the cause
keys that make a rule's actions idempotent. Pure: nothing here reads a database.

A rule watches the records of one form. Its trigger (a record created or updated, a field or
a stage that changed, a cron schedule, an external event) decides when it looks; its condition
(the condition language of docs/conditions.md; absent means always) which records qualify; its
actions what happens to them; its ``once`` policy how often that may happen to one record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from lendbase.errors import MetadataError, ValidationFailed
from lendbase.forms.values import DEFAULT_TZ

_EMPTY: Mapping[str, Any] = MappingProxyType({})
#: What start_flow says until the flow engine exists.
FLOWS_LATER = ("flows arrive with their own issue: a rule cannot start a flow yet; remove this "
               "action (create a task for the approver meanwhile)")


class TriggerType(StrEnum):
    RECORD_CREATED = "record_created"
    RECORD_UPDATED = "record_updated"
    FIELD_CHANGED = "field_changed"
    STAGE_CHANGED = "stage_changed"
    SCHEDULE = "schedule"
    EXTERNAL = "external"


class ActionType(StrEnum):
    SET_FIELD = "set_field"
    ADD_TAG = "add_tag"
    REMOVE_TAG = "remove_tag"
    CREATE_TASK = "create_task"
    RAISE_ALERT = "raise_alert"
    NOTIFY = "notify"
    WEBHOOK = "webhook"
    START_FLOW = "start_flow"


class Once(StrEnum):
    """How often the actions may run for one record."""

    RECORD = "record"  # once per record, ever
    DAY = "day"  # once per record per day (business time zone)
    WEEK = "week"  # ... per ISO week
    MONTH = "month"  # ... per calendar month
    EVERY_TIME = "every_time"  # every event, every scheduled run


# --- triggers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trigger:
    type: TriggerType
    #: field_changed: any of these fields changed (or, with ``on_create``, was filled in on
    #: a new record)
    fields: tuple[str, ...] = ()
    on_create: bool = False
    #: stage_changed: the select field holding the stage, and the stages it leaves / enters
    #: (empty: any)
    field: str | None = None
    from_stages: tuple[str, ...] = ()
    to_stages: tuple[str, ...] = ()
    #: schedule
    cron: str | None = None
    timezone: str = "Asia/Shanghai"
    #: external: the event's name
    event: str | None = None

    @property
    def scheduled(self) -> bool:
        return self.type is TriggerType.SCHEDULE

    def watched_fields(self) -> tuple[str, ...]:
        if self.type is TriggerType.FIELD_CHANGED:
            return self.fields
        if self.type is TriggerType.STAGE_CHANGED and self.field:
            return (self.field,)
        return ()


def load_trigger(doc: Mapping[str, Any]) -> Trigger:
    kind = TriggerType(doc["type"])
    return Trigger(kind, fields=tuple(doc.get("fields", ())), on_create=bool(doc.get("on_create")),
                   field=doc.get("field"),
                   from_stages=tuple(doc.get("from", ())), to_stages=tuple(doc.get("to", ())),
                   cron=doc.get("cron"), timezone=doc.get("timezone") or "Asia/Shanghai",
                   event=doc.get("event"))


# --- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One action of a rule (or a segment): its position (part of its cause key) and type."""

    index: int
    type: ActionType


@dataclass(frozen=True)
class SetField(Action):
    field: str = ""
    #: a literal (``has_value``), or a formula evaluated in SQL
    value: Any = None
    formula: str | None = None
    has_value: bool = False


@dataclass(frozen=True)
class TagAction(Action):
    """add_tag / remove_tag."""

    tag: str = ""
    reason: str | None = None

    @property
    def adding(self) -> bool:
        return self.type is ActionType.ADD_TAG


@dataclass(frozen=True)
class CreateTask(Action):
    title: str = ""
    description: str | None = None
    kind: str = "follow_up"
    priority: str = "normal"
    due_in_days: int | None = None
    #: the assignee rule's JSON (``lendbase.work.parse_assignee``)
    assignee: Any = None
    payload: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class RaiseAlert(Action):
    title: str = ""
    severity: str = "warning"
    detail: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class Notify(Action):
    template: str = ""
    #: a field key, or ``reference.field`` read on the referenced record
    recipient_field: str = ""
    #: ``{"from": "22:00", "to": "08:00", "timezone_field"?, "timezone"?}``: no sending then
    quiet_hours: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Webhook(Action):
    url: str = ""
    secret: str = ""
    timeout_s: int = 10
    payload: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


def load_action(index: int, doc: Mapping[str, Any]) -> Action:
    """One action document (already valid against the meta-schema) as its dataclass."""
    kind = ActionType(doc["type"])
    if kind is ActionType.SET_FIELD:
        return SetField(index, kind, field=doc["field"], value=doc.get("value"),
                        formula=doc.get("formula"), has_value="value" in doc)
    if kind in (ActionType.ADD_TAG, ActionType.REMOVE_TAG):
        return TagAction(index, kind, tag=doc["tag"], reason=doc.get("reason"))
    if kind is ActionType.CREATE_TASK:
        return CreateTask(index, kind, title=doc["title"], description=doc.get("description"),
                          kind=doc.get("kind", "follow_up"),
                          priority=doc.get("priority", "normal"),
                          due_in_days=doc.get("due_in_days"), assignee=doc.get("assignee"),
                          payload=MappingProxyType(dict(doc.get("payload") or {})))
    if kind is ActionType.RAISE_ALERT:
        return RaiseAlert(index, kind, title=doc["title"],
                          severity=doc.get("severity", "warning"),
                          detail=MappingProxyType(dict(doc.get("detail") or {})))
    if kind is ActionType.NOTIFY:
        quiet = doc.get("quiet_hours")
        return Notify(index, kind, template=doc["template"],
                      recipient_field=doc["recipient_field"],
                      quiet_hours=None if quiet is None else MappingProxyType(dict(quiet)))
    if kind is ActionType.WEBHOOK:
        return Webhook(index, kind, url=doc["url"], secret=doc["secret"],
                       timeout_s=int(doc.get("timeout_s", 10)),
                       payload=MappingProxyType(dict(doc.get("payload") or {})))
    raise MetadataError(FLOWS_LATER, {f"/actions/{index}/type": [FLOWS_LATER]})


def action_errors(actions: Sequence[Any], pointer: str = "/actions") -> dict[str, list[str]]:
    """What the meta-schema cannot say about a list of action documents (already valid
    against it), keyed by JSON pointer under ``pointer``. Rules and segments share it."""
    from lendbase.work import parse_assignee

    errors: dict[str, list[str]] = {}
    for i, doc in enumerate(actions):
        ptr = f"{pointer}/{i}"
        kind = doc.get("type")
        if kind == ActionType.START_FLOW:
            errors.setdefault(f"{ptr}/type", []).append(FLOWS_LATER)
        elif kind == ActionType.SET_FIELD and ("value" in doc) == ("formula" in doc):
            errors.setdefault(ptr, []).append(
                "give the new value either as \"value\" (a literal, null to empty the field) "
                "or as \"formula\" (computed from the record), not both and not neither")
        elif kind == ActionType.CREATE_TASK and doc.get("assignee") is not None:
            try:
                parse_assignee(doc["assignee"])
            except ValidationFailed as exc:
                errors.setdefault(f"{ptr}/assignee", []).extend(
                    m for ms in exc.fields.values() for m in ms)
        elif kind == ActionType.WEBHOOK:
            parts = urlsplit(str(doc.get("url", "")))
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                errors.setdefault(f"{ptr}/url", []).append(
                    "write a full address with its host, e.g. https://crm.example.com/hooks/lb")
    return errors


# --- the rule ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleDef:
    key: str
    label: Mapping[str, str]
    form: str
    trigger: Trigger
    actions: tuple[Action, ...]
    condition: Mapping[str, Any] | None = None
    once: Once = Once.RECORD
    enabled: bool = True
    description: Mapping[str, str] | None = None
    #: the action documents as written (what ``apply_actions`` takes)
    action_docs: tuple[Mapping[str, Any], ...] = ()

    @property
    def source(self) -> str:
        """Who acts, as the work services record it ("rule:<key>")."""
        return f"rule:{self.key}"


def load_rule(doc: Mapping[str, Any]) -> RuleDef:
    """A rule document that passed ``validate_document("rules", doc)`` as a ``RuleDef``."""
    condition = doc.get("condition")
    return RuleDef(
        key=doc["key"], label=MappingProxyType(dict(doc["label"])), form=doc["form"],
        trigger=load_trigger(doc["trigger"]),
        actions=tuple(load_action(i, a) for i, a in enumerate(doc["actions"])),
        condition=condition if condition else None, once=Once(doc.get("once", "record")),
        enabled=bool(doc.get("enabled", True)), description=doc.get("description"),
        action_docs=tuple(MappingProxyType(dict(a)) for a in doc["actions"]))


def semantic_errors(doc: Mapping[str, Any]) -> dict[str, list[str]]:
    """Errors JSON Schema cannot express, keyed by JSON pointer, for a schema-valid rule
    document. Fields, forms, tags and templates are checked when the rule is published (they
    need the published forms)."""
    errors: dict[str, list[str]] = {}
    trigger = doc["trigger"]
    if trigger["type"] == TriggerType.SCHEDULE:
        cron = trigger.get("cron", "")
        if not croniter.is_valid(cron) or len(cron.split()) != 5:
            errors["/trigger/cron"] = [
                f"{cron!r} is not a cron expression; write five fields (minute hour day month "
                "weekday) such as '0 9 * * 1-5' (09:00 on weekdays) or '*/30 * * * *'"]
        if "timezone" in trigger and zone(trigger["timezone"]) is None:
            errors["/trigger/timezone"] = [f"{trigger['timezone']!r} is not a time zone; use "
                                           "a name such as 'Asia/Shanghai' or 'UTC'"]
    if trigger["type"] == TriggerType.STAGE_CHANGED:
        both = set(trigger.get("from", ())) & set(trigger.get("to", ()))
        if both and len(trigger.get("from", ())) == len(trigger.get("to", ())) == 1:
            errors["/trigger/to"] = ["a stage cannot change from a stage to itself; pick "
                                     "another stage"]
    if doc.get("condition") is not None and not isinstance(doc.get("condition"), Mapping):
        errors["/condition"] = ["the condition is an object such as {\"and\": [...]}"]
    errors.update(action_errors(doc["actions"]))
    return errors


def check_rule(doc: Mapping[str, Any]) -> RuleDef:
    """Validate (meta-schema and semantics) and load; raises ``MetadataError``."""
    from lendbase.meta.validate import validate_document

    validate_document("rules", doc)
    return load_rule(doc)


def zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


# --- cause keys -------------------------------------------------------------------------------


def period_label(once: Once, at: datetime, tz: tzinfo = DEFAULT_TZ) -> str:
    """The period ``at`` falls in, in the business time zone: "2026-11-28", "2026-W48",
    "2026-11"; empty for the policies without a period."""
    local = at.astimezone(tz)
    if once is Once.DAY:
        return local.strftime("%Y-%m-%d")
    if once is Once.WEEK:
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if once is Once.MONTH:
        return local.strftime("%Y-%m")
    return ""


def rule_cause(rule: RuleDef, *, at: datetime, event_id: int | None = None,
               run_token: str | None = None, tz: tzinfo = DEFAULT_TZ) -> str:
    """The cause prefix of one run of ``rule``, the ``cause`` of ``apply_actions``:

    - once per record: ``rule:<key>``
    - once per record per period: ``rule:<key>:2026-11`` (the period of ``at``)
    - every time: ``rule:<key>:e<event id>`` for an event, ``rule:<key>:<run_token>`` for a
      scheduled run (the due time, so a retried run keeps its cause).

    Each record's action then has the cause key ``<cause>:<record id>:<action index>``.
    """
    base = rule.source
    if rule.once is Once.RECORD:
        return base
    if rule.once is Once.EVERY_TIME:
        if event_id is not None:
            return f"{base}:e{event_id}"
        return f"{base}:{run_token or at.strftime('t%Y%m%dT%H%M%S')}"
    return f"{base}:{period_label(rule.once, at, tz)}"


def cause_pattern(cause: str, index: int) -> str:
    """The bulk cause pattern of action ``index``: ``<cause>:{id}:<index>``."""
    return f"{cause}:{{id}}:{index}"


__all__ = [
    "FLOWS_LATER", "Action", "ActionType", "CreateTask", "Notify", "Once", "RaiseAlert",
    "RuleDef", "SetField", "TagAction", "Trigger", "TriggerType", "Webhook", "action_errors",
    "cause_pattern", "check_rule", "load_action", "load_rule", "load_trigger", "period_label",
    "rule_cause", "semantic_errors", "zone",
]
