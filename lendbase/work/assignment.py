"""Who gets a task: assignee rules as small pure functions, each with a SQL twin for bulk.

A rule turns a record (its values, including ``owner_id``) and a view of the organisation into
a user id, or None when it finds nobody suitable (no such user, a deactivated one, no head):

- ``FixedUser(user_id)``: always that user.
- ``RecordUser(field="owner_id")``: the user a user field of the record names, e.g. the
  customer's ``account_manager``; by default the record's owner.
- ``DepartmentHead(field="owner_id")``: the head of that user's department; when the user
  heads it themselves, the head of the parent department (an escalation goes up).
- ``RoundRobin(role)``: the active users holding ``role`` in turn (ordered by id); the turn
  counter lives in ``lb_sequence`` so turns continue across runs and processes.
- ``FirstOf(rules)``: the first rule that finds someone (e.g. the account manager, else a
  collector in turn).

``resolve`` answers for one record in memory; ``to_sql`` builds the same answer as a column
expression for ``INSERT ... SELECT`` over many records. Tests hold the two to the same result.
Rules come from metadata as JSON: ``{"rule": "field", "field": "account_manager"}``, see
``parse_assignee``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Table, and_, case, func, literal, null, select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import ValidationFailed

#: Hands out round-robin turns for a role: 0, 1, 2... (advanced only when a turn is taken).
NextTurn = Callable[[str], int]


class OrgView(Protocol):
    """What assignee rules need to know about the organisation."""

    def is_active(self, user_id: int) -> bool: ...
    def department_of(self, user_id: int) -> int | None: ...
    def head_of(self, department_id: int) -> int | None: ...
    def parent_of(self, department_id: int) -> int | None: ...
    def users_with_role(self, role: str) -> tuple[int, ...]: ...


@dataclass(frozen=True)
class StaticOrg:
    """An organisation held in memory (tests, previews)."""

    active: frozenset[int] = frozenset()
    departments: Mapping[int, int | None] = field(default_factory=dict)  # user -> department
    heads: Mapping[int, int | None] = field(default_factory=dict)  # department -> head user
    parents: Mapping[int, int | None] = field(default_factory=dict)  # department -> parent
    roles: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # role -> active users

    def is_active(self, user_id: int) -> bool:
        return user_id in self.active

    def department_of(self, user_id: int) -> int | None:
        return self.departments.get(user_id)

    def head_of(self, department_id: int) -> int | None:
        return self.heads.get(department_id)

    def parent_of(self, department_id: int) -> int | None:
        return self.parents.get(department_id)

    def users_with_role(self, role: str) -> tuple[int, ...]:
        return tuple(sorted(self.roles.get(role, ())))


class DbOrg:
    """The organisation as the database holds it, read lazily and cached for one service."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._users: dict[int, tuple[bool, int | None]] = {}
        self._depts: dict[int, tuple[int | None, int | None]] = {}
        self._roles: dict[str, tuple[int, ...]] = {}

    def _user(self, user_id: int) -> tuple[bool, int | None]:
        if user_id not in self._users:
            row = self.session.execute(select(db.user.c.is_active, db.user.c.department_id)
                                       .where(db.user.c.id == user_id)).first()
            self._users[user_id] = (bool(row.is_active), row.department_id) if row else (
                False, None)
        return self._users[user_id]

    def _dept(self, department_id: int) -> tuple[int | None, int | None]:
        if department_id not in self._depts:
            row = self.session.execute(
                select(db.department.c.head_user_id, db.department.c.parent_id)
                .where(db.department.c.id == department_id)).first()
            self._depts[department_id] = (row.head_user_id, row.parent_id) if row else (
                None, None)
        return self._depts[department_id]

    def is_active(self, user_id: int) -> bool:
        return self._user(user_id)[0]

    def department_of(self, user_id: int) -> int | None:
        return self._user(user_id)[1]

    def head_of(self, department_id: int) -> int | None:
        return self._dept(department_id)[0]

    def parent_of(self, department_id: int) -> int | None:
        return self._dept(department_id)[1]

    def users_with_role(self, role: str) -> tuple[int, ...]:
        if role not in self._roles:
            self._roles[role] = tuple(self.session.execute(
                select(db.user.c.id)
                .join(db.user_role, db.user_role.c.user_id == db.user.c.id)
                .join(db.role, db.role.c.id == db.user_role.c.role_id)
                .where(db.role.c.key == role, db.user.c.is_active.is_(True))
                .order_by(db.user.c.id)).scalars())
        return self._roles[role]


@dataclass(frozen=True)
class SqlContext:
    """What a rule's SQL twin may use: the record table (in the FROM clause), the row's
    position among the selected records (0, 1, 2...), the organisation and round-robin turns
    as reserved by the caller (``turn_base[role]`` is the first turn of this statement)."""

    table: Table
    position: ColumnElement[int]
    org: OrgView
    turn_base: Mapping[str, int]


def _user_id(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def _active_sql(user: ColumnElement[Any]) -> ColumnElement[Any]:
    """``user`` if it names an active user, else NULL."""
    u = db.user.alias("au")
    return select(u.c.id).where(u.c.id == user, u.c.is_active.is_(True)).scalar_subquery()


def _field_column(table: Table, name: str) -> ColumnElement[Any]:
    if name not in table.c:
        raise ValidationFailed({"assignee": [f"form table {table.name} has no field {name!r}; "
                                             "use a user field of the form or owner_id"]})
    return table.c[name]


@dataclass(frozen=True)
class FixedUser:
    user_id: int

    def resolve(self, record: Mapping[str, Any], org: OrgView, next_turn: NextTurn) -> int | None:
        return self.user_id if org.is_active(self.user_id) else None

    def to_sql(self, ctx: SqlContext) -> ColumnElement[Any]:
        return _active_sql(literal(self.user_id, db.IdType))

    def roles(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class RecordUser:
    field: str = "owner_id"

    def resolve(self, record: Mapping[str, Any], org: OrgView, next_turn: NextTurn) -> int | None:
        user = _user_id(record.get(self.field))
        return user if user is not None and org.is_active(user) else None

    def to_sql(self, ctx: SqlContext) -> ColumnElement[Any]:
        return _active_sql(_field_column(ctx.table, self.field))

    def roles(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class DepartmentHead:
    field: str = "owner_id"

    def resolve(self, record: Mapping[str, Any], org: OrgView, next_turn: NextTurn) -> int | None:
        user = _user_id(record.get(self.field))
        dept = org.department_of(user) if user is not None else None
        if dept is None:
            return None
        head = org.head_of(dept)
        if head is None or head == user:
            parent = org.parent_of(dept)
            head = org.head_of(parent) if parent is not None else None
        return head if head is not None and org.is_active(head) else None

    def to_sql(self, ctx: SqlContext) -> ColumnElement[Any]:
        user_col = _field_column(ctx.table, self.field)
        u, d, p = db.user.alias("hu"), db.department.alias("hd"), db.department.alias("hp")
        # correlate explicitly: they sit two levels below the SELECT over the form's table
        head = (select(d.c.head_user_id).join(u, u.c.department_id == d.c.id)
                .where(u.c.id == user_col).correlate(ctx.table).scalar_subquery())
        parent_head = (select(p.c.head_user_id).join(d, d.c.parent_id == p.c.id)
                       .join(u, u.c.department_id == d.c.id)
                       .where(u.c.id == user_col).correlate(ctx.table).scalar_subquery())
        chosen = case((and_(head.is_not(None), head != user_col), head), else_=parent_head)
        return _active_sql(chosen)

    def roles(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class RoundRobin:
    role: str

    def resolve(self, record: Mapping[str, Any], org: OrgView, next_turn: NextTurn) -> int | None:
        users = org.users_with_role(self.role)
        if not users:
            return None
        return users[next_turn(self.role) % len(users)]

    def to_sql(self, ctx: SqlContext) -> ColumnElement[Any]:
        users = ctx.org.users_with_role(self.role)
        if not users:
            return null()
        if len(users) == 1:
            return literal(users[0], db.IdType)
        turn = (ctx.position + ctx.turn_base.get(self.role, 0)) % len(users)
        return case(*((turn == i, literal(uid, db.IdType)) for i, uid in enumerate(users)))

    def roles(self) -> tuple[str, ...]:
        return (self.role,)


@dataclass(frozen=True)
class FirstOf:
    rules: tuple[AssigneeRule, ...]

    def resolve(self, record: Mapping[str, Any], org: OrgView, next_turn: NextTurn) -> int | None:
        for rule in self.rules:
            found = rule.resolve(record, org, next_turn)
            if found is not None:
                return found
        return None

    def to_sql(self, ctx: SqlContext) -> ColumnElement[Any]:
        return func.coalesce(*(rule.to_sql(ctx) for rule in self.rules))

    def roles(self) -> tuple[str, ...]:
        return tuple(r for rule in self.rules for r in rule.roles())


AssigneeRule = FixedUser | RecordUser | DepartmentHead | RoundRobin | FirstOf


def parse_assignee(doc: Any) -> AssigneeRule:
    """An assignee rule from its JSON form (rule and segment action documents):

    ``{"rule": "user", "user_id": 7}``, ``{"rule": "field", "field": "account_manager"}``,
    ``{"rule": "department_head", "field": "account_manager"}``,
    ``{"rule": "round_robin", "role": "collector"}``, or a list of these (first that finds
    someone wins).
    """
    if isinstance(doc, Sequence) and not isinstance(doc, (str, bytes)):
        if not doc:
            raise ValidationFailed({"assignee": ["give at least one assignee rule"]})
        return FirstOf(tuple(parse_assignee(d) for d in doc))
    if not isinstance(doc, Mapping):
        raise ValidationFailed({"assignee": [
            'write an assignee rule as an object, e.g. {"rule": "field", "field": '
            '"account_manager"}']})
    kind = doc.get("rule")
    if kind == "user" and _user_id(doc.get("user_id")) is not None:
        return FixedUser(int(doc["user_id"]))
    if kind in {"field", "department_head"}:
        name = doc.get("field", "owner_id")
        if isinstance(name, str) and name:
            return RecordUser(name) if kind == "field" else DepartmentHead(name)
    if kind == "round_robin" and isinstance(doc.get("role"), str) and doc["role"]:
        return RoundRobin(doc["role"])
    raise ValidationFailed({"assignee": [
        f"unknown or incomplete assignee rule {dict(doc)!r}; use rule 'user' (with user_id), "
        "'field' (with field), 'department_head' (with field) or 'round_robin' (with role)"]})
