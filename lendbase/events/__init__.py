"""Typed lifecycle events, the transactional outbox and the subscriber registry.

Saving a record emits an ``Event`` into the outbox in the same transaction as the change
(``emit``); after commit the job runtime (``lendbase.jobs``) delivers it to the handlers that
subscribed to its type, each exactly once in effect (``deliver``). Side effects (rules,
webhooks, notifications) are subscribers, never hidden steps of a save.
"""

from lendbase.events.delivery import DeliveryReport, HandlerFailure, deliver, format_error
from lendbase.events.model import Event, EventType, OutboxStatus
from lendbase.events.outbox import Backlog, backlog, claim_pending, emit, load_event
from lendbase.events.registry import SubscriberRegistry, resolve

__all__ = [
    "Backlog",
    "DeliveryReport",
    "Event",
    "EventType",
    "HandlerFailure",
    "OutboxStatus",
    "SubscriberRegistry",
    "backlog",
    "claim_pending",
    "deliver",
    "emit",
    "format_error",
    "load_event",
    "resolve",
]
