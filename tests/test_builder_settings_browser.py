"""The builder's form settings and keyboard moves in real Chromium: choose and order the list
columns, the default order and the filters; grant a role actions, a row scope and per-field
access; move sections and tabs with the arrow keys (and undo). The saved draft holds exactly
what was chosen, and the published list page shows those columns. Screenshots go to
artifacts/screenshots/builder-settings-*.png."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lendbase.meta.store import MetadataStore
from tests.browser_support import SHOTS, app_with_admin, require_browser_setup, serving

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist", "sortablejs/modular")
PASSWORD = "secret-pass-3"
FORM = "branch_office"
_STATE: dict = {}


def L(zh: str, en: str) -> dict[str, str]:  # noqa: N802 - a label, as in the documents
    return {"zh": zh, "en": en}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    from lendbase.auth.users import ensure_role
    from lendbase.forms.publish import publish_form

    var = tmp_path_factory.mktemp("var")
    app, state, _ = app_with_admin(var, PASSWORD)
    _STATE["state"] = state
    with state.sessions.begin() as session:
        ensure_role(session, "account_manager", L("客户经理", "Account manager"))
        MetadataStore(session, None).create("forms", {
            "key": FORM, "label": L("分支机构", "Branch office"), "title_field": "name",
            "fields": [
                {"key": "name", "type": "text", "label": L("名称", "Name")},
                {"key": "city", "type": "select", "label": L("城市", "City"),
                 "options": [{"value": "sh", "label": L("上海", "Shanghai")},
                             {"value": "bj", "label": L("北京", "Beijing")}]},
                {"key": "opened_on", "type": "date", "label": L("开业日期", "Opened on")},
                {"key": "head_count", "type": "integer", "label": L("人数", "Head count"),
                 "visible_when": {"not": {"field": "city", "op": "=", "value": "bj"}}}],
            "layout": {"tabs": [
                {"key": "basics", "label": L("基本", "Basics"), "sections": [
                    {"key": "main", "label": L("概况", "Overview"), "fields": ["name", "city"]},
                    {"key": "more", "label": L("更多", "More"), "fields": ["opened_on"]}]},
                {"key": "staff", "label": L("人员", "Staff"), "sections": [
                    {"key": "people", "label": L("人员", "People"), "fields": ["head_count"]}]},
            ]}})
        publish_form(session, None, FORM, confirm=True)
    try:
        with serving(app) as url:
            yield url
    finally:
        state.engine.dispose()


def draft() -> dict:
    state = _STATE["state"]
    with state.sessions.begin() as session:
        return MetadataStore(session, None).get_draft("forms", FORM).doc


def test_list_settings_permissions_and_keyboard_moves(server: str, browser) -> None:
    expect = sync_api.expect
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 2000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")
    page.goto(f"{server}/admin/forms/{FORM}/builder")
    expect(page.locator("body[data-builder-ready='1']")).to_have_count(1)

    # 1. the list page: columns (name, opened_on, city in that order), newest opening first,
    #    a city filter
    page.click("#list-settings > summary")
    for key in ("name", "opened_on", "city"):
        page.check(f"#list-col-{key}")
    page.select_option("#list-sort-field", "opened_on")
    page.select_option("#list-sort-dir", "desc")
    page.check("#list-filter-city")
    # 2. the account manager: create, read, update; own team's rows; city read-only, head count
    #    hidden
    page.click("#permission-settings > summary")
    role = page.locator("[data-role='account_manager']")
    role.locator(":scope > summary").click()
    for action in ("create", "read", "update"):
        role.locator(f"[data-action='{action}']").check()
    page.select_option("#perm-account_manager-scope", "team")
    expect(role.locator("[data-role-summary]")).to_have_text("新建 · 查看 · 编辑")
    role.locator(":scope > details > summary").click()
    role.locator("[data-field-access='city']").select_option("readonly")
    role.locator("[data-field-access='head_count']").select_option("hidden")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#props").screenshot(path=str(SHOTS / "builder-settings-form.png"))
    page.click("#save")
    expect(page.locator("#save-state")).to_contain_text("草稿已保存")
    doc = draft()
    assert doc["list"] == {"columns": ["name", "opened_on", "city"],
                           "default_sort": ["-opened_on"], "filters": ["city"]}
    assert doc["permissions"] == {"account_manager": {
        "actions": ["create", "read", "update"], "scope": "team",
        "readonly_fields": ["city"], "hidden_fields": ["head_count"]}}

    # 3. unchecking every action leaves no entry for the role
    for action in ("create", "read", "update"):
        role.locator(f"[data-action='{action}']").uncheck()
    role.locator("[data-field-access='city']").select_option("edit")
    role.locator("[data-field-access='head_count']").select_option("edit")
    page.click("#save")
    expect(page.locator("#save-state")).to_contain_text("草稿已保存")
    assert "permissions" not in draft()
    page.keyboard.press("Control+z")  # undo, step by step, back to the granted role
    for _ in range(4):
        page.keyboard.press("Control+z")
    page.click("#save")
    expect(page.locator("#save-state")).to_contain_text("草稿已保存")
    assert draft()["permissions"]["account_manager"]["actions"] == ["create", "read", "update"]

    # 4. keyboard: the second section moves up, then into the next tab; the tab moves up
    page.click("[data-select-section='0:1']")
    page.keyboard.press("ArrowUp")
    assert [s["key"] for s in draft_sections(page)[0]] == ["more", "main"]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # past the end of tab 1: the start of tab 2
    assert [[s["key"] for s in t] for t in draft_sections(page)] == [["main"], ["more", "people"]]
    page.keyboard.press("Control+z")
    assert [[s["key"] for s in t] for t in draft_sections(page)] == [["main", "more"], ["people"]]
    page.click("[data-select-tab='1']")
    page.keyboard.press("ArrowUp")
    assert [t["key"] for t in page.evaluate("() => window.lbBuilder.doc.layout.tabs")] == [
        "staff", "basics"]
    page.keyboard.press("Control+z")

    # 5. renaming a key renames it in the list, the permissions and the visibility conditions
    page.click("[data-tab-button='0']")  # the canvas shows one tab: back to the first
    page.click(".bc-field[data-key='city']")
    page.fill("#prop-key", "city_code")
    page.press("#prop-key", "Tab")
    # Tab goes on to the next property, not back to the canvas
    assert page.evaluate("() => document.activeElement.closest('#props') !== null")
    doc = page.evaluate("() => window.lbBuilder.doc")
    assert doc["list"]["columns"] == ["name", "opened_on", "city_code"]
    assert doc["list"]["filters"] == ["city_code"]
    assert doc["permissions"]["account_manager"]["readonly_fields"] == ["city_code"]
    head_count = next(f for f in doc["fields"] if f["key"] == "head_count")
    assert head_count["visible_when"] == {"not": {"field": "city_code", "op": "=", "value": "bj"}}
    page.click("#undo")  # keep the key: published data is under 'city'
    assert page.evaluate("() => window.lbBuilder.doc.fields.map((f) => f.key)") == [
        "name", "city", "opened_on", "head_count"]

    # 6. published, the list page shows the chosen columns in order
    page.click("#save")
    expect(page.locator("#save-state")).to_contain_text("草稿已保存")
    page.click("#dry-run")
    expect(page.locator("#plan-ok")).to_be_visible()
    page.click("#publish-now")
    expect(page.locator("#publish-ok")).to_be_visible()
    page.goto(f"{server}/f/{FORM}/new")
    page.fill("[name='name']", "浦东支行")
    page.fill("[name='opened_on']", "2024-05-06")
    page.click("#save")
    page.goto(f"{server}/f/{FORM}")
    headers = page.eval_on_selector_all("table thead th",
                                        "els => els.map(e => e.textContent.trim())")
    assert [h for h in headers if h][:3] == ["名称", "开业日期", "城市"], headers
    expect(page.locator("#flt-city")).to_have_count(1)  # the filter chosen in the builder
    expect(page.locator("#flt-head_count")).to_have_count(0)
    assert errors == []
    context.close()


def draft_sections(page) -> list[list[dict]]:
    return page.evaluate("() => window.lbBuilder.tabs().map((t) => t.sections)")
