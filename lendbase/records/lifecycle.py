"""Lifecycle stages of records: the check a save runs, the stage history it writes, and the SOP
tasks created when a record enters a stage.

- ``plan_stage_move`` runs inside ``RecordService.create`` / ``update`` before anything is
  written: it fills a new record's empty stage with the initial one and adds a refusal to the
  save's field errors when the move is not allowed (``lendbase.forms.lifecycle``).
- ``record_stage_move`` runs after the write, in the same transaction: one ``lb_stage_history``
  row (with the time spent in the stage left) and one ``stage.changed`` event.
- ``create_sop_tasks`` is the ``stage.changed`` subscriber: it creates the entered stage's SOP
  tasks through ``TaskService`` with the cause key ``sop:<form>:<record>:<stage>:<history
  id>:<n>``, so a redelivered event creates nothing new while a re-entry (a new history row)
  creates a fresh set.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.events import Event, EventType, SubscriberRegistry, emit
from lendbase.events.model import as_utc, utcnow
from lendbase.forms.compile import CompiledForm, CompiledSchema
from lendbase.forms.lifecycle import stage_refusal
from lendbase.forms.model import Lifecycle, SopTask
from lendbase.forms.registry import FormRegistry
from lendbase.records.permissions import Actor
from lendbase.work import Task, TaskService, TaskSpec, parse_assignee

#: The dotted path of the SOP subscriber (``subscribe``).
SOP_HANDLER = "lendbase.records.lifecycle.create_sop_tasks"


@dataclass(frozen=True)
class StageMove:
    """A save that sets the lifecycle field to another value."""

    field: str
    source: str | None
    target: str
    #: The system created the record at a later stage (an import): no SOP for that stage.
    imported: bool = False


@dataclass(frozen=True)
class StageEntry:
    """One ``lb_stage_history`` row."""

    id: int
    source: str | None
    target: str
    at: datetime
    actor_id: int | None
    actor: str
    seconds_in_previous: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "from": self.source, "to": self.target, "at": self.at,
                "actor_id": self.actor_id, "actor": self.actor,
                "seconds_in_previous": self.seconds_in_previous}


def plan_stage_move(cf: CompiledForm, actor: Actor, before: Mapping[str, Any] | None,
                    values: dict[str, Any], errors: dict[str, list[str]]) -> StageMove | None:
    """The stage move of a save (``before`` is None when creating; ``values`` are the validated
    values about to be written), or None when the stage does not change. A new record with
    an empty stage gets the initial one. A refused move is added to ``errors`` under the
    field; the caller raises them with the save's other errors."""
    lc = cf.form.lifecycle
    if lc is None:
        return None
    creating = before is None
    if creating and values.get(lc.field) is None and lc.initial is not None:
        values[lc.field] = lc.initial
    if lc.field not in values:
        return None
    source = None if before is None else before.get(lc.field)
    target = values[lc.field]
    if not creating and source == target:
        return None
    importing = creating and actor.superuser and actor.user_id is None
    refusal = stage_refusal(lc, cf.form.field(lc.field), source, target, creating=creating,
                            importing=importing, lang=actor.lang)
    if refusal is not None:
        errors.setdefault(lc.field, []).append(refusal)
        return None
    if target is None:
        return None
    imported = importing and lc.initial is not None and target != lc.initial
    return StageMove(lc.field, source, target, imported)


def latest_entry(session: Session, form_key: str, record_id: int) -> StageEntry | None:
    """The record's last stage entry (its current stage, unless changed outside LendBase)."""
    entries = stage_history(session, form_key, record_id, limit=1)
    return entries[0] if entries else None


def record_stage_move(session: Session, form_key: str, record_id: int, move: StageMove, *,
                      at: datetime, actor_id: int | None) -> int:
    """Write the history row of ``move`` and emit its ``stage.changed`` event, in the caller's
    transaction; returns the history row's id. The time spent in the stage left is known when
    the record's previous entry was into that stage."""
    previous = latest_entry(session, form_key, record_id)
    seconds = None
    if previous is not None and move.source is not None and previous.target == move.source:
        seconds = max(int((at - previous.at).total_seconds()), 0)
    history_id = session.execute(insert(db.stage_history).returning(db.stage_history.c.id), {
        "form_key": form_key, "record_id": record_id, "from_stage": move.source,
        "to_stage": move.target, "at": at, "actor_id": actor_id,
        "seconds_in_previous": seconds}).scalar_one()
    payload: dict[str, Any] = {"history_id": history_id, "field": move.field,
                               "from": move.source, "to": move.target}
    if move.imported:
        payload["imported"] = True
    emit(session, Event(EventType.STAGE_CHANGED, form=form_key, record_id=record_id,
                        changed=(move.field,), before={move.field: move.source},
                        after={move.field: move.target}, actor_id=actor_id, occurred_at=at,
                        payload=payload))
    return int(history_id)


def stage_history(session: Session, form_key: str, record_id: int,
                  limit: int = 200) -> list[StageEntry]:
    """The record's stage entries, newest first (the caller checked the read right)."""
    h = db.stage_history
    rows = session.execute(
        select(h, db.user.c.username, db.user.c.display_name)
        .outerjoin(db.user, db.user.c.id == h.c.actor_id)
        .where(h.c.form_key == form_key, h.c.record_id == record_id)
        .order_by(h.c.id.desc()).limit(limit)).all()
    return [StageEntry(int(r.id), r.from_stage, r.to_stage, as_utc(r.at) or r.at, r.actor_id,
                       r.display_name or r.username or "system", r.seconds_in_previous)
            for r in rows]


# --- SOP tasks ----------------------------------------------------------------------------------


def sop_cause_key(form_key: str, record_id: int, stage: str, history_id: int, n: int) -> str:
    """The cause of the ``n``-th SOP task (1-based) of one stage entry."""
    return f"sop:{form_key}:{record_id}:{stage}:{history_id}:{n}"


def _text(label: Mapping[str, str] | None) -> str | None:
    """Task titles and descriptions are data in one language: Chinese, else English."""
    if not label:
        return None
    return label.get("zh") or label.get("en") or None


def _spec(form_key: str, stage: str, history_id: int, sop: SopTask,
          entered: datetime) -> TaskSpec:
    return TaskSpec(
        title=_text(sop.title) or stage, kind=sop.kind, description=_text(sop.description),
        priority=sop.priority,
        due_at=entered + timedelta(days=sop.due_in_days) if sop.due_in_days is not None
        else None,
        assignee=parse_assignee(sop.assignee) if sop.assignee else None,
        payload={"sop": {"form": form_key, "stage": stage, "history_id": history_id,
                         "title": dict(sop.title)}})


def sop_tasks_for(session: Session, event: Event, schema: CompiledSchema,
                  clock: Callable[[], datetime] = utcnow) -> list[tuple[Task, bool]]:
    """Create the SOP tasks of the stage ``event`` (``stage.changed``) entered: (task, created)
    for each. Due dates count from the entry, however late the event is delivered. Nothing
    for an imported record's first stage, a stage without SOP or a record deleted since."""
    payload = event.payload
    if EventType(event.type) is not EventType.STAGE_CHANGED or event.form is None \
            or event.record_id is None or payload.get("imported"):
        return []
    cf = schema.forms.get(event.form)
    lc: Lifecycle | None = cf.form.lifecycle if cf is not None else None
    stage = lc.stage(payload.get("to")) if lc is not None else None
    history_id = payload.get("history_id")
    if cf is None or stage is None or not stage.sop or not isinstance(history_id, int):
        return []
    if session.execute(select(cf.table.c.id).where(cf.table.c.id == event.record_id)
                       ).first() is None:
        return []
    service = TaskService(session, Actor.system(), clock, schema=schema)
    return [service.create(_spec(event.form, stage.key, history_id, sop, event.occurred_at),
                           form_key=event.form, record_id=event.record_id,
                           cause_key=sop_cause_key(event.form, event.record_id, stage.key,
                                                   history_id, n),
                           rule=f"lifecycle:{event.form}")
            for n, sop in enumerate(stage.sop, start=1)]


class _JobForms:
    """Compiled forms for the subscriber, which gets a session but no app: one registry per
    database engine (a worker has one; a test run creates many), refreshed by the metadata
    generation like the app's own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_engine: weakref.WeakKeyDictionary[Engine, FormRegistry] = \
            weakref.WeakKeyDictionary()

    def schema(self, session: Session) -> CompiledSchema:
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        with self._lock:
            registry = self._by_engine.setdefault(engine, FormRegistry())
        return registry.schema(session)


_job_forms = _JobForms()


def create_sop_tasks(session: Session, event: Event) -> None:
    """The ``stage.changed`` subscriber (``SOP_HANDLER``)."""
    sop_tasks_for(session, event, _job_forms.schema(session))


def subscribe(registry: SubscriberRegistry) -> None:
    """Create SOP tasks when records enter lifecycle stages."""
    registry.subscribe(EventType.STAGE_CHANGED, SOP_HANDLER)


__all__ = ["SOP_HANDLER", "StageEntry", "StageMove", "create_sop_tasks", "latest_entry",
           "plan_stage_move", "record_stage_move", "sop_cause_key", "sop_tasks_for",
           "stage_history", "subscribe"]
