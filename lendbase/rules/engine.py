"""Running rules: the event handler (record created / updated, stage changed, external events)
and the scheduled scan, both ending in ``apply_actions`` over a SELECT of matching ids.

- An event runs each published, enabled rule of the event's form whose trigger matches (a
  field_changed rule only when one of its fields changed, a stage_changed rule only when its
  stage field went from / to its stages). The condition is evaluated for that one record in
  SQL (``SELECT id FROM t WHERE id = :id AND <condition>``, so related-record aggregates work)
  and the actions get that SELECT as ``ids``.
- A scheduled rule has a cron schedule (``rule:<key>``) whose job calls ``run_rule``: ONE
  set-based SELECT of the matching ids feeds every action.
- An external event (``POST /api/v1/events``) naming a record runs the rule for it; one naming
  none runs it for every matching record.

Every run writes a row of ``lb_rule_run`` (version, trigger, times, counts per action, error).
A run that fails for a reason a retry cannot fix (the rule no longer fits its form, a tag was
deleted) rolls back its own changes and records the error; anything else (the database went
away) fails the job, which is retried.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lendbase.errors import LendBaseError, MetadataError, NotFound
from lendbase.events import Event, EventType
from lendbase.forms.compile import CompiledSchema
from lendbase.jobs import JobContext
from lendbase.rules.actions import apply_actions
from lendbase.rules.bind import bind_rule
from lendbase.rules.model import Trigger, TriggerType, rule_cause
from lendbase.rules.registry import (
    EXTENSION,
    PublishedRule,
    RuleRegistry,
    RulesRuntime,
    bind_runtime,
    runtime_for,
)
from lendbase.rules.runs import RuleRun, RunStatus, write_run

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("lendbase.rules")

#: The event handler every app subscribes (``install``).
HANDLER = "lendbase.rules.engine.on_event"
#: The job of a rule's cron schedule.
RUN_JOB = "lendbase.rules.engine.run_rule_job"
SUBSCRIBED = (EventType.RECORD_CREATED, EventType.RECORD_UPDATED, EventType.STAGE_CHANGED,
              EventType.EXTERNAL)


def schedule_key_for(rule_key: str) -> str:
    """The key of a rule's cron schedule in ``lb_schedule``."""
    return f"rule:{rule_key}"


# --- triggers ---------------------------------------------------------------------------------


def _stage_move(trigger: Trigger, event: Event) -> tuple[Any, Any] | None:
    """(from, to) of the trigger's stage field in ``event``, or None if it did not move."""
    name = trigger.field or ""
    if event.type is EventType.STAGE_CHANGED and event.payload.get("field") in (None, name):
        if "to" in event.payload:
            return event.payload.get("from"), event.payload.get("to")
    if name not in event.changed:
        return None
    return event.before.get(name), event.after.get(name)


def trigger_matches(trigger: Trigger, event: Event) -> bool:
    """Whether ``event`` fires a rule with ``trigger`` (its form already matches)."""
    kind = trigger.type
    if kind is TriggerType.RECORD_CREATED:
        return event.type is EventType.RECORD_CREATED
    if kind is TriggerType.RECORD_UPDATED:
        return event.type is EventType.RECORD_UPDATED
    if kind is TriggerType.FIELD_CHANGED:
        if event.type is EventType.RECORD_CREATED:
            return trigger.on_create and event.touched(*trigger.fields)  # filled in
        return event.type is EventType.RECORD_UPDATED and event.touched(*trigger.fields)
    if kind is TriggerType.STAGE_CHANGED:
        if event.type not in (EventType.RECORD_CREATED, EventType.RECORD_UPDATED,
                              EventType.STAGE_CHANGED):
            return False
        move = _stage_move(trigger, event)
        if move is None:
            return False
        before, after = move
        if event.type is EventType.RECORD_CREATED:
            before = None
        if before == after:
            return False
        return ((not trigger.from_stages or before in trigger.from_stages)
                and (not trigger.to_stages or after in trigger.to_stages))
    if kind is TriggerType.EXTERNAL:
        return event.type is EventType.EXTERNAL and event.name == trigger.event
    return False


# --- one run ----------------------------------------------------------------------------------


def _error_text(exc: LendBaseError) -> str:
    text = f"{exc.code}: {exc.message}"
    if isinstance(exc, MetadataError) and exc.errors:
        text += "; " + "; ".join(f"{k or '/'}: {' '.join(v)}" for k, v in exc.errors.items())
    return text


def execute_rule(session: Session, runtime: RulesRuntime, schema: CompiledSchema,
                 published: PublishedRule, *, trigger: str, now: datetime, cause: str,
                 record_id: int | None = None, event_id: int | None = None) -> RuleRun:
    """Run one rule (for one record, or for every matching record) in a savepoint and log
    the run. Errors a retry cannot fix (``LendBaseError``) roll the rule's changes back and
    are recorded; others propagate."""
    rule = published.rule
    started = runtime.clock()
    matched: int | None = None
    entries: list[dict[str, Any]] = []
    error: str | None = None
    try:
        with session.begin_nested():
            conditions = runtime.conditions(schema)
            bound = bind_rule(session, rule, schema, now=now, env=runtime.env(),
                              conditions=conditions, check_actions=False)
            ids = bound.ids(record_id)
            if record_id is not None:
                matched = 1 if session.execute(ids).first() is not None else 0
            else:
                matched = int(session.execute(
                    select(func.count()).select_from(ids.subquery())).scalar_one())
            if matched:
                report = apply_actions(session, rule.action_docs, form_key=rule.form, ids=ids,
                                       cause=cause, source=rule.source, clock=lambda: now,
                                       schema=schema, env=runtime.env(),
                                       conditions=conditions)
                entries = [o.log_entry() for o in report.actions]
    except LendBaseError as exc:
        error = _error_text(exc)
        entries = []
        log.warning("rule %s v%s (%s) failed: %s", rule.key, published.version, trigger, error)
    finished = runtime.clock()
    status = RunStatus.FAILED if error else RunStatus.SUCCEEDED
    run_id = write_run(session, rule_key=rule.key, rule_version=published.version,
                       trigger=trigger, cause=cause, started_at=started, finished_at=finished,
                       status=status, matched=matched, actions=entries, error=error,
                       event_id=event_id, record_id=record_id)
    return RuleRun(run_id, rule.key, published.version, trigger, event_id, record_id, cause,
                   status, matched, entries, error, started, finished)


# --- events -----------------------------------------------------------------------------------


def on_event(session: Session, event: Event) -> None:
    """The event handler (``handler(session, event)``): run the rules the event triggers."""
    runtime = runtime_for(session)
    if event.type is EventType.EXTERNAL:
        candidates = [r for r in runtime.rules.external(session, event.name)
                      if event.form in (None, r.rule.form)]
    elif event.form is not None and event.record_id is not None:
        candidates = [r for r in runtime.rules.for_form(session, event.form)
                      if trigger_matches(r.rule.trigger, event)]
    else:
        return
    if not candidates:
        return
    schema = runtime.forms.schema(session)
    now = runtime.clock()
    for published in candidates:
        rule = published.rule
        cause = rule_cause(rule, at=event.occurred_at, event_id=event.id)
        trigger = event.type.value if event.type is not EventType.EXTERNAL \
            else f"external:{event.name}"
        execute_rule(session, runtime, schema, published, trigger=trigger, now=now,
                     cause=cause, record_id=event.record_id, event_id=event.id)


# --- scheduled and manual runs ----------------------------------------------------------------


def run_rule(session: Session, key: str, *, trigger: str = "manual",
             now: datetime | None = None, at: datetime | None = None,
             run_token: str | None = None) -> RuleRun:
    """Run the published rule ``key`` over every record that matches now: ONE set-based
    SELECT of ids feeds its actions. ``at`` places the run in its period (default ``now``);
    ``run_token`` names the run in "every time" cause keys (default the time). Never
    commits."""
    runtime = runtime_for(session)
    published = runtime.rules.get(session, key)
    if published is None:
        raise NotFound(f"no published rule {key!r}; publish it first")
    now = now or runtime.clock()
    cause = rule_cause(published.rule, at=at or now, run_token=run_token)
    return execute_rule(session, runtime, runtime.forms.schema(session), published,
                        trigger=trigger, now=now, cause=cause)


def run_rule_job(ctx: JobContext, rule: str) -> None:
    """The job of a rule's cron schedule: ``run_rule`` at the due time's period."""
    runtime = runtime_for(ctx.session)
    published = runtime.rules.get(ctx.session, rule)
    if published is None or not published.rule.enabled \
            or not published.rule.trigger.scheduled:
        log.info("schedule of rule %s fired but the rule is not a published, enabled, "
                 "scheduled rule any more; nothing done", rule)
        return
    at = ctx.due_at or ctx.now
    run_rule(ctx.session, rule, trigger="schedule", now=ctx.now, at=at,
             run_token=at.strftime("t%Y%m%dT%H%MZ"))


# --- wiring -----------------------------------------------------------------------------------


def install(app: Flask) -> RulesRuntime:
    """Subscribe the rule engine to record and external events and give the app its rules
    runtime (compiled forms, published rules, the field cipher, the job runtime's clock)."""
    from lendbase.jobs import runtime_of

    existing = app.extensions.get(EXTENSION)
    if isinstance(existing, RulesRuntime):
        return existing
    state = app.extensions["lendbase"]
    runtime_of(app).subscribers.subscribe_many(SUBSCRIBED, HANDLER)
    runtime = RulesRuntime(state.registry, RuleRegistry(), cipher=state.cipher,
                           clock=lambda: runtime_of(app).clock())
    app.extensions[EXTENSION] = runtime
    bind_runtime(state.engine, runtime)
    return runtime


__all__ = ["HANDLER", "RUN_JOB", "SUBSCRIBED", "execute_rule", "install", "on_event",
           "run_rule", "run_rule_job", "schedule_key_for", "trigger_matches"]
