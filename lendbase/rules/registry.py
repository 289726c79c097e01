"""Published rules cached per process, refreshed when the metadata generation moves (as forms
are, ``lendbase.forms.registry``), and the rules runtime of an app.

Event handlers and scheduled jobs are called with a session only (``handler(session, event)``,
``job(ctx, ...)``), so the runtime an app installs is found through the session's engine
(``runtime_for``). A process that runs jobs without building the app (a plain ``rq worker``)
gets a runtime built from the environment on first use, as ``lendbase.jobs.worker`` does.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lendbase.conditions import ConditionSchema
from lendbase.errors import LendBaseError
from lendbase.forms.compile import CompiledSchema
from lendbase.forms.registry import FormRegistry
from lendbase.meta.store import MetadataStore, read_generation
from lendbase.rules.actions import ActionEnv
from lendbase.rules.model import RuleDef, TriggerType, load_rule
from lendbase.security import FieldCipher
from lendbase.work import Channel, Gate

log = logging.getLogger("lendbase.rules")

KIND = "rules"
#: Where an app keeps its rules runtime: ``app.extensions[EXTENSION]``.
EXTENSION = "lendbase_rules"


@dataclass(frozen=True)
class PublishedRule:
    rule: RuleDef
    version: int
    checksum: str


class RuleRegistry:
    """The latest published version of every rule, loaded once per metadata generation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = -1
        self._rules: dict[str, PublishedRule] = {}

    def rules(self, session: Session) -> Mapping[str, PublishedRule]:
        generation = read_generation(session)
        if generation == self._generation:
            return self._rules
        with self._lock:
            if generation != self._generation:
                loaded: dict[str, PublishedRule] = {}
                for version in MetadataStore(session, None).all_published(KIND):
                    try:
                        loaded[version.key] = PublishedRule(load_rule(version.doc),
                                                            version.version, version.checksum)
                    except (LendBaseError, KeyError, TypeError, ValueError):
                        log.exception("published rule %s v%s cannot be loaded; skipped",
                                      version.key, version.version)
                self._rules = loaded
                self._generation = generation
            return self._rules

    def get(self, session: Session, key: str) -> PublishedRule | None:
        return self.rules(session).get(key)

    def for_form(self, session: Session, form_key: str) -> list[PublishedRule]:
        """The enabled rules watching ``form_key`` that record events can trigger."""
        return [r for r in self.rules(session).values()
                if r.rule.enabled and r.rule.form == form_key
                and r.rule.trigger.type not in (TriggerType.SCHEDULE,)]

    def external(self, session: Session, name: str | None) -> list[PublishedRule]:
        """The enabled rules an external event named ``name`` triggers."""
        return [r for r in self.rules(session).values()
                if r.rule.enabled and r.rule.trigger.type is TriggerType.EXTERNAL
                and r.rule.trigger.event == name]

    def invalidate(self) -> None:
        with self._lock:
            self._generation = -1
            self._rules = {}


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class RulesRuntime:
    """What rule runs share in a process: compiled forms, published rules, the field cipher,
    the clock (the job runtime's), and notification channels and gates."""

    forms: FormRegistry
    rules: RuleRegistry = field(default_factory=RuleRegistry)
    cipher: FieldCipher | None = None
    clock: Callable[[], datetime] = _utcnow
    channels: Mapping[str, Channel] | None = None
    gates: tuple[Gate, ...] = ()
    _conditions: tuple[Any, ConditionSchema] | None = None

    def env(self) -> ActionEnv:
        return ActionEnv(cipher=self.cipher, channels=self.channels, gates=self.gates)

    def conditions(self, schema: CompiledSchema) -> ConditionSchema:
        """The condition view of ``schema``, built once per compiled schema."""
        cached = self._conditions
        if cached is not None and cached[0] is schema:
            return cached[1]
        built = ConditionSchema.from_compiled(schema)
        self._conditions = (schema, built)
        return built


_RUNTIMES: weakref.WeakKeyDictionary[Engine, RulesRuntime] = weakref.WeakKeyDictionary()
_BIND_LOCK = threading.Lock()


def bind_runtime(engine: Engine, runtime: RulesRuntime) -> None:
    """Make ``runtime`` the one rule runs on ``engine``'s sessions use."""
    with _BIND_LOCK:
        _RUNTIMES[engine] = runtime


def _from_environment() -> RulesRuntime:
    from lendbase.config import load_settings

    settings = load_settings()
    return RulesRuntime(FormRegistry(), cipher=FieldCipher.from_key_string(
        settings.field_key, *settings.old_field_keys))


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def find_runtime(session: Session) -> RulesRuntime | None:
    """The rules runtime an app installed for the session's engine, if any."""
    with _BIND_LOCK:
        return _RUNTIMES.get(_engine_of(session))


def runtime_for(session: Session) -> RulesRuntime:
    """The rules runtime of the session's engine (built from the environment if no app
    installed one in this process)."""
    key = _engine_of(session)
    with _BIND_LOCK:
        found = _RUNTIMES.get(key)
        if found is None:
            found = _RUNTIMES[key] = _from_environment()
        return found


__all__ = ["EXTENSION", "PublishedRule", "RuleRegistry", "RulesRuntime", "bind_runtime",
           "find_runtime", "runtime_for"]
