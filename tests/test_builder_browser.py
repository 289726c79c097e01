"""The form builder in real Chromium (Debian's /usr/bin/chromium driven by Playwright): create a
form, drag field types from the palette, label them, see a save error by its property, save,
preview in zh and en, undo / redo and arrow keys, dry-run, publish, and enter a record with the
new fields. Screenshots go to artifacts/screenshots/builder-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from zoneinfo import ZoneInfo

import pytest

from lendbase.meta.store import MetadataStore
from tests.browser_support import SHOTS, app_with_admin, require_browser_setup, serving

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist", "sortablejs/modular")
PASSWORD = "secret-pass-1"
_STATE: dict = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    from lendbase.forms.publish import publish_form

    var = tmp_path_factory.mktemp("var")
    app, state, _ = app_with_admin(var, PASSWORD)
    _STATE["state"] = state
    with state.sessions.begin() as session:
        MetadataStore(session, None).create("forms", {
            "key": "branch", "label": {"zh": "分支机构", "en": "Branch"}, "title_field": "name",
            "fields": [{"key": "name", "type": "text", "label": {"zh": "名称", "en": "Name"}}]})
        publish_form(session, None, "branch", confirm=True)
    try:
        with serving(app) as url:
            yield url
    finally:
        state.engine.dispose()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"builder-{name}.png"), full_page=True)


def drag(page, source, target) -> None:
    """A mouse drag in small steps, as a person does it, ending in the bottom of ``target``
    (a section's list of fields: its bottom padding appends)."""
    source.scroll_into_view_if_needed()
    a = source.bounding_box()
    b = target.bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(a["x"] + a["width"] / 2 + 8, a["y"] + a["height"] / 2 + 8, steps=4)
    page.mouse.move(a["x"] + a["width"] + 12, b["y"] + b["height"] - 6, steps=10)
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] - 6, steps=20)
    page.wait_for_timeout(150)
    page.mouse.up()


def label_field(page, key: str, zh: str, en: str) -> None:
    page.click(f".bc-field[data-key='{key}']")
    page.fill("#prop-label-zh", zh)
    page.fill("#prop-label-en", en)
    page.press("#prop-label-en", "Tab")


def wait_shown(page, selector: str) -> None:
    """A Bootstrap modal fully shown: Bootstrap ignores a hide asked for during its fade-in."""
    page.wait_for_function(
        "sel => { const m = document.querySelector(sel);"
        " return m && m.classList.contains('show') && getComputedStyle(m).opacity === '1'"
        " && getComputedStyle(m.querySelector('.modal-dialog')).transform === 'none'; }",
        arg=selector)
    page.wait_for_timeout(200)


def close_modal(page, selector: str) -> None:
    wait_shown(page, selector)
    page.click(f"{selector} .btn-close")
    sync_api.expect(page.locator(selector)).to_be_hidden()


def canvas_order(page) -> list[str]:
    return page.eval_on_selector_all("#canvas .bc-field", "els => els.map(e => e.dataset.key)")


def test_build_save_preview_publish_and_enter_a_record(server: str, browser) -> None:
    expect = sync_api.expect
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())

    page.goto(f"{server}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")

    # 1. the forms page: a new form
    page.goto(f"{server}/admin/forms")
    expect(page.locator("tr[data-form='branch']")).to_contain_text("已发布 v1")
    page.fill("#new-key", "loan_memo")
    page.fill("#new-label-zh", "贷款备忘")
    page.fill("#new-label-en", "Loan memo")
    shot(page, "01-forms")
    page.click("#create-form")
    page.wait_for_url(f"{server}/admin/forms/loan_memo/builder")
    expect(page.locator("body[data-builder-ready='1']")).to_have_count(1)
    expect(page.locator("#palette .bc-palette-item")).to_have_count(22)
    expect(page.locator("#canvas-tab-strip")).to_have_count(0)  # no tabs, no tab strip

    # 2. drag three field types from the palette onto the section
    for type_ in ("money", "select", "date"):
        section = page.locator("#canvas .bc-fields").first
        drag(page, page.locator(f"#palette [data-new-type='{type_}']"), section)
        expect(page.locator(f"#canvas .bc-field[data-key='{type_}']")).to_have_count(1)
    assert canvas_order(page) == ["name", "money", "select", "date"]
    expect(page.locator("#save-state")).to_have_text("有未保存的修改")

    # 3. properties: labels, a key, required, an option
    label_field(page, "money", "贷款金额", "Loan amount")
    page.fill("#prop-key", "amount")
    page.press("#prop-key", "Tab")
    expect(page.locator("#canvas .bc-field[data-key='amount']")).to_contain_text("贷款金额")
    page.check("#prop-required")
    label_field(page, "select", "用途", "Purpose")
    # a new field's key follows its English label until it is published or set by hand
    expect(page.locator("#canvas .bc-field[data-key='purpose']")).to_have_count(1)
    expect(page.locator("#prop-key")).to_have_value("purpose")
    page.click("#add-option")
    expect(page.locator("#options-editor .bc-option")).to_have_count(3)
    page.locator("#options-editor [data-option='2'][data-part='zh']").fill("装修")
    page.locator("#options-editor [data-option='2'][data-part='en']").fill("Renovation")
    page.locator("#options-editor [data-option='2'][data-part='en']").press("Tab")
    label_field(page, "date", "放款日期", "Disbursed on")

    # 4. a save error shows by the property it concerns; then fixed and saved
    page.click(".bc-field[data-key='purpose']")
    page.fill("#prop-label-zh", "")
    page.press("#prop-label-zh", "Tab")
    page.click("#save")
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#canvas .bc-field[data-key='purpose']")).to_have_class(
        "bc-field bc-selected bc-error")
    expect(page.locator("#props [data-error-prop='label']")).to_be_visible()
    shot(page, "02-save-error")
    page.fill("#prop-label-zh", "用途")
    page.press("#prop-label-zh", "Tab")
    page.click("#save")
    expect(page.locator("#save-state")).to_contain_text("草稿已保存")
    expect(page.locator("#error-summary")).to_be_hidden()

    # 5. keyboard: move the selected field up, undo, redo
    page.click(".bc-field[data-key='disbursed_on']")
    page.keyboard.press("ArrowUp")
    assert canvas_order(page) == ["name", "amount", "disbursed_on", "purpose"]
    page.keyboard.press("Control+z")
    assert canvas_order(page) == ["name", "amount", "purpose", "disbursed_on"]
    page.keyboard.press("Control+y")
    assert canvas_order(page) == ["name", "amount", "disbursed_on", "purpose"]
    page.click(".bc-field[data-key='purpose']")
    page.focus("#palette [data-new-type='boolean']")  # the palette by keyboard
    page.keyboard.press("Enter")
    assert canvas_order(page) == ["name", "amount", "disbursed_on", "purpose", "boolean"]
    page.focus(".bc-field[data-key='boolean']")
    page.keyboard.press("Delete")
    assert canvas_order(page) == ["name", "amount", "disbursed_on", "purpose"]
    page.click(".bc-field[data-key='purpose']")
    shot(page, "03-builder")
    page.click("#save")
    expect(page.locator("#save-state")).to_contain_text("草稿已保存")

    # 6. preview with the real renderer, zh then en
    page.click("#preview")
    frame = page.frame_locator("#preview-frame")
    expect(frame.locator("[data-lb-field='amount']")).to_contain_text("贷款金额")
    expect(frame.locator("[data-lb-field='purpose'] select")).to_contain_text("装修")
    shot(page, "04-preview-zh")
    page.click("label[for='preview-en']")
    expect(frame.locator("[data-lb-field='amount']")).to_contain_text("Loan amount")
    shot(page, "05-preview-en")
    close_modal(page, "#preview-modal")

    # 7. dry-run, then publish
    page.click("#dry-run")
    expect(page.locator("#plan-ops")).to_be_visible()
    expect(page.locator("#plan-ok")).to_be_visible()
    shot(page, "06-plan")
    page.fill("#publish-note", "首次发布")
    page.click("#publish-now")
    expect(page.locator("#publish-ok")).to_contain_text("已发布为第 1 版")
    expect(page.locator("#published-badge")).to_have_text("已发布 v1")

    # 8. the entry form has the new fields
    page.click("#open-entry-form")
    page.wait_for_url(f"{server}/f/loan_memo/new")
    for text in ("贷款金额", "用途", "放款日期"):
        expect(page.locator("#record-form")).to_contain_text(text)
    expect(page.locator("#fld-purpose")).to_contain_text("装修")
    shot(page, "07-entry-form")

    # 9. a risky change needs the confirmation; then version 1 is restored from the history
    page.goto(f"{server}/admin/forms/loan_memo/builder")
    page.click(".bc-field[data-key='amount']")
    page.select_option("#prop-type", "integer")
    page.click("#save")
    expect(page.locator("#save-state")).to_contain_text("草稿已保存")
    page.click("#compare")
    expect(page.locator("#diff-list")).to_contain_text("/fields[key=amount]/type")
    close_modal(page, "#history-modal")
    page.click("#dry-run")
    expect(page.locator("#confirm-box")).to_be_visible()
    page.click("#publish-now")
    expect(page.locator("#confirm-publish")).to_have_class("form-check-input is-invalid")
    page.check("#confirm-publish")
    page.click("#publish-now")
    expect(page.locator("#publish-ok")).to_contain_text("已发布为第 2 版")
    close_modal(page, "#plan-modal")
    page.click("#versions")
    expect(page.locator("#versions-table tbody tr")).to_have_count(2)
    # who published, and when in the platform's zone (Asia/Shanghai, as on record pages)
    first = page.locator("#versions-table tbody tr").last
    expect(first).to_contain_text("系统管理员")
    with _STATE["state"].sessions.begin() as session:
        at = MetadataStore(session, None).published("forms", "loan_memo", 1).published_at
    shown = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(ZoneInfo("Asia/Shanghai"))
    expect(first).to_contain_text(shown.strftime("%Y/%m/%d %H:%M"))
    wait_shown(page, "#history-modal")
    page.click("[data-restore='1']")  # the confirm dialog is accepted
    expect(page.locator("#history-modal")).to_be_hidden()
    expect(page.locator("#save-state")).to_contain_text("已将第 1 版恢复为草稿")
    expect(page.locator("#canvas .bc-field[data-key='amount']")).to_contain_text("金额")
    page.click(".bc-field[data-key='amount']")
    expect(page.locator("#prop-type")).to_have_value("money")
    assert errors == []
    context.close()
