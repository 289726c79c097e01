"""What the tag, task, alert and notification tests share: a small "client" form with an
account manager field, an organisation (departments with heads, a collector pool), and a way
to fill the form's table with thousands of rows quickly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event, insert, update
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.auth.users import ensure_department, ensure_role, load_actor, set_roles
from lendbase.forms.compile import CompiledSchema, compile_schema
from lendbase.forms.model import check_form
from lendbase.records.permissions import Actor
from tests.sample_forms import label

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def client_form() -> dict[str, Any]:
    return {
        "key": "client",
        "label": label("客户", "Client"),
        "title_field": "name",
        "fields": [
            {"key": "name", "type": "text", "label": label("名称", "Name"), "required": True},
            {"key": "mobile", "type": "phone", "label": label("手机", "Mobile")},
            {"key": "account_manager", "type": "user", "label": label("客户经理", "Manager")},
            {"key": "balance", "type": "money", "label": label("余额", "Balance")},
        ],
        "permissions": {
            "manager": {"actions": ["create", "read", "update"], "scope": "own"},
            "viewer": {"actions": ["read"], "scope": "all"},
            "collector": {"actions": ["read"], "scope": "all"},
        },
    }


def make_schema(engine: Engine) -> CompiledSchema:
    schema = compile_schema([(check_form(client_form()), (), "c", 1)])
    schema.metadata.create_all(engine)
    return schema


@dataclass
class Org:
    actors: dict[str, Actor]
    ids: dict[str, int]
    departments: dict[str, int]


def make_org(session: Session) -> Org:
    """admin (superuser); boss heads 总部; head heads 华东 (under 总部) where am1 and am2 work;
    collectors c1, c2, c3 (c3 deactivated); an outsider with no role."""
    for role in ("manager", "viewer", "collector"):
        ensure_role(session, role)
    ensure_role(session, "admin", superuser=True)
    top = ensure_department(session, "总部", None)
    east = ensure_department(session, "华东", top)
    people = {"admin": (["admin"], None), "boss": (["manager"], top),
              "head": (["manager"], east), "am1": (["manager"], east),
              "am2": (["manager"], east), "c1": (["collector"], None),
              "c2": (["collector"], None), "c3": (["collector"], None),
              "viewer": (["viewer"], None), "outsider": ([], None)}
    ids = {}
    for name, (roles, dept) in people.items():
        # no password hashing here (slow on purpose): these users never sign in
        ids[name] = int(session.execute(insert(db.user).values(
            username=name, display_name=name.upper(), password_hash="!", department_id=dept,
            is_active=True, failed_logins=0, created_at=NOW).returning(db.user.c.id)
        ).scalar_one())
        set_roles(session, ids[name], roles)
    session.execute(update(db.department).where(db.department.c.id == top)
                    .values(head_user_id=ids["boss"]))
    session.execute(update(db.department).where(db.department.c.id == east)
                    .values(head_user_id=ids["head"]))
    session.execute(update(db.user).where(db.user.c.id == ids["c3"]).values(is_active=False))
    actors = {name: load_actor(session, uid, "en") for name, uid in ids.items()
              if name != "c3"}
    return Org(actors, ids, {"top": top, "east": east})


def add_clients(session: Session, schema: CompiledSchema, count: int, *, owner: int,
                manager: int | None = None, start: int = 1) -> list[int]:
    """``count`` client rows inserted directly (one executemany), ids returned."""
    table = schema["client"].table
    rows = [{"name": f"客户{start + i}", "mobile": f"138{start + i:08d}",
             "account_manager": manager, "balance": 100 * (start + i), "owner_id": owner,
             "created_by": owner, "updated_by": owner, "created_at": NOW, "updated_at": NOW,
             "version": 1} for i in range(count)]
    session.execute(insert(table), rows)
    from sqlalchemy import select

    return list(session.execute(select(table.c.id).where(table.c.name.in_(
        [r["name"] for r in rows])).order_by(table.c.id)).scalars())


@contextmanager
def counting_statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while the block runs."""
    seen: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)
