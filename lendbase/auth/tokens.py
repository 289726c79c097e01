"""API bearer tokens: random, shown once, stored only as a SHA-256 digest; and the stamp that
ties a page session to the password it was opened with. Both are revoked when an administrator
resets the password or deactivates the user (``lendbase.auth.org``)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import NotAuthenticated

TOKEN_PREFIX = "lb_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user_id: int, name: str = "api",
                lifetime: timedelta = timedelta(days=30), now: datetime | None = None
                ) -> tuple[str, datetime]:
    now = now or datetime.now(UTC)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = now + lifetime
    session.execute(insert(db.api_token).values(
        user_id=user_id, token_hash=_digest(token), name=name, created_at=now,
        expires_at=expires))
    return token, expires


def user_for_token(session: Session, token: str, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    row = session.execute(select(db.api_token).where(db.api_token.c.token_hash == _digest(token))
                          ).first()
    if row is None:
        raise NotAuthenticated("the bearer token is not valid; get one from "
                               "POST /api/v1/auth/token")
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires <= now:
        raise NotAuthenticated("the bearer token has expired; get a new one from "
                               "POST /api/v1/auth/token")
    session.execute(update(db.api_token).where(db.api_token.c.id == row.id)
                    .values(last_used_at=now))
    return int(row.user_id)


def revoke_tokens(session: Session, user_id: int) -> int:
    """Delete every API token of the user; the number deleted, for the change log."""
    result = cast(CursorResult[Any], session.execute(
        delete(db.api_token).where(db.api_token.c.user_id == user_id)))
    return int(result.rowcount or 0)


def session_stamp(password_hash: str) -> str:
    """What a page session remembers of the password it was opened with.

    The signed cookie is readable by its holder, so it carries a digest of the stored hash
    (salt included), never a piece of the hash itself. A new password gives a new stamp, and
    every session opened with the old one stops matching.
    """
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def current_session_stamp(session: Session, user_id: int) -> str | None:
    """The stamp a live page session of the user must carry; None when the user is gone or
    deactivated (no session of theirs is valid then)."""
    row = session.execute(select(db.user.c.password_hash, db.user.c.is_active)
                          .where(db.user.c.id == user_id)).first()
    if row is None or not row.is_active:
        return None
    return session_stamp(row.password_hash)
