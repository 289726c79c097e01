"""Tags, tasks, alerts and notifications over HTTP on SQLite: the REST API (shapes, 4xx for
bad input, 404 for records out of reach, who may change a task, OpenAPI) and the pages (the
inbox overdue first with keyset paging, a task's page with comments and reassignment, the
record page's panel with hand tagging, the navbar's overdue badge, the tag admin page)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lendbase import db
from lendbase.app import create_app
from lendbase.auth.users import create_user, ensure_role, load_actor
from lendbase.config import load_settings
from lendbase.meta.store import MetadataStore
from lendbase.records.permissions import Actor
from lendbase.work import (
    AlertService,
    NotificationService,
    Refusal,
    TagCatalog,
    TaskService,
    TaskSpec,
)
from lendbase.work.common import utcnow
from tests.work_fixtures import client_form

PASSWORD = "secret-pass-1"


def _build_site(var_dir) -> dict[str, object]:
    """An app on SQLite with the client form, a tag catalogue and users: admin, am1 and am2
    (managers, own records), c1 (collector: reads all, may set risk flags), outsider."""
    from lendbase.forms.publish import publish_form
    from lendbase.records.service import RecordService

    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(var_dir)}))
    state = app.extensions["lendbase"]
    db.platform_metadata.create_all(state.engine)
    with state.sessions.begin() as session:
        ensure_role(session, "admin", {"zh": "管理员", "en": "Admin"}, superuser=True)
        for role in ("manager", "collector"):
            ensure_role(session, role)
        users = {name: create_user(session, name, PASSWORD, roles, display_name=display)
                 for name, roles, display in (
                     ("admin", ["admin"], "管理员"), ("am1", ["manager"], "王经理"),
                     ("am2", ["manager"], "李经理"), ("c1", ["collector"], "催收员小赵"),
                     ("outsider", [], "外人"))}
        MetadataStore(session, None).create("forms", client_form())
        publish_form(session, None, "client", dry_run=False, confirm=True, backfill=None,
                     note=None)
    with state.sessions.begin() as session:
        admin = load_actor(session, users["admin"], "zh")
        catalog = TagCatalog(session, admin)
        catalog.save_group("rating", {"zh": "评级", "en": "Rating"}, exclusive=True)
        catalog.save_tag("rating_a", "rating", {"zh": "评级A", "en": "Rating A"},
                         color="#1f8a4c")
        catalog.save_tag("rating_b", "rating", {"zh": "评级B", "en": "Rating B"})
        catalog.save_group("risk", {"zh": "风险标记", "en": "Risk flags"}, roles=["collector"])
        catalog.save_tag("lost_contact", "risk", {"zh": "失联", "en": "Lost contact"},
                         color="#c0392b")
        NotificationService(session, admin).save_template(
            "repay_reminder", label={"zh": "还款提醒", "en": "Repayment reminder"},
            channel="sms", form_key="client", body="{{ name }}您好，请按时还款。")
        svc = RecordService(session, state.registry.schema(session),
                            load_actor(session, users["am1"], "zh"), state.cipher)
        records = [svc.create("client", {"name": f"客户{i}", "account_manager": users["am1"]}
                              )["id"] for i in range(3)]
    state.engine.dispose()  # SQLite folds its WAL back into the file: the folder can be copied
    return {"users": users, "records": records}


@pytest.fixture(scope="module")
def site_template(tmp_path_factory):
    """The site built once per module (hashing passwords is slow on purpose)."""
    var_dir = tmp_path_factory.mktemp("work_site")
    return var_dir, _build_site(var_dir)


@pytest.fixture
def site(site_template, tmp_path):
    """A fresh copy of the site for each test."""
    import shutil

    source, built = site_template
    var_dir = tmp_path / "var"
    shutil.copytree(source, var_dir)
    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(var_dir)}))
    app.config["TESTING"] = True
    app.lb_users = built["users"]  # type: ignore[attr-defined]
    app.lb_records = built["records"]  # type: ignore[attr-defined]
    yield app
    app.extensions["lendbase"].engine.dispose()


def token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def login(client, username: str):
    page = client.get("/login")
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": token(page.text)})
    assert response.status_code == 302
    return client


def bearer(app, username: str) -> dict[str, str]:
    response = app.test_client().post("/api/v1/auth/token",
                                      json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json['token']}"}


def system_session(app):
    state = app.extensions["lendbase"]
    return state.sessions.begin(), state


def make_task(app, title: str, assignee: str, days: int | None, record: int | None = None,
              creator: str | None = None) -> int:
    state = app.extensions["lendbase"]
    with state.sessions.begin() as session:
        actor = Actor.system() if creator is None else load_actor(
            session, app.lb_users[creator], "zh")
        svc = TaskService(session, actor, schema=state.registry.schema(session))
        task, _ = svc.create(TaskSpec(title, assignee_id=app.lb_users[assignee],
                                      due_at=None if days is None
                                      else utcnow() + timedelta(days=days)),
                             form_key="client" if record else None, record_id=record)
        return task.id


# --- API ----------------------------------------------------------------------------------------


def test_api_tags_of_a_record(site) -> None:
    client = site.test_client()
    rid = site.lb_records[0]
    am1, am2, c1 = (bearer(site, u) for u in ("am1", "am2", "c1"))
    url = f"/api/v1/records/client/{rid}/tags"
    assert client.get(url, headers=am1).json == []
    added = client.post(url, json={"tag": "rating_a", "reason": "首评"}, headers=am1)
    assert added.status_code == 201 and added.json[0]["tag_key"] == "rating_a"
    assert client.post(url, json={"tag": "rating_a"}, headers=am1).status_code == 200
    swapped = client.post(url, json={"tag": "rating_b"}, headers=am1)
    assert [t["tag_key"] for t in swapped.json] == ["rating_b"]  # exclusive group
    refused = client.post(url, json={"tag": "lost_contact"}, headers=am1)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "permission_denied"
    assert client.post(url, json={"tag": "lost_contact"}, headers=c1).status_code == 201
    bad = client.post(url, json={"tag": ""}, headers=am1)
    assert bad.status_code == 422 and "tag" in bad.json["error"]["fields"]
    assert client.post(url, json={"tag": "nope"}, headers=am1).status_code == 404
    # am2 may not read am1's client: 404 for everything about it, never the data
    assert client.get(url, headers=am2).status_code == 404
    assert client.post(url, json={"tag": "rating_a"}, headers=am2).status_code == 404
    assert client.get(f"/api/v1/records/client/{rid}/tasks", headers=am2).status_code == 404
    assert client.get(f"/api/v1/records/client/{rid}/alerts", headers=am2).status_code == 404
    assert client.get(f"/api/v1/records/client/{rid}/notifications",
                      headers=am2).status_code == 404
    assert client.get("/api/v1/records/client/99999999999999999999/tags",
                      headers=am1).status_code == 404
    removed = client.delete(f"{url}/rating_b?reason=复核", headers=am1)
    assert removed.status_code == 204
    history = client.get(f"{url}/history", headers=am1).json
    assert [(h["tag_key"], h["action"]) for h in history][:2] == [
        ("rating_b", "removed"), ("lost_contact", "added")]
    assert client.get(url).status_code == 401


def test_api_tag_admin(site) -> None:
    client = site.test_client()
    admin, am1 = bearer(site, "admin"), bearer(site, "am1")
    groups = client.get("/api/v1/tag-groups", headers=am1).json
    assert [g["key"] for g in groups] == ["rating", "risk"]
    assert [t["key"] for t in groups[0]["tags"]] == ["rating_a", "rating_b"]
    body = {"label": {"zh": "行为", "en": "Behaviour"}, "manual": False}
    assert client.put("/api/v1/tag-groups/behaviour", json=body,
                      headers=am1).status_code == 403
    saved = client.put("/api/v1/tag-groups/behaviour", json=body, headers=admin)
    assert saved.status_code == 200 and saved.json["manual"] is False
    tag = client.put("/api/v1/tags/early_repayer", headers=admin, json={
        "group_key": "behaviour", "label": {"zh": "提前还款"}, "color": "#123456"})
    assert tag.status_code == 200 and tag.json["color"] == "#123456"
    bad = client.put("/api/v1/tags/Bad", headers=admin, json={
        "group_key": "nope", "label": {"zh": "x"}, "color": "red"})
    assert bad.status_code == 422
    assert set(bad.json["error"]["fields"]) == {"key", "group_key", "color"}
    assert client.delete("/api/v1/tag-groups/behaviour", headers=admin).status_code == 409
    assert client.delete("/api/v1/tags/early_repayer", headers=admin).status_code == 204


def test_api_tasks(site) -> None:
    client = site.test_client()
    rid = site.lb_records[0]
    am1, am2, c1, admin = (bearer(site, u) for u in ("am1", "am2", "c1", "admin"))
    late = make_task(site, "逾期回访", "am1", -2, rid)
    make_task(site, "下周跟进", "am1", 7, rid)
    created = client.post("/api/v1/tasks", headers=am1, json={
        "title": "准备授信材料", "form_key": "client", "record_id": rid, "priority": "high",
        "due_at": "2030-01-01T09:00:00+08:00"})
    assert created.status_code == 201 and created.json["assignee_id"] == site.lb_users["am1"]
    inbox = client.get("/api/v1/tasks?limit=2", headers=am1).json
    assert [t["title"] for t in inbox["items"]] == ["逾期回访", "下周跟进"]
    assert inbox["items"][0]["overdue"] is True and inbox["next_cursor"]
    rest = client.get(f"/api/v1/tasks?limit=2&after={inbox['next_cursor']}", headers=am1).json
    assert [t["title"] for t in rest["items"]] == ["准备授信材料"] and not rest["next_cursor"]
    assert client.get("/api/v1/tasks?view=nope", headers=am1).status_code == 422
    assert client.get("/api/v1/tasks?after=%%%", headers=am1).status_code == 422
    got = client.get(f"/api/v1/tasks/{late}", headers=am1)
    assert got.headers["ETag"] == '"1"'
    assert client.get(f"/api/v1/tasks/{late}", headers=am2).status_code == 404
    assert client.get(f"/api/v1/tasks/{late}", headers=c1).status_code == 200  # reads record
    assert client.patch(f"/api/v1/tasks/{late}", json={"status": "done"},
                        headers=c1).status_code == 403
    stale = client.patch(f"/api/v1/tasks/{late}", json={"status": "in_progress"},
                         headers={**am1, "If-Match": '"7"'})
    assert stale.status_code == 409
    patched = client.patch(f"/api/v1/tasks/{late}", json={"status": "in_progress"},
                           headers={**am1, "If-Match": '"1"'})
    assert patched.status_code == 200 and patched.json["status"] == "in_progress"
    bad = client.patch(f"/api/v1/tasks/{late}", json={"status": "sleeping", "due_at": "x"},
                       headers=am1)
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) == {"status", "due_at"}
    comment = client.post(f"/api/v1/tasks/{late}/comments", json={"body": "已电话联系"},
                          headers=c1)
    assert comment.status_code == 201
    assert [c["body"] for c in client.get(f"/api/v1/tasks/{late}/comments",
                                          headers=am1).json] == ["已电话联系"]
    moved = client.post(f"/api/v1/tasks/{late}/reassign", headers=am1,
                        json={"assignee_id": site.lb_users["c1"], "reason": "转催收"})
    assert moved.status_code == 200 and moved.json["assignee_id"] == site.lb_users["c1"]
    nobody = client.post(f"/api/v1/tasks/{late}/reassign", headers=admin,
                         json={"assignee_id": 99999})
    assert nobody.status_code == 422
    huge = client.post(f"/api/v1/tasks/{late}/reassign", headers=admin,
                       json={"assignee_id": 10**30})
    assert huge.status_code == 422
    events = client.get(f"/api/v1/tasks/{late}/events", headers=c1).json
    assert [e["kind"] for e in events] == ["status", "reassigned"]
    assert client.get(f"/api/v1/records/client/{rid}/tasks", headers=c1).json[0]["id"] == late
    out_of_reach = client.post("/api/v1/tasks", headers=am2, json={
        "title": "x", "form_key": "client", "record_id": rid})
    assert out_of_reach.status_code == 404


def test_api_alerts_and_notifications(site) -> None:
    client = site.test_client()
    rid = site.lb_records[0]
    state = site.extensions["lendbase"]
    with state.sessions.begin() as session:
        schema = state.registry.schema(session)
        alert, _ = AlertService(session, Actor.system(), schema=schema).raise_alert(
            "client", rid, title="关联企业涉诉", severity="high", cause_key="court:1")
        NotificationService(session, Actor.system(), schema=schema).send(
            "repay_reminder", {"id": rid, "name": "客户0"}, "13800000000", "sms:1")
    am1, am2 = bearer(site, "am1"), bearer(site, "am2")
    listed = client.get("/api/v1/alerts", headers=am1).json
    assert [a["id"] for a in listed["items"]] == [alert.id]
    assert client.get("/api/v1/alerts", headers=am2).json["items"] == []
    assert client.post(f"/api/v1/alerts/{alert.id}/ack", headers=am2).status_code == 404
    acked = client.post(f"/api/v1/alerts/{alert.id}/ack", headers=am1)
    assert acked.status_code == 200 and acked.json["status"] == "acknowledged"
    assert client.get("/api/v1/alerts?status=bogus", headers=am1).status_code == 422
    assert client.get("/api/v1/alerts?status=any", headers=am1).json["items"][0]["id"] == alert.id
    closed = client.post(f"/api/v1/alerts/{alert.id}/close", headers=am1)
    assert closed.json["status"] == "closed"
    notes = client.get(f"/api/v1/records/client/{rid}/notifications", headers=am1).json
    assert notes[0]["body"] == "客户0您好，请按时还款。" and notes[0]["status"] == "sent"
    admin = bearer(site, "admin")
    bad = client.put("/api/v1/notification-templates/x", headers=admin, json={
        "label": {"zh": "x"}, "channel": "sms", "body": "{{ broken"})
    assert bad.status_code == 422 and "body" in bad.json["error"]["fields"]
    assert client.get("/api/v1/notification-templates", headers=am1).json[0]["key"] \
        == "repay_reminder"


def test_openapi_documents_the_work_endpoints(site) -> None:
    spec = site.test_client().get("/api/openapi.json").json
    for path in ("/api/v1/tasks", "/api/v1/tasks/{task_id}", "/api/v1/alerts",
                 "/api/v1/records/{form}/{record_id}/tags", "/api/v1/tag-groups",
                 "/api/v1/records/{form}/{record_id}/notifications"):
        assert path in spec["paths"], path
    patch = spec["paths"]["/api/v1/tasks/{task_id}"]["patch"]
    assert "409" in patch["responses"] and "422" in patch["responses"]


# --- pages --------------------------------------------------------------------------------------


def test_inbox_overdue_first_badge_and_paging(site) -> None:
    for i in range(27):
        make_task(site, f"未来任务{i:02d}", "am1", 3 + i)
    make_task(site, "逾期五天", "am1", -5, site.lb_records[0])
    make_task(site, "逾期一天", "am1", -1)
    make_task(site, "别人的", "am2", -9)
    client = login(site.test_client(), "am1")
    page = client.get("/tasks")
    assert page.status_code == 200
    titles = re.findall(r'<a class="fw-semibold" href="/tasks/\d+">([^<]+)</a>', page.text)
    assert titles[:3] == ["逾期五天", "逾期一天", "未来任务00"] and len(titles) == 25
    assert "逾期 5 天" in page.text and 'data-overdue="1"' in page.text
    assert "别人的" not in page.text
    assert re.search(r'id="overdue-badge"[^>]*>2<', page.text)  # navbar: 2 overdue
    assert "客户0" in page.text  # the linked record's title
    next_url = re.search(r'href="([^"]+)"[^>]*id="next-page"', page.text).group(1)
    second = client.get(next_url.replace("&amp;", "&"))
    rest = re.findall(r'<a class="fw-semibold" href="/tasks/\d+">([^<]+)</a>', second.text)
    assert rest == ["未来任务23", "未来任务24", "未来任务25", "未来任务26"]
    done = client.get("/tasks?view=done")
    assert "没有已完成的任务" in done.text or "No finished" in done.text
    english = client.get("/lang/en?next=/tasks", follow_redirects=True)
    assert "My tasks" in english.text and "5 day(s) overdue" in english.text


def test_task_page_comment_status_and_reassign(site) -> None:
    task_id = make_task(site, "电话回访", "am1", 1, site.lb_records[0])
    client = login(site.test_client(), "am1")
    page = client.get(f"/tasks/{task_id}")
    assert page.status_code == 200 and "电话回访" in page.text
    assert f'href="/f/client/{site.lb_records[0]}"' in page.text
    csrf = token(page.text)
    client.post(f"/tasks/{task_id}/comment", data={"body": "客户说明天回电", "csrf_token": csrf})
    client.post(f"/tasks/{task_id}/status", data={"status": "in_progress", "version": "1",
                                                   "csrf_token": csrf})
    page = client.get(f"/tasks/{task_id}")
    assert "客户说明天回电" in page.text and "处理中" in page.text
    client.post(f"/tasks/{task_id}/reassign", data={
        "assignee_id": str(site.lb_users["c1"]), "reason": "转催收", "version": "2",
        "csrf_token": csrf})
    page = client.get(f"/tasks/{task_id}", follow_redirects=True)
    assert "催收员小赵" in page.text and "转催收" in page.text
    # am1 is now neither assignee nor creator (a rule made it): reads it, changes nothing
    assert 'id="reassign"' not in page.text and 'id="status-done"' not in page.text
    refused = client.post(f"/tasks/{task_id}/status", data={"status": "done", "version": "3",
                                                            "csrf_token": csrf},
                          follow_redirects=True)
    assert "未完成" in refused.text  # no longer assignee nor creator
    assert login(site.test_client(), "am2").get(f"/tasks/{task_id}").status_code == 404
    bad = client.post(f"/tasks/{task_id}/comment", data={"body": "", "csrf_token": csrf},
                      follow_redirects=True)
    assert "未完成" in bad.text
    assert client.post(f"/tasks/{task_id}/comment", data={"body": "x"}).status_code == 400


def test_record_panel_tags_by_hand(site) -> None:
    rid = site.lb_records[0]
    make_task(site, "核实收入", "am1", 2, rid)
    state = site.extensions["lendbase"]
    with state.sessions.begin() as session:
        schema = state.registry.schema(session)
        AlertService(session, Actor.system(), schema=schema).raise_alert(
            "client", rid, title="连续三期最后一天还款", severity="warning")
        NotificationService(session, Actor.system(), schema=schema,
                            gates=[lambda n, now: Refusal("quiet_hours", "夜间不联系")]).send(
            "repay_reminder", {"id": rid, "name": "客户0"}, "13800000000")
    client = login(site.test_client(), "am1")
    page = client.get(f"/f/client/{rid}")
    assert page.status_code == 200
    assert 'id="work"' in page.text and "核实收入" in page.text
    assert "连续三期最后一天还款" in page.text and "夜间不联系" in page.text
    assert "已拦截" in page.text
    assert 'value="rating_a"' in page.text and 'value="lost_contact"' not in page.text
    response = client.post(f"/f/client/{rid}/tags", data={
        "tag": "rating_a", "reason": "收入稳定", "csrf_token": token(page.text)})
    assert response.status_code == 302 and response.location.endswith(f"/f/client/{rid}#work")
    page = client.get(f"/f/client/{rid}")
    assert 'data-tag="rating_a"' in page.text and "已添加标签" in page.text
    refused = client.post(f"/f/client/{rid}/tags", data={
        "tag": "lost_contact", "csrf_token": token(page.text)}, follow_redirects=True)
    assert "未完成" in refused.text and 'data-tag="lost_contact"' not in refused.text
    client.post(f"/f/client/{rid}/tags/rating_a/remove", data={"csrf_token": token(page.text)})
    assert 'data-tag="rating_a"' not in client.get(f"/f/client/{rid}").text
    with state.engine.connect() as conn:
        actions = conn.execute(select(db.tag_history.c.action, db.tag_history.c.reason)
                               .order_by(db.tag_history.c.id)).all()
    assert [tuple(a) for a in actions] == [("added", "收入稳定"), ("removed", None)]
    alert_id = re.search(r'data-alert-id="(\d+)"', page.text).group(1)
    client.post(f"/alerts/{alert_id}/ack", data={"csrf_token": token(page.text)})
    assert "已确认" in client.get(f"/f/client/{rid}").text
    outsider = login(site.test_client(), "am2")
    assert outsider.post(f"/f/client/{rid}/tags", data={
        "tag": "rating_a", "csrf_token": token(outsider.get("/tasks").text)}).status_code == 404
    with state.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.record_tag)).scalar() == 0


def test_tag_admin_page(site) -> None:
    assert login(site.test_client(), "am1").get("/admin/tags").status_code == 403
    client = login(site.test_client(), "admin")
    page = client.get("/admin/tags")
    assert page.status_code == 200 and "评级A" in page.text
    client.post("/admin/tags/groups", data={"key": "stage", "label_zh": "阶段", "manual": "1",
                                            "csrf_token": token(page.text)})
    client.post("/admin/tags/tags", data={"key": "lead", "group_key": "stage",
                                          "label_zh": "线索", "color": "#abcdef",
                                          "active": "1", "csrf_token": token(page.text)})
    page = client.get("/admin/tags")
    assert 'data-group="stage"' in page.text and "线索" in page.text
    bad = client.post("/admin/tags/tags", data={"key": "X Y", "group_key": "stage",
                                                "csrf_token": token(page.text)},
                      follow_redirects=True)
    assert "未完成" in bad.text
