"""Publishing a rule: validate the draft, bind it to the published forms, keep its cron
schedule in step, record the version. ``?dry_run=1`` returns the simulation instead.

The publisher has the signature of every kind's (``lendbase.meta.kinds``):
``publish_rule(session, actor_id, key, *, dry_run, confirm, backfill, note, lang)``, and its
result answers ``to_dict(lang)``. Never commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lendbase.errors import MetadataError
from lendbase.forms.publish import load_compiled_schema
from lendbase.jobs import Schedule, delete_schedule, save_schedule
from lendbase.meta.store import MetadataStore, Version
from lendbase.rules.actions import ActionEnv
from lendbase.rules.bind import bind_rule
from lendbase.rules.engine import RUN_JOB, schedule_key_for
from lendbase.rules.model import RuleDef, check_rule
from lendbase.rules.simulate import SimulationReport, simulate_rule

KIND = "rules"
NO_ACTIONS = "add at least one action: what should happen to the records that match"


@dataclass(frozen=True)
class RulePublishResult:
    key: str
    version: Version | None = None
    dry_run: bool = False
    #: the draft equals the latest published version: nothing was recorded
    unchanged: bool = False
    #: the rule's cron schedule after publishing (None: the rule has none)
    schedule: Schedule | None = None
    simulation: SimulationReport | None = None

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        schedule = None
        if self.schedule is not None:
            schedule = {"key": self.schedule.key, "cron": self.schedule.cron,
                        "timezone": self.schedule.timezone, "enabled": self.schedule.enabled,
                        "next_run_at": self.schedule.next_run_at}
        return {"key": self.key, "version": self.version.version if self.version else None,
                "checksum": self.version.checksum if self.version else None,
                "dry_run": self.dry_run, "unchanged": self.unchanged,
                "applied": self.version is not None and not self.unchanged,
                "schedule": schedule,
                "simulation": self.simulation.to_dict(lang) if self.simulation else None}


def sync_schedule(session: Session, rule: RuleDef, now: datetime) -> Schedule | None:
    """Create, change or remove the rule's cron schedule to match the rule."""
    key = schedule_key_for(rule.key)
    if not rule.trigger.scheduled or rule.trigger.cron is None:
        delete_schedule(session, key)
        return None
    return save_schedule(session, key, rule.trigger.cron, RUN_JOB, {"rule": rule.key},
                         timezone=rule.trigger.timezone, enabled=rule.enabled, now=now)


def _env(session: Session) -> ActionEnv:
    from lendbase.rules.registry import find_runtime

    runtime = find_runtime(session)
    return runtime.env() if runtime is not None else ActionEnv()


def publish_rule(session: Session, actor_id: int | None, key: str, *, dry_run: bool = False,
                 confirm: bool = False, backfill: Mapping[str, Any] | None = None,
                 note: str | None = None, lang: str = "en") -> RulePublishResult:
    """Publish the draft of rule ``key`` (or, with ``dry_run``, simulate it and change
    nothing). Raises ``MetadataError`` by JSON pointer for a draft that does not validate or
    does not fit the published forms (unknown form, field, tag, template...)."""
    store = MetadataStore(session, actor_id)
    draft = store.get_draft(KIND, key)
    rule = check_rule(draft.doc)
    schema = load_compiled_schema(session)
    env = _env(session)
    now = store.clock()
    try:
        bind_rule(session, rule, schema, now=now, env=env)
    except MetadataError as exc:
        if not rule.actions:
            exc.errors.setdefault("/actions", []).append(NO_ACTIONS)
        raise
    if not rule.actions:
        raise MetadataError(f"rule {key!r} has no action", {"/actions": [NO_ACTIONS]})
    if dry_run:
        return RulePublishResult(key, dry_run=True, simulation=simulate_rule(
            session, draft.doc, as_of=None, schema=schema, env=env, clock=store.clock))
    latest = store.published(KIND, key)
    if latest is not None and latest.doc == draft.doc:
        return RulePublishResult(key, latest, unchanged=True,
                                 schedule=sync_schedule(session, rule, now))
    version = store.record_version(KIND, key, draft.doc, note)
    return RulePublishResult(key, version, schedule=sync_schedule(session, rule, now))


__all__ = ["RulePublishResult", "publish_rule", "sync_schedule"]
