"""Webhook calls: the job that POSTs one ``lb_webhook_call`` and how the receiver checks it.

The body is JSON::

    {"id": 17, "source": "rule:overdue_alert", "form": "loan", "record_id": 42,
     "cause": "rule:overdue_alert:2026-11:42:1", "created_at": "2026-11-28T01:00:00+00:00",
     "data": {...the action's payload...}}

Headers: ``X-LendBase-Timestamp`` (Unix seconds), ``X-LendBase-Signature: sha256=<hex>`` where
the hex is HMAC-SHA256 with the action's secret over ``<timestamp>.<body bytes>``, and
``X-LendBase-Delivery`` (the cause key: the same for every retry, so a receiver can drop a
duplicate). An answer other than 2xx, a timeout or a connection error fails the attempt; the
job runtime retries it with back-off (10 s, 1 min, 5 min, then every 30 min; 5 attempts) and
keeps the error on the job run. A call is made for a cause once: the cause key is UNIQUE.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import httpx
from sqlalchemy import select, update

from lendbase import db
from lendbase.errors import LendBaseError
from lendbase.events.model import as_utc
from lendbase.jobs import JobContext

#: The job function of a call (``enqueue(session, DELIVER, args=[call_id])``).
DELIVER = "lendbase.rules.webhooks.deliver"
SIGNATURE_HEADER = "X-LendBase-Signature"
TIMESTAMP_HEADER = "X-LendBase-Timestamp"
DELIVERY_HEADER = "X-LendBase-Delivery"


class WebhookFailed(LendBaseError):
    """The receiver did not accept the call (not 2xx, timeout, connection refused)."""

    code = "webhook_failed"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the HMAC of ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (constant-time comparison); for integrators and tests."""
    try:
        expected = sign(secret, int(timestamp), body)
    except ValueError:
        return False
    return hmac.compare_digest(expected, signature)


def body_of(call: Mapping[Any, Any]) -> bytes:
    created = as_utc(call["created_at"])
    document = {"id": call["id"], "source": call["source"], "form": call["form_key"],
                "record_id": call["record_id"], "cause": call["cause_key"],
                "created_at": created.isoformat() if created else None,
                "data": call["payload"] or {}}
    return json.dumps(document, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


def deliver(ctx: JobContext, call_id: int) -> None:
    """POST webhook call ``call_id`` (a job: ``fn(ctx, call_id)``). A call already sent is
    not sent again; a failure raises ``WebhookFailed`` so the runtime retries the job."""
    w = db.webhook_call
    call = ctx.session.execute(select(w).where(w.c.id == call_id)).mappings().first()
    if call is None or call["status"] == "sent":
        return
    body = body_of(call)
    timestamp = int(ctx.now.timestamp())
    headers = {"Content-Type": "application/json; charset=utf-8",
               "User-Agent": "LendBase-Webhook/1",
               TIMESTAMP_HEADER: str(timestamp),
               SIGNATURE_HEADER: sign(call["secret"], timestamp, body),
               DELIVERY_HEADER: call["cause_key"]}
    try:
        response = httpx.post(call["url"], content=body, headers=headers,
                              timeout=float(call["timeout_s"]), follow_redirects=False)
    except httpx.HTTPError as exc:
        raise WebhookFailed(f"webhook {call['url']} could not be reached: "
                            f"{type(exc).__name__}: {exc}") from None
    if not 200 <= response.status_code < 300:
        raise WebhookFailed(f"webhook {call['url']} answered HTTP {response.status_code}: "
                            f"{response.text[:300]}")
    ctx.session.execute(update(w).where(w.c.id == call_id).values(
        status="sent", attempts=ctx.attempt, last_status=response.status_code,
        last_error=None, sent_at=ctx.now))


__all__ = ["DELIVER", "DELIVERY_HEADER", "SIGNATURE_HEADER", "TIMESTAMP_HEADER",
           "WebhookFailed", "body_of", "deliver", "sign", "verify"]
