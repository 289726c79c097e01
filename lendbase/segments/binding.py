"""Binding a segment to what is published: its form exists, its condition compiles against
the published forms, its actions have an executor. Every problem is reported at once under the
JSON pointer of the part it concerns (``/condition/and/1/not`` for the second clause of an
``and``), so the builder can show it next to that part.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import false, select
from sqlalchemy.orm import Session

from lendbase.conditions import ConditionContext, ConditionSchema, UnsupportedNode, compile_sql
from lendbase.errors import MetadataError
from lendbase.forms.compile import CompiledSchema
from lendbase.segments.actions import executor_available, run_actions
from lendbase.segments.engine import condition_schema
from lendbase.segments.model import SegmentDef, iter_actions


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def condition_errors(condition: Mapping[str, Any], context: ConditionContext,
                     pointer: str = "/condition") -> dict[str, list[str]]:
    """{pointer: [message]} for the smallest parts of ``condition`` that do not compile: an
    ``and`` / ``or`` whose clauses fail on their own reports each clause, a ``not`` its inner
    node; anything else (or a group failing only as a whole, e.g. too deep) is reported where
    it stands."""
    try:
        compile_sql(condition, context)
        return {}
    except UnsupportedNode as exc:
        message = exc.message
    except (KeyError, TypeError, IndexError, ValueError, ArithmeticError) as exc:
        message = f"malformed condition: {exc}"
    errors: dict[str, list[str]] = {}
    if isinstance(condition, Mapping) and len(condition) == 1:
        (name, inner), = condition.items()
        if name in ("and", "or") and isinstance(inner, list):
            for i, child in enumerate(inner):
                if isinstance(child, Mapping):
                    errors.update(condition_errors(child, context, f"{pointer}/{name}/{i}"))
                else:
                    errors[f"{pointer}/{name}/{i}"] = ["each clause must be a condition object"]
        elif name == "not" and isinstance(inner, Mapping):
            errors.update(condition_errors(inner, context, f"{pointer}/{_escape(name)}"))
    return errors or {pointer: [message]}


def action_errors(session: Session, segment: SegmentDef, schema: CompiledSchema,
                  now: datetime) -> dict[str, list[str]]:
    """The rule engine's checks of the actions against the form and the catalogues (a tag
    that does not exist, a field that is not a user field...): a dry run over no record, in a
    savepoint rolled back."""
    errors: dict[str, list[str]] = {}
    if not any(True for _ in iter_actions(segment)):
        return errors
    if not executor_available():
        for pointer, _action in iter_actions(segment):
            errors.setdefault(pointer, []).append(
                "actions run through the rule engine (lendbase.rules), which is not installed "
                "yet; remove the action or install the rule engine")
        return errors
    nothing = select(schema[segment.form].table.c.id).where(false())
    for name, actions in (("on_enter", segment.on_enter), ("on_leave", segment.on_leave)):
        savepoint = session.begin_nested()
        try:
            run_actions(session, actions, form_key=segment.form, ids=nothing,
                        cause=f"segment:{segment.key}:check", source=f"segment:{segment.key}",
                        clock=lambda: now, schema=schema, dry_run=True, pointer=f"/{name}")
        except MetadataError as exc:
            for pointer, messages in (exc.errors or {f"/{name}": [exc.message]}).items():
                errors.setdefault(pointer, []).extend(messages)
        finally:
            savepoint.rollback()
    return errors


def check_bindings(session: Session, segment: SegmentDef, schema: CompiledSchema,
                   now: datetime, conditions: ConditionSchema | None = None) -> None:
    """Raise ``MetadataError`` listing every part of ``segment`` that does not bind."""
    errors: dict[str, list[str]] = {}
    if segment.form not in schema.forms:
        published = ", ".join(sorted(schema.forms)) or "(none)"
        errors["/form"] = [f"form {segment.form!r} is not published; pick one of: {published}"]
    else:
        context = ConditionContext.for_form(conditions or condition_schema(schema),
                                            segment.form, now=now)
        errors.update(condition_errors(segment.condition, context))
        errors.update(action_errors(session, segment, schema, now))
    if errors:
        count = sum(len(v) for v in errors.values())
        raise MetadataError(f"the segment {segment.key!r} has {count} problem(s)", errors)


__all__ = ["action_errors", "check_bindings", "condition_errors"]
