"""The organisation: departments as a tree with their heads, users in departments, roles.

Administrators manage it through the API and the admin pages; row scope "team"
(``lendbase.auth.users.load_actor``) reads it. Every function takes the session and leaves the
transaction to the caller. Invalid changes raise ValidationFailed naming each failing field at
once; a department that still has users or sub-departments cannot be deleted (Conflict).

Every change writes one change-log entry (``org/department/<id>``, ``org/user/<id>``) with the
acting user and the fields before and after: ids together with the names they stood for at
the time, roles as sorted lists, never a password or its hash. A call that changes nothing
writes nothing. A password reset or a deactivation also revokes the user's API tokens and
ends their page sessions (``lendbase.auth.tokens``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.auth.tokens import revoke_tokens
from lendbase.auth.users import create_user, set_roles, utcnow
from lendbase.changelog import log_change, subject_for
from lendbase.errors import Conflict, NotFound, ValidationFailed
from lendbase.security import check_password_strength, hash_password

__all__ = [
    "LANGUAGES",
    "DepartmentInfo",
    "DepartmentNode",
    "RoleInfo",
    "UserInfo",
    "UserRef",
    "add_user",
    "create_department",
    "delete_department",
    "department_tree",
    "get_department",
    "get_user",
    "list_roles",
    "list_users",
    "move_department",
    "rename_department",
    "reset_password",
    "set_department_head",
    "unlock_user",
    "update_department",
    "update_user",
]

LANGUAGES = ("zh", "en")
_NAME_MAX = 100
#: Keys ``update_user`` accepts; anything else is refused rather than silently ignored.
USER_FIELDS = frozenset({"display_name", "department_id", "roles", "is_active", "language"})
DEPARTMENT_FIELDS = frozenset({"name", "parent_id", "head_user_id"})
#: The change-log action of an update that changes exactly one department field.
_DEPARTMENT_ACTIONS = {"name": "rename", "parent_id": "move", "head_user_id": "set_head"}


@dataclass(frozen=True)
class UserRef:
    """A user as other objects show it (a department's head, a picker entry)."""

    id: int
    username: str
    display_name: str
    is_active: bool


@dataclass(frozen=True)
class DepartmentInfo:
    id: int
    name: str
    parent_id: int | None
    head: UserRef | None
    member_count: int  # active users directly in the department


@dataclass
class DepartmentNode:
    """A department in the tree, with its sub-departments sorted by name."""

    id: int
    name: str
    parent_id: int | None
    head: UserRef | None
    member_count: int
    total_member_count: int = 0  # active users in the department and every sub-department
    children: list[DepartmentNode] = field(default_factory=list)


@dataclass(frozen=True)
class UserInfo:
    """A user without anything secret: never the password hash."""

    id: int
    username: str
    display_name: str
    department_id: int | None
    department_name: str | None
    roles: tuple[str, ...]
    is_active: bool
    language: str | None
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime

    def locked(self, now: datetime | None = None) -> bool:
        until = _as_utc(self.locked_until)
        return until is not None and until > (now or utcnow())


@dataclass(frozen=True)
class RoleInfo:
    key: str
    label: Mapping[str, str]
    is_superuser: bool


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# --- departments ------------------------------------------------------------------------------


def _user_refs(session: Session, ids: Iterable[int | None]) -> dict[int, UserRef]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(select(db.user.c.id, db.user.c.username, db.user.c.display_name,
                                  db.user.c.is_active).where(db.user.c.id.in_(wanted)))
    return {int(r.id): UserRef(int(r.id), r.username, r.display_name, bool(r.is_active))
            for r in rows}


def _member_counts(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(db.user.c.department_id, func.count())
        .where(db.user.c.department_id.is_not(None), db.user.c.is_active.is_(True))
        .group_by(db.user.c.department_id))
    return {int(dept): int(n) for dept, n in rows}


def department_tree(session: Session) -> list[DepartmentNode]:
    """Every department, nested under its parent, roots first; siblings sorted by name."""
    rows = session.execute(select(db.department)).all()
    heads = _user_refs(session, (r.head_user_id for r in rows))
    counts = _member_counts(session)
    nodes = {int(r.id): DepartmentNode(
        id=int(r.id), name=r.name, parent_id=r.parent_id,
        head=heads.get(r.head_user_id) if r.head_user_id is not None else None,
        member_count=counts.get(int(r.id), 0)) for r in rows}
    roots: list[DepartmentNode] = []
    for node in nodes.values():
        parent = nodes.get(node.parent_id) if node.parent_id is not None else None
        (parent.children if parent is not None else roots).append(node)

    def finish(node: DepartmentNode) -> int:
        node.children.sort(key=lambda n: (n.name, n.id))
        node.total_member_count = node.member_count + sum(finish(c) for c in node.children)
        return node.total_member_count

    roots.sort(key=lambda n: (n.name, n.id))
    for root in roots:
        finish(root)
    return roots


def get_department(session: Session, dept_id: int) -> DepartmentInfo:
    row = session.execute(select(db.department).where(db.department.c.id == dept_id)).first()
    if row is None:
        raise NotFound(f"no department {dept_id}")
    head = _user_refs(session, [row.head_user_id]).get(row.head_user_id) \
        if row.head_user_id is not None else None
    count = session.execute(select(func.count()).select_from(db.user).where(
        db.user.c.department_id == dept_id, db.user.c.is_active.is_(True))).scalar_one()
    return DepartmentInfo(int(row.id), row.name, row.parent_id, head, int(count))


def _clean_name(value: Any, errors: dict[str, list[str]]) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > _NAME_MAX:
        errors.setdefault("name", []).append(
            f"give the department a name of 1-{_NAME_MAX} characters")
    return name


def _branch(session: Session, dept_id: int) -> set[int]:
    """``dept_id`` and every department below it."""
    children: dict[int | None, list[int]] = {}
    for child, parent in session.execute(select(db.department.c.id,
                                                db.department.c.parent_id)):
        children.setdefault(parent, []).append(int(child))
    seen: set[int] = set()
    stack = [dept_id]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(children.get(node, ()))
    return seen


def _department_exists(session: Session, dept_id: int) -> bool:
    return session.execute(
        select(db.department.c.id).where(db.department.c.id == dept_id)).first() is not None


def _check_head(session: Session, user_id: Any, errors: dict[str, list[str]]) -> None:
    if user_id is None:
        return
    row = session.execute(select(db.user.c.is_active).where(db.user.c.id == user_id)).first() \
        if isinstance(user_id, int) and not isinstance(user_id, bool) else None
    if row is None:
        errors.setdefault("head_user_id", []).append(
            f"no user {user_id!r}; pick an existing user as the head, or null for none")
    elif not row.is_active:
        errors.setdefault("head_user_id", []).append(
            f"user {user_id} is deactivated; pick an active user as the head")


def _check_parent(session: Session, parent_id: Any, errors: dict[str, list[str]],
                  moving: int | None = None) -> None:
    if parent_id is None:
        return
    if not isinstance(parent_id, int) or isinstance(parent_id, bool) \
            or not _department_exists(session, parent_id):
        errors.setdefault("parent_id", []).append(
            f"no department {parent_id!r}; pick an existing parent, or null for a top level")
        return
    if moving is not None and parent_id in _branch(session, moving):
        where = "itself" if parent_id == moving else f"its own sub-department {parent_id}"
        errors.setdefault("parent_id", []).append(
            f"department {moving} cannot move under {where}: that would make a cycle; "
            "pick a department outside its branch")


def _check_sibling_name(session: Session, name: str, parent_id: int | None,
                        errors: dict[str, list[str]], dept_id: int | None = None) -> None:
    if "name" in errors or "parent_id" in errors:
        return
    parent_clause = (db.department.c.parent_id.is_(None) if parent_id is None
                     else db.department.c.parent_id == parent_id)
    query = select(db.department.c.id).where(db.department.c.name == name, parent_clause)
    if dept_id is not None:
        query = query.where(db.department.c.id != dept_id)
    if session.execute(query).first() is not None:
        where = "at the top level" if parent_id is None else f"under department {parent_id}"
        errors.setdefault("name", []).append(
            f"a department named {name!r} already exists {where}; choose another name")


def _department_detail(session: Session, values: Mapping[str, Any]) -> dict[str, Any]:
    """Department fields as the change log keeps them: each id with the name it stands for
    now, so the entry stays readable after a rename or a deletion."""
    out: dict[str, Any] = {}
    if "name" in values:
        out["name"] = values["name"]
    if "parent_id" in values:
        parent = values["parent_id"]
        out["parent_id"] = parent
        out["parent_name"] = None if parent is None else session.execute(
            select(db.department.c.name).where(db.department.c.id == parent)).scalar()
    if "head_user_id" in values:
        head = values["head_user_id"]
        out["head_user_id"] = head
        out["head_username"] = None if head is None else session.execute(
            select(db.user.c.username).where(db.user.c.id == head)).scalar()
    return out


def _log_department(session: Session, actor_id: int | None, dept_id: int, action: str,
                    detail: dict[str, Any]) -> None:
    log_change(session, actor_id=actor_id, subject=subject_for("org", "department", dept_id),
               action=action, detail=detail)


def create_department(session: Session, name: str, parent_id: int | None = None,
                      head_user_id: int | None = None, *, actor_id: int | None) -> int:
    errors: dict[str, list[str]] = {}
    clean = _clean_name(name, errors)
    _check_parent(session, parent_id, errors)
    _check_head(session, head_user_id, errors)
    _check_sibling_name(session, clean, parent_id, errors)
    if errors:
        raise ValidationFailed(errors)
    values = {"name": clean, "parent_id": parent_id, "head_user_id": head_user_id}
    dept_id = int(session.execute(insert(db.department).values(**values)
                                  .returning(db.department.c.id)).scalar_one())
    _log_department(session, actor_id, dept_id, "create",
                    {"before": None, "after": _department_detail(session, values)})
    return dept_id


def update_department(session: Session, dept_id: int, changes: Mapping[str, Any], *,
                      actor_id: int | None) -> None:
    """Rename, move (``parent_id``; null for the top level) and/or set the head
    (``head_user_id``; null for none) in one validated step. The log entry's action names
    the one field that changed (rename, move, set_head), or is ``update`` for several."""
    row = session.execute(select(db.department).where(db.department.c.id == dept_id)).first()
    if row is None:
        raise NotFound(f"no department {dept_id}")
    errors: dict[str, list[str]] = {
        key: [f"unknown field; change only {', '.join(sorted(DEPARTMENT_FIELDS))}"]
        for key in changes if key not in DEPARTMENT_FIELDS}
    values: dict[str, Any] = {}
    name = row.name
    if "name" in changes:
        name = values["name"] = _clean_name(changes["name"], errors)
    parent_id = row.parent_id
    if "parent_id" in changes:
        parent_id = values["parent_id"] = changes["parent_id"]
        _check_parent(session, parent_id, errors, moving=dept_id)
    if "head_user_id" in changes:
        values["head_user_id"] = changes["head_user_id"]
        if changes["head_user_id"] != row.head_user_id:  # keeping a deactivated head is fine
            _check_head(session, changes["head_user_id"], errors)
    if "name" in values or "parent_id" in values:
        _check_sibling_name(session, name, parent_id, errors, dept_id)
    if errors:
        raise ValidationFailed(errors)
    changed = {key: value for key, value in values.items() if value != getattr(row, key)}
    if not changed:
        return
    session.execute(update(db.department).where(db.department.c.id == dept_id)
                    .values(**changed))
    action = _DEPARTMENT_ACTIONS[next(iter(changed))] if len(changed) == 1 else "update"
    before = _department_detail(session, {key: getattr(row, key) for key in changed})
    _log_department(session, actor_id, dept_id, action,
                    {"before": before, "after": _department_detail(session, changed)})


def rename_department(session: Session, dept_id: int, name: str, *,
                      actor_id: int | None) -> None:
    update_department(session, dept_id, {"name": name}, actor_id=actor_id)


def move_department(session: Session, dept_id: int, parent_id: int | None, *,
                    actor_id: int | None) -> None:
    update_department(session, dept_id, {"parent_id": parent_id}, actor_id=actor_id)


def set_department_head(session: Session, dept_id: int, user_id: int | None, *,
                        actor_id: int | None) -> None:
    update_department(session, dept_id, {"head_user_id": user_id}, actor_id=actor_id)


def delete_department(session: Session, dept_id: int, *, actor_id: int | None) -> None:
    """Delete an empty department; one with users (active or not) or sub-departments is
    refused with Conflict, saying what to move first."""
    row = session.execute(select(db.department)
                          .where(db.department.c.id == dept_id)).first()
    if row is None:
        raise NotFound(f"no department {dept_id}")
    users = session.execute(select(func.count()).select_from(db.user)
                            .where(db.user.c.department_id == dept_id)).scalar_one()
    children = session.execute(select(func.count()).select_from(db.department)
                               .where(db.department.c.parent_id == dept_id)).scalar_one()
    if users or children:
        parts = []
        if users:
            parts.append(f"{users} user(s), counting deactivated ones")
        if children:
            parts.append(f"{children} sub-department(s)")
        raise Conflict(f"department {row.name!r} still has {' and '.join(parts)}; move them "
                       "to another department first")
    before = _department_detail(session, {key: getattr(row, key) for key in DEPARTMENT_FIELDS})
    session.execute(delete(db.department).where(db.department.c.id == dept_id))
    _log_department(session, actor_id, dept_id, "delete", {"before": before, "after": None})


# --- users ------------------------------------------------------------------------------------


def _roles_by_user(session: Session, user_ids: list[int]) -> dict[int, list[str]]:
    if not user_ids:
        return {}
    out: dict[int, list[str]] = {}
    rows = session.execute(
        select(db.user_role.c.user_id, db.role.c.key)
        .join(db.role, db.role.c.id == db.user_role.c.role_id)
        .where(db.user_role.c.user_id.in_(user_ids)).order_by(db.role.c.key))
    for user_id, key in rows:
        out.setdefault(int(user_id), []).append(key)
    return out


def _user_query() -> Select[Any]:
    # Every column but the password hash: it never leaves this module's queries.
    u = db.user.c
    return (select(u.id, u.username, u.display_name, u.department_id, u.is_active, u.language,
                   u.failed_logins, u.locked_until, u.created_at,
                   db.department.c.name.label("department_name"))
            .select_from(db.user.outerjoin(db.department,
                                           db.department.c.id == u.department_id)))


def _user_infos(session: Session, query: Select[Any]) -> list[UserInfo]:
    rows = session.execute(query).all()
    roles = _roles_by_user(session, [int(r.id) for r in rows])
    return [UserInfo(
        id=int(r.id), username=r.username, display_name=r.display_name,
        department_id=r.department_id, department_name=r.department_name,
        roles=tuple(roles.get(int(r.id), ())), is_active=bool(r.is_active),
        language=r.language, failed_logins=int(r.failed_logins or 0),
        locked_until=_as_utc(r.locked_until), created_at=r.created_at) for r in rows]


def list_users(session: Session, *, department_id: int | None = None,
               active: bool | None = None, q: str | None = None) -> list[UserInfo]:
    """Users sorted by username; optionally of one department (directly in it), only
    active or inactive ones, or matching ``q`` in the username or display name."""
    query = _user_query()
    if department_id is not None:
        query = query.where(db.user.c.department_id == department_id)
    if active is not None:
        query = query.where(db.user.c.is_active.is_(active))
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(db.user.c.username.ilike(pattern, escape="\\"),
                                db.user.c.display_name.ilike(pattern, escape="\\")))
    return _user_infos(session, query.order_by(db.user.c.username))


def get_user(session: Session, user_id: int) -> UserInfo:
    found = _user_infos(session, _user_query().where(db.user.c.id == user_id))
    if not found:
        raise NotFound(f"no user {user_id}")
    return found[0]


def _check_department(session: Session, dept_id: Any, errors: dict[str, list[str]]) -> None:
    if dept_id is None:
        return
    if not isinstance(dept_id, int) or isinstance(dept_id, bool) \
            or not _department_exists(session, dept_id):
        errors.setdefault("department_id", []).append(
            f"no department {dept_id!r}; pick an existing department, or null for none")


def _check_roles(session: Session, roles: Any, errors: dict[str, list[str]]) -> list[str]:
    if not isinstance(roles, (list, tuple)) or not all(isinstance(r, str) for r in roles):
        errors.setdefault("roles", []).append("send a list of role keys, e.g. [\"manager\"]")
        return []
    wanted = list(dict.fromkeys(roles))
    known = set(session.execute(select(db.role.c.key)
                                .where(db.role.c.key.in_(wanted))).scalars()) if wanted else set()
    unknown = [r for r in wanted if r not in known]
    if unknown:
        errors.setdefault("roles", []).append(
            f"unknown role(s) {', '.join(map(repr, unknown))}; see GET /api/v1/roles")
    return wanted


def _check_display_name(value: Any, errors: dict[str, list[str]]) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > 100:
        errors.setdefault("display_name", []).append("use 1-100 characters")
    return name


def _check_language(value: Any, errors: dict[str, list[str]]) -> None:
    if value is not None and value not in LANGUAGES:
        errors.setdefault("language", []).append(
            f"{value!r} is not a UI language; use {' or '.join(LANGUAGES)}, or null for the "
            "site default")


def _superuser_role_keys(session: Session) -> set[str]:
    return set(session.execute(select(db.role.c.key)
                               .where(db.role.c.is_superuser.is_(True))).scalars())


def _other_active_admins(session: Session, user_id: int) -> int:
    return int(session.execute(
        select(func.count(func.distinct(db.user.c.id)))
        .select_from(db.user.join(db.user_role, db.user_role.c.user_id == db.user.c.id)
                     .join(db.role, db.role.c.id == db.user_role.c.role_id))
        .where(db.role.c.is_superuser.is_(True), db.user.c.is_active.is_(True),
               db.user.c.id != user_id)).scalar_one())


def _user_detail(session: Session, user_id: int) -> dict[str, Any]:
    """The fields of a user the change log compares: nothing secret (``UserInfo`` has no
    hash), the department with its name, the roles as a sorted list."""
    user = get_user(session, user_id)
    return {"username": user.username, "display_name": user.display_name,
            "department_id": user.department_id, "department_name": user.department_name,
            "roles": sorted(user.roles), "is_active": user.is_active,
            "language": user.language}


def _log_user(session: Session, actor_id: int | None, user_id: int, action: str,
              detail: dict[str, Any]) -> None:
    log_change(session, actor_id=actor_id, subject=subject_for("org", "user", user_id),
               action=action, detail=detail)


def add_user(session: Session, *, username: str, password: str,
             display_name: str | None = None, department_id: int | None = None,
             roles: Iterable[str] = (), language: str | None = None,
             now: datetime | None = None, actor_id: int | None) -> int:
    """Create a user with every field checked at once (username free and well-formed,
    password strong enough, department and roles existing, language known)."""
    errors: dict[str, list[str]] = {}
    name = username.strip() if isinstance(username, str) else ""
    if not name or len(name) > 64 or not name.replace("_", "").replace(".", "").replace(
            "-", "").isalnum():
        errors["username"] = ["use 1-64 letters, digits, '.', '-' or '_'"]
    elif session.execute(select(db.user.c.id).where(db.user.c.username == name)).first():
        errors["username"] = [f"{name!r} is taken; choose another username"]
    weak = check_password_strength(password or "")
    if weak:
        errors["password"] = [weak]
    shown = _check_display_name(display_name, errors) if display_name is not None else None
    _check_department(session, department_id, errors)
    role_keys = _check_roles(session, list(roles), errors)
    _check_language(language, errors)
    if errors:
        raise ValidationFailed(errors)
    user_id = create_user(session, name, password, role_keys, display_name=shown or None,
                          department_id=department_id, now=now)
    if language is not None:
        session.execute(update(db.user).where(db.user.c.id == user_id)
                        .values(language=language))
    _log_user(session, actor_id, user_id, "create",
              {"before": None, "after": _user_detail(session, user_id)})
    return user_id


def update_user(session: Session, user_id: int, changes: Mapping[str, Any], *,
                actor_id: int | None) -> None:
    """Change a user's display name, department, roles, active flag and/or language.
    Refused when it would leave no active administrator (nobody could fix it then).
    Deactivating revokes the user's API tokens (page sessions end with ``is_active``)."""
    row = session.execute(select(db.user.c.id, db.user.c.is_active)
                          .where(db.user.c.id == user_id)).first()
    if row is None:
        raise NotFound(f"no user {user_id}")
    errors: dict[str, list[str]] = {
        key: [f"cannot be changed here; change only {', '.join(sorted(USER_FIELDS))}"
              + (" (passwords via POST /api/v1/users/<id>/password)" if key == "password"
                 else "")]
        for key in changes if key not in USER_FIELDS}
    values: dict[str, Any] = {}
    if "display_name" in changes:
        values["display_name"] = _check_display_name(changes["display_name"], errors)
    if "department_id" in changes:
        _check_department(session, changes["department_id"], errors)
        values["department_id"] = changes["department_id"]
    roles: list[str] | None = None
    if "roles" in changes:
        roles = _check_roles(session, changes["roles"], errors)
    if "is_active" in changes:
        if not isinstance(changes["is_active"], bool):
            errors.setdefault("is_active", []).append("use true or false")
        values["is_active"] = changes["is_active"]
    if "language" in changes:
        _check_language(changes["language"], errors)
        values["language"] = changes["language"]
    if not errors:
        admin_keys = _superuser_role_keys(session)
        current = set(_roles_by_user(session, [user_id]).get(user_id, ()))
        stays_admin = bool(admin_keys & (set(roles) if roles is not None else current)) and \
            values.get("is_active", bool(row.is_active))
        if bool(admin_keys & current) and row.is_active and not stays_admin \
                and _other_active_admins(session, user_id) == 0:
            key = "roles" if roles is not None and not admin_keys & set(roles) else "is_active"
            errors[key] = ["this is the last active administrator; make someone else an "
                           "administrator first"]
    if errors:
        raise ValidationFailed(errors)
    before = _user_detail(session, user_id)
    if values:
        session.execute(update(db.user).where(db.user.c.id == user_id).values(**values))
    if roles is not None and sorted(roles) != before["roles"]:
        set_roles(session, user_id, roles)
    after = _user_detail(session, user_id)
    changed = [key for key in after if after[key] != before[key]]
    if not changed:
        return
    detail: dict[str, Any] = {"before": {key: before[key] for key in changed},
                              "after": {key: after[key] for key in changed}}
    if before["is_active"] and not after["is_active"]:
        detail["tokens_revoked"] = revoke_tokens(session, user_id)
    _log_user(session, actor_id, user_id, "update", detail)


def _counter_detail(failed_logins: int, locked_until: datetime | None) -> dict[str, Any]:
    until = _as_utc(locked_until)
    return {"failed_logins": failed_logins,
            "locked_until": until.isoformat() if until is not None else None}


def reset_password(session: Session, user_id: int, password: str, *,
                   actor_id: int | None) -> None:
    """Set a new password (Argon2id). The failed-login counter starts again; a lock stays
    until ``unlock_user`` so that resetting is not a silent unlock. Every API token of the
    user is revoked and their page sessions end: whoever held the old password is out."""
    row = session.execute(select(db.user.c.failed_logins)
                          .where(db.user.c.id == user_id)).first()
    if row is None:
        raise NotFound(f"no user {user_id}")
    weak = check_password_strength(password if isinstance(password, str) else "")
    if weak:
        raise ValidationFailed({"password": [weak]})
    session.execute(update(db.user).where(db.user.c.id == user_id).values(
        password_hash=hash_password(password), failed_logins=0))
    failures = int(row.failed_logins or 0)
    counter = ({"before": {"failed_logins": failures}, "after": {"failed_logins": 0}}
               if failures else {"before": {}, "after": {}})
    # The entry says that the password changed, never what to: no password, no hash.
    _log_user(session, actor_id, user_id, "reset_password",
              {**counter, "tokens_revoked": revoke_tokens(session, user_id)})


def unlock_user(session: Session, user_id: int, *, actor_id: int | None) -> None:
    """Lift a lock-out after failed logins: the user may sign in again at once."""
    row = session.execute(select(db.user.c.failed_logins, db.user.c.locked_until)
                          .where(db.user.c.id == user_id)).first()
    if row is None:
        raise NotFound(f"no user {user_id}")
    if not row.failed_logins and row.locked_until is None:
        return  # nothing to lift
    session.execute(update(db.user).where(db.user.c.id == user_id)
                    .values(locked_until=None, failed_logins=0))
    _log_user(session, actor_id, user_id, "unlock",
              {"before": _counter_detail(int(row.failed_logins or 0), row.locked_until),
               "after": _counter_detail(0, None)})


def list_roles(session: Session) -> list[RoleInfo]:
    rows = session.execute(select(db.role).order_by(db.role.c.key))
    return [RoleInfo(r.key, dict(r.label or {}), bool(r.is_superuser)) for r in rows]
