"""The administrators' organisation page on both databases: the tree, forms posted with the
CSRF token, refusals shown by the field, and 403 for everyone else; every change logged with
the administrator as actor, and a reset or deactivation ending the user's page sessions."""

from __future__ import annotations

import dataclasses
import re

import pytest
from sqlalchemy.orm import sessionmaker

from lendbase.app import create_app
from lendbase.auth import org
from lendbase.auth.tokens import issue_token, user_for_token
from lendbase.auth.users import create_user, ensure_role, load_actor
from lendbase.changelog import changes_of, subject_for
from lendbase.config import load_settings
from lendbase.errors import NotAuthenticated

PASSWORD = "secret-pass-1"


@pytest.fixture
def site(tmp_path, engine):
    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path / "var")}))
    app.config["TESTING"] = True
    state = app.extensions["lendbase"]
    state.engine.dispose()
    state = dataclasses.replace(state, engine=engine,
                                sessions=sessionmaker(engine, expire_on_commit=False))
    app.extensions["lendbase"] = state
    with state.sessions.begin() as session:
        ensure_role(session, "admin", {"zh": "管理员", "en": "Administrator"}, superuser=True)
        ensure_role(session, "account_manager", {"zh": "客户经理", "en": "Account manager"})
        app.lb_users = {  # type: ignore[attr-defined]
            "admin": create_user(session, "admin", PASSWORD, ["admin"], display_name="管理员"),
            "am1": create_user(session, "am1", PASSWORD, ["account_manager"],
                               display_name="王经理"),
        }
    return app


def token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD) -> None:
    page = client.get("/login")
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token(page.text)})
    assert response.status_code == 302


def test_admin_adds_a_department_and_a_user_through_the_page(site) -> None:
    client = site.test_client()
    login(client, "admin")
    home = client.get("/")
    assert 'href="/admin/org"' in home.text  # the superuser's nav link
    page = client.get("/admin/org")
    assert page.status_code == 200 and "组织与用户" in page.text
    assert client.post("/admin/org/departments", data={"name": "无令牌"}).status_code == 400
    added = client.post("/admin/org/departments",
                        data={"name": "华东分部", "parent_id": "",
                              "head_user_id": str(site.lb_users["am1"]),
                              "csrf_token": token(page.text)})
    assert added.status_code == 302 and added.location.endswith("/admin/org")
    page = client.get("/admin/org")
    tree = page.text[page.text.index('id="department-tree"'):page.text.index('id="add-department"')]
    assert "华东分部" in tree and "王经理 (am1)" in tree and "部门已保存" in page.text
    duplicate = client.post("/admin/org/departments",
                            data={"name": "华东分部", "csrf_token": token(page.text)})
    assert duplicate.status_code == 422 and "already exists at the top level" in duplicate.text
    assert 'value="华东分部"' in duplicate.text  # what was typed is offered again
    with site.extensions["lendbase"].sessions() as session:
        (dept,) = org.department_tree(session)
    weak = client.post("/admin/org/users", data={
        "username": "am2", "password": "123", "department_id": str(dept.id),
        "roles": "account_manager", "csrf_token": token(page.text)})
    assert weak.status_code == 422 and 'id="add_user-password-error"' in weak.text
    assert 'value="am2"' in weak.text and 'value="123"' not in weak.text
    created = client.post("/admin/org/users", data={
        "username": "am2", "display_name": "李经理", "password": "am2-pass-123",
        "department_id": str(dept.id), "roles": "account_manager",
        "csrf_token": token(page.text)})
    assert created.status_code == 302
    with site.extensions["lendbase"].sessions() as session:
        am2 = next(u for u in org.list_users(session) if u.username == "am2")
        assert (am2.department_id, am2.roles) == (dept.id, ("account_manager",))
        # am1 heads the department, so am2 is now in am1's team
        assert am2.id in load_actor(session, site.lb_users["am1"]).team_user_ids


def test_non_admins_get_403(site) -> None:
    client = site.test_client()
    login(client, "am1")
    assert 'href="/admin/org"' not in client.get("/").text
    page = client.get("/admin/org")
    assert page.status_code == 403 and "没有权限" in page.text
    refused = client.post("/admin/org/departments",
                          data={"name": "X", "csrf_token": token(client.get("/").text)})
    assert refused.status_code == 403
    with site.extensions["lendbase"].sessions() as session:
        assert org.department_tree(session) == []


def test_page_changes_are_logged_with_the_admin_as_actor(site) -> None:
    client = site.test_client()
    login(client, "admin")
    csrf = token(client.get("/admin/org").text)
    client.post("/admin/org/departments", data={"name": "Ops", "csrf_token": csrf})
    with site.extensions["lendbase"].sessions() as session:
        (dept,) = org.department_tree(session)
    am1 = site.lb_users["am1"]
    form = {"display_name": "王经理", "department_id": str(dept.id), "roles": "account_manager",
            "is_active": "1", "language": "", "csrf_token": csrf}
    assert client.post(f"/admin/org/users/{am1}", data=form).status_code == 302
    assert client.post(f"/admin/org/users/{am1}", data=form).status_code == 302  # no change
    assert client.post(f"/admin/org/departments/{dept.id}",
                       data={"name": "Operations", "parent_id": "", "head_user_id": str(am1),
                             "csrf_token": csrf}).status_code == 302
    with site.extensions["lendbase"].sessions() as session:
        user_log = changes_of(session, subject_for("org", "user", am1))
        dept_log = changes_of(session, subject_for("org", "department", dept.id))
    assert [(e["action"], e["actor"], e["detail"]) for e in user_log] == [
        ("update", "admin", {"before": {"department_id": None, "department_name": None},
                             "after": {"department_id": dept.id, "department_name": "Ops"}})]
    assert [(e["action"], e["actor"]) for e in dept_log] == [("update", "admin"),
                                                             ("create", "admin")]
    assert dept_log[0]["detail"]["after"] == {"name": "Operations", "head_user_id": am1,
                                              "head_username": "am1"}


def test_reset_and_deactivation_end_the_users_page_sessions(site) -> None:
    admin, user = site.test_client(), site.test_client()
    login(admin, "admin")
    login(user, "am1")
    assert user.get("/").status_code == 200
    old_cookie = user.get_cookie("session")
    assert old_cookie is not None
    am1 = site.lb_users["am1"]
    with site.extensions["lendbase"].sessions.begin() as session:
        api_token, _ = issue_token(session, am1)
    csrf = token(admin.get("/admin/org").text)
    reset = admin.post(f"/admin/org/users/{am1}/password",
                       data={"password": "am1-new-pass-1", "csrf_token": csrf})
    assert reset.status_code == 302
    gone = user.get("/")
    assert gone.status_code == 302 and gone.location.startswith("/login")
    replay = site.test_client()  # the old cookie itself is refused, not just forgotten
    replay.set_cookie("session", old_cookie.value)
    api = replay.get("/api/v1/auth/me")  # by the API too
    assert api.status_code == 401 and api.json["error"]["code"] == "not_authenticated"
    assert replay.get("/").location.startswith("/login")
    assert admin.get("/admin/org").status_code == 200  # the admin's own session lives on
    with site.extensions["lendbase"].sessions() as session:
        with pytest.raises(NotAuthenticated):
            user_for_token(session, api_token)
        entry = changes_of(session, subject_for("org", "user", am1))[0]
    assert (entry["action"], entry["actor"], entry["detail"]["tokens_revoked"]) == \
        ("reset_password", "admin", 1)
    assert "am1-new-pass-1" not in str(entry)

    login(user, "am1", "am1-new-pass-1")
    assert user.get("/").status_code == 200
    deactivated = admin.post(f"/admin/org/users/{am1}", data={
        "display_name": "王经理", "department_id": "", "roles": "account_manager",
        "language": "", "csrf_token": csrf})  # is_active unticked
    assert deactivated.status_code == 302
    gone = user.get("/")
    assert gone.status_code == 302 and gone.location.startswith("/login")
