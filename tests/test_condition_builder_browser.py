"""The visual condition builder (static/js/condition_builder.js) in the form builder, in real
Chromium: build "amount > 500000 OR rating = C" for a field's visible_when by clicking and typing,
save it, nest and negate a group, read the summary in zh and en, round-trip through the JSON view
(bad JSON is refused and saves nothing), publish, and see the entry form show the field only when
the condition holds. Screenshots go to artifacts/screenshots/condition-builder-*.png."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from lendbase.meta.store import MetadataStore
from tests.browser_support import SHOTS, app_with_admin, require_browser_setup, serving

pytestmark = pytest.mark.browser

from playwright import sync_api  # noqa: E402

require_browser_setup("bootstrap/dist", "bootstrap-icons/font", "sortablejs/modular")
PASSWORD = "secret-pass-1"
FORM = "loan_check"
_STATE: dict = {}

A_OR_C = {"or": [{"field": "amount", "op": ">", "value": 500000},
                 {"field": "rating", "op": "=", "value": "C"}]}
NESTED = {"or": [*A_OR_C["or"], {"not": {"and": [
    {"field": "rating", "op": "in", "value": ["A", "B"]},
    {"field": "amount", "op": "between", "value": [100, 200]}]}}]}


def _option(value: str, zh: str, en: str) -> dict[str, Any]:
    return {"value": value, "label": {"zh": zh, "en": en}}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    var = tmp_path_factory.mktemp("var")
    app, state, _ = app_with_admin(var, PASSWORD)
    _STATE["state"] = state
    with state.sessions.begin() as session:
        MetadataStore(session, None).create("forms", {
            "key": FORM, "label": {"zh": "贷款审查", "en": "Loan check"}, "title_field": "note",
            "fields": [
                {"key": "amount", "type": "money", "label": {"zh": "金额", "en": "Amount"}},
                {"key": "rating", "type": "select", "label": {"zh": "风险等级", "en": "Risk level"},
                 "options": [_option("A", "A 级", "Grade A"), _option("B", "B 级", "Grade B"),
                             _option("C", "C 级", "Grade C")]},
                {"key": "note", "type": "text", "label": {"zh": "备注", "en": "Note"}}],
            "layout": {"sections": [{"key": "main", "label": {"zh": "基本信息", "en": "Basics"},
                                     "columns": 2, "fields": ["amount", "rating", "note"]}]}})
    try:
        with serving(app) as url:
            yield url
    finally:
        state.engine.dispose()


def shot(target, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SHOTS / f"condition-builder-{name}.png"))


def saved_condition() -> Any:
    with _STATE["state"].sessions.begin() as session:
        doc = MetadataStore(session, None).get_draft("forms", FORM).doc
    return next(f for f in doc["fields"] if f["key"] == "note").get("visible_when")


def live_condition(page) -> Any:
    """visible_when of ``note`` in the builder's state (what the next save sends)."""
    return page.evaluate("() => window.lbBuilder.doc.fields.find((f) => f.key === 'note')"
                         ".visible_when ?? null")


def section_condition(page) -> Any:
    return page.evaluate("() => { const s = window.lbBuilder.doc.layout.sections[0];"
                         " return 'visible_when' in s ? s.visible_when : 'absent'; }")


def open_builder(page, server: str) -> None:
    page.goto(f"{server}/admin/forms/{FORM}/builder")
    sync_api.expect(page.locator("body[data-builder-ready='1']")).to_have_count(1)
    page.click(".bc-field[data-key='note']")


def save(page, expect) -> None:
    page.click("#save")
    expect(page.locator("#save-state")).to_contain_text("Draft saved" if page.evaluate(
        "() => document.documentElement.lang") == "en" else "草稿已保存")


def test_build_a_condition_visually_save_publish_and_use_it(server: str, browser) -> None:
    expect = sync_api.expect
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{server}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")

    open_builder(page, server)
    editor = page.locator("#prop-visible_when")
    summary = page.locator("#prop-vw-summary .cb-summary-text")
    expect(summary).to_have_text("无条件，始终显示")

    # 1. "amount > 500000": an incomplete row is marked and stays out of the document
    page.click("#prop-vw-top-add")
    expect(page.locator("#prop-vw-0-field")).to_be_focused()
    # the field being edited (note) is not offered
    assert page.eval_on_selector_all("#prop-vw-0-field option", "os => os.map((o) => o.value)") \
        == ["", "amount", "rating"]
    page.select_option("#prop-vw-0-field", "amount")
    assert page.eval_on_selector_all("#prop-vw-0-op option", "os => os.map((o) => o.value)") == [
        "=", "!=", "<", "<=", ">", ">=", "between", "is_empty", "is_not_empty"]
    page.select_option("#prop-vw-0-op", ">")
    expect(editor.locator("[data-cb-problem='need_value']")).to_be_visible()
    expect(page.locator("#prop-vw-summary")).to_contain_text("1 个条件未填写完整，尚未生效")
    assert live_condition(page) is None
    save(page, expect)  # the panel re-renders after a save; the unfinished row survives it
    expect(page.locator("#prop-vw-0-op")).to_have_value(">")
    assert saved_condition() is None
    page.fill("#prop-vw-0-value", "500000")
    page.press("#prop-vw-0-value", "Tab")  # the keyboard moves on: the input is not redrawn
    expect(page.locator("#prop-vw-top-add")).to_be_focused()
    expect(editor.locator("[data-cb-problem]")).to_have_count(0)
    assert live_condition(page) == {"field": "amount", "op": ">", "value": 500000}
    page.focus("#prop-vw-0-not")
    page.keyboard.press("Delete")  # not the builder's "delete the selected field"
    expect(page.locator(".bc-field[data-key='note']")).to_have_count(1)

    # 2. "or rating = C": a select of the options, labelled in the UI language
    page.focus("#prop-vw-top-add")
    page.keyboard.press("Enter")
    expect(page.locator("#prop-vw-1-field")).to_be_focused()
    page.select_option("#prop-vw-1-field", "rating")
    assert page.eval_on_selector_all("#prop-vw-1-op option", "os => os.map((o) => o.value)") == [
        "=", "!=", "in", "not_in", "is_empty", "is_not_empty"]
    expect(page.locator("#prop-vw-1-value")).to_contain_text("C 级")
    page.select_option("#prop-vw-1-value", "C")
    page.select_option("#prop-vw-top-logic", "or")
    expect(summary).to_have_text("金额 > 500000 或 风险等级 = C 级")
    assert live_condition(page) == A_OR_C
    save(page, expect)
    assert saved_condition() == A_OR_C

    # 3. nest a group (rating in A, B and amount between 100 and 200) and negate it
    page.click("#prop-vw-top-add-group")
    expect(page.locator("#prop-vw-2_0-field")).to_be_focused()
    expect(page.locator("[data-cb-path='2']")).to_have_attribute("data-cb-op", "and")
    page.select_option("#prop-vw-2_0-field", "rating")
    page.select_option("#prop-vw-2_0-op", "in")
    page.check("#prop-vw-2_0-value-0")
    page.check("#prop-vw-2_0-value-1")
    page.click("#prop-vw-2-add")
    page.select_option("#prop-vw-2_1-field", "amount")
    page.select_option("#prop-vw-2_1-op", "between")
    page.fill("#prop-vw-2_1-value-low", "100")
    page.fill("#prop-vw-2_1-value-high", "200")
    page.press("#prop-vw-2_1-value-high", "Tab")
    page.click("#prop-vw-2-not")
    expect(page.locator("#prop-vw-2-not")).to_have_attribute("aria-pressed", "true")
    assert live_condition(page) == NESTED
    expect(summary).to_have_text("金额 > 500000 或 风险等级 = C 级 或 非（风险等级 是其中之一 "
                                 "A 级、B 级 且 金额 介于 100 与 200 之间）")
    shot(page.locator("[data-prop-group='visible_when']"), "nested-zh")
    # one undo step per change: undo takes the NOT away, redo puts it back
    page.click("#undo")
    assert live_condition(page) == {"or": [*A_OR_C["or"], NESTED["or"][2]["not"]]}
    expect(page.locator("#prop-vw-2-not")).to_have_attribute("aria-pressed", "false")
    page.click("#redo")
    assert live_condition(page) == NESTED

    # 4. an empty row is not written; deleting rows and the group gets back to A or C
    page.click("#prop-vw-top-add")
    expect(page.locator("[data-cb-path='3'] [data-cb-problem='need_field']")).to_be_visible()
    assert live_condition(page) == NESTED
    page.click("#prop-vw-3-delete")
    page.click("#prop-vw-2-delete")
    assert live_condition(page) == A_OR_C
    expect(page.locator("#prop-vw-top-add")).to_be_focused()

    # 5. the JSON view: round trip, bad JSON refused, a tree the visual editor cannot show
    page.click("#prop-vw-mode")
    area = page.locator("#prop-vw-json")
    assert json.loads(area.input_value()) == A_OR_C
    area.fill('{"or": [{"field": "amount"')
    area.press("Tab")
    expect(page.locator("#prop-vw-json-error")).to_contain_text("不是有效的 JSON")
    expect(area).to_have_class("form-control form-control-sm font-monospace cb-json is-invalid")
    assert live_condition(page) == A_OR_C
    page.fill("#prop-vw-json", '{"field": "amount", "op": "in_last", "value": [3, "day"]}')
    page.press("#prop-vw-json", "Tab")
    expect(page.locator("#prop-vw-json-error")).to_contain_text('不能使用比较方式 "in_last"')
    assert live_condition(page) == A_OR_C
    page.click("#prop-vw-mode")  # refused: the text is still wrong
    expect(area).to_be_visible()
    shot(page.locator("[data-prop-group='visible_when']"), "json-error-zh")
    page.fill("#prop-vw-json", '{"field": "rating", "op": "in", "value": ["B", "C"]}')
    page.press("#prop-vw-json", "Tab")
    expect(page.locator("#prop-vw-json-error")).to_be_empty()
    assert live_condition(page) == {"field": "rating", "op": "in", "value": ["B", "C"]}
    page.click("#prop-vw-mode")
    expect(page.locator("#prop-vw-0-value-1")).to_be_checked()
    expect(page.locator("#prop-vw-0-value-2")).to_be_checked()
    expect(page.locator("#prop-vw-0-value-0")).not_to_be_checked()
    page.click("#undo")
    assert live_condition(page) == A_OR_C
    save(page, expect)
    assert saved_condition() == A_OR_C

    # 6. a section's condition: words typed as tokens, a value-less operator, then cleared,
    # which removes the property; a valid tree the visual editor cannot show stays in JSON
    page.click(".bc-section-head")
    page.click("#prop-vw-top-add")
    page.select_option("#prop-vw-0-field", "note")
    page.select_option("#prop-vw-0-op", "in")
    page.fill("#prop-vw-0-value-input", "urgent")
    page.press("#prop-vw-0-value-input", "Enter")
    page.type("#prop-vw-0-value-input", "vip,")
    expect(page.locator("#prop-vw-0-value-input")).to_be_focused()
    page.click("#prop-vw-top-add")
    page.select_option("#prop-vw-1-field", "rating")
    page.select_option("#prop-vw-1-op", "is_not_empty")
    expect(page.locator("#prop-vw-1-value")).to_have_count(0)
    assert section_condition(page) == {"and": [
        {"field": "note", "op": "in", "value": ["urgent", "vip"]},
        {"field": "rating", "op": "is_not_empty"}]}
    expect(summary).to_have_text("备注 是其中之一 “urgent”、“vip” 且 风险等级 不为空")
    shot(page.locator("[data-prop-group='visible_when']"), "section-zh")
    page.click("#prop-vw-0-value-remove-0")
    assert section_condition(page)["and"][0]["value"] == ["vip"]
    page.click("#prop-vw-top-delete")
    assert section_condition(page) == "absent"
    expect(summary).to_have_text("无条件，始终显示")
    page.click("#prop-vw-mode")
    page.fill("#prop-vw-json", '{"not": {"not": {"field": "amount", "op": ">", "value": 1}}}')
    page.press("#prop-vw-json", "Tab")
    assert section_condition(page) == {"not": {"not": {"field": "amount", "op": ">", "value": 1}}}
    page.click("#prop-vw-mode")
    expect(page.locator("#prop-visible_when .cb-notice")).to_contain_text("可视化编辑器无法显示")
    page.fill("#prop-vw-json", "")
    page.press("#prop-vw-json", "Tab")
    assert section_condition(page) == "absent"
    page.click("#prop-vw-mode")
    expect(page.locator("#prop-vw-top-add")).to_be_visible()
    save(page, expect)

    # 7. English: the same condition read back in English, in the narrow panel
    page.goto(f"{server}/lang/en?next=/admin/forms/{FORM}/builder")
    expect(page.locator("body[data-builder-ready='1']")).to_have_count(1)
    page.click(".bc-field[data-key='note']")
    expect(summary).to_have_text("Amount > 500000 or Risk level = Grade C")
    expect(page.locator("#prop-vw-0-op")).to_contain_text("> greater than")
    shot(page.locator("[data-prop-group='visible_when']"), "en")
    page.set_viewport_size({"width": 1100, "height": 1400})
    page.click("#prop-vw-top-add-group")
    page.select_option("#prop-vw-2_0-field", "amount")
    page.select_option("#prop-vw-2_0-op", "between")
    page.click("#prop-vw-2-add")
    page.select_option("#prop-vw-2_1-field", "rating")
    page.select_option("#prop-vw-2_1-op", "in")
    expect(page.locator("#prop-vw-summary")).to_contain_text("2 incomplete condition(s)")
    box = page.locator("#prop-visible_when").bounding_box()
    pane = page.locator(".bc-pane-props").bounding_box()
    assert box["x"] + box["width"] <= pane["x"] + pane["width"]  # nothing sticks out
    shot(page.locator("[data-prop-group='visible_when']"), "narrow-en")
    page.click("#prop-vw-2-delete")
    assert live_condition(page) == A_OR_C
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{server}/lang/zh?next=/admin/forms/{FORM}/builder")
    expect(page.locator("body[data-builder-ready='1']")).to_have_count(1)
    page.click(".bc-field[data-key='note']")
    shot(page.locator("[data-prop-group='visible_when']"), "zh")

    # 8. publish; the entry form shows "note" only when amount > 500000 or rating is C
    page.click("#dry-run")
    expect(page.locator("#plan-ok")).to_be_visible()
    page.click("#publish-now")
    expect(page.locator("#publish-ok")).to_contain_text("已发布为第 1 版")
    page.click("#open-entry-form")
    page.wait_for_url(f"{server}/f/{FORM}/new")
    note = page.locator("[data-lb-field='note']")
    expect(note).to_be_hidden()
    page.fill("#fld-amount", "600000")
    expect(note).to_be_visible()
    page.fill("#fld-amount", "500000")
    expect(note).to_be_hidden()
    page.select_option("#fld-rating", "C")
    expect(note).to_be_visible()
    page.select_option("#fld-rating", "B")
    expect(note).to_be_hidden()
    page.fill("#fld-amount", "500001")
    expect(note).to_be_visible()
    shot(page, "entry-form")
    assert errors == []
    context.close()
