"""Bind a rule to the published forms: its form, trigger fields and stages, its condition
(compiled to SQL with the run's clock) and its actions. Every problem is reported at once by
JSON pointer (``MetadataError``, a 422), so the editor shows it next to what it concerns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from lendbase.conditions import ConditionContext, ConditionSchema, UnsupportedNode, compile_sql
from lendbase.conditions.bind import ConditionBinder
from lendbase.errors import MetadataError
from lendbase.forms.compile import CompiledForm, CompiledSchema
from lendbase.rules.actions import ActionEnv, apply_actions, condition_context
from lendbase.rules.model import RuleDef, TriggerType


@dataclass(frozen=True)
class BoundRule:
    """A rule bound to the published forms, for one clock."""

    rule: RuleDef
    form: CompiledForm
    context: ConditionContext
    #: the compiled condition (None: always)
    where: ColumnElement[bool] | None

    def ids(self, record_id: int | None = None, *,
            created_until: datetime | None = None) -> Select[Any]:
        """``SELECT id`` of the matching records: one record (an event) or all of them (a
        scheduled scan), optionally only records that existed at ``created_until``."""
        t = self.form.table
        query = select(t.c.id)
        if record_id is not None:
            query = query.where(t.c.id == record_id)
        if created_until is not None:
            query = query.where(t.c.created_at <= created_until)
        if self.where is not None:
            query = query.where(self.where)
        return query


def _locate(tree: Any, context: ConditionContext, ptr: str) -> str:
    """The deepest node of ``tree`` that fails to bind on its own (or ``ptr``)."""
    if not isinstance(tree, Mapping):
        return ptr
    for group in ("and", "or"):
        children = tree.get(group)
        if isinstance(children, list):
            for i, child in enumerate(children):
                if not isinstance(child, Mapping):
                    return f"{ptr}/{group}/{i}"
                try:
                    ConditionBinder(context).bind(child)
                except UnsupportedNode:
                    return _locate(child, context, f"{ptr}/{group}/{i}")
    if isinstance(tree.get("not"), Mapping):
        try:
            ConditionBinder(context).bind(tree["not"])
        except UnsupportedNode:
            return _locate(tree["not"], context, f"{ptr}/not")
    return ptr


def condition_errors(tree: Mapping[str, Any] | None, context: ConditionContext,
                     ptr: str = "/condition") -> dict[str, list[str]]:
    """The condition's problem at the JSON pointer of the node that causes it."""
    if not tree:
        return {}
    try:
        ConditionBinder(context).bind(tree)
    except UnsupportedNode as exc:
        return {_locate(tree, context, ptr): [exc.message]}
    return {}


def _trigger_errors(rule: RuleDef, cf: CompiledForm) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    form = cf.form
    trigger = rule.trigger
    if trigger.type is TriggerType.FIELD_CHANGED:
        for i, key in enumerate(trigger.fields):
            if not form.has_field(key) or form.field(key).type == "computed":
                errors[f"/trigger/fields/{i}"] = [
                    f"form {form.key!r} has no field {key!r} that can change; pick a stored "
                    "field"]
    if trigger.type is TriggerType.STAGE_CHANGED:
        f = form.field(trigger.field) if trigger.field and form.has_field(trigger.field) \
            else None
        if f is None or f.type != "select":
            selects = [x.key for x in form.fields if x.type == "select"]
            errors["/trigger/field"] = [f"{trigger.field!r} is not a select field of form "
                                        f"{form.key!r}; the stage is one, e.g. "
                                        f"{', '.join(selects[:8]) or '(none)'}"]
        else:
            for name, stages in (("from", trigger.from_stages), ("to", trigger.to_stages)):
                for i, stage in enumerate(stages):
                    if stage not in f.option_values:
                        errors[f"/trigger/{name}/{i}"] = [
                            f"{stage!r} is not a stage of {f.key!r}; use one of: "
                            + ", ".join(f.option_values)]
    return errors


def bind_rule(session: Session, rule: RuleDef, schema: CompiledSchema, *, now: datetime,
              env: ActionEnv | None = None, conditions: ConditionSchema | None = None,
              check_actions: bool = True) -> BoundRule:
    """Bind ``rule`` for clock ``now``; ``MetadataError`` listing every problem by pointer.
    With ``check_actions`` the actions are checked too (tags and templates exist, fields can
    be written...) by a dry run over no record."""
    env = env or ActionEnv()
    cf = schema.forms.get(rule.form)
    if cf is None:
        raise MetadataError(f"rule {rule.key!r} watches an unpublished form", {
            "/form": [f"form {rule.form!r} is not published; publish it first or pick one of: "
                      + ", ".join(sorted(schema.forms)[:20])]})
    conditions = conditions or ConditionSchema.from_compiled(schema)
    context = condition_context(schema, rule.form, now=now, cipher=env.cipher, tz=env.tz,
                                conditions=conditions)
    errors = _trigger_errors(rule, cf)
    errors.update(condition_errors(rule.condition, context))
    if check_actions and rule.actions:
        try:
            nothing = select(cf.table.c.id).where(cf.table.c.id.is_(None))
            apply_actions(session, rule.action_docs, form_key=rule.form,
                          ids=nothing, cause=rule.source, source=rule.source,
                          clock=lambda: now, schema=schema, dry_run=True, env=env, sample=0,
                          conditions=conditions)
        except MetadataError as exc:
            for key, messages in exc.errors.items():
                errors.setdefault(key, []).extend(messages)
    if errors:
        count = sum(len(v) for v in errors.values())
        raise MetadataError(f"rule {rule.key!r} has {count} problem(s) with form "
                            f"{rule.form!r}", errors)
    where = compile_sql(rule.condition, context) if rule.condition else None
    return BoundRule(rule, cf, context, where)


__all__ = ["BoundRule", "bind_rule", "condition_errors"]
