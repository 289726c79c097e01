"""Login with lock-out, API tokens (and revoking them), the page-session stamp, and the
actor's team."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from lendbase import db
from lendbase.auth.tokens import (
    current_session_stamp,
    issue_token,
    revoke_tokens,
    session_stamp,
    user_for_token,
)
from lendbase.auth.users import (
    authenticate,
    create_user,
    ensure_department,
    ensure_role,
    load_actor,
)
from lendbase.errors import NotAuthenticated, ValidationFailed


@pytest.fixture
def user_id(session) -> int:
    ensure_role(session, "manager")
    return create_user(session, "am1", "correct-horse-1", ["manager"])


def test_weak_password_and_unknown_role_refused(session) -> None:
    ensure_role(session, "manager")
    with pytest.raises(ValidationFailed) as info:
        create_user(session, "bad name!", "1234", ["manager"])
    assert set(info.value.fields) == {"username", "password"}
    with pytest.raises(ValidationFailed):
        create_user(session, "x", "long-enough-1", ["ghost"])


def test_lockout_after_repeated_failures(session, user_id) -> None:
    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    for _ in range(3):
        with pytest.raises(NotAuthenticated, match="wrong username or password"):
            authenticate(session, "am1", "nope", max_failures=3, clock=lambda: now)
    with pytest.raises(NotAuthenticated, match="too many failed logins"):
        authenticate(session, "am1", "correct-horse-1", max_failures=3, clock=lambda: now)
    later = now + timedelta(minutes=16)
    assert authenticate(session, "am1", "correct-horse-1", max_failures=3,
                        clock=lambda: later) == user_id
    with pytest.raises(NotAuthenticated, match="wrong username or password"):
        authenticate(session, "nobody", "x")


def test_tokens_expire_and_are_stored_hashed(session, user_id) -> None:
    now = datetime(2026, 11, 28, tzinfo=UTC)
    token, expires = issue_token(session, user_id, now=now, lifetime=timedelta(hours=1))
    assert user_for_token(session, token, now=now) == user_id
    stored = session.execute(db.api_token.select()).one()
    assert token not in stored.token_hash
    with pytest.raises(NotAuthenticated, match="expired"):
        user_for_token(session, token, now=expires + timedelta(seconds=1))
    with pytest.raises(NotAuthenticated, match="not valid"):
        user_for_token(session, token + "x", now=now)


def test_team_is_department_and_headed_subtree(session, user_id) -> None:
    ensure_role(session, "manager")
    east = ensure_department(session, "华东", None)
    east1 = ensure_department(session, "华东一组", east)
    east2 = ensure_department(session, "华东二组", east)
    head = create_user(session, "head", "head-pass-123", ["manager"], department_id=east1)
    a = create_user(session, "a", "a-pass-1234", ["manager"], department_id=east1)
    b = create_user(session, "b", "b-pass-1234", ["manager"], department_id=east2)
    session.execute(update(db.department).where(db.department.c.id == east)
                    .values(head_user_id=head))
    assert load_actor(session, head).team_user_ids == {head, a, b}
    assert load_actor(session, a).team_user_ids == {head, a}
    assert load_actor(session, user_id).team_user_ids == frozenset()


def test_revoke_tokens_deletes_only_that_users_tokens(session, user_id) -> None:
    other = create_user(session, "am2", "correct-horse-2", ["manager"])
    mine = [issue_token(session, user_id)[0] for _ in range(2)]
    theirs, _ = issue_token(session, other)
    assert revoke_tokens(session, user_id) == 2
    for token in mine:
        with pytest.raises(NotAuthenticated, match="not valid"):
            user_for_token(session, token)
    assert user_for_token(session, theirs) == other
    assert revoke_tokens(session, user_id) == 0


def test_session_stamp_follows_the_password_and_reveals_none_of_the_hash(session,
                                                                          user_id) -> None:
    stored = session.execute(select(db.user.c.password_hash)
                             .where(db.user.c.id == user_id)).scalar_one()
    stamp = current_session_stamp(session, user_id)
    assert stamp == session_stamp(stored) and len(stamp) == 16
    assert stamp not in stored and stored[-16:] != stamp
    session.execute(update(db.user).where(db.user.c.id == user_id)
                    .values(password_hash=stored[:-1] + ("A" if stored[-1] != "A" else "B")))
    assert current_session_stamp(session, user_id) not in (None, stamp)
    session.execute(update(db.user).where(db.user.c.id == user_id).values(is_active=False))
    assert current_session_stamp(session, user_id) is None
    assert current_session_stamp(session, 4242) is None
