"""Lifecycle stages over HTTP (SQLite): the funnel figures and a record's stage history in the
API with the reader's rights and row scope, a refused move naming the allowed stages, the
record page's stage bar and its move buttons (CSRF, stale versions), the builder's boot data,
and a lifecycle-only publish that changes no table."""

from __future__ import annotations

import json
import re
import shutil
from typing import Any

import pytest

from lendbase import db
from lendbase.app import create_app
from lendbase.auth.users import create_user, ensure_role, load_actor
from lendbase.config import load_settings
from lendbase.forms.publish import publish_form
from lendbase.meta.store import MetadataStore
from lendbase.records.service import RecordService
from tests.test_lifecycle import deal_form

PASSWORD = "secret-pass-1"


def _build_site(var_dir) -> dict[str, Any]:
    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(var_dir)}))
    state = app.extensions["lendbase"]
    db.platform_metadata.create_all(state.engine)
    with state.sessions.begin() as session:
        ensure_role(session, "admin", {"zh": "管理员", "en": "Admin"}, superuser=True)
        for role in ("manager", "viewer"):
            ensure_role(session, role)
        users = {name: create_user(session, name, PASSWORD, roles, display_name=display)
                 for name, roles, display in (
                     ("admin", ["admin"], "管理员"), ("am1", ["manager"], "王经理"),
                     ("am2", ["manager"], "李经理"), ("viewer", ["viewer"], "查看员"),
                     ("outsider", [], "外人"))}
        store = MetadataStore(session, None)
        store.create("forms", deal_form())
        publish_form(session, None, "deal")
        plain = {k: v for k, v in deal_form().items() if k != "lifecycle"}
        store.create("forms", {**plain, "key": "plain"})
        publish_form(session, None, "plain")
    deals = {}
    with state.sessions.begin() as session:
        schema = state.registry.schema(session)
        for owner, name in (("am1", "华东贸易"), ("am1", "苏州精密"), ("am2", "杭州电子")):
            svc = RecordService(session, schema, load_actor(session, users[owner], "zh"),
                                state.cipher)
            deals[name] = svc.create("deal", {"name": name,
                                              "account_manager": users[owner]})["id"]
        svc = RecordService(session, schema, load_actor(session, users["am1"], "zh"),
                            state.cipher)
        svc.update("deal", deals["苏州精密"], {"stage": "intent"})
    state.engine.dispose()
    return {"users": users, "deals": deals}


@pytest.fixture(scope="module")
def site_template(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("lifecycle_site")
    return var_dir, _build_site(var_dir)


@pytest.fixture
def site(site_template, tmp_path):
    source, built = site_template
    var_dir = tmp_path / "var"
    shutil.copytree(source, var_dir)
    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(var_dir)}))
    app.config["TESTING"] = True
    app.lb = built  # type: ignore[attr-defined]
    yield app
    app.extensions["lendbase"].engine.dispose()


def bearer(app, username: str, lang: str = "en") -> dict[str, str]:
    response = app.test_client().post("/api/v1/auth/token",
                                      json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json['token']}", "Accept-Language": lang}


def token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def login(app, username: str):
    client = app.test_client()
    page = client.get("/login")
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": token(page.text)})
    assert response.status_code == 302
    return client


# --- API ------------------------------------------------------------------------------------


def test_a_refused_move_names_the_allowed_stages(site) -> None:
    deal = site.lb["deals"]["苏州精密"]
    client = site.test_client()
    refused = client.patch(f"/api/v1/records/deal/{deal}", json={"stage": "won"},
                           headers=bearer(site, "am1"))
    assert refused.status_code == 422
    assert refused.json["error"]["fields"] == {"stage": [
        "cannot move from 'Intent' to 'Won'; allowed next stages: Lead, Review, Lost"]}
    zh = client.patch(f"/api/v1/records/deal/{deal}", json={"stage": "won"},
                      headers=bearer(site, "am1", "zh"))
    assert zh.json["error"]["fields"]["stage"] == [
        "不能从“意向”转到“已成交”；可转到：线索、审批中、已流失"]
    moved = client.patch(f"/api/v1/records/deal/{deal}", json={"stage": "review"},
                         headers={**bearer(site, "am1"), "If-Match": '"2"'})
    assert moved.status_code == 200 and moved.json["stage"] == "review"


def test_a_records_stages_with_the_readers_rights(site) -> None:
    deals = site.lb["deals"]
    client = site.test_client()
    url = f"/api/v1/records/deal/{deals['苏州精密']}/stages"
    body = client.get(url, headers=bearer(site, "viewer")).json
    assert body["field"] == "stage" and body["stage"] == "intent"
    assert body["allowed_next"] == ["lead", "review", "lost"]
    assert body["target_days"] == 5 and body["overdue"] is False
    assert body["seconds_in_stage"] >= 0 and body["entered_at"]
    assert [(h["from"], h["to"], h["actor"]) for h in body["history"]] == [
        ("lead", "intent", "王经理"), (None, "lead", "王经理")]
    assert body["history"][0]["seconds_in_previous"] is not None
    assert client.get(url, headers=bearer(site, "am2")).status_code == 404  # not theirs
    assert client.get(url, headers=bearer(site, "outsider")).status_code == 403
    plain = client.get("/api/v1/records/plain/1/stages", headers=bearer(site, "admin"))
    assert plain.status_code == 404 and "no lifecycle" in plain.json["error"]["message"]


def test_funnel_figures_count_what_the_reader_may_read(site) -> None:
    client = site.test_client()
    everything = client.get("/api/v1/lifecycle/deal/stats", headers=bearer(site, "viewer"))
    assert everything.status_code == 200, everything.json
    body = everything.json
    by_key = {s["key"]: s for s in body["stages"]}
    assert [s["key"] for s in body["stages"]] == ["lead", "intent", "review", "won", "lost"]
    assert (by_key["lead"]["records"], by_key["intent"]["records"]) == (2, 1)
    assert by_key["lead"]["label"] == {"zh": "线索", "en": "Lead"}
    assert by_key["lead"]["initial"] and by_key["won"]["terminal"]
    assert by_key["lead"]["left"] == 1 and by_key["lead"]["avg_days"] == 0.0
    assert {(c["from"], c["to"]): c["count"] for c in body["conversions"]} == {
        (None, "lead"): 3, ("lead", "intent"): 1}
    assert body["overdue"] == [] and body["without_stage"] == 0
    own = client.get("/api/v1/lifecycle/deal/stats", headers=bearer(site, "am2")).json
    assert {s["key"]: s["records"] for s in own["stages"]}["lead"] == 1
    assert {(c["from"], c["to"]): c["count"] for c in own["conversions"]} == {
        (None, "lead"): 1}
    bad = client.get("/api/v1/lifecycle/deal/stats?since=2026-05-01T00:00:00Z"
                     "&until=2026-04-01T00:00:00Z", headers=bearer(site, "viewer"))
    assert bad.status_code == 422 and "since" in bad.json["error"]["fields"]
    assert client.get("/api/v1/lifecycle/plain/stats",
                      headers=bearer(site, "admin")).status_code == 404
    assert client.get("/api/v1/lifecycle/deal/stats",
                      headers=bearer(site, "outsider")).status_code == 403
    spec = client.get("/api/openapi.json").json["paths"]
    assert "/api/v1/lifecycle/{form}/stats" in spec
    assert "/api/v1/records/{form}/{record_id}/stages" in spec


def test_a_lifecycle_only_change_publishes_without_touching_the_table(site) -> None:
    client = site.test_client()
    headers = bearer(site, "admin")
    draft = client.get("/api/v1/meta/forms/deal", headers=headers).json
    doc = draft["doc"]
    doc["lifecycle"]["transitions"].append({"from": "lead", "to": "review"})
    saved = client.put("/api/v1/meta/forms/deal", headers=headers,
                       json={"doc": doc, "lock_version": draft["lock_version"]})
    assert saved.status_code == 200, saved.json
    plan = client.post("/api/v1/meta/forms/deal/publish?dry_run=1", headers=headers).json
    (change,) = plan["plan"]["operations"]  # said in words, and nothing to do to the table
    assert change["kind"] == "metadata_only" and "lifecycle stages change" in change["summary"]
    assert not plan["plan"]["needs_confirmation"] and not plan["plan"]["changes_schema"]
    assert client.post("/api/v1/meta/forms/deal/publish", headers=headers).status_code == 200
    deal = site.lb["deals"]["华东贸易"]
    moved = client.patch(f"/api/v1/records/deal/{deal}", json={"stage": "review"},
                         headers=bearer(site, "am1"))
    assert moved.status_code == 200  # the new move applies at once


# --- pages ----------------------------------------------------------------------------------


def test_the_stage_bar_and_its_buttons(site) -> None:
    deal = site.lb["deals"]["苏州精密"]
    client = login(site, "am1")
    page = client.get(f"/f/deal/{deal}")
    assert page.status_code == 200
    html = page.text
    assert 'id="stage-bar"' in html and 'data-stage="intent"' in html
    assert re.search(r'class="lb-stage-step is-current[^"]*" data-stage-key="intent"', html)
    assert 'data-stage-key="lead"' in html and "is-passed" in html
    assert re.findall(r'data-move-to="([a-z]+)"', html) == ["lead", "review", "lost"]
    assert "目标 5 天内转出" in html and "阶段历史 (2)" in html
    moved = client.post(f"/f/deal/{deal}/stage", data={
        "csrf_token": token(html), "version": "2", "stage": "review"})
    assert moved.status_code == 302 and moved.location.endswith(f"/f/deal/{deal}#stage-bar")
    after = client.get(f"/f/deal/{deal}").text
    assert "已转到“审批中”阶段" in after and 'data-stage="review"' in after
    assert "“意向” → “审批中”" in after
    assert re.findall(r'data-move-to="([a-z]+)"', after) == ["intent", "won"]

    stale = client.post(f"/f/deal/{deal}/stage", data={
        "csrf_token": token(after), "version": "2", "stage": "won"})
    assert stale.status_code == 409 and "记录已被他人修改" in stale.text
    refused = client.post(f"/f/deal/{deal}/stage", data={
        "csrf_token": token(after), "version": "3", "stage": "lead"})
    assert refused.status_code == 302
    shown = client.get(f"/f/deal/{deal}").text
    assert "未能转换阶段： 不能从“审批中”转到“线索”；可转到：意向、已成交" in shown
    assert 'data-stage="review"' in shown
    no_csrf = client.post(f"/f/deal/{deal}/stage", data={"version": "3", "stage": "won"})
    assert no_csrf.status_code == 400


def test_readers_see_the_bar_without_buttons_and_plain_forms_have_none(site) -> None:
    deal = site.lb["deals"]["华东贸易"]
    viewer = login(site, "viewer")
    html = viewer.get(f"/f/deal/{deal}").text
    assert 'id="stage-bar"' in html and "data-move-to" not in html
    refused = viewer.post(f"/f/deal/{deal}/stage", data={
        "csrf_token": token(html), "version": "1", "stage": "intent"})
    assert refused.status_code == 403
    admin = login(site, "admin")
    client = site.test_client()
    created = client.post("/api/v1/records/plain", json={"name": "无阶段"},
                          headers=bearer(site, "admin"))
    plain = admin.get(f"/f/plain/{created.json['id']}").text
    assert 'id="stage-bar"' not in plain


def test_the_builder_boots_with_the_lifecycle_strings_and_users(site) -> None:
    client = login(site, "admin")
    html = client.get("/admin/forms/deal/builder").text
    match = re.search(r'<script type="application/json" id="builder-boot">(.*?)</script>',
                      html, re.S)
    assert match, "the builder page carries no boot data"
    boot = json.loads(match.group(1).replace("<\\/", "</"))
    assert boot["lifecycle"]["strings"]["title"] == "生命周期"
    assert {u["name"] for u in boot["lifecycle"]["users"]} >= {"王经理 (am1)", "查看员 (viewer)"}
