"""API bearer tokens: random, shown once, stored only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update
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
