"""Users, roles, login with lock-out, and the Actor a request acts as."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import Conflict, NotAuthenticated, NotFound, ValidationFailed
from lendbase.records.permissions import Actor
from lendbase.security import check_password_strength, hash_password, verify_password
from lendbase.security.passwords import needs_rehash


def utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def ensure_role(session: Session, key: str, label: dict[str, str] | None = None,
                superuser: bool = False) -> int:
    found = session.execute(select(db.role.c.id).where(db.role.c.key == key)).scalar()
    if found is not None:
        return int(found)
    return int(session.execute(
        insert(db.role).values(key=key, label=label or {"zh": key, "en": key},
                               is_superuser=superuser).returning(db.role.c.id)).scalar_one())


def create_user(session: Session, username: str, password: str, roles: Iterable[str],
                display_name: str | None = None, department_id: int | None = None,
                now: datetime | None = None, check_strength: bool = True) -> int:
    errors: dict[str, list[str]] = {}
    if not username or len(username) > 64 or not username.replace("_", "").replace(
            ".", "").replace("-", "").isalnum():
        errors["username"] = ["use 1-64 letters, digits, '.', '-' or '_'"]
    weak = check_password_strength(password) if check_strength else None
    if weak:
        errors["password"] = [weak]
    if errors:
        raise ValidationFailed(errors)
    if session.execute(select(db.user.c.id).where(db.user.c.username == username)).first():
        raise Conflict(f"user {username!r} already exists; choose another username")
    user_id = int(session.execute(insert(db.user).values(
        username=username, display_name=display_name or username,
        password_hash=hash_password(password), department_id=department_id, is_active=True,
        failed_logins=0, created_at=now or utcnow()).returning(db.user.c.id)).scalar_one())
    set_roles(session, user_id, roles)
    return user_id


def set_roles(session: Session, user_id: int, roles: Iterable[str]) -> None:
    session.execute(delete(db.user_role).where(db.user_role.c.user_id == user_id))
    for key in roles:
        role_id = session.execute(select(db.role.c.id).where(db.role.c.key == key)).scalar()
        if role_id is None:
            raise ValidationFailed({"role": [f"unknown role {key!r}; create it or install an "
                                             "app that defines it"]})
        session.execute(insert(db.user_role).values(user_id=user_id, role_id=role_id))


class AccountLocked(NotAuthenticated):
    """Right password, but the account is locked after repeated failures; raised only after
    the password checked out. ``minutes`` until it unlocks by itself."""

    def __init__(self, minutes: int) -> None:
        super().__init__(f"too many failed logins; try again in {minutes} minute(s) "
                         "or ask an administrator to unlock the account")
        self.minutes = minutes


def authenticate(session: Session, username: str, password: str, *, max_failures: int = 5,
                 lockout: timedelta = timedelta(minutes=15),
                 clock: Callable[[], datetime] = utcnow) -> int:
    """The user id for valid credentials. Repeated failures lock the account for a while;
    the message never says whether the username exists."""
    now = clock()
    row = session.execute(select(db.user).where(db.user.c.username == username)).first()
    generic = NotAuthenticated("wrong username or password")
    if row is None or not row.is_active:
        verify_password(None, password)  # same work either way: no user enumeration by timing
        raise generic
    correct = verify_password(row.password_hash, password)
    locked_until = _as_utc(row.locked_until)
    if locked_until and locked_until > now:
        # While locked, a wrong password gets the generic answer (and counts for nothing):
        # the lock is only told to someone who knows the password, so it never reveals that
        # the account exists.
        if not correct:
            raise generic
        raise AccountLocked(max(1, int((locked_until - now).total_seconds() // 60) + 1))
    if not correct:
        failures = row.failed_logins + 1
        values: dict = {"failed_logins": failures}
        if failures >= max_failures:
            values = {"failed_logins": 0, "locked_until": now + lockout}
        session.execute(update(db.user).where(db.user.c.id == row.id).values(**values))
        raise generic
    values = {"failed_logins": 0, "locked_until": None}
    if needs_rehash(row.password_hash):
        values["password_hash"] = hash_password(password)
    session.execute(update(db.user).where(db.user.c.id == row.id).values(**values))
    return int(row.id)


def _department_tree(session: Session) -> dict[int | None, list[int]]:
    children: dict[int | None, list[int]] = {}
    for dept_id, parent in session.execute(select(db.department.c.id, db.department.c.parent_id)):
        children.setdefault(parent, []).append(dept_id)
    return children


def _subtree(children: dict[int | None, list[int]], roots: Iterable[int]) -> set[int]:
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(children.get(node, ()))
    return seen


def load_actor(session: Session, user_id: int, lang: str | None = None) -> Actor:
    row = session.execute(select(db.user).where(db.user.c.id == user_id)).first()
    if row is None or not row.is_active:
        raise NotFound("user not found or inactive")
    roles = session.execute(
        select(db.role.c.key, db.role.c.is_superuser)
        .join(db.user_role, db.user_role.c.role_id == db.role.c.id)
        .where(db.user_role.c.user_id == user_id)).all()
    headed = session.execute(select(db.department.c.id)
                             .where(db.department.c.head_user_id == user_id)).scalars().all()
    roots = set(headed)
    team_depts = _subtree(_department_tree(session), roots)
    if row.department_id is not None:
        team_depts.add(row.department_id)
    team_users: frozenset[int] = frozenset()
    if team_depts:
        team_users = frozenset(session.execute(
            select(db.user.c.id).where(db.user.c.department_id.in_(sorted(team_depts)))
        ).scalars())
    return Actor(
        user_id=user_id, username=row.username, roles=frozenset(r.key for r in roles),
        superuser=any(r.is_superuser for r in roles), team_user_ids=team_users,
        lang=lang or row.language or "zh")


def ensure_department(session: Session, name: str, parent_id: int | None) -> int:
    parent_clause = (db.department.c.parent_id.is_(None) if parent_id is None
                     else db.department.c.parent_id == parent_id)
    found = session.execute(select(db.department.c.id)
                            .where(db.department.c.name == name, parent_clause)).scalar()
    if found is not None:
        return int(found)
    return int(session.execute(insert(db.department).values(name=name, parent_id=parent_id)
                               .returning(db.department.c.id)).scalar_one())
