"""The form builder's pages through Flask's test client on SQLite: the forms list (new, copy,
superusers only), the builder page and its boot data, the live preview with the real renderer,
the worded dry-run, and saving / publishing through the metadata API with the page cookie.
The builder state's pure parts (undo / redo, error location) run in Node."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from lendbase import db
from lendbase.app import create_app
from lendbase.auth.users import create_user, ensure_role
from lendbase.config import load_settings
from lendbase.meta.store import MetadataStore
from lendbase.web.builder_views import copied_document, field_types

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "secret-pass-1"
API = "/api/v1/meta/forms"


def _label(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def widget_form() -> dict:
    return {
        "key": "widget", "label": _label("部件", "Widget"), "title_field": "name",
        "fields": [
            {"key": "name", "type": "text", "label": _label("名称", "Name"), "required": True},
            {"key": "parent", "type": "reference", "label": _label("上级", "Parent"),
             "target": "widget"},
            {"key": "size", "type": "integer", "label": _label("尺寸", "Size")},
        ],
        "layout": {"sections": [{"key": "main", "columns": 2,
                                 "fields": ["name", "parent", "size"]}]},
    }


@pytest.fixture
def site(tmp_path):
    from lendbase.forms.publish import publish_form

    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path)}))
    app.config["TESTING"] = True
    state = app.extensions["lendbase"]
    db.platform_metadata.create_all(state.engine)
    with state.sessions.begin() as session:
        ensure_role(session, "admin", _label("管理员", "Administrator"), superuser=True)
        ensure_role(session, "account_manager")
        create_user(session, "admin", PASSWORD, ["admin"], display_name="管理员")
        create_user(session, "am1", PASSWORD, ["account_manager"])
        MetadataStore(session, None).create("forms", widget_form())
        publish_form(session, None, "widget", confirm=True)
        MetadataStore(session, None).create("forms", {
            "key": "memo", "label": _label("备忘", "Memo"),
            "fields": [{"key": "body", "type": "textarea", "label": _label("内容", "Body")}]})
    yield app
    state.engine.dispose()


def token(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def login(client, username: str = "admin") -> str:
    page = client.get("/login")
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": form_token})
    assert response.status_code == 302
    return token(client.get("/admin/forms" if username == "admin" else "/").text)


def draft(app, key: str):
    state = app.extensions["lendbase"]
    with state.sessions() as session:
        return MetadataStore(session, None).get_draft("forms", key)


# --- the list of forms ----------------------------------------------------------------------


def test_forms_page_lists_drafts_and_published_versions(site) -> None:
    client = site.test_client()
    login(client)
    page = client.get("/admin/forms")
    assert page.status_code == 200
    row = page.text[page.text.index('data-form="widget"'):]
    assert "已发布 v1" in row[:800]
    memo = page.text[page.text.index('data-form="memo"'):]
    assert "仅草稿，未发布" in memo[:800]
    assert 'href="/admin/forms/memo/builder"' in page.text


def test_forms_page_lists_forms_in_their_apps_order(site) -> None:
    """As the navigation does: each installed app's forms in its order, then the rest."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    state = site.extensions["lendbase"]
    with state.sessions.begin() as session:
        session.execute(insert(db.app_install).values(
            key="office", label=_label("办公", "Office"), version="1", checksum="x",
            documents={"forms": ["memo", "widget"]}, installed_at=datetime.now(UTC)))
        MetadataStore(session, None).create("forms", {
            "key": "aaa_first_by_key", "label": _label("零散", "Loose"),
            "fields": [{"key": "body", "type": "text", "label": _label("内容", "Body")}]})
    client = site.test_client()
    login(client)
    page = client.get("/admin/forms").text
    order = re.findall(r'data-form="([a-z_]+)"', page)
    assert order == ["memo", "widget", "aaa_first_by_key"]


def test_only_superusers_reach_the_builder(site) -> None:
    client = site.test_client()
    login(client, "am1")
    assert client.get("/admin/forms").status_code == 403
    assert client.get("/admin/forms/widget/builder").status_code == 403
    response = client.post("/admin/forms/widget/builder/preview",
                           json={"doc": widget_form()},
                           headers={"X-CSRFToken": token(client.get("/").text)})
    assert response.status_code == 403


def test_strangers_are_sent_to_the_sign_in_page(site) -> None:
    response = site.test_client().get("/admin/forms/widget/builder")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_new_form_is_created_with_one_field_and_opens_the_builder(site) -> None:
    client = site.test_client()
    csrf = login(client)
    response = client.post("/admin/forms/new", data={
        "key": "loan_note", "label_zh": "贷款备注", "label_en": "Loan note", "csrf_token": csrf})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/forms/loan_note/builder")
    doc = draft(site, "loan_note").doc
    assert doc["label"] == _label("贷款备注", "Loan note")
    assert [f["key"] for f in doc["fields"]] == ["name"]
    assert doc["layout"]["sections"][0]["fields"] == ["name"]


def test_new_form_errors_are_shown_by_the_input(site) -> None:
    client = site.test_client()
    csrf = login(client)
    response = client.post("/admin/forms/new", data={
        "key": "Bad Key", "label_zh": "", "label_en": "X", "csrf_token": csrf})
    assert response.status_code == 422
    assert 'data-error-for="new:/key"' in response.text
    assert 'data-error-for="new:/label/zh"' in response.text
    assert 'value="Bad Key"' in response.text  # what was typed stays
    with pytest.raises(Exception):  # noqa: B017 - nothing was created
        draft(site, "Bad Key")


def test_copy_retargets_self_references_and_refuses_a_taken_key(site) -> None:
    client = site.test_client()
    csrf = login(client)
    response = client.post("/admin/forms/widget/copy",
                           data={"new_key": "gizmo", "csrf_token": csrf})
    assert response.status_code == 302
    doc = draft(site, "gizmo").doc
    assert doc["key"] == "gizmo"
    assert next(f for f in doc["fields"] if f["key"] == "parent")["target"] == "gizmo"
    taken = client.post("/admin/forms/widget/copy", data={"new_key": "memo", "csrf_token": csrf})
    assert taken.status_code == 409
    assert 'data-error-for="copy-widget:/key"' in taken.text


def test_copied_document_leaves_the_original_alone() -> None:
    original = widget_form()
    copy = copied_document(original, "other")
    copy["fields"][0]["label"]["zh"] = "改"
    assert original["fields"][0]["label"]["zh"] == "名称"
    assert original["fields"][1]["target"] == "widget"


# --- the builder page -------------------------------------------------------------------------


def _boot(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="builder-boot">(.*?)</script>',
                      html, re.S)
    assert match
    return json.loads(match.group(1))


def test_builder_page_carries_the_draft_and_every_field_type(site) -> None:
    client = site.test_client()
    login(client)
    page = client.get("/admin/forms/widget/builder")
    assert page.status_code == 200
    boot = _boot(page.text)
    assert boot["doc"] == widget_form()
    assert boot["lock_version"] == 1
    assert boot["published_version"] == 1
    assert boot["field_types"] == list(field_types())
    assert len(boot["field_types"]) == 22 and "subtable" in boot["field_types"]
    assert set(boot["type_labels"]) == set(boot["field_types"])
    assert [f["key"] for f in boot["published_forms"]] == ["widget"]
    assert boot["urls"]["api"] == API
    assert boot["strings"]["save"] == "保存草稿"
    assert "/static/vendor/sortablejs/sortable.esm.js" in page.text
    assert 'src="/static/js/builder/builder.js"' in page.text


def test_sortablejs_is_served_from_node_modules(site) -> None:
    response = site.test_client().get("/static/vendor/sortablejs/sortable.esm.js")
    assert response.status_code == 200
    assert b"export default" in response.data
    pinned = json.loads((ROOT / "package.json").read_text("utf-8"))["dependencies"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned["sortablejs"])
    lock = json.loads((ROOT / "package-lock.json").read_text("utf-8"))
    assert lock["packages"]["node_modules/sortablejs"]["version"] == pinned["sortablejs"]


def test_builder_of_an_unknown_form_is_404(site) -> None:
    client = site.test_client()
    login(client)
    assert client.get("/admin/forms/nothing/builder").status_code == 404


# --- preview -----------------------------------------------------------------------------------


def test_preview_renders_an_unsaved_draft_with_the_real_renderer(site) -> None:
    client = site.test_client()
    csrf = login(client)
    doc = widget_form()
    doc["fields"].append({"key": "kind", "type": "select", "label": _label("种类", "Kind"),
                          "options": [{"value": "a", "label": _label("甲", "Alpha")}]})
    doc["layout"]["sections"][0]["fields"].append("kind")
    zh = client.post("/admin/forms/widget/builder/preview?lang=zh", json={"doc": doc},
                     headers={"X-CSRFToken": csrf})
    assert zh.status_code == 200
    assert 'data-lb-field="kind"' in zh.text and "种类" in zh.text and "甲" in zh.text
    assert '<html lang="zh-CN">' in zh.text
    en = client.post("/admin/forms/widget/builder/preview?lang=en", json={"doc": doc},
                     headers={"X-CSRFToken": csrf})
    assert "Kind" in en.text and "Alpha" in en.text and "种类" not in en.text
    assert draft(site, "widget").doc == widget_form()  # nothing saved


def test_preview_of_an_invalid_draft_lists_the_problems(site) -> None:
    client = site.test_client()
    csrf = login(client)
    doc = widget_form()
    doc["fields"][2]["type"] = "select"  # options missing
    response = client.post("/admin/forms/widget/builder/preview", json={"doc": doc},
                           headers={"X-CSRFToken": csrf})
    assert response.status_code == 200
    assert 'id="preview-errors"' in response.text
    assert "/fields/2" in response.text


def test_preview_needs_the_csrf_header(site) -> None:
    client = site.test_client()
    login(client)
    response = client.post("/admin/forms/widget/builder/preview", json={"doc": widget_form()})
    assert response.status_code == 400


# --- save, dry-run, publish through the API with the page cookie ----------------------------


def test_save_conflict_and_pointer_errors_through_the_api(site) -> None:
    client = site.test_client()
    csrf = login(client)
    doc = widget_form()
    doc["fields"][2]["type"] = "select"
    bad = client.put(f"{API}/widget", json={"doc": doc, "lock_version": 1},
                     headers={"X-CSRFToken": csrf})
    assert bad.status_code == 422
    assert "/fields/2" in bad.get_json()["error"]["fields"]
    good = widget_form()
    good["fields"][2]["label"] = _label("大小", "Size")
    saved = client.put(f"{API}/widget", json={"doc": good, "lock_version": 1},
                       headers={"X-CSRFToken": csrf})
    assert saved.status_code == 200 and saved.get_json()["lock_version"] == 2
    stale = client.put(f"{API}/widget", json={"doc": widget_form(), "lock_version": 1},
                       headers={"X-CSRFToken": csrf})
    assert stale.status_code == 409


def test_dry_run_is_worded_in_the_ui_language_then_publish_and_restore(site) -> None:
    client = site.test_client()
    csrf = login(client)
    doc = widget_form()
    doc["fields"].append({"key": "note", "type": "text", "label": _label("备注", "Note")})
    doc["layout"]["sections"][0]["fields"].append("note")
    client.put(f"{API}/widget", json={"doc": doc, "lock_version": 1},
               headers={"X-CSRFToken": csrf})
    plan = client.post("/admin/forms/widget/builder/plan", json={},
                       headers={"X-CSRFToken": csrf})
    assert plan.status_code == 200
    body = plan.get_json()
    assert body["dry_run"] is True and body["plan"]["blocking"] is False
    summaries = [op["summary"] for op in body["plan"]["operations"]]
    assert any("备注" in s for s in summaries), summaries
    assert re.search(r"[\u4e00-\u9fff]", " ".join(summaries))
    published = client.post(f"{API}/widget/publish?confirm=1", json={"note": "加备注"},
                            headers={"X-CSRFToken": csrf})
    assert published.status_code == 200 and published.get_json()["version"] == 2
    form_page = client.get("/f/widget/new")
    assert 'data-lb-field="note"' in form_page.text
    restored = client.post(f"{API}/widget/restore", json={"version": 1},
                           headers={"X-CSRFToken": csrf})
    assert restored.status_code == 200
    assert restored.get_json()["doc"] == widget_form()


def test_dry_run_of_an_unpublished_reference_target_is_a_422_by_pointer(site) -> None:
    client = site.test_client()
    csrf = login(client)
    doc = json.loads(json.dumps(draft(site, "memo").doc))
    doc["fields"].append({"key": "ref", "type": "reference", "label": _label("引", "Ref"),
                          "target": "nowhere"})
    client.put(f"{API}/memo", json={"doc": doc, "lock_version": 1},
               headers={"X-CSRFToken": csrf})
    plan = client.post("/admin/forms/memo/builder/plan", json={},
                       headers={"X-CSRFToken": csrf})
    assert plan.status_code == 422
    assert "/fields/1/target" in plan.get_json()["error"]["fields"]


# --- the builder state (ES module) in Node --------------------------------------------------


def _node(script: str) -> object:
    out = subprocess.run(["node", "--input-type=module", "-e", script], check=True,
                         capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out)


STATE = "./lendbase/web/static/js/builder/state.js"


def test_state_undo_redo_moves_and_deletes() -> None:
    boot = {"key": "widget", "doc": widget_form(), "lock_version": 1, "published_forms": [],
            "type_labels": {"money": _label("金额", "Money")},
            "labels": {"new_section": _label("新分组", "New section"),
                       "new_tab": _label("新标签页", "New tab"),
                       "first_tab": _label("基本", "Basics")}}
    script = f"""
    import {{BuilderState}} from '{STATE}';
    const s = new BuilderState({json.dumps(boot)});
    const order = () => s.tabs()[0].sections[0].fields.join(',');
    const out = {{}};
    s.addField('money', 0, 0, 1);
    out.added = order();
    out.selected = s.selection.key;
    s.moveSelected(1);
    out.moved = order();
    s.undo(); out.undone = order();
    s.redo(); out.redone = order();
    s.select({{type: 'field', key: 'name', sub: null}});
    s.setFieldProp('key', 'title');
    out.renamed = [order(), s.doc.title_field];
    s.deleteSelected();
    out.deleted = [order(), s.doc.fields.map((f) => f.key).join(','), 'title_field' in s.doc];
    s.addTab();
    out.tabs = s.doc.layout.tabs.map((t) => t.key);
    s.undo(); s.undo(); s.undo();
    out.back = [order(), s.doc.title_field];
    out.dirty = s.dirty;
    console.log(JSON.stringify(out));
    """
    out = _node(script)
    assert out["added"] == "name,money,parent,size"
    assert out["selected"] == "money"
    assert out["moved"] == "name,parent,money,size"
    assert out["undone"] == "name,money,parent,size"
    assert out["redone"] == "name,parent,money,size"
    assert out["renamed"] == ["title,parent,money,size", "title"]
    assert out["deleted"] == ["parent,money,size", "parent,size,money", False]
    assert out["tabs"] == ["main", "tab"]
    assert out["back"] == ["name,parent,money,size", "name"]
    assert out["dirty"] is True


def test_save_errors_are_located_on_fields_columns_and_properties() -> None:
    doc = widget_form()
    doc["fields"].append({"key": "lines", "type": "subtable", "label": _label("明细", "Lines"),
                          "fields": [{"key": "qty", "type": "integer",
                                      "label": _label("数量", "Qty")}]})
    errors = {"/fields/2": ["'options' is required: add it"],
              "/fields/3/fields/0/label/zh": ["'' should be non-empty"],
              "/layout/sections/0/columns": ["5 is greater than the maximum of 4"],
              "/title_field": ["no such field"]}
    script = f"""
    import {{locateErrors}} from '{STATE}';
    console.log(JSON.stringify(locateErrors({json.dumps(doc)}, {json.dumps(errors)})));
    """
    out = {e["pointer"]: e for e in _node(script)}
    assert (out["/fields/2"]["fieldKey"], out["/fields/2"]["prop"]) == ("size", "options")
    sub = out["/fields/3/fields/0/label/zh"]
    assert (sub["fieldKey"], sub["subKey"], sub["prop"]) == ("lines", "qty", "label")
    layout = out["/layout/sections/0/columns"]
    assert (layout["tab"], layout["section"], layout["prop"]) == (0, 0, "columns")
    assert out["/title_field"]["prop"] == "title_field" and out["/title_field"]["fieldKey"] is None
