"""A segment document loaded into a frozen dataclass, its semantic checks, and what it depends
on: the forms whose record changes can move a record in or out (the segment's own form and the
forms its condition reads through related-record nodes).

Pure: no Session, no Flask. ``semantic_errors`` is the meta kind's check (run after the
meta-schema); binding the condition to the published forms happens when publishing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from lendbase.forms.model import FormDef
from lendbase.forms.values import DEFAULT_TZ

KIND = "segments"
#: The related-record nodes of the condition language (docs/conditions.md).
RELATED_NODES = ("exists", "count", "sum", "min", "max")


@dataclass(frozen=True)
class ScheduleDef:
    cron: str
    timezone: str = DEFAULT_TZ.key
    enabled: bool = True


#: Every day at 02:00 business time, when nothing else runs.
DEFAULT_SCHEDULE = ScheduleDef("0 2 * * *", DEFAULT_TZ.key, True)


@dataclass(frozen=True)
class SegmentDef:
    key: str
    label: Mapping[str, str]
    form: str
    condition: Mapping[str, Any]
    schedule: ScheduleDef = DEFAULT_SCHEDULE
    on_enter: tuple[Mapping[str, Any], ...] = ()
    on_leave: tuple[Mapping[str, Any], ...] = ()
    description: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Hop:
    """One step from a record to rows related to it: rows of ``form`` whose reference field
    ``link`` points at the record."""

    form: str
    link: str


def load_segment(doc: Mapping[str, Any]) -> SegmentDef:
    """The dataclass of a document that passed ``validate_document("segments", doc)``."""
    schedule = doc.get("schedule")
    return SegmentDef(
        key=doc["key"], label=dict(doc["label"]), form=doc["form"],
        condition=doc["condition"],
        schedule=(ScheduleDef(schedule["cron"], schedule.get("timezone", DEFAULT_TZ.key),
                              schedule.get("enabled", True))
                  if schedule else DEFAULT_SCHEDULE),
        on_enter=tuple(doc.get("on_enter") or ()), on_leave=tuple(doc.get("on_leave") or ()),
        description=doc.get("description"))


def schedule_key_for(segment_key: str) -> str:
    """The ``lb_schedule`` key of a segment's recompute."""
    return f"segment:{segment_key}"


def semantic_errors(doc: Mapping[str, Any]) -> dict[str, list[str]]:
    """What the meta-schema cannot say: a valid cron expression and time zone, and actions
    the rule engine accepts (its own checks of action documents). Keyed by JSON pointer."""
    errors: dict[str, list[str]] = {}
    schedule = doc.get("schedule")
    if schedule:
        cron = schedule.get("cron", "")
        if not croniter.is_valid(cron) or len(cron.split()) != 5:
            errors["/schedule/cron"] = [
                f"{cron!r} is not a cron expression; write five fields (minute hour day month "
                "weekday) such as '0 2 * * *' (every day at 02:00) or '0 8 * * 1-5'"]
        zone = schedule.get("timezone")
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                errors["/schedule/timezone"] = [f"{zone!r} is not a time zone; use a name such "
                                                "as 'Asia/Shanghai' or 'UTC'"]
    from lendbase.segments.actions import action_document_errors

    for name in ("on_enter", "on_leave"):
        if doc.get(name):
            errors.update(action_document_errors(doc[name], f"/{name}"))
    return errors


def related_paths(condition: Mapping[str, Any], form: str,
                  forms: Mapping[str, FormDef]) -> list[tuple[Hop, ...]]:
    """Every chain of reference links the condition follows from a record of ``form``, e.g.
    ``[(Hop("installment", "customer"),), (Hop("loan", "customer"), Hop("repayment", "loan"))]``.
    Sub-table rows are part of their record, so a hop into a sub-table adds nothing."""
    found: list[tuple[Hop, ...]] = []

    def walk(node: Any, scope: str, path: tuple[Hop, ...]) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, scope, path)
            return
        if not isinstance(node, Mapping):
            return
        for name, value in node.items():
            if name in RELATED_NODES and isinstance(value, Mapping) \
                    and isinstance(value.get("form"), str) and isinstance(value.get("link"), str):
                target, link = value["form"], value["link"]
                definition = forms.get(scope)
                into_subtable = (target == scope and definition is not None
                                 and any(s.key == link for s in definition.subtables))
                inner_path, inner_scope = path, scope
                if not into_subtable:
                    inner_path, inner_scope = (*path, Hop(target, link)), target
                    if inner_path not in found:
                        found.append(inner_path)
                walk(value.get("where"), inner_scope, inner_path)
            elif name in ("and", "or", "not"):
                walk(value, scope, path)

    walk(condition, form, ())
    return found


def lookup_references(condition: Mapping[str, Any], form: str,
                      forms: Mapping[str, FormDef]) -> set[tuple[str, str]]:
    """``(target form, reference field)`` for every ``reference.field`` the condition reads
    on a record of ``form`` itself (``customer.rating`` on a loan: ``("customer",
    "customer")``). Lookups inside related-record nodes are left to the scheduled recompute."""
    definition = forms.get(form)
    found: set[tuple[str, str]] = set()

    def note(key: Any) -> None:
        if not isinstance(key, str) or "." not in key or definition is None:
            return
        ref = key.split(".", 1)[0]
        if definition.has_field(ref) and definition.field(ref).target:
            found.add((str(definition.field(ref).target), ref))

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, Mapping):
            note(node.get("field"))
            value = node.get("value")
            if isinstance(value, Mapping):
                note(value.get("field"))
            for name in ("and", "or", "not"):
                if name in node:
                    walk(node[name])

    walk(condition)
    return found


def watched_forms(segment: SegmentDef, forms: Mapping[str, FormDef]) -> set[str]:
    """The forms whose record changes may move records of the segment in or out."""
    return ({segment.form}
            | {hop.form for path in related_paths(segment.condition, segment.form, forms)
               for hop in path}
            | {target for target, _ in lookup_references(segment.condition, segment.form,
                                                         forms)})


def iter_actions(segment: SegmentDef) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(JSON pointer, action) for every on-enter and on-leave action."""
    for name in ("on_enter", "on_leave"):
        for i, action in enumerate(getattr(segment, name)):
            yield f"/{name}/{i}", action


__all__ = ["DEFAULT_SCHEDULE", "KIND", "Hop", "ScheduleDef", "SegmentDef", "load_segment",
           "lookup_references", "related_paths", "schedule_key_for", "semantic_errors",
           "watched_forms"]
