"""Record-event handlers that installed apps declare in their manifest (``subscribers``).

An app is metadata plus, at times, a little code of its own (the credit template posts
repayments to their installments). Its ``app.json`` names that code by dotted path::

    "subscribers": [{"form": "repayment",
                     "events": ["record.created", "record.updated", "record.deleted"],
                     "handler": "apps.credit_template.posting.on_repayment_event"}]

The platform subscribes ONE handler, ``on_record_event``, to record events when the app is
created (``install``). For each event it looks up the installed apps' subscribers and calls
every one whose form and event type match as ``handler(session, event)``, in the event's
delivery transaction. The ``lb_event_handled`` row is this module's, so the app handlers of an
event take effect exactly once and together: if one raises, none of their writes stays and the
retry runs them all again.

Where the subscribers come from: ``lb_app`` keeps only part of a manifest in ``documents``. A
``subscribers`` list there is used; otherwise the installed app's ``app.json`` is read from
``apps/<key>/`` of the importable ``apps`` package (the handlers live there anyway). The result
is cached per process and database, keyed on the installed apps' ``(key, checksum)``: one small
query per event, nothing more until an install changes an app.

Handlers get a session only, so what they share with the app (the job runtime's clock, the
compiled forms) is bound to the app's engine by ``install`` and found with ``runtime_for``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import threading
import weakref
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import ConfigError
from lendbase.events.model import Event, EventType
from lendbase.events.registry import SubscriberRegistry, resolve
from lendbase.forms.registry import FormRegistry

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("lendbase.meta.app_events")

#: The one platform handler that runs the apps' declared subscribers.
HANDLER = "lendbase.meta.app_events.on_record_event"
RECORD_EVENTS = (EventType.RECORD_CREATED, EventType.RECORD_UPDATED, EventType.RECORD_DELETED)
EVENT_NAMES = tuple(kind.value for kind in RECORD_EVENTS)
#: The keys of one entry of a manifest's ``subscribers``.
SUBSCRIBER_KEYS = ("form", "events", "handler")

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_APP_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class AppSubscriber:
    """One entry of an app's ``subscribers``: run ``handler`` for ``events`` of ``form``."""

    app: str
    form: str
    events: frozenset[str]
    handler: str

    def wants(self, event: Event) -> bool:
        return event.form == self.form and EventType(event.type).value in self.events


# --- the manifest ------------------------------------------------------------------------------


def check_subscribers(value: Any, forms: Collection[str] | None,
                      add: Callable[[str, str], None]) -> None:
    """Report every problem of a manifest's ``subscribers`` through ``add(pointer, message)``:
    each entry names a form (one of ``forms`` unless None), record events, and an importable
    handler."""
    if value is None:
        return
    if not isinstance(value, list):
        add("/subscribers", "must be a list of {\"form\", \"events\", \"handler\"} objects")
        return
    for i, item in enumerate(value):
        at = f"/subscribers/{i}"
        if not isinstance(item, dict):
            add(at, "must be an object such as {\"form\": \"repayment\", \"events\": "
                "[\"record.updated\"], \"handler\": \"apps.my_app.module.function\"}")
            continue
        for name in item:
            if name not in SUBSCRIBER_KEYS:
                add(f"{at}/{name}", "unknown key: remove it or check its spelling; a subscriber "
                    f"knows {', '.join(SUBSCRIBER_KEYS)}")
        form = item.get("form")
        if not isinstance(form, str) or not form or (forms is not None and form not in forms):
            known = f" ({', '.join(sorted(forms))})" if forms else ""
            add(f"{at}/form", f"name a form of the app{known}, not {form!r}")
        events = item.get("events")
        if not isinstance(events, list) or not events or not all(
                isinstance(e, str) and e in EVENT_NAMES for e in events):
            add(f"{at}/events", f"list one or more of {', '.join(EVENT_NAMES)}")
        elif len(set(events)) != len(events):
            add(f"{at}/events", "lists an event twice; name each once")
        handler = item.get("handler")
        if not isinstance(handler, str) or not _DOTTED.match(handler) or len(handler) > 200:
            add(f"{at}/handler", "give the handler's dotted path (package.module.function, at "
                "most 200 characters)")
            continue
        try:
            resolve(handler)
        except ConfigError as exc:
            add(f"{at}/handler", exc.message)


def parse_subscribers(app_key: str, value: Any) -> list[AppSubscriber]:
    """The subscribers of an installed app. Install checked them; if they are broken since
    (a handler renamed in an upgrade of the code), they are logged and none of them runs:
    running half of an app's posting is worse than running none, and the log says why."""
    problems: list[str] = []
    check_subscribers(value, None, lambda at, message: problems.append(f"{at}: {message}"))
    if problems:
        log.error("app %s: its subscribers are not run: %s", app_key, "; ".join(problems))
        return []
    return [AppSubscriber(app_key, item["form"], frozenset(item["events"]), item["handler"])
            for item in value or []]


def manifest_in_package(app_key: str) -> Mapping[str, Any] | None:
    """``apps/<app_key>/app.json`` of the importable ``apps`` package, if it is there."""
    if not _APP_KEY.match(app_key):
        return None
    try:
        spec = importlib.util.find_spec("apps")
    except (ImportError, ValueError):
        return None
    for base in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(base) / app_key / "app.json"
        if path.is_file():
            try:
                manifest = json.loads(path.read_text("utf-8"))
            except (OSError, json.JSONDecodeError):
                log.exception("cannot read %s", path)
                return None
            if isinstance(manifest, dict) and manifest.get("key") == app_key:
                return manifest
    return None


def declared_subscribers(app_key: str, documents: Any) -> list[AppSubscriber]:
    """What installed app ``app_key`` subscribes: from what ``lb_app`` keeps of it, else from
    its ``app.json`` in the ``apps`` package."""
    if isinstance(documents, Mapping) and "subscribers" in documents:
        return parse_subscribers(app_key, documents["subscribers"])
    manifest = manifest_in_package(app_key)
    if manifest is None:
        log.warning("app %s is installed but lb_app does not keep its subscribers and "
                    "apps/%s/app.json is not in the apps package: event handlers it may declare "
                    "do not run", app_key, app_key)
        return []
    return parse_subscribers(app_key, manifest.get("subscribers"))


# --- the runtime of an engine ------------------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppEventsRuntime:
    """What app handlers share in a process for one database: the clock (the job runtime's
    when an app installed it), compiled forms, and the cached subscribers."""

    clock: Callable[[], datetime] = _utcnow
    forms: FormRegistry = field(default_factory=FormRegistry)
    #: ((key, checksum) of every installed app, their subscribers), replaced as one value
    _cache: tuple[tuple[tuple[str, str], ...], tuple[AppSubscriber, ...]] | None = \
        field(default=None, repr=False)

    def subscribers(self, session: Session) -> tuple[AppSubscriber, ...]:
        """The installed apps' subscribers: one query of ``(key, checksum)``, reloaded only
        when an app was installed, upgraded or removed since the last call."""
        t = db.app_install
        installed = tuple((r.key, r.checksum) for r in session.execute(
            select(t.c.key, t.c.checksum).order_by(t.c.key)))
        cached = self._cache
        if cached is not None and cached[0] == installed:
            return cached[1]
        documents = dict(session.execute(select(t.c.key, t.c.documents)).tuples().all()) \
            if installed else {}
        loaded: list[AppSubscriber] = []
        for key, _ in installed:
            loaded += declared_subscribers(key, documents.get(key))
        self._cache = (installed, tuple(loaded))
        return self._cache[1]

    def matching(self, session: Session, event: Event) -> list[AppSubscriber]:
        return [s for s in self.subscribers(session) if s.wants(event)]


_RUNTIMES: weakref.WeakKeyDictionary[Engine, AppEventsRuntime] = weakref.WeakKeyDictionary()
_BIND_LOCK = threading.Lock()


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def bind(engine: Engine, *, clock: Callable[[], datetime] | None = None,
         forms: FormRegistry | None = None) -> AppEventsRuntime:
    """Make app handlers on ``engine``'s sessions use ``clock`` and ``forms`` (an embedding
    that builds its own ``JobRuntime`` passes that runtime's clock)."""
    runtime = AppEventsRuntime(clock=clock or _utcnow, forms=forms or FormRegistry())
    with _BIND_LOCK:
        _RUNTIMES[engine] = runtime
    return runtime


def runtime_for(session: Session) -> AppEventsRuntime:
    """The runtime bound to the session's engine (a default one, on the wall clock, in a
    process that built no app, as a plain ``rq worker``)."""
    engine = _engine_of(session)
    with _BIND_LOCK:
        found = _RUNTIMES.get(engine)
        if found is None:
            found = _RUNTIMES[engine] = AppEventsRuntime()
        return found


def subscribe(registry: SubscriberRegistry) -> None:
    """Run the apps' declared subscribers for record events."""
    registry.subscribe_many(RECORD_EVENTS, HANDLER)


def install(app: Flask) -> AppEventsRuntime:
    """Subscribe ``on_record_event`` in the app's job runtime and bind the runtime app
    handlers use (the job runtime's clock, the app's compiled forms) to its engine."""
    from lendbase.jobs import runtime_of

    state = app.extensions["lendbase"]
    subscribe(runtime_of(app).subscribers)
    return bind(state.engine, clock=lambda: runtime_of(app).clock(), forms=state.registry)


def on_record_event(session: Session, event: Event) -> None:
    """The platform handler: call each installed app's subscriber of this event's form and
    type, in order, in this transaction (see the module docstring)."""
    if event.form is None:
        return
    for subscriber in runtime_for(session).matching(session, event):
        resolve(subscriber.handler)(session, event)


__all__ = ["EVENT_NAMES", "HANDLER", "RECORD_EVENTS", "SUBSCRIBER_KEYS", "AppEventsRuntime",
           "AppSubscriber", "bind", "check_subscribers", "declared_subscribers", "install",
           "manifest_in_package", "on_record_event", "parse_subscribers", "runtime_for",
           "subscribe"]
