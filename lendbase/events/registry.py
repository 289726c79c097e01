"""Which handlers subscribe to which event types, by dotted path.

A registry belongs to the app's job runtime (no module-level state): the rules engine, webhooks
and notifications register themselves when the app is created, so every process that builds the
app (web, ``lendbase worker``) has the same registry. The handlers of an event are read when it
is dispatched and travel with its job run, so a worker runs exactly the handlers that were
subscribed at that moment.

A handler is ``handler(session, event) -> None``: it runs inside a transaction of its own that
also records it as done for that event, so it must not commit.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

from lendbase.errors import ConfigError
from lendbase.events.model import EventType

Handler = Callable[[Any, Any], None]


def resolve(path: str) -> Callable[..., Any]:
    """The function at dotted ``path`` ("package.module.function")."""
    module, _, name = path.rpartition(".")
    if not module or not name:
        raise ConfigError(f"{path!r} is not a dotted path; write it as package.module.function")
    try:
        target = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import {path!r} ({exc}); check the module and the name"
                          ) from None
    if not callable(target):
        raise ConfigError(f"{path!r} is not callable")
    return target  # type: ignore[no-any-return]


class SubscriberRegistry:
    def __init__(self) -> None:
        self._handlers: dict[EventType, list[str]] = {}

    def subscribe(self, event_type: EventType | str, handler: str) -> None:
        """Run the function at dotted path ``handler`` for every event of ``event_type``.
        The path is imported now, so a typo fails at start-up, not at the first event.
        Subscribing the same handler twice is a no-op."""
        kind = EventType(event_type)
        resolve(handler)
        if len(handler) > 200:
            raise ConfigError(f"handler path {handler[:40]!r}... is longer than 200 characters")
        paths = self._handlers.setdefault(kind, [])
        if handler not in paths:
            paths.append(handler)

    def subscribe_many(self, event_types: Iterable[EventType | str], handler: str) -> None:
        for kind in event_types:
            self.subscribe(kind, handler)

    def unsubscribe(self, event_type: EventType | str, handler: str) -> None:
        paths = self._handlers.get(EventType(event_type), [])
        if handler in paths:
            paths.remove(handler)

    def handlers_for(self, event_type: EventType | str) -> tuple[str, ...]:
        try:
            return tuple(self._handlers.get(EventType(event_type), ()))
        except ValueError:
            return ()

    def subscribed_types(self) -> frozenset[str]:
        return frozenset(k.value for k, v in self._handlers.items() if v)
