"""The organisation: the department tree with heads, users, roles; its service on both
databases and its API (admin-only writes, no password hash anywhere, team scope follows);
every change in the change log with its actor, and a reset or deactivation revoking tokens."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from lendbase import db
from lendbase.app import create_app
from lendbase.auth import org
from lendbase.auth.tokens import issue_token, user_for_token
from lendbase.auth.users import authenticate, create_user, ensure_role, load_actor
from lendbase.changelog import changes_of, subject_for
from lendbase.config import load_settings
from lendbase.errors import Conflict, NotAuthenticated, NotFound, ValidationFailed
from lendbase.security import verify_password

PASSWORD = "secret-pass-1"


@pytest.fixture
def people(session: Session) -> dict[str, int]:
    ensure_role(session, "admin", {"zh": "管理员", "en": "Administrator"}, superuser=True)
    ensure_role(session, "manager")
    ids = {name: create_user(session, name, PASSWORD, roles, check_strength=False)
           for name, roles in (("root", ["admin"]), ("boss", ["manager"]),
                               ("alice", ["manager"]), ("bob", []))}
    session.commit()
    return ids


@pytest.fixture
def root(people: dict[str, int]) -> int:
    """The administrator who makes the changes in the service tests."""
    return people["root"]


# --- the service --------------------------------------------------------------------------------


def test_tree_nests_with_heads_and_member_counts(session, people, root) -> None:
    hq = org.create_department(session, "总部", head_user_id=people["boss"], actor_id=root)
    sales = org.create_department(session, "销售部", parent_id=hq, actor_id=root)
    org.create_department(session, "East", parent_id=sales, actor_id=root)
    org.create_department(session, "Audit", actor_id=root)
    org.update_user(session, people["alice"], {"department_id": sales}, actor_id=root)
    org.update_user(session, people["bob"], {"department_id": sales}, actor_id=root)
    org.update_user(session, people["boss"], {"department_id": hq}, actor_id=root)
    org.update_user(session, people["bob"], {"is_active": False}, actor_id=root)
    session.commit()
    tree = org.department_tree(session)
    assert [n.name for n in tree] == ["Audit", "总部"]
    top = tree[1]
    assert top.head is not None and top.head.username == "boss"
    assert (top.member_count, top.total_member_count) == (1, 2)  # bob is inactive
    assert [c.name for c in top.children] == ["销售部"]
    assert top.children[0].member_count == 1 and top.children[0].children[0].name == "East"


def test_move_under_own_branch_is_refused_naming_parent_id(session, people, root) -> None:
    a = org.create_department(session, "A", actor_id=root)
    b = org.create_department(session, "B", parent_id=a, actor_id=root)
    c = org.create_department(session, "C", parent_id=b, actor_id=root)
    for target in (a, c):
        with pytest.raises(ValidationFailed) as exc:
            org.move_department(session, a, target, actor_id=root)
        assert list(exc.value.fields) == ["parent_id"]
        assert "cycle" in exc.value.fields["parent_id"][0]
    org.move_department(session, c, None, actor_id=root)
    assert org.get_department(session, c).parent_id is None
    with pytest.raises(ValidationFailed) as exc:
        org.update_department(session, b, {"parent_id": 999, "name": " "}, actor_id=root)
    assert set(exc.value.fields) == {"parent_id", "name"}


def test_sibling_names_are_unique_even_at_the_top(session, people, root) -> None:
    org.create_department(session, "Risk", actor_id=root)
    with pytest.raises(ValidationFailed) as exc:
        org.create_department(session, "Risk", actor_id=root)
    assert "already exists at the top level" in exc.value.fields["name"][0]
    other = org.create_department(session, "Ops", actor_id=root)
    with pytest.raises(ValidationFailed):
        org.rename_department(session, other, "Risk", actor_id=root)


def test_head_must_be_an_existing_active_user(session, people, root) -> None:
    with pytest.raises(ValidationFailed) as exc:
        org.create_department(session, "X", head_user_id=12345, actor_id=root)
    assert "no user 12345" in exc.value.fields["head_user_id"][0]
    dept = org.create_department(session, "X", actor_id=root)
    org.update_user(session, people["bob"], {"is_active": False}, actor_id=root)
    with pytest.raises(ValidationFailed) as exc:
        org.set_department_head(session, dept, people["bob"], actor_id=root)
    assert "deactivated" in exc.value.fields["head_user_id"][0]
    org.set_department_head(session, dept, people["boss"], actor_id=root)
    assert org.get_department(session, dept).head.username == "boss"  # type: ignore[union-attr]
    org.set_department_head(session, dept, None, actor_id=root)
    assert org.get_department(session, dept).head is None


def test_delete_only_empty_departments(session, people, root) -> None:
    parent = org.create_department(session, "P", actor_id=root)
    child = org.create_department(session, "C", parent_id=parent, actor_id=root)
    org.update_user(session, people["bob"], {"department_id": child, "is_active": False},
                    actor_id=root)
    with pytest.raises(Conflict, match="1 sub-department"):
        org.delete_department(session, parent, actor_id=root)
    with pytest.raises(Conflict, match="1 user"):  # inactive users count too
        org.delete_department(session, child, actor_id=root)
    org.update_user(session, people["bob"], {"department_id": None}, actor_id=root)
    org.delete_department(session, child, actor_id=root)
    org.delete_department(session, parent, actor_id=root)
    assert org.department_tree(session) == []
    with pytest.raises(NotFound):
        org.delete_department(session, parent, actor_id=root)


def test_add_and_update_users_validates_every_field_at_once(session, people, root) -> None:
    with pytest.raises(ValidationFailed) as exc:
        org.add_user(session, username="alice", password="1234", department_id=77,
                     roles=["manager", "ghost"], language="fr", actor_id=root)
    assert set(exc.value.fields) == {"username", "password", "department_id", "roles",
                                     "language"}
    dept = org.create_department(session, "Risk", actor_id=root)
    new_id = org.add_user(session, username="carol", password=PASSWORD, display_name="卡萝",
                          department_id=dept, roles=["manager"], language="en", actor_id=root)
    carol = org.get_user(session, new_id)
    assert (carol.display_name, carol.department_name, carol.roles, carol.language) == \
        ("卡萝", "Risk", ("manager",), "en")
    org.update_user(session, new_id, {"roles": ["admin", "manager"], "display_name": "Carol",
                                      "language": None}, actor_id=root)
    carol = org.get_user(session, new_id)
    assert carol.roles == ("admin", "manager") and carol.language is None
    with pytest.raises(ValidationFailed) as exc:
        org.update_user(session, new_id, {"password_hash": "x", "is_active": "no"}, actor_id=root)
    assert set(exc.value.fields) == {"password_hash", "is_active"}
    assert not hasattr(carol, "password_hash")


def test_the_last_active_administrator_stays(session, people, root) -> None:
    with pytest.raises(ValidationFailed) as exc:
        org.update_user(session, people["root"], {"is_active": False}, actor_id=root)
    assert "last active administrator" in exc.value.fields["is_active"][0]
    with pytest.raises(ValidationFailed) as exc:
        org.update_user(session, people["root"], {"roles": ["manager"]}, actor_id=root)
    assert list(exc.value.fields) == ["roles"]
    org.update_user(session, people["alice"], {"roles": ["admin"]}, actor_id=root)
    org.update_user(session, people["root"], {"is_active": False}, actor_id=root)
    assert org.get_user(session, people["root"]).is_active is False


def test_password_reset_checks_strength_and_hashes(session, people, root) -> None:
    with pytest.raises(ValidationFailed) as exc:
        org.reset_password(session, people["bob"], "12345678", actor_id=root)
    assert "only digits" in exc.value.fields["password"][0]
    org.reset_password(session, people["bob"], "new-secret-2", actor_id=root)
    stored = session.execute(select(db.user.c.password_hash)
                             .where(db.user.c.id == people["bob"])).scalar_one()
    assert stored.startswith("$argon2id$") and verify_password(stored, "new-secret-2")
    assert authenticate(session, "bob", "new-secret-2") == people["bob"]


def test_unlock_lets_a_locked_user_sign_in(session, people, root) -> None:
    for _ in range(3):
        with pytest.raises(NotAuthenticated):
            authenticate(session, "bob", "wrong", max_failures=3)
    with pytest.raises(NotAuthenticated, match="too many failed logins"):
        authenticate(session, "bob", PASSWORD, max_failures=3)
    assert org.get_user(session, people["bob"]).locked()
    org.unlock_user(session, people["bob"], actor_id=root)
    bob = org.get_user(session, people["bob"])
    assert not bob.locked() and bob.failed_logins == 0 and bob.locked_until is None
    assert authenticate(session, "bob", PASSWORD) == people["bob"]
    with pytest.raises(NotFound):
        org.unlock_user(session, 999, actor_id=root)


def test_team_scope_follows_moves(session, people, root) -> None:
    branch = org.create_department(session, "Branch", head_user_id=people["boss"], actor_id=root)
    desk = org.create_department(session, "Desk", parent_id=branch, actor_id=root)
    elsewhere = org.create_department(session, "Elsewhere", actor_id=root)
    org.update_user(session, people["alice"], {"department_id": desk}, actor_id=root)
    assert people["alice"] in load_actor(session, people["boss"]).team_user_ids
    org.update_user(session, people["alice"], {"department_id": elsewhere}, actor_id=root)
    assert people["alice"] not in load_actor(session, people["boss"]).team_user_ids
    # her department moves under the branch
    org.move_department(session, elsewhere, desk, actor_id=root)
    assert people["alice"] in load_actor(session, people["boss"]).team_user_ids
    org.set_department_head(session, branch, people["bob"], actor_id=root)
    assert people["alice"] not in load_actor(session, people["boss"]).team_user_ids
    assert people["alice"] in load_actor(session, people["bob"]).team_user_ids


def _log(session: Session, kind: str, obj_id: int) -> list[dict[str, Any]]:
    """The entries of one department or user, oldest first."""
    return list(reversed(changes_of(session, subject_for("org", kind, obj_id))))


def test_every_department_change_is_one_log_entry_with_before_and_after(
        session, people, root) -> None:
    hq = org.create_department(session, "HQ", actor_id=root)
    risk = org.create_department(session, "Risk", head_user_id=people["boss"], actor_id=root)
    org.rename_department(session, risk, "Risk control", actor_id=root)
    org.move_department(session, risk, hq, actor_id=root)
    org.set_department_head(session, risk, people["alice"], actor_id=root)
    org.update_department(session, risk, {"name": "Credit", "parent_id": None,
                                          "head_user_id": None}, actor_id=people["boss"])
    # nothing changes: the admin page posts every field, and that is not an entry
    org.update_department(session, risk, {"name": "Credit", "parent_id": None,
                                          "head_user_id": None}, actor_id=root)
    with pytest.raises(ValidationFailed):  # refused: nothing logged either
        org.rename_department(session, risk, " ", actor_id=root)
    org.delete_department(session, risk, actor_id=root)
    entries = _log(session, "department", risk)
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("create", "root"), ("rename", "root"), ("move", "root"), ("set_head", "root"),
        ("update", "boss"), ("delete", "root")]
    created, renamed, moved, head, updated, deleted = (e["detail"] for e in entries)
    assert created == {"before": None, "after": {
        "name": "Risk", "parent_id": None, "parent_name": None,
        "head_user_id": people["boss"], "head_username": "boss"}}
    assert renamed == {"before": {"name": "Risk"}, "after": {"name": "Risk control"}}
    assert moved == {"before": {"parent_id": None, "parent_name": None},
                     "after": {"parent_id": hq, "parent_name": "HQ"}}
    assert head == {"before": {"head_user_id": people["boss"], "head_username": "boss"},
                    "after": {"head_user_id": people["alice"], "head_username": "alice"}}
    assert updated["before"] == {"name": "Risk control", "parent_id": hq, "parent_name": "HQ",
                                 "head_user_id": people["alice"], "head_username": "alice"}
    assert updated["after"] == {"name": "Credit", "parent_id": None, "parent_name": None,
                                "head_user_id": None, "head_username": None}
    assert deleted == {"before": {"name": "Credit", "parent_id": None, "parent_name": None,
                                  "head_user_id": None, "head_username": None},
                       "after": None}
    assert [e["action"] for e in _log(session, "department", hq)] == ["create"]


def test_every_user_change_is_one_log_entry_without_password_material(
        session, people, root) -> None:
    risk = org.create_department(session, "Risk", actor_id=root)
    carol = org.add_user(session, username="carol", password="carol-pass-1",
                         department_id=risk, roles=["manager"], actor_id=root)
    org.update_user(session, carol, {"roles": ["manager", "admin"], "department_id": None,
                                     "display_name": "Carol"}, actor_id=root)
    org.update_user(session, carol, {"roles": ["admin", "manager"], "display_name": "Carol"},
                    actor_id=root)  # the same roles in another order: no change
    with pytest.raises(ValidationFailed):
        org.update_user(session, carol, {"roles": ["ghost"]}, actor_id=root)
    for _ in range(2):
        with pytest.raises(NotAuthenticated):
            authenticate(session, "carol", "wrong")
    org.reset_password(session, carol, "carol-pass-2", actor_id=root)
    for _ in range(3):
        with pytest.raises(NotAuthenticated):
            authenticate(session, "carol", "wrong", max_failures=3)
    org.unlock_user(session, carol, actor_id=people["alice"])
    org.unlock_user(session, carol, actor_id=root)  # not locked any more: nothing to log
    entries = _log(session, "user", carol)
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("create", "root"), ("update", "root"), ("reset_password", "root"),
        ("unlock", "alice")]
    created, updated, reset, unlocked = (e["detail"] for e in entries)
    assert created == {"before": None, "after": {
        "username": "carol", "display_name": "carol", "department_id": risk,
        "department_name": "Risk", "roles": ["manager"], "is_active": True, "language": None}}
    assert updated == {
        "before": {"display_name": "carol", "department_id": risk, "department_name": "Risk",
                   "roles": ["manager"]},
        "after": {"display_name": "Carol", "department_id": None, "department_name": None,
                  "roles": ["admin", "manager"]}}
    assert reset == {"before": {"failed_logins": 2}, "after": {"failed_logins": 0},
                     "tokens_revoked": 0}
    assert unlocked["before"]["locked_until"] is not None
    assert unlocked["after"] == {"failed_logins": 0, "locked_until": None}
    stored = session.execute(select(db.user.c.password_hash)
                             .where(db.user.c.id == carol)).scalar_one()
    logged = json.dumps([e["detail"] for e in entries])
    for secret in ("carol-pass-1", "carol-pass-2", "password", "$argon2", stored[-16:]):
        assert secret not in logged


def test_reset_and_deactivation_revoke_the_users_tokens(session, people, root) -> None:
    bob_tokens = [issue_token(session, people["bob"])[0] for _ in range(2)]
    alice_token, _ = issue_token(session, people["alice"])
    org.reset_password(session, people["bob"], "bob-pass-22", actor_id=root)
    for token in bob_tokens:
        with pytest.raises(NotAuthenticated, match="not valid"):
            user_for_token(session, token)
    assert user_for_token(session, alice_token) == people["alice"]  # others keep theirs
    assert _log(session, "user", people["bob"])[-1]["detail"]["tokens_revoked"] == 2
    org.update_user(session, people["alice"], {"is_active": False}, actor_id=root)
    with pytest.raises(NotAuthenticated, match="not valid"):
        user_for_token(session, alice_token)
    (entry,) = _log(session, "user", people["alice"])
    assert entry["detail"] == {"before": {"is_active": True}, "after": {"is_active": False},
                               "tokens_revoked": 1}
    late, _ = issue_token(session, people["alice"])  # tokens issued now are not touched
    org.update_user(session, people["alice"], {"is_active": True}, actor_id=root)
    assert "tokens_revoked" not in _log(session, "user", people["alice"])[-1]["detail"]
    assert user_for_token(session, late) == people["alice"]


# --- the API ------------------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path, engine):
    """The app on the ``engine`` fixture's database (SQLite, and PostgreSQL when marked)."""
    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path / "var")}), TESTING=True)
    state = app.extensions["lendbase"]
    state.engine.dispose()
    app.extensions["lendbase"] = dataclasses.replace(
        state, engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))
    with app.extensions["lendbase"].sessions.begin() as session:
        ensure_role(session, "admin", superuser=True)
        ensure_role(session, "manager")
        create_user(session, "admin", "admin-pass-1", ["admin"])
        create_user(session, "am1", "manager-pass-1", ["manager"])
    return app


def _login(client, username: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username,
                                                        "password": password})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def _no_secrets(response: Any) -> None:
    text = response.get_data(as_text=True)
    assert "password" not in text and "$argon2" not in text, text


def test_api_departments_tree_cycle_and_conflict(app) -> None:
    client = app.test_client()
    admin = _login(client, "admin", "admin-pass-1")
    hq = client.post("/api/v1/org/departments", headers=admin, json={"name": "总部"})
    assert hq.status_code == 201 and hq.json["parent_id"] is None
    sales = client.post("/api/v1/org/departments", headers=admin,
                        json={"name": "销售部", "parent_id": hq.json["id"]}).json
    cycle = client.patch(f"/api/v1/org/departments/{hq.json['id']}", headers=admin,
                         json={"parent_id": sales["id"]})
    assert cycle.status_code == 422
    assert list(cycle.json["error"]["fields"]) == ["parent_id"]
    no_head = client.patch(f"/api/v1/org/departments/{sales['id']}", headers=admin,
                           json={"head_user_id": 4242})
    assert no_head.status_code == 422 and "head_user_id" in no_head.json["error"]["fields"]
    users = {u["username"]: u["id"] for u in client.get("/api/v1/users", headers=admin).json}
    head = client.patch(f"/api/v1/org/departments/{sales['id']}", headers=admin,
                        json={"head_user_id": users["am1"], "name": "Sales"})
    assert head.status_code == 200
    assert head.json["head"]["username"] == "am1" and head.json["name"] == "Sales"
    tree = client.get("/api/v1/org/departments", headers=admin).json
    assert tree[0]["name"] == "总部" and tree[0]["children"][0]["head"]["username"] == "am1"
    busy = client.delete(f"/api/v1/org/departments/{hq.json['id']}", headers=admin)
    assert busy.status_code == 409 and busy.json["error"]["code"] == "conflict"
    assert "sub-department" in busy.json["error"]["message"]
    assert client.delete(f"/api/v1/org/departments/{sales['id']}",
                         headers=admin).status_code == 204
    assert client.delete(f"/api/v1/org/departments/{sales['id']}",
                         headers=admin).status_code == 404


def test_api_users_create_update_password_unlock(app) -> None:
    client = app.test_client()
    admin = _login(client, "admin", "admin-pass-1")
    dept = client.post("/api/v1/org/departments", headers=admin, json={"name": "Risk"}).json
    weak = client.post("/api/v1/users", headers=admin,
                       json={"username": "carol", "password": "short", "roles": ["nope"]})
    assert weak.status_code == 422
    assert set(weak.json["error"]["fields"]) == {"password", "roles"}
    created = client.post("/api/v1/users", headers=admin, json={
        "username": "carol", "password": "carol-pass-1", "display_name": "卡萝",
        "department_id": dept["id"], "roles": ["manager"]})
    assert created.status_code == 201, created.json
    _no_secrets(created)
    carol = created.json
    assert (carol["department_name"], carol["roles"], carol["is_active"]) == \
        ("Risk", ["manager"], True)
    url = f"/api/v1/users/{carol['id']}"
    changed = client.patch(url, headers=admin, json={"roles": ["manager", "admin"],
                                                     "department_id": None,
                                                     "language": "en"})
    assert changed.status_code == 200
    assert changed.json["roles"] == ["admin", "manager"]
    assert changed.json["department_id"] is None and changed.json["language"] == "en"
    sneaky = client.patch(url, headers=admin, json={"password_hash": "x"})
    assert sneaky.status_code == 422 and "password_hash" in sneaky.json["error"]["fields"]
    bad = client.post(url + "/password", headers=admin, json={"password": "12345678"})
    assert bad.status_code == 422 and "password" in bad.json["error"]["fields"]
    assert client.post(url + "/password", headers=admin,
                       json={"password": "carol-pass-2"}).status_code == 204
    for _ in range(5):
        client.post("/api/v1/auth/token", json={"username": "carol", "password": "wrong"})
    locked = client.post("/api/v1/auth/token",
                         json={"username": "carol", "password": "carol-pass-2"})
    assert locked.status_code == 401 and "too many" in locked.json["error"]["message"]
    assert client.get(url, headers=admin).json["locked"] is True
    unlocked = client.post(url + "/unlock", headers=admin)
    assert unlocked.status_code == 200 and unlocked.json["locked"] is False
    _login(client, "carol", "carol-pass-2")
    assert client.get("/api/v1/users/999", headers=admin).status_code == 404


def test_api_non_admins_read_public_fields_and_may_not_write(app) -> None:
    client = app.test_client()
    admin = _login(client, "admin", "admin-pass-1")
    dept = client.post("/api/v1/org/departments", headers=admin, json={"name": "Ops"}).json
    am1 = _login(client, "am1", "manager-pass-1")
    users = client.get("/api/v1/users", headers=am1)
    assert users.status_code == 200
    assert set(users.json[0]) == {"id", "username", "display_name", "department_id",
                                  "department_name", "is_active"}
    me = next(u for u in users.json if u["username"] == "am1")
    assert client.get("/api/v1/org/departments", headers=am1).json[0]["name"] == "Ops"
    assert {r["key"] for r in client.get("/api/v1/roles", headers=am1).json} == \
        {"admin", "manager"}
    writes = [
        client.post("/api/v1/org/departments", headers=am1, json={"name": "Mine"}),
        client.patch(f"/api/v1/org/departments/{dept['id']}", headers=am1,
                     json={"name": "Mine"}),
        client.delete(f"/api/v1/org/departments/{dept['id']}", headers=am1),
        client.post("/api/v1/users", headers=am1,
                    json={"username": "x", "password": "xx-pass-123"}),
        client.patch(f"/api/v1/users/{me['id']}", headers=am1, json={"roles": ["admin"]}),
        client.post(f"/api/v1/users/{me['id']}/password", headers=am1,
                    json={"password": "whatever-1"}),
        client.post(f"/api/v1/users/{me['id']}/unlock", headers=am1),
    ]
    assert [w.status_code for w in writes] == [403] * len(writes)
    assert all(w.json["error"]["code"] == "permission_denied" for w in writes)
    assert client.get("/api/v1/users").status_code == 401


def test_api_never_returns_a_password_hash(app) -> None:
    client = app.test_client()
    admin = _login(client, "admin", "admin-pass-1")
    dept = client.post("/api/v1/org/departments", headers=admin, json={"name": "D"}).json
    users = client.get("/api/v1/users", headers=admin)
    am1 = next(u for u in users.json if u["username"] == "am1")
    client.patch(f"/api/v1/org/departments/{dept['id']}", headers=admin,
                 json={"head_user_id": am1["id"]})
    responses = [
        users,
        client.get(f"/api/v1/users/{am1['id']}", headers=admin),
        client.get("/api/v1/users?q=am", headers=admin),
        client.get("/api/v1/org/departments", headers=admin),
        client.post(f"/api/v1/users/{am1['id']}/unlock", headers=admin),
        client.patch(f"/api/v1/users/{am1['id']}", headers=admin, json={"display_name": "A"}),
        client.post("/api/v1/users", headers=admin,
                    json={"username": "dave", "password": "dave-pass-1"}),
    ]
    for response in responses:
        assert response.status_code < 300, response.json
        _no_secrets(response)
    spec = json.dumps(client.get("/api/openapi.json").json["components"]["schemas"]
                      ["User"])
    assert "password" not in spec


def test_api_team_scope_follows_a_moved_user(app) -> None:
    client = app.test_client()
    admin = _login(client, "admin", "admin-pass-1")
    users = {u["username"]: u["id"] for u in client.get("/api/v1/users", headers=admin).json}
    team = client.post("/api/v1/org/departments", headers=admin,
                       json={"name": "Team", "head_user_id": users["admin"]}).json
    other = client.post("/api/v1/org/departments", headers=admin, json={"name": "Other"}).json
    state = app.extensions["lendbase"]

    def team_of_admin() -> frozenset[int]:
        with state.sessions() as session:
            return load_actor(session, users["admin"]).team_user_ids

    client.patch(f"/api/v1/users/{users['am1']}", headers=admin,
                 json={"department_id": team["id"]})
    assert users["am1"] in team_of_admin()
    client.patch(f"/api/v1/users/{users['am1']}", headers=admin,
                 json={"department_id": other["id"]})
    assert users["am1"] not in team_of_admin()


def test_locked_until_in_the_past_is_not_locked(session, people) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    session.execute(update(db.user).where(db.user.c.id == people["bob"])
                    .values(locked_until=past))
    assert org.get_user(session, people["bob"]).locked() is False


def _users(client, headers: dict[str, str]) -> dict[str, int]:
    return {u["username"]: u["id"] for u in client.get("/api/v1/users", headers=headers).json}


def test_api_reset_and_deactivation_make_old_bearer_tokens_401(app) -> None:
    client = app.test_client()
    admin = _login(client, "admin", "admin-pass-1")
    am1 = _login(client, "am1", "manager-pass-1")
    assert client.get("/api/v1/roles", headers=am1).status_code == 200
    am1_id = _users(client, admin)["am1"]
    assert client.post(f"/api/v1/users/{am1_id}/password", headers=admin,
                       json={"password": "manager-pass-2"}).status_code == 204
    old = client.get("/api/v1/roles", headers=am1)
    assert old.status_code == 401 and old.json["error"]["code"] == "not_authenticated"
    am1 = _login(client, "am1", "manager-pass-2")
    assert client.get("/api/v1/roles", headers=am1).status_code == 200
    assert client.patch(f"/api/v1/users/{am1_id}", headers=admin,
                        json={"is_active": False}).status_code == 200
    assert client.get("/api/v1/roles", headers=am1).status_code == 401
    assert client.get("/api/v1/roles", headers=admin).status_code == 200  # the admin's stays
    log = client.get(f"/api/v1/org/log?subject=org/user/{am1_id}", headers=admin)
    assert log.status_code == 200
    assert [(e["action"], e["actor"], e["detail"]["tokens_revoked"]) for e in log.json] == [
        ("update", "admin", 1), ("reset_password", "admin", 1)]  # newest first


def test_api_org_log_is_admin_only_and_names_the_actor(app) -> None:
    client = app.test_client()
    admin = _login(client, "admin", "admin-pass-1")
    dept = client.post("/api/v1/org/departments", headers=admin, json={"name": "Ops"}).json
    client.patch(f"/api/v1/org/departments/{dept['id']}", headers=admin,
                 json={"name": "Operations"})
    url = f"/api/v1/org/log?subject=org/department/{dept['id']}"
    log = client.get(url, headers=admin)
    assert log.status_code == 200
    assert [(e["action"], e["actor"]) for e in log.json] == [("rename", "admin"),
                                                             ("create", "admin")]
    assert log.json[0]["detail"] == {"before": {"name": "Ops"}, "after": {"name": "Operations"}}
    am1 = _login(client, "am1", "manager-pass-1")
    refused = client.get(url, headers=am1)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "permission_denied"
    assert client.get(url).status_code == 401
    for subject in ("meta/forms/customer", "org/user/", "org/user/1/x"):
        bad = client.get(f"/api/v1/org/log?subject={subject}", headers=admin)
        assert bad.status_code == 422, subject
    assert client.get("/api/v1/org/log", headers=admin).status_code == 422
    assert client.get("/api/v1/org/log?subject=org/user/999", headers=admin).json == []
